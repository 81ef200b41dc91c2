import CFuzzerDriver
import Foundation
import Octet

/// ONNX model bytes → import (external data refused: no directory) → build with the reference backend.
/// Any thrown `OctetError` is the expected outcome; a trap, an allocator abort or an error that is not one
/// line is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let (network, _) = try ONNXImporter.importModel(data: bytes, name: "fuzz.onnx")
        _ = try Builder(config: BuilderConfig(), backend: ReferenceBackend()).build(network)
    } catch {
        let text = "\(error)"
        if text.contains("\n") || text.isEmpty { preconditionFailure("error is not one line: \(text)") }
    }
    return 0
}

/// The process entry: SwiftPM links executables with `main` aliased to `<Module>_main`.
@_cdecl("FuzzONNX_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    octet_fuzz_main(argc, argv) { data, size in data.map { fuzz($0, size) } ?? 0 }
}
