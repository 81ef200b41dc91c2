import COctetCPUKernels
import Testing
import _OctetTestSupport

/// The float-output quantized GEMM: every SIMD kernel this machine runs (AVX2, AVX-VNNI, AVX-512 VNNI, each called
/// by name) equals its scalar twin bit for bit (same float operations),
/// and the scalar twin equals the contract computed here from unpacked weights and stored activations with a
/// zero point, `acc = bias + Σ (q − z_x) · w`, the zero point folded into the packed bias as the CPU layer does.
@Suite struct FloatOutputKernelTests {
    typealias Kernel = @convention(c) (Int, Int, Int, UnsafePointer<UInt8>, Int, UnsafeRawPointer, UnsafeMutablePointer<Float>, Int, Float, Float, UInt8) -> Void
    static let kernels: [(String, Int32, Kernel)] = [
        ("avx2", OCTET_ISA_AVX2, octet_qgemm_f32out_avx2), ("avxvnni", OCTET_ISA_AVXVNNI, octet_qgemm_f32out_avxvnni),
        ("avx512vnni", OCTET_ISA_AVX512VNNI, octet_qgemm_f32out_avx512vnni),
    ]

    /// `small`: activations the AVX2 kernel multiplies with vpmaddubsw (u = A ^ xor within 0...128 for uint8,
    /// int8 q within 0...127 for xor 0x80, as after a ReLU), weights down to -128; `window`: each row's u within
    /// [lo, lo + 128] for a lo of its own (vpmaddubsw on u - lo); else any byte (its vpmaddwd path).
    enum Bytes: Sendable { case any, small, window }

    @Test(arguments: [(1, 1, 4), (1, 1000, 1280), (2, 17, 60), (3, 64, 124), (5, 65, 8), (8, 33, 576), (4, 16, 120),
                      (7, 15, 116), (13, 47, 4100), (7, 96, 16)],
          [(UInt8(0), Bytes.any), (0x80, .any), (0, .small), (0x80, .small), (0, .window), (0x80, .window)])
    func floatOutputGEMMMatchesContract(_ shape: (Int, Int, Int), _ activations: (xor: UInt8, bytes: Bytes)) {
        let (m, n, k) = shape
        let (xor, bytes) = activations
        let small = bytes != .any
        var generator = SeededGenerator(seed: UInt64(m * 1000 + n * 7 + k) &+ UInt64(xor) &+ (small ? 1 : 0))
        let windowStart = (0..<m).map { _ in Int.random(in: 0...127, using: &generator) }
        let a = (0..<(m * (k + 3))).map { i -> UInt8 in
            switch bytes {
            case .any: return UInt8.random(in: 0...255, using: &generator)
            case .small: return UInt8.random(in: 0...(xor != 0 ? 127 : 128), using: &generator)
            case .window:
                let lo = windowStart[i / (k + 3)]
                return UInt8(Int.random(in: lo...(lo + 128), using: &generator)) ^ xor
            }
        }
        let w = (0..<(k * n)).map { _ in Int8.random(in: (small ? -128 : -127)...127, using: &generator) }
        let bias = (0..<n).map { _ in Int32.random(in: -5000...5000, using: &generator) }
        let multipliers = (0..<n).map { _ in Float.random(in: 1e-4...1e-2, using: &generator) }
        // Stored activations: int8 when xor is 0x80 (the kernel sees q + 128), else uint8; a zero point each.
        let zeroPoint: Int32 = xor != 0 ? [0, -53, 27][m % 3] : [0, 131, 255][m % 3]
        let shift = zeroPoint + (xor != 0 ? 128 : 0)
        let packedBias = (0..<n).map { col in bias[col] &- shift &* (0..<k).reduce(Int32(0)) { $0 &+ Int32(w[$1 * n + col]) } }
        var packed = [UInt8](repeating: 0, count: octet_qgemm_packed_size(n, k))
        packed.withUnsafeMutableBytes { octet_qgemm_pack(n, k, w, packedBias, multipliers, $0.baseAddress!) }
        let (lo, hi): (Float, Float) = (-5, 40)
        var scalar = [Float](repeating: .nan, count: m * n)
        var fast: [(String, [Float])] = []
        packed.withUnsafeBytes { p in
            octet_qgemm_f32out_scalar(m, n, k, a, k + 3, p.baseAddress!, &scalar, n, lo, hi, xor)
            for (name, isa, kernel) in Self.kernels where octet_cpu_isa_supported(isa) != 0 {
                var out = [Float](repeating: .nan, count: m * n)
                kernel(m, n, k, a, k + 3, p.baseAddress!, &out, n, lo, hi, xor)
                fast.append((name, out))
            }
        }
        for row in 0..<m {
            for col in 0..<n {
                var acc = bias[col]
                for i in 0..<k {
                    let byte = a[row * (k + 3) + i]
                    let q = xor != 0 ? Int32(Int8(bitPattern: byte)) : Int32(byte)
                    acc &+= (q - zeroPoint) &* Int32(w[i * n + col])
                }
                let want = min(max(Float(acc) * multipliers[col], lo), hi)
                let index = row * n + col
                #expect(scalar[index] == want, "scalar m \(row) n \(col) of \(m)x\(n)x\(k) xor \(xor) zero point \(zeroPoint)")
                for (name, out) in fast {
                    #expect(out[index].bitPattern == scalar[index].bitPattern, "\(name) m \(row) n \(col) of \(m)x\(n)x\(k) xor \(xor)")
                }
            }
        }
    }
}
