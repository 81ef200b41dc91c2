import CFuzzerDriver
import Foundation
import Octet

/// Engine file bytes → `EngineFile.decode` → load on the CPU backend → one execution on zeros when the input is
/// small. The header's body length and the CRC-32 are repaired first, so mutations reach the plan and the CPU
/// state instead of stopping at the checksum (tests cover the checksum refusal itself). Any thrown `OctetError`
/// is the expected outcome; a trap, an allocator abort or an error that is not one line is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.count >= 24, bytes.starts(with: EngineFile.magic) {
        withUnsafeBytes(of: UInt64(bytes.count - 24).littleEndian) { for (i, byte) in $0.enumerated() { bytes[12 + i] = byte } }
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }
        withUnsafeBytes(of: crc.littleEndian) { for (i, byte) in $0.enumerated() { bytes[bytes.count - 4 + i] = byte } }
    }
    do {
        let engine = try Engine(try EngineFile.decode(bytes, path: "fuzz.engine"), backend: CPUBackend(), options: ExecutionOptions(threads: 1))
        let network = engine.plan.network
        let inputs = network.inputs.map { network[$0] }
        if inputs.allSatisfy({ $0.elementCount <= 1 << 16 }) {
            _ = try engine.makeContext().execute(Dictionary(uniqueKeysWithValues: inputs.map { ($0.name, TensorData(shape: $0.shape, values: Array(repeating: 0.5, count: $0.elementCount))) }))
        }
    } catch {
        let text = "\(error)"
        if text.contains("\n") || text.isEmpty { preconditionFailure("error is not one line: \(text)") }
    }
    return 0
}

/// The process entry: SwiftPM links executables with `main` aliased to `<Module>_main`.
@_cdecl("FuzzEngineFile_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    octet_fuzz_main(argc, argv) { data, size in data.map { fuzz($0, size) } ?? 0 }
}
