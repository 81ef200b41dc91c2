// The C microkernels of the CPU backend (COctetCPUKernels) against plain Swift twins of their contracts,
// for every ISA this machine runs. Integer outputs must match the reference byte for byte; float outputs
// within the tolerance written next to each check. Self-contained: only COctetCPUKernels and Testing.
import COctetCPUKernels
import Testing

@Suite struct CPUKernelTests {
    /// Scalar always, then every ISA the hardware supports (OCTET_FORCE_GENERIC / OCTET_FORCE_ISA hide none): each
    /// ISA's kernel is called by name, not through the dispatcher. The ISAs are a set, not levels: an AVX-512 VNNI
    /// CPU may lack AVX-VNNI.
    static let isas: [Int32] = (0..<Int32(OCTET_ISA_COUNT)).filter { octet_cpu_isa_supported($0) != 0 }

    // MARK: - Helpers

    /// SplitMix64: a small seeded generator, so every run draws the same inputs.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
        mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in byte() } }
        mutating func int8s(_ count: Int) -> [Int8] { (0..<count).map { _ in Int8(truncatingIfNeeded: next()) } }
        mutating func floats(_ count: Int, in range: ClosedRange<Float>) -> [Float] {
            (0..<count).map { _ in Float.random(in: range, using: &self) }
        }
    }

    /// The requantization contract, written out: float multiply, separate residual multiply and add (no FMA)
    /// on the residual minus its zero point, clamp to the bounds (relative to the output zero point), round
    /// half to even, add the output zero point, saturate to the stored type.
    static func requantize(
        _ acc: Int32, multiplier: Float, residual: Int32?, residualZeroPoint: Int32 = 0, residualMultiplier: Float,
        min: Float, max: Float, zeroPoint: Int32 = 0, outputSigned: Bool
    ) -> UInt8 {
        var y = Float(acc) * multiplier
        if let residual {
            let z = Float(residual - residualZeroPoint) * residualMultiplier
            y = y + z
        }
        y = Swift.min(Swift.max(y, min), max)
        let q = Int32(y.rounded(.toNearestOrEven)) + zeroPoint
        if outputSigned { return UInt8(bitPattern: Int8(Swift.min(Swift.max(q, -128), 127))) }
        return UInt8(Swift.min(Swift.max(q, 0), 255))
    }

    /// Per-column multipliers. Normal mode maps the typical accumulator spread (about sqrt(K) * 74 * 74 for
    /// full-range bytes) onto a few hundred steps, so outputs cover the range and saturate at the ends.
    /// Ties mode (used with inputs and weights in -3...3) gives 0.5 or 0.25, so y = acc / 2 or acc / 4 lands
    /// exactly on .5 for a quarter to a half of the outputs, and round-half-to-even decides them.
    static func multipliers(_ count: Int, k: Int, ties: Bool, rng: inout SplitMix64) -> [Float] {
        if ties { return (0..<count).map { $0 % 2 == 0 ? 0.5 : 0.25 } }
        let spread = Float(k).squareRoot() * 74 * 74
        return (0..<count).map { _ in Float.random(in: 40...400, using: &rng) / spread }
    }

    /// Zero points to test (STYLE.md habit 7) as stored values of the type: uint8 as listed, int8 shifted by −128.
    static let zeroPoints: [Int32] = [0, 18, 75, 128, 157, 231, 255]
    static func zeroPoint(_ index: Int, signed: Bool) -> Int32 { zeroPoints[index % zeroPoints.count] - (signed ? 128 : 0) }

    /// Σ_k W[k][n] per column of a K x N row-major matrix, for folding an input zero point into the bias.
    static func columnSums(_ w: [Int8], k: Int, n: Int) -> [Int32] {
        (0..<n).map { col in (0..<k).reduce(Int32(0)) { $0 &+ Int32(w[$1 * n + col]) } }
    }

    /// Inputs for ties mode: small magnitudes, so accumulators stay near the rounding boundaries.
    static func smallBytes(_ count: Int, signed: Bool, xor: UInt8 = 0, rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in
            let v = signed ? Int8.random(in: -3...3, using: &rng) : Int8.random(in: 0...3, using: &rng)
            return UInt8(bitPattern: v) ^ xor
        }
    }

    // MARK: - Quantized GEMM

    /// The bytes u = A ^ a_xor a qgemm sees. The AVX2 kernel picks its inner loop per 3-row tile from them
    /// (qgemm_avx2.c): vpmaddubsw on u - s when every row's bytes lie in some [s, s + 128] (s per row: 0, 128 or
    /// the row's minimum), else the split path (rows with few bytes above their window) or the widened vpmaddwd
    /// loop; the edges 0, 127, 128, 255 and each window's ends are
    /// drawn often, since they bound the byte path.
    enum Activations: String {
        case any, upTo128, from128
        /// Each row's bytes within [lo, lo + 128], lo in 0...127 from the row (signed activations within about
        /// ±64: the shifted byte path); `beyondWindow` the same with a window of 129 (the widened path when both
        /// ends are drawn).
        case window, beyondWindow
        /// Rows in threes (the AVX2 row tile) cycle through upTo128, from128, any and window, so one call switches
        /// between every path from tile to tile.
        case cycling
        /// Row by row through window, from128 and upTo128: every tile takes the byte path with a different shift
        /// per row.
        case mixedRows
        /// Each row within its window (as `window`) but for rare bytes above it, up to 255 (post-ReLU uint8
        /// activations calibrated by their maximum): one in 300 in the first three rows of every six (the split
        /// path, listing the few k-groups that hold one), one in 20 in the others (more groups than the split
        /// path lists: the widened path).
        case sparseOutliers
        /// Post-ReLU uint8 activations (zeros and bytes up to 128) with one byte in 300 above 128, but any byte in
        /// every third row tile: the AVX2 kernel plans the split path with shift 0, guesses it for the tiles that
        /// follow without planning (`guess_split`), and falls back to the widened path where the guess lists too
        /// many k-groups.
        case reluOutliers

        func byte(row: Int, using rng: inout SplitMix64) -> UInt8 {
            let r = rng.next()
            switch self {
            case .any: return UInt8(truncatingIfNeeded: r)
            case .upTo128: return r % 4 == 0 ? [0, 127, 128][Int(r / 4 % 3)] : UInt8(r / 4 % 129)
            case .from128: return r % 4 == 0 ? [128, 255][Int(r / 4 % 2)] : 128 + UInt8(r / 4 % 128)
            case .window, .beyondWindow:
                let width: UInt64 = self == .window ? 128 : 129
                let lo = UInt64(row &* 37 &+ 11) % (256 - width)
                return UInt8(lo + (r % 4 == 0 ? [0, width][Int(r / 4 % 2)] : r / 4 % (width + 1)))
            case .cycling: return [Activations.upTo128, .from128, .any, .window][row / 3 % 4].byte(row: row, using: &rng)
            case .mixedRows: return [Activations.window, .from128, .upTo128][row % 3].byte(row: row, using: &rng)
            case .sparseOutliers:
                let rate: UInt64 = row / 3 % 2 == 0 ? 300 : 20
                if r % rate == 0 { return r / rate % 3 == 0 ? 255 : 255 - UInt8(r / rate / 3 % 90) }
                return Activations.window.byte(row: row, using: &rng)
            case .reluOutliers:
                if row / 3 % 3 == 2 { return UInt8(truncatingIfNeeded: r) }
                if r % 300 == 0 { return 129 + UInt8(r / 300 % 127) }
                return r % 5 == 0 ? 0 : UInt8(r / 5 % 129)
            }
        }
    }

    struct QGemmCase: CustomStringConvertible {
        var m: Int, n: Int, k: Int
        var aXor: UInt8
        var outputSigned: Bool
        var residual: Int  // 0 none, 1 uint8, 2 int8
        /// Clamp bounds relative to the output zero point (stored bounds minus `outputZeroPoint`).
        var bounds: (Float, Float)
        var inputZeroPoint: Int32, outputZeroPoint: Int32, residualZeroPoint: Int32
        var ties: Bool
        var aStride: Int, cStride: Int, rStride: Int
        var seed: UInt64
        var activations = Activations.any
        /// Weights drawn as -128, 127 or any value, a third each (else any value).
        var edgeWeights = false

        var description: String {
            "M=\(m) N=\(n) K=\(k) a_xor=\(aXor) activations=\(activations) edge weights=\(edgeWeights) "
                + "out=\(outputSigned ? "s8" : "u8") "
                + "residual=\(["none", "u8", "s8"][residual]) min/max=\(bounds.0)/\(bounds.1) "
                + "zero points in/out/residual=\(inputZeroPoint)/\(outputZeroPoint)/\(residualZeroPoint) "
                + "ties=\(ties) a_stride=\(aStride) c_stride=\(cStride) r_stride=\(rStride)"
        }
    }

    /// Awkward sizes, crossed with a rotating choice of every parameter.
    static func qgemmCases() -> [QGemmCase] {
        let ms = [1, 2, 3, 5, 7, 8, 9, 17]
        let ns = [1, 3, 15, 16, 17, 31, 33, 64, 65]
        let ks = [4, 8, 60, 116, 120, 124, 128, 576]
        var cases: [QGemmCase] = []
        func add(_ m: Int, _ n: Int, _ k: Int, _ v: Int) {
            let outputSigned = v % 2 == 1
            let signedBounds: [(Float, Float)] = [(-128, 127), (0, 127), (-100, 90)]
            let unsignedBounds: [(Float, Float)] = [(0, 255), (0, 120), (3, 250)]
            let aXor: UInt8 = (v / 2) % 2 == 0 ? 0x80 : 0
            let residual = (v / 4) % 3
            // Zero in a third of the cases (the symmetric path), one of `zeroPoints` otherwise.
            let zp = { (salt: Int, signed: Bool) -> Int32 in (v + salt) % 3 == 0 ? 0 : zeroPoint(v / 3 + salt, signed: signed) }
            let outputZeroPoint = zp(1, outputSigned)
            let stored = (outputSigned ? signedBounds : unsignedBounds)[(v / 3) % 3]
            cases.append(
                QGemmCase(
                    m: m, n: n, k: k,
                    aXor: aXor,
                    outputSigned: outputSigned,
                    residual: residual,
                    bounds: (stored.0 - Float(outputZeroPoint), stored.1 - Float(outputZeroPoint)),
                    inputZeroPoint: zp(0, aXor != 0), outputZeroPoint: outputZeroPoint,
                    residualZeroPoint: residual == 0 ? 0 : zp(2, residual == 2),
                    ties: (v / 5) % 2 == 1,
                    aStride: k + [0, 4, 13][v % 3],
                    cStride: n + [0, 5][(v / 7) % 2],
                    rStride: n + [0, 3, 16][(v / 11) % 3],
                    seed: UInt64(m * 1_000_000 + n * 1000 + k) &* 31 &+ UInt64(v)))
        }
        for (i, m) in ms.enumerated() {
            for (j, n) in ns.enumerated() {
                add(m, n, ks[(i * 3 + j) % ks.count], i * ns.count + j)
            }
        }
        // Every K at tile-edge sizes (mr-1, mr+1 of the 6-row VNNI tiles and the 3-row AVX2 tile; 1 and 4 panels
        // +- 1 column).
        for (i, k) in ks.enumerated() {
            add(5, 17, k, 100 + i)
            add(7, 63, k, 200 + i)
            add(13, 65, k, 300 + i)
            add(4, 16, k, 400 + i)
            add(6, 47, k, 500 + i)
            add(2, 49, k, 600 + i)
        }
        // K past the AVX2 kernel's stack buffer for its widened A (4096): the heap path.
        add(4, 20, 4100, 700)
        // int8 A (v = 704) with more than 8 panels and K past the VNNI kernels' stack for shifted rows (2048): the
        // heap path of the shift-once-per-row-block mode, over two row blocks.
        add(8, 140, 2052, 704)
        // The AVX2 kernel's vpmaddubsw paths: bytes at their bounds, weights at -128/127, awkward sizes; N = 1043
        // (66 panels of K = 8) needs more shift sums than its stack holds; K = 4100 the heap path.
        // K = 16, 20 and 24 as the mobile nets' expansions (remainders of the 16- and 32-byte loops); M = 52 has 18
        // row tiles, so a guessed plan is planned afresh at the 17th.
        let shapes = [(1, 1, 4), (2, 17, 8), (3, 16, 60), (4, 33, 116), (5, 65, 124), (7, 47, 576), (9, 1043, 8),
                      (13, 20, 4100), (6, 96, 16), (8, 25, 20), (5, 144, 24), (52, 24, 64)]
        for (i, activations) in [Activations.upTo128, .from128, .cycling, .window, .beyondWindow, .mixedRows, .sparseOutliers, .reluOutliers].enumerated() {
            for (j, (m, n, k)) in shapes.enumerated() {
                add(m, n, k, 800 + i * shapes.count + j)
                cases[cases.count - 1].activations = activations
                cases[cases.count - 1].edgeWeights = j % 2 == 0
                cases[cases.count - 1].ties = false
            }
        }
        return cases
    }

    @Test("qgemm matches the requantization contract exactly", arguments: isas)
    func qgemm(isa: Int32) {
        let kernel = octet_qgemm_kernel(isa)
        for c in Self.qgemmCases() {
            var rng = SplitMix64(seed: c.seed)
            // A as the kernel sees it after XOR: uint8 activations (a_xor 0) or int8 ones (a_xor 0x80).
            let a = c.ties ? Self.smallBytes(c.m * c.aStride, signed: c.aXor != 0, xor: c.aXor, rng: &rng)
                : (0..<c.m * c.aStride).map { c.activations.byte(row: $0 / c.aStride, using: &rng) ^ c.aXor }
            let w = c.ties ? Self.smallBytes(c.k * c.n, signed: true, rng: &rng).map { Int8(bitPattern: $0) }
                : c.edgeWeights ? (0..<c.k * c.n).map { _ in [Int8.min, Int8.max, Int8(truncatingIfNeeded: rng.next())][Int(rng.next() % 3)] }
                : rng.int8s(c.k * c.n)
            let biasRange: ClosedRange<Int32> = c.ties ? -40...40 : -30000...30000
            let bias = (0..<c.n).map { _ in Int32.random(in: biasRange, using: &rng) }
            let multiplier = Self.multipliers(c.n, k: c.k, ties: c.ties, rng: &rng)
            let residual = rng.bytes(c.m * c.rStride)
            let residualMultiplier: Float = c.ties ? 0.5 : Float.random(in: 0.3...1.5, using: &rng)

            // Reference, straight from the contract on the unpacked K x N weights and the stored activations
            // q (int8 when a_xor is 0x80): acc = bias + Σ (q − z_x) · W.
            var expected = [UInt8](repeating: 0xA5, count: c.m * c.cStride)
            for m in 0..<c.m {
                for n in 0..<c.n {
                    var acc = bias[n]
                    for k in 0..<c.k {
                        let byte = a[m * c.aStride + k]
                        let q = c.aXor != 0 ? Int32(Int8(bitPattern: byte)) : Int32(byte)
                        acc &+= (q - c.inputZeroPoint) &* Int32(w[k * c.n + n])
                    }
                    var r: Int32? = nil
                    if c.residual != 0 {
                        let byte = residual[m * c.rStride + n]
                        r = c.residual == 2 ? Int32(Int8(bitPattern: byte)) : Int32(byte)
                    }
                    expected[m * c.cStride + n] = Self.requantize(
                        acc, multiplier: multiplier[n], residual: r, residualZeroPoint: c.residualZeroPoint,
                        residualMultiplier: residualMultiplier, min: c.bounds.0, max: c.bounds.1,
                        zeroPoint: c.outputZeroPoint, outputSigned: c.outputSigned)
                }
            }

            // The packing algebra (qgemm_scalar.c): bias' = bias − (z_x + 128 if a_xor) · Σ_k W.
            let shift = c.inputZeroPoint + (c.aXor != 0 ? 128 : 0)
            let packedBias = zip(bias, Self.columnSums(w, k: c.k, n: c.n)).map { $0 &- shift &* $1 }
            var packed = [UInt8](repeating: 0, count: octet_qgemm_packed_size(c.n, c.k))
            octet_qgemm_pack(c.n, c.k, w, packedBias, multiplier, &packed)
            var params = octet_qgemm_params(
                min: c.bounds.0, max: c.bounds.1, residual_multiplier: residualMultiplier,
                output_signed: c.outputSigned ? 1 : 0, residual_signed: c.residual == 2 ? 1 : 0, a_xor: c.aXor,
                output_zero_point: c.outputZeroPoint, residual_zero_point: c.residualZeroPoint, saturation_clamps: 0)
            // Whole-range bounds take the kernels' unclamped epilogue, the others the clamped one.
            params.saturation_clamps = octet_qgemm_saturation_clamps(c.n, c.k, packed, &params)
            var out = [UInt8](repeating: 0xA5, count: c.m * c.cStride)  // 0xA5 between rows must survive
            residual.withUnsafeBytes { r in
                kernel(c.m, c.n, c.k, a, c.aStride, packed, &out, c.cStride,
                       c.residual != 0 ? r.baseAddress : nil, c.rStride, &params)
            }
            if let i = (0..<out.count).first(where: { out[$0] != expected[$0] }) {
                let mismatches = (0..<out.count).filter { out[$0] != expected[$0] }.count
                Issue.record(
                    """
                    qgemm \(String(cString: octet_cpu_isa_name(isa))): \(mismatches) wrong bytes, first at \
                    m=\(i / c.cStride) n=\(i % c.cStride): got \(out[i]) want \(expected[i]); \(c)
                    """)
            }
        }
    }

    @Test("qgemm: the dispatching entry point and the ISA query agree with the hardware")
    func dispatch() {
        #expect(octet_cpu_isa_supported(octet_cpu_isa()) == 1)
        #expect(octet_cpu_isa_supported(octet_cpu_hardware_isa()) == 1)
        #expect(octet_cpu_isa_supported(OCTET_ISA_SCALAR) == 1)
        #expect(octet_cpu_isa_supported(-1) == 0 && octet_cpu_isa_supported(Int32(OCTET_ISA_COUNT)) == 0)
        #expect(String(cString: octet_cpu_isa_name(octet_cpu_hardware_isa())) != "unknown")
        #expect((0..<Int32(OCTET_ISA_COUNT)).map { String(cString: octet_cpu_isa_name($0)) } == ["scalar", "avx2", "avx512vnni", "avxvnni"])
        #expect(octet_qgemm_packed_size(17, 8) == 2 * (64 + 16 * 8 + 64))
        #expect(octet_sgemm_packed_size(16, 3) == (16 + 16 * 3) * 4)
        #expect(octet_dwconv_q_packed_size_for(OCTET_ISA_SCALAR, 33, 9) == 3 * (128 + 16 * 9))
        #expect(octet_dwconv_q_packed_size_for(OCTET_ISA_AVX512VNNI, 65, 9) == 2 * (768 + 256 * 9))
        #expect(octet_dwconv_f32_packed_size(1, 25) == (16 + 16 * 25) * 4)
        // The unclamped epilogue only where the saturation is the clamp and rounding cannot overflow.
        var packedPanel = [UInt8](repeating: 0, count: octet_qgemm_packed_size(2, 8))
        octet_qgemm_pack(2, 8, [Int8](repeating: 1, count: 16), [100, -100], [0.01, 0.02], &packedPanel)
        var whole = octet_qgemm_params(min: 0, max: 255, residual_multiplier: 0, output_signed: 0, residual_signed: 0, a_xor: 0,
                                       output_zero_point: 0, residual_zero_point: 0, saturation_clamps: 0)
        #expect(octet_qgemm_saturation_clamps(2, 8, packedPanel, &whole) == 1)
        whole.max = 254
        #expect(octet_qgemm_saturation_clamps(2, 8, packedPanel, &whole) == 0)
        var shiftedWhole = octet_qgemm_params(min: -100, max: 155, residual_multiplier: 0, output_signed: 0, residual_signed: 0,
                                             a_xor: 0, output_zero_point: 100, residual_zero_point: 0, saturation_clamps: 0)
        #expect(octet_qgemm_saturation_clamps(2, 8, packedPanel, &shiftedWhole) == 1)
        octet_qgemm_pack(2, 8, [Int8](repeating: 1, count: 16), [100, -100], [0.01, 1e6], &packedPanel)
        #expect(octet_qgemm_saturation_clamps(2, 8, packedPanel, &shiftedWhole) == 0)

        var rng = SplitMix64(seed: 99)
        let (m, n, k) = (9, 40, 44)
        let a = rng.bytes(m * k), w = rng.int8s(k * n)
        let multiplier = Self.multipliers(n, k: k, ties: false, rng: &rng)
        var packed = [UInt8](repeating: 0, count: octet_qgemm_packed_size(n, k))
        octet_qgemm_pack(n, k, w, nil, multiplier, &packed)
        var params = octet_qgemm_params(
            min: -128 - 7, max: 127 - 7, residual_multiplier: 0, output_signed: 1, residual_signed: 0, a_xor: 0x80,
            output_zero_point: 7, residual_zero_point: 0, saturation_clamps: 0)
        var viaDispatch = [UInt8](repeating: 0, count: m * n), viaScalar = viaDispatch
        octet_qgemm(m, n, k, a, k, packed, &viaDispatch, n, nil, 0, &params)
        octet_qgemm_scalar(m, n, k, a, k, packed, &viaScalar, n, nil, 0, &params)
        #expect(viaDispatch == viaScalar)
    }

    // MARK: - im2col

    @Test("im2col: tap-major patches; padding taps hold the pad byte (the input zero point), extra columns 0; flip XORs every byte written",
          arguments: [(5, 7, 3, 0, 3, 3, 1, 1, 1, UInt8(0)), (6, 5, 8, 2, 5, 3, 2, 1, 1, 0x9D), (9, 9, 4, 0, 4, 3, 1, 2, 2, 0x80),
                      (4, 6, 6, 1, 3, 5, 2, 1, 2, 0xFF), (1, 1, 2, 0, 2, 1, 1, 1, 0, 18), (11, 10, 3, 0, 3, 3, 2, 1, 1, 0x80),
                      (7, 9, 12, 0, 12, 3, 1, 1, 1, 5), (8, 9, 12, 0, 12, 3, 1, 1, 1, 5), (6, 7, 8, 0, 8, 3, 1, 1, 1, 0x11),
                      // The 7x7 stride-2 stem over 3 channels: 21-byte runs, most windows wholly inside.
                      (15, 13, 3, 0, 3, 7, 2, 1, 3, 0x80)])
    func im2colPadsWithPadByte(
        _ c: (Int, Int, Int, Int, Int, Int, Int, Int, Int, UInt8)
    ) {
        let (h, w, channels, offset, group, k, stride, dilation, pad, padByte) = c
        // Half the cases shift int8 patches to uint8 afterwards (flip 0x80), row lengths with and without a word tail.
        let flip: UInt8 = (h + channels) % 2 == 0 ? 0x80 : 0
        var rng = SplitMix64(seed: UInt64(h * 100 + channels) &+ UInt64(padByte))
        let batch = 2
        let input = rng.bytes(batch * h * w * channels)
        let window = dilation * (k - 1) + 1
        let (oh, ow) = ((h + 2 * pad - window) / stride + 1, (w + 2 * pad - window) / stride + 1)
        let rowLength = k * k * group + 3
        let rows = batch * oh * ow
        var expected = [UInt8](repeating: 0, count: rows * rowLength)
        for row in 0..<rows {
            let (n, oy, ox) = (row / (oh * ow), row / ow % oh, row % ow)
            for t in 0..<(k * k) {
                let iy = oy * stride - pad + t / k * dilation, ix = ox * stride - pad + t % k * dilation
                for ch in 0..<group {
                    let inside = iy >= 0 && iy < h && ix >= 0 && ix < w
                    expected[row * rowLength + t * group + ch] =
                        inside ? input[((n * h + iy) * w + ix) * channels + offset + ch] : padByte
                }
            }
        }
        expected = expected.map { $0 ^ flip }  // every byte of the rows, the columns past the taps too
        var out = [UInt8](repeating: 0x77, count: rows * rowLength)
        // Two calls on disjoint row ranges, as the thread pool makes them.
        let split = rows / 2
        for (first, count) in [(0, split), (split, rows - split)] {
            out.withUnsafeMutableBytes { o in
                octet_im2col(
                    input, h, w, channels, offset, group, k, k, stride, stride, dilation, dilation,
                    pad, pad, oh, ow, first, count, 1, rowLength, padByte, flip, o.baseAddress! + first * rowLength)
            }
        }
        if let i = out.indices.first(where: { out[$0] != expected[$0] }) {
            Issue.record("im2col row \(i / rowLength) column \(i % rowLength): got \(out[i]) want \(expected[i]); \(c)")
        }
    }

    // MARK: - FP32 GEMM

    // MARK: - Indirect GEMM (convolution without im2col)

    /// (batch, height, width, channels, kernel h, kernel w, stride, dilation, pad, output channels, residual,
    /// clamp-free epilogue): channels multiples of 4 from 4 to 260, windows 1x1 (strided) to 5x5 and 1x3, output
    /// channels on and off the 16- and 64-column tiles, row counts off the 6-row tile.
    static let indirectCases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Bool, Bool)] = [
        (2, 7, 9, 4, 3, 3, 1, 1, 1, 17, false, false), (1, 6, 5, 64, 3, 3, 1, 1, 1, 64, true, false),
        (3, 9, 8, 12, 3, 3, 2, 1, 1, 130, true, true), (1, 13, 11, 68, 5, 5, 2, 1, 2, 100, false, true),
        (2, 5, 6, 8, 1, 1, 2, 1, 0, 1, false, false), (1, 9, 10, 132, 3, 3, 1, 2, 2, 200, true, false),
        (1, 4, 4, 260, 3, 3, 1, 1, 1, 33, false, true), (2, 6, 7, 20, 1, 3, 1, 1, 1, 48, true, true),
    ]

    @Test("qigemm (AVX-512 VNNI): the indirect GEMM equals the scalar GEMM on im2col's patches, byte for byte",
          .enabled(if: octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI) != 0, "skipped: this CPU has no AVX-512 VNNI"),
          arguments: indirectCases.indices)
    func indirectGEMMMatchesIm2colThenGEMM(_ index: Int) {
        let (batch, h, w, c, kh, kw, stride, dilation, pad, n, withResidual, clampFree) = Self.indirectCases[index]
        var rng = SplitMix64(seed: 0x1D1 &+ UInt64(index))
        let (oh, ow) = ((h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1, (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1)
        let (m, taps) = (batch * oh * ow, kh * kw)
        let k = taps * c
        let input = rng.bytes(batch * h * w * c)
        let padByte = UInt8(Self.zeroPoints[index % Self.zeroPoints.count])
        let weights = rng.int8s(k * n)
        let bias = (0..<n).map { _ in Int32.random(in: -5000...5000, using: &rng) }
        let multipliers = Self.multipliers(n, k: k, ties: false, rng: &rng)
        var packed = [UInt8](repeating: 0, count: octet_qgemm_packed_size(n, k))
        octet_qgemm_pack(n, k, weights, bias, multipliers, &packed)
        var params = octet_qgemm_params()
        (params.min, params.max) = clampFree ? (0, 255) : (3, 200)
        params.output_signed = 0
        params.residual_multiplier = 0.43
        params.residual_signed = Int32(index % 2)
        params.saturation_clamps = octet_qgemm_saturation_clamps(n, k, packed, &params)
        let residual = rng.bytes(withResidual ? m * n : 0)
        var patches = [UInt8](repeating: 0, count: m * k)
        octet_im2col(input, h, w, c, 0, c, kh, kw, stride, stride, dilation, dilation, pad, pad, oh, ow, 0, m, 1, k, padByte, 0, &patches)
        var expected = [UInt8](repeating: 0xA5, count: m * n + 64), got = expected
        residual.withUnsafeBytes { r in
            octet_qgemm_scalar(m, n, k, patches, k, packed, &expected, n, withResidual ? r.baseAddress : nil, n, &params)
        }
        let padRow = [UInt8](repeating: padByte, count: c)
        input.withUnsafeBufferPointer { x in
            padRow.withUnsafeBufferPointer { padding in
                var table = [UnsafePointer<UInt8>](repeating: padding.baseAddress!, count: m * taps)
                // Two calls on disjoint row ranges, as the thread pool makes them.
                let split = m / 2 / 6 * 6
                for (first, count) in [(0, split), (split, m - split)] where count > 0 {
                    table.withUnsafeMutableBufferPointer { t in
                        octet_im2col_indirection(
                            x.baseAddress!, h, w, c, kh, kw, stride, stride, dilation, dilation, pad, pad, oh, ow, first, count,
                            padding.baseAddress!, t.baseAddress! + first * taps)
                        got.withUnsafeMutableBytes { out in
                            residual.withUnsafeBytes { r in
                                octet_qigemm_avx512vnni(
                                    count, n, taps, c, t.baseAddress! + first * taps, packed, out.baseAddress! + first * n, n,
                                    withResidual ? r.baseAddress! + first * n : nil, n, &params)
                            }
                        }
                    }
                }
            }
        }
        if let i = got.indices.first(where: { got[$0] != expected[$0] }) {
            Issue.record("case \(index): row \(i / n) column \(i % n): \(got[i]), want \(expected[i])")
        }
    }

    @Test("sgemm within 1e-5 of sum |a||w|", arguments: isas)
    func sgemm(isa: Int32) {
        let kernel = octet_sgemm_kernel(isa)
        let ms = [1, 2, 3, 5, 7, 8, 9, 17]
        let ns = [1, 3, 15, 16, 17, 31, 33, 47, 49, 64, 65]
        let ks = [1, 3, 4, 17, 60, 128, 300]
        for (i, m) in ms.enumerated() {
            for (j, n) in ns.enumerated() {
                let k = ks[(i * 2 + j) % ks.count]
                let v = i * ns.count + j
                let (lda, ldc) = (k + v % 3, n + (v / 3) % 2 * 7)
                let withResidual = v % 2 == 0
                let (lo, hi): (Float, Float) = [(-.infinity, .infinity), (0, .infinity), (-1.5, 2)][(v / 2) % 3]
                var rng = SplitMix64(seed: UInt64(v) &+ 7000)
                let a = rng.floats(m * lda, in: -1...1), w = rng.floats(k * n, in: -1...1)
                let bias = rng.floats(n, in: -1...1), residual = rng.floats(m * ldc, in: -1...1)

                var packed = [Float](repeating: 0, count: octet_sgemm_packed_size(n, k) / 4)
                octet_sgemm_pack(n, k, w, bias, &packed)
                var out = [Float](repeating: 12345, count: m * ldc)
                residual.withUnsafeBufferPointer { r in
                    kernel(m, n, k, a, lda, packed, &out, ldc, withResidual ? r.baseAddress : nil, lo, hi)
                }
                for row in 0..<m {
                    for col in 0..<ldc {
                        let got = out[row * ldc + col]
                        guard col < n else {
                            if got != 12345 {
                                Issue.record("sgemm wrote past N at m=\(row) n=\(col); M=\(m) N=\(n) K=\(k)")
                            }
                            continue
                        }
                        var exact = Double(bias[col]), magnitude = abs(Double(bias[col]))
                        for kk in 0..<k {
                            let product = Double(a[row * lda + kk]) * Double(w[kk * n + col])
                            exact += product
                            magnitude += abs(product)
                        }
                        if withResidual {
                            exact += Double(residual[row * ldc + col])
                            magnitude += abs(Double(residual[row * ldc + col]))
                        }
                        let want = Swift.min(Swift.max(exact, Double(lo)), Double(hi))
                        let tolerance = 1e-5 * magnitude + 1e-30
                        if !(abs(Double(got) - want) <= tolerance) {
                            Issue.record(
                                """
                                sgemm \(String(cString: octet_cpu_isa_name(isa))): m=\(row) n=\(col) got \(got) \
                                want \(want) (tolerance \(tolerance)); M=\(m) N=\(n) K=\(k) lda=\(lda) ldc=\(ldc) \
                                residual=\(withResidual) min/max=\(lo)/\(hi)
                                """)
                            return
                        }
                    }
                }
            }
        }
    }

    // MARK: - Depthwise convolution

    struct DWCase: CustomStringConvertible {
        var channels: Int, kernelSize: Int, pixels: Int
        var inputSigned: Bool, outputSigned: Bool
        /// Relative to the output zero point.
        var bounds: (Float, Float)
        var inputZeroPoint: Int32, outputZeroPoint: Int32
        var seed: UInt64
        var description: String {
            "channels=\(channels) kernel_size=\(kernelSize) output_pixels=\(pixels) "
                + "in=\(inputSigned ? "s8" : "u8") out=\(outputSigned ? "s8" : "u8") min/max=\(bounds.0)/\(bounds.1) "
                + "zero points in/out=\(inputZeroPoint)/\(outputZeroPoint)"
        }
    }

    static func dwCases() -> [DWCase] {
        var cases: [DWCase] = []
        // Past 64 channels: the AVX-512 kernel's blocks are 64 wide, the last one partial; tails of 8 and 16 bytes
        // take the AVX-VNNI kernel's direct partial loads.
        for (i, channels) in [1, 3, 8, 15, 16, 17, 24, 33, 40, 64, 65, 150].enumerated() {
            // Odd and even tap counts: the AVX2 kernel takes taps in pairs and the last of an odd count alone.
            for (j, kernelSize) in [1, 2, 4, 9, 25].enumerated() {
                let v = i * 5 + j
                let outputSigned = v % 2 == 0, inputSigned = (v / 2) % 2 == 0
                let stored: (Float, Float) = outputSigned ? [(-128, 127), (0, 127)][v % 4 / 2] : [(0, 255), (0, 120)][v % 4 / 2]
                let inputZeroPoint = v % 3 == 0 ? 0 : zeroPoint(v, signed: inputSigned)
                let outputZeroPoint = v % 3 == 1 ? 0 : zeroPoint(v + 3, signed: outputSigned)
                cases.append(
                    DWCase(
                        channels: channels, kernelSize: kernelSize, pixels: 1 + v % 7,
                        inputSigned: inputSigned, outputSigned: outputSigned,
                        bounds: (stored.0 - Float(outputZeroPoint), stored.1 - Float(outputZeroPoint)),
                        inputZeroPoint: inputZeroPoint, outputZeroPoint: outputZeroPoint,
                        seed: UInt64(v) &+ 500))
            }
        }
        return cases
    }

    /// An input "image" of distinct pixels followed by one zero-point pixel, and an indirection buffer in
    /// which about one tap in five points at the zero-point pixel (padding). `image` holds the distinct
    /// pixels' bytes, `zero` the zero-point pixel's.
    struct Indirection {
        let base: UnsafeMutableRawPointer
        let pointers: [UnsafeRawPointer]
        let sources: [Int]  // per pointer: source pixel index, or -1 for the zero-point pixel

        init(pixels: Int, kernelSize: Int, image: [UInt8], zero: [UInt8], rng: inout SplitMix64) {
            let distinct = image.count / zero.count
            let base = UnsafeMutableRawPointer.allocate(byteCount: image.count + zero.count, alignment: 64)
            base.copyMemory(from: image, byteCount: image.count)
            (base + image.count).copyMemory(from: zero, byteCount: zero.count)
            let sources = (0..<(pixels * kernelSize)).map { _ in
                rng.next() % 5 == 0 ? -1 : Int(rng.next() % UInt64(distinct))
            }
            self.base = base
            self.sources = sources
            pointers = sources.map { UnsafeRawPointer(base + (($0 < 0 ? distinct : $0) * zero.count)) }
        }
    }

    @Test("dwconv (quantized) matches the requantization contract exactly", arguments: isas)
    func dwconvQ(isa: Int32) {
        let kernel = octet_dwconv_q_kernel(isa)
        for c in Self.dwCases() {
            var rng = SplitMix64(seed: c.seed)
            let distinct = 11
            let zeroPoint = UInt8(truncatingIfNeeded: c.inputZeroPoint)  // the padding pixel: real 0
            let ties = c.seed % 2 == 0
            let image = ties ? Self.smallBytes(distinct * c.channels, signed: c.inputSigned, rng: &rng)
                : rng.bytes(distinct * c.channels)
            let indirection = Indirection(
                pixels: c.pixels, kernelSize: c.kernelSize, image: image,
                zero: [UInt8](repeating: zeroPoint, count: c.channels), rng: &rng)
            defer { indirection.base.deallocate() }
            let w = ties
                ? Self.smallBytes(c.kernelSize * c.channels, signed: true, rng: &rng).map { Int8(bitPattern: $0) }
                : rng.int8s(c.kernelSize * c.channels)
            let biasRange: ClosedRange<Int32> = ties ? -40...40 : -5000...5000
            let bias = (0..<c.channels).map { _ in Int32.random(in: biasRange, using: &rng) }
            let multiplier = Self.multipliers(c.channels, k: c.kernelSize, ties: ties, rng: &rng)

            let stride = c.channels + 3
            var expected = [UInt8](repeating: 0x5A, count: c.pixels * stride)
            for px in 0..<c.pixels {
                for ch in 0..<c.channels {
                    // acc = bias + Σ (x − z_x) · w over the real taps only: padding is real 0.
                    var acc = bias[ch]
                    for t in 0..<c.kernelSize {
                        let source = indirection.sources[px * c.kernelSize + t]
                        guard source >= 0 else { continue }
                        let byte = image[source * c.channels + ch]
                        let x = c.inputSigned ? Int32(Int8(bitPattern: byte)) : Int32(byte)
                        acc &+= (x - c.inputZeroPoint) &* Int32(w[t * c.channels + ch])
                    }
                    expected[px * stride + ch] = Self.requantize(
                        acc, multiplier: multiplier[ch], residual: nil, residualMultiplier: 0,
                        min: c.bounds.0, max: c.bounds.1, zeroPoint: c.outputZeroPoint, outputSigned: c.outputSigned)
                }
            }

            // bias' = bias − z_x · Σ_t w (QuantizedLinearParameters), with w as a [tap][channel] matrix.
            let packedBias = zip(bias, Self.columnSums(w, k: c.kernelSize, n: c.channels)).map { $0 &- c.inputZeroPoint &* $1 }
            var packed = [UInt8](repeating: 0, count: octet_dwconv_q_packed_size_for(isa, c.channels, c.kernelSize))
            octet_dwconv_q_pack_for(isa, c.channels, c.kernelSize, w, packedBias, multiplier, &packed)
            var params = octet_dwconv_params(
                min: c.bounds.0, max: c.bounds.1, input_signed: c.inputSigned ? 1 : 0,
                output_signed: c.outputSigned ? 1 : 0, output_zero_point: c.outputZeroPoint, saturation_clamps: 0)
            params.saturation_clamps = octet_dwconv_q_saturation_clamps_for(isa, c.channels, c.kernelSize, packed, &params)
            var out = [UInt8](repeating: 0x5A, count: c.pixels * stride)
            kernel(c.channels, c.pixels, c.kernelSize, indirection.pointers, packed, &out, stride, &params)
            if let i = (0..<out.count).first(where: { out[$0] != expected[$0] }) {
                Issue.record(
                    """
                    dwconv_q \(String(cString: octet_cpu_isa_name(isa))): pixel \(i / stride) channel \(i % stride): \
                    got \(out[i]) want \(expected[i]); \(c)
                    """)
            }
        }
    }

    @Test("dwconv (fp32) within 1e-5 of sum |x||w|", arguments: isas)
    func dwconvF32(isa: Int32) {
        let kernel = octet_dwconv_f32_kernel(isa)
        for c in Self.dwCases() {
            var rng = SplitMix64(seed: c.seed &+ 1)
            let distinct = 11
            let image = rng.floats(distinct * c.channels, in: -2...2)
            let indirection = Indirection(
                pixels: c.pixels, kernelSize: c.kernelSize, image: image.withUnsafeBytes { Array($0) },
                zero: [UInt8](repeating: 0, count: c.channels * 4), rng: &rng)
            defer { indirection.base.deallocate() }
            let w = rng.floats(c.kernelSize * c.channels, in: -1...1)
            let bias = rng.floats(c.channels, in: -1...1)
            let (lo, hi): (Float, Float) = c.outputSigned ? (-.infinity, .infinity) : (0, 6)

            var packed = [Float](repeating: 0, count: octet_dwconv_f32_packed_size(c.channels, c.kernelSize) / 4)
            octet_dwconv_f32_pack(c.channels, c.kernelSize, w, bias, &packed)
            let stride = c.channels + 2  // in floats
            var out = [Float](repeating: 777, count: c.pixels * stride)
            kernel(c.channels, c.pixels, c.kernelSize, indirection.pointers, packed, &out, stride * 4, lo, hi)
            for px in 0..<c.pixels {
                for ch in 0..<stride {
                    let got = out[px * stride + ch]
                    guard ch < c.channels else {
                        if got != 777 { Issue.record("dwconv_f32 wrote past channels at pixel \(px); \(c)") }
                        continue
                    }
                    var exact = Double(bias[ch]), magnitude = abs(Double(bias[ch]))
                    for t in 0..<c.kernelSize {
                        let source = indirection.sources[px * c.kernelSize + t]
                        let x = source < 0 ? 0 : Double(image[source * c.channels + ch])
                        exact += x * Double(w[t * c.channels + ch])
                        magnitude += abs(x * Double(w[t * c.channels + ch]))
                    }
                    let want = Swift.min(Swift.max(exact, Double(lo)), Double(hi))
                    let tolerance = 1e-5 * magnitude + 1e-30
                    if !(abs(Double(got) - want) <= tolerance) {
                        Issue.record(
                            """
                            dwconv_f32 \(String(cString: octet_cpu_isa_name(isa))): pixel \(px) channel \(ch): \
                            got \(got) want \(want) (tolerance \(tolerance)); \(c)
                            """)
                        return
                    }
                }
            }
        }
    }

    // MARK: - Element-wise kernels (pointwise_*.c)

    @Test("quantize_f32 equals x / scale clamped, rounded half to even, plus the zero point (NaN as 0)", arguments: isas)
    func quantizeFloats(isa: Int32) {
        let kernel = octet_quantize_f32_kernel(isa)
        // Int8 and uint8 with zero points, and a ReLU6-like narrower range.
        let ranges: [(lo: Float, hi: Float, zero: Int32)] = [(-128, 127, 0), (-133, 122, 5), (0, 255, 0), (-3, 252, 3), (0, 170, 0)]
        for (v, n) in [0, 1, 7, 8, 9, 15, 16, 17, 31, 100, 1027].enumerated() {
            var rng = SplitMix64(seed: UInt64(v) &+ 9100)
            let scale = [Float(0.0173), 1, 0.25, 3.1e-3][v % 4]
            let range = ranges[v % ranges.count]
            var x = rng.floats(n, in: -300...300).map { $0 * scale }
            // Ties at exactly k + 0.5 (after the division by a power of two), and the special values.
            for i in stride(from: 0, to: n, by: 5) { x[i] = (Float(Int(x[i] / scale)) + 0.5) * scale }
            let specials: [Float] = [.nan, .infinity, -.infinity, -0.0, 0, 1e30, -1e30, .leastNonzeroMagnitude]
            for (i, special) in specials.enumerated() where i * 3 < n { x[i * 3] = special }
            var parameters = octet_quantize_params(scale: scale, lo: range.lo, hi: range.hi, zero_point: range.zero)
            var out = [UInt8](repeating: 0xA5, count: n + 3)
            kernel(n, x, &out, &parameters)
            for i in 0..<n {
                let y = x[i] / scale
                let clamped = y.isNaN ? 0 : min(max(y, range.lo), range.hi)
                let expected = UInt8(truncatingIfNeeded: Int32(clamped.rounded(.toNearestOrEven)) + range.zero)
                if out[i] != expected {
                    Issue.record("quantize_f32 isa \(isa) n=\(n): x=\(x[i]) scale=\(scale) gave \(out[i]), expected \(expected)")
                    return
                }
            }
            #expect(out[n...] == [0xA5, 0xA5, 0xA5], "quantize_f32 isa \(isa) wrote past n=\(n)")
        }
    }

    @Test("quantize_f32 divides: around every rounding boundary, x / scale, not x · (1 / scale)", arguments: isas)
    func quantizeDividesExactly(isa: Int32) {
        let kernel = octet_quantize_f32_kernel(isa)
        for scale: Float in [0.0173, 3.1e-3, 0.0471, 0.9] {
            // The floats within two ulps of (k + 0.5) · scale: where a multiplication by the reciprocal and the
            // division can fall on different sides of the tie.
            var x: [Float] = []
            for k in -140..<140 {
                var value = (Float(k) + 0.5) * scale
                value = value.nextDown.nextDown
                for _ in 0..<5 { x.append(value); value = value.nextUp }
            }
            var parameters = octet_quantize_params(scale: scale, lo: -128, hi: 127, zero_point: 0)
            var out = [UInt8](repeating: 0, count: x.count)
            kernel(x.count, x, &out, &parameters)
            let expected = x.map { UInt8(truncatingIfNeeded: Int32(min(max($0 / scale, -128), 127).rounded(.toNearestOrEven))) }
            let wrong = x.indices.filter { out[$0] != expected[$0] }
            #expect(wrong.isEmpty, "quantize_f32 isa \(isa) scale \(scale): \(wrong.count) of \(x.count) differ, first x=\(wrong.first.map { x[$0] } ?? 0)")
        }
    }

    @Test("maxpool_8bit: the largest tap per channel, int8 and uint8; padding taps (the type's minimum) never win", arguments: isas)
    func maxpool(isa: Int32) {
        let kernel = octet_maxpool_8bit_kernel(isa)
        for (v, channels) in [1, 3, 15, 16, 17, 31, 33, 64, 65, 150].enumerated() {
            for (j, kernelSize) in [1, 4, 9].enumerated() {
                for signed in [false, true] {
                    var rng = SplitMix64(seed: UInt64(v * 10 + j) &+ (signed ? 9500 : 9400))
                    let pixels = 1 + (v + j) % 6, distinct = 7
                    let image = rng.bytes(distinct * channels)
                    let indirection = Indirection(
                        pixels: pixels, kernelSize: kernelSize, image: image,
                        zero: [UInt8](repeating: signed ? 0x80 : 0, count: channels), rng: &rng)
                    defer { indirection.base.deallocate() }
                    let stride = channels + 2
                    var expected = [UInt8](repeating: 0xC3, count: pixels * stride)
                    for px in 0..<pixels {
                        for ch in 0..<channels {
                            let values = (0..<kernelSize).map { t -> Int in
                                let source = indirection.sources[px * kernelSize + t]
                                let byte = source < 0 ? (signed ? 0x80 : 0) : image[source * channels + ch]
                                return signed ? Int(Int8(bitPattern: byte)) : Int(byte)
                            }
                            expected[px * stride + ch] = UInt8(truncatingIfNeeded: values.max()!)
                        }
                    }
                    var out = [UInt8](repeating: 0xC3, count: pixels * stride)  // 0xC3 between pixels must survive
                    kernel(channels, pixels, kernelSize, indirection.pointers, signed ? 1 : 0, &out, stride)
                    #expect(out == expected, "maxpool_8bit isa \(isa): channels \(channels) taps \(kernelSize) signed \(signed)")
                }
            }
        }
    }

    @Test("sum_pixels_8bit adds every pixel's channels to the sums, int8 and uint8", arguments: isas)
    func sumPixels(isa: Int32) {
        let kernel = octet_sum_pixels_8bit_kernel(isa)
        for (v, (pixels, channels)) in [(1, 1), (3, 7), (49, 8), (49, 15), (2, 16), (5, 17), (49, 33), (1, 64), (9, 100), (49, 1280)].enumerated() {
            for signed in [false, true] {
                var rng = SplitMix64(seed: UInt64(v) &+ (signed ? 9300 : 9200))
                let x = rng.bytes(pixels * channels)
                let initial = (0..<channels + 2).map { Int32($0 * 1000 - 7) }
                var sums = initial
                kernel(pixels, channels, x, signed ? 1 : 0, &sums)
                for c in 0..<channels {
                    let expected = (0..<pixels).reduce(initial[c]) { $0 + (signed ? Int32(Int8(bitPattern: x[$1 * channels + c])) : Int32(x[$1 * channels + c])) }
                    if sums[c] != expected {
                        Issue.record("sum_pixels_8bit isa \(isa) \(pixels)x\(channels) signed \(signed): channel \(c) \(sums[c]), expected \(expected)")
                        return
                    }
                }
                #expect(sums[channels...] == initial[channels...], "sum_pixels_8bit isa \(isa) wrote past \(channels) channels")
            }
        }
    }
}
