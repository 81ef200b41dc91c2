import Foundation
import Octet

/// Finds input files the way TensorRT's samples do: a path that exists is used as given; otherwise the
/// name is looked up in each data directory in turn.
struct SampleFiles {
    /// The sample's default search directories, after any `--data` the user gave.
    static let defaultDirectories = ["data/samples/int8_api/", "data/int8_api/"]

    var directories: [String]

    init(userDirectories: [String]) {
        directories = userDirectories + Self.defaultDirectories
    }

    /// The path of `name`, or an error listing where it was looked for.
    func locate(_ name: String, what: String) throws -> String {
        if FileManager.default.fileExists(atPath: name) { return name }
        for directory in directories {
            let candidate = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw OctetError.io(
            path: name,
            reason: "\(what) not found in the current directory or in \(directories.joined(separator: ", ")); pass --data=DIR or a full path")
    }

    /// Like `locate`, but nil when the file is not found.
    func find(_ name: String) -> String? { try? locate(name, what: "file") }
}
