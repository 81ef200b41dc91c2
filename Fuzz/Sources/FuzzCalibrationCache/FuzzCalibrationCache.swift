import CFuzzerDriver
import Foundation
import Octet

/// TensorRT calibration cache text → `DynamicRanges.parseCalibrationCache`, then written and read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let (ranges, header) = try DynamicRanges.parseCalibrationCache(text, path: "fuzz.cache")
        _ = try DynamicRanges.parseCalibrationCache(ranges.calibrationCacheText(header: "TRT-8601-EntropyCalibration2"), path: "again")
        _ = header
    } catch {
        if "\(error)".contains("\n") { preconditionFailure("error is not one line: \(error)") }
    }
    return 0
}

/// The process entry: SwiftPM links executables with `main` aliased to `<Module>_main`.
@_cdecl("FuzzCalibrationCache_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    octet_fuzz_main(argc, argv) { data, size in data.map { fuzz($0, size) } ?? 0 }
}
