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

/// Class labels, one per line, line number − 1 = class index (the sample's reference_labels.txt).
struct Labels {
    var names: [String]

    init(path: String) throws {
        let text = try FileReading.text(of: path, what: "a reference labels file")
        names = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        while names.last?.isEmpty == true { names.removeLast() }
    }

    subscript(index: Int) -> String { index < names.count ? names[index] : "class \(index)" }

    /// The labels for an output of `classes` values. A file of another length would name every class wrongly
    /// (a 1001-class model with background shifts all names by one): an error for a file the user named, a
    /// warning (and no labels) for the sample's default file found in a data directory.
    static func forOutput(path: String, classes: Int, output: String, explicitlyGiven: Bool, log: Log) throws -> Labels? {
        let labels = try Labels(path: path)
        guard labels.names.count != classes else { return labels }
        let problem = "has \(labels.names.count) labels but the model's output '\(output)' has \(classes) classes; the file needs one line per class"
        if explicitlyGiven { throw OctetError.malformedFile(path: path, reason: problem) }
        log.warning("\(path) \(problem); printing class indexes instead")
        return nil
    }
}
