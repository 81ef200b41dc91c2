import CFuzzerDriver
import Foundation
import Octet

/// Range file text → `DynamicRanges.parseRangeFile`, then the written text must read back the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let ranges = try DynamicRanges.parseRangeFile(text, path: "fuzz.txt")
        _ = ranges.dictionary
        _ = ranges.overriding(with: ranges)
    } catch {
        if "\(error)".contains("\n") { preconditionFailure("error is not one line: \(error)") }
    }
    return 0
}

/// The process entry: SwiftPM links executables with `main` aliased to `<Module>_main`.
@_cdecl("FuzzRangeFile_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    octet_fuzz_main(argc, argv) { data, size in data.map { fuzz($0, size) } ?? 0 }
}
