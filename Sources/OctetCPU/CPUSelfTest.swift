import COctetCPUKernels
import Foundation
import OctetCore

/// The CPU kernel-level checks of `octet selftest`: every SIMD path this machine has against the scalar kernels
/// on random inputs of awkward sizes (integer outputs exactly equal). Engine-level checks are the conformance
/// suite's (OctetConformance), which the command runs next.
public enum CPUSelfTest {
    /// - Returns: the number of failed checks.
    public static func run(log: (String) -> Void) throws -> Int {
        let hardware = octet_cpu_hardware_isa()
        log("CPU: \(String(cString: octet_cpu_isa_name(hardware))) (kernels in use: \(String(cString: octet_cpu_isa_name(octet_cpu_isa()))))")
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        let paths: [(String, octet_qgemm_fn)] = [("scalar", octet_qgemm_scalar)]
            + (octet_cpu_isa_supported(OCTET_ISA_AVX2) != 0 ? [("avx2", octet_qgemm_avx2)] : [])
            + (octet_cpu_isa_supported(OCTET_ISA_AVXVNNI) != 0 ? [("avxvnni", octet_qgemm_avxvnni)] : [])
            + (octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI) != 0 ? [("avx512vnni", octet_qgemm_avx512vnni)] : [])
        for (m, n, k) in [(1, 1, 4), (5, 17, 60), (7, 33, 116), (9, 65, 124), (17, 64, 576)] {
            // small: post-ReLU-like activations (u = A ^ a_xor all <= 128, or all >= 128), which the AVX2 kernel
            // multiplies with vpmaddubsw; else any byte (its widened vpmaddwd loop).
            for (xor, small): (UInt8, Bool) in [(0, false), (0x80, false), (0, true), (0x80, true)] {
                let a = (0..<(m * k)).map { _ in UInt8.random(in: small ? 0...(xor != 0 ? 127 : 128) : 0...255, using: &generator) }
                let w = (0..<(k * n)).map { _ in Int8.random(in: small ? -128...127 : -127...127, using: &generator) }
                let bias = (0..<n).map { _ in Int32.random(in: -9000...9000, using: &generator) }
                let mult = (0..<n).map { _ in Float.random(in: 1e-4...4e-3, using: &generator) }
                var packed = [UInt8](repeating: 0, count: octet_qgemm_packed_size(n, k))
                packed.withUnsafeMutableBytes { octet_qgemm_pack(n, k, w, bias, mult, $0.baseAddress!) }
                var p = octet_qgemm_params()
                (p.min, p.max, p.output_signed, p.a_xor) = (-128, 127, 1, xor)
                let outputs = paths.map { _, kernel -> [UInt8] in
                    var c = [UInt8](repeating: 0xAA, count: m * n)
                    packed.withUnsafeBytes { kernel(m, n, k, a, k, $0.baseAddress!, &c, n, nil, 0, &p) }
                    return c
                }
                for (index, (name, _)) in paths.enumerated().dropFirst() where outputs[index] != outputs[0] {
                    log("qgemm \(name) M=\(m) N=\(n) K=\(k) a_xor=\(xor) small activations=\(small): MISMATCH against scalar")
                    failures += 1
                }
            }
        }
        log("qgemm: \(paths.map(\.0).joined(separator: ", ")) checked on 5 shapes x 4 kinds of activations")
        return failures
    }
}
