import Foundation

/// Reading whole files for every parser, with Foundation's errors turned into one plain sentence
/// ("no such file", "permission denied", "is a directory") instead of "NSCocoaErrorDomain error 256".
public enum FileReading {
    /// The bytes of the file at `path`.
    /// - Parameter what: what the file should be, for the error ("an ONNX model file", "an image file").
    /// - Throws: `OctetError.io` naming the path and the reason.
    /// - Parameter mapped: map the file instead of reading it (large files read once, such as engine files: no copy,
    ///   pages come from the page cache as they are touched).
    public static func contents(of path: String, what: String, mapped: Bool = false) throws -> Data {
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { throw OctetError.io(path: path, reason: "is a directory, not \(what)") }
            // Foundation's Data(contentsOf:) leaks its 4 KB read buffer on an empty file (LeakSanitizer, Swift
            // 6.3); an empty regular file needs no read.
            if info.st_mode & S_IFMT == S_IFREG, info.st_size == 0 { return Data() }
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: mapped ? .alwaysMapped : [])
        } catch {
            throw OctetError.io(path: path, reason: "cannot read \(what): \(reason(error, path: path))")
        }
    }

    /// The UTF-8 text of the file at `path` (range files, label lists, caches).
    /// - Throws: `OctetError.io` as `contents`, or `.malformedFile` when the bytes are not UTF-8.
    public static func text(of path: String, what: String) throws -> String {
        guard let text = String(data: try contents(of: path, what: what), encoding: .utf8) else {
            throw OctetError.malformedFile(path: path, reason: "\(what) must be UTF-8 text, and this file is not")
        }
        return text
    }

    /// A plain reason for a failed read, from the POSIX error underneath Foundation's.
    public static func reason(_ error: Error, path: String) -> String {
        let ns = error as NSError
        let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError
        let posix: Int32? =
            if ns.domain == NSPOSIXErrorDomain { Int32(ns.code) }
            else if let underlying, underlying.domain == NSPOSIXErrorDomain { Int32(underlying.code) }
            else { nil }
        switch posix {
        case ENOENT?: return "no such file"
        case EACCES?, EPERM?: return "permission denied"
        case EISDIR?: return "is a directory"
        case ELOOP?: return "too many levels of symbolic links"
        case let code?: return String(cString: strerror(code)).lowercased()
        case nil: break
        }
        // Foundation on Linux reports some failures only as Cocoa codes; ask the file system directly.
        if !FileManager.default.fileExists(atPath: path) { return "no such file" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        switch ns.code {
        case NSFileReadNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        case NSFileReadTooLargeError: return "the file is too large"
        default: return "the file system refused the read (\(ns.domain) \(ns.code))"
        }
    }
}
