import Foundation
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// The CUDA kernel-versus-reference checks of `octet selftest --device cuda`: the depthwise and quantize kernels on
/// random inputs of awkward sizes, against the reference arithmetic of OctetQuantization (integer outputs exactly
/// equal); the convolutions are checked end to end by the conformance suite on every `backendVariants()` entry.
public enum CUDASelfTest {
    /// Runs every check on the first device. - Returns: report lines and the number of failed checks.
    public static func run(log: (String) -> Void) throws -> Int {
        let library = try CUDAKernelLibrary.shared()
        let (driver, device) = (library.driver, library.device)
        log("CUDA device 0: \(device)")
        log("NVRTC: \(driver.nvrtcPath) (version \(driver.compilerVersion))")
        log("kernel library (common.cuh + every .cu) \(library.origin)")
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        // One channel a thread, then 4 and 8 (with the FP32-pipe conversions on and off).
        for (c, k, stride, signedInput, lanes, smallSums) in [
            (3, 3, 1, true, 1, false), (17, 3, 2, false, 1, false), (64, 5, 1, false, 1, false), (33, 5, 2, true, 1, false),
            (36, 3, 1, false, 4, true), (20, 5, 2, true, 4, false), (64, 3, 2, false, 8, true), (24, 5, 1, true, 8, false),
        ] {
            let name = "octet_dwconv_q_nhwc" + (lanes > 1 ? "_x\(lanes)" : "")
            let ok = try checkDepthwise(
                driver, try library.kernel(name), channels: c, kernel: k, stride: stride, signedInput: signedInput, lanes: lanes,
                smallSums: smallSums, using: &generator)
            log("\(name) C=\(c) \(k)x\(k) stride \(stride) \(signedInput ? "s8" : "u8") input: \(ok ? "exact" : "MISMATCH")")
            if !ok { failures += 1 }
        }
        // The row kernels (four output pixels a thread): every instantiated width, stride and lane count, output
        // widths 11 and 6 leaving partial rows of four.
        for (index, (k, stride, lanes)) in [3, 5].flatMap({ k in [1, 2].flatMap { s in [4, 8].map { (k, s, $0) } } }).enumerated() {
            let name = "octet_dwconv_q_nhwc_x\(lanes)_k\(k)s\(stride)_r4"
            let (c, signedInput, smallSums) = (lanes * (index % 3 + 1), index % 2 == 0, index % 4 < 2)
            let ok = try checkDepthwise(
                driver, try library.kernel(name), channels: c, kernel: k, stride: stride, signedInput: signedInput, lanes: lanes,
                smallSums: smallSums, outputsPerThread: 4, using: &generator)
            log("\(name) C=\(c) \(signedInput ? "s8" : "u8") input: \(ok ? "exact" : "MISMATCH")")
            if !ok { failures += 1 }
        }
        let quantize = try library.kernel("octet_quantize_f32")
        for count in [1, 255, 4097, 4100] {
            let ok = try checkQuantize(driver, quantize, count: count, using: &generator)
            log("quantize_f32 count=\(count): \(ok ? "exact" : "MISMATCH")")
            if !ok { failures += 1 }
        }
        let pixels = try library.kernel("octet_pixels_to_f32")
        for (channels, normalization) in [
            (3, ChannelNormalization.meanStd(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])),
            (3, .offsetScale(offset: [127.5, 127.5, 127.5], scale: [2 / 255, 2 / 255, 2 / 255])),
            (1, .meanStd(mean: [0.5], std: [0.25])), (4, .offsetScale(offset: [1, 2, 3, 4], scale: [0.5, 0.25, 3, 1e-3])),
        ] {
            let ok = try checkPixels(driver, pixels, count: channels * 1237, channels: channels, normalization, using: &generator)
            log("pixels_to_f32 C=\(channels) \(normalization): \(ok ? "exact" : "MISMATCH")")
            if !ok { failures += 1 }
        }
        let activation = try library.kernel("octet_activation_f32")
        for function in [Activation.erf, .gelu(tanhApproximation: false), .gelu(tanhApproximation: true), .sqrt, .exp, .sigmoid, .tanh] {
            let (ok, worst) = try checkActivation(driver, activation, function, count: 4099, using: &generator)
            let verdict = function.isBitIdenticalOnEveryBackend ? (ok ? "bit-exact" : "MISMATCH") : (ok ? "within tolerance" : "BEYOND TOLERANCE")
            log(String(format: "activation_f32 %@ count=4099: largest |cuda − cpu| %.3g (%@)", function.name, worst, verdict))
            if !ok { failures += 1 }
        }
        // Rank 4 (NHWC, both operands broadcast on a leading axis) and rank 3 (row-major), awkward sizes.
        for (aShape, bShape) in [([3, 1, 13, 37], [1, 4, 37, 9]), ([2, 5, 17], [1, 17, 33]), ([1, 1, 1], [1, 1, 1])] {
            let ok = try checkMatrixMultiply(library, a: aShape, b: bShape, using: &generator)
            log("matmul_f32 \(aShape) x \(bShape): \(ok ? "bit-exact" : "MISMATCH")")
            if !ok { failures += 1 }
        }
        // INT8 MatMul: u8 x s8 and s8 x s8 (symmetric, as the engine runs them), one with zero points and a fused Relu.
        for (aShape, bShape, a, b, y, relu) in [
            ([3, 1, 13, 37], [1, 4, 37, 9], TensorQuantization(dataType: .uint8, scale: 0.02), TensorQuantization(dataType: .int8, scale: 0.01),
             TensorQuantization(dataType: .int8, scale: 0.05), false),
            ([2, 5, 17], [1, 17, 33], TensorQuantization(dataType: .int8, scale: 0.03), TensorQuantization(dataType: .int8, scale: 0.02),
             TensorQuantization(dataType: .uint8, scale: 0.04), true),
            ([2, 7, 129], [2, 129, 1], TensorQuantization(dataType: .uint8, scale: 0.01, zeroPoint: 131), TensorQuantization(dataType: .int8, scale: 0.02, zeroPoint: -3),
             TensorQuantization(dataType: .uint8, scale: 0.3, zeroPoint: 100), false),
            ([1, 1, 1], [1, 1, 1], TensorQuantization(dataType: .int8, scale: 1), TensorQuantization(dataType: .int8, scale: 1),
             TensorQuantization(dataType: .int8, scale: 1), false),
        ] {
            let arithmetic = QuantizedMatrixMultiplyArithmetic(a: a, b: b, output: y, activation: relu ? .relu : nil)
            let ok = try checkQuantizedMatrixMultiply(library, a: aShape, b: bShape, arithmetic, using: &generator)
            let zeroPoints = a.zeroPoint != 0 ? " zero points" : ""
            log("matmul_q8 \(aShape) x \(bShape) \(a.isSigned ? "s8" : "u8")·\(b.isSigned ? "s8" : "u8")\(relu ? " relu" : "")\(zeroPoints): \(ok ? "exact" : "MISMATCH")")
            if !ok { failures += 1 }
        }
        // Pad in each mode and Reduce of each operation, NHWC (rank 4) and row-major (rank 3 and 5), awkward sizes.
        for mode in [PadMode.constant, .reflect, .edge] {
            for (shape, begin, end) in [([2, 3, 5, 7], [0, 1, 2, 0], [0, 0, 1, 3]), ([3, 6, 19], [0, 2, 1], [0, 1, 5]), ([1, 2, 3, 4, 5], [0, 0, 2, 1, 3], [0, 1, 0, 3, 4])] {
                let p = PadParameters(mode: mode, padsBegin: begin, padsEnd: end, value: -0.75)
                let ok = try checkShapeChange(library, .pad(p), input: shape, using: &generator)
                log("pad_\(mode.rawValue)_f32 \(shape) pads \(begin) \(end): \(ok ? "bit-exact" : "MISMATCH")")
                if !ok { failures += 1 }
            }
        }
        for operation in [ReduceOperation.mean, .sum, .max, .min] {
            for (shape, axes) in [([2, 5, 3, 7], [1, 2]), ([2, 5, 3, 7], [3]), ([3, 9, 17], [2]), ([2, 4, 3, 2, 5], [1, 3, 4])] {
                let ok = try checkShapeChange(library, .reduce(ReduceParameters(operation: operation, axes: axes)), input: shape, using: &generator)
                log("reduce_\(operation.rawValue)_f32 \(shape) axes \(axes): \(ok ? "bit-exact" : "MISMATCH")")
                if !ok { failures += 1 }
            }
        }
        failures += try checkHalfConvolutions(library, log: log, using: &generator)
        return failures
    }

    /// Runs one CUDA layer on logical host values placed in the backends' layouts (NHWC for rank 4, the batch being
    /// the first axis) and returns its output as a logical value.
    private static func runLayer(
        _ layer: any CUDALayer, _ library: CUDAKernelLibrary, inputs: [TensorValue], output: TensorLayout, batch: Int
    ) throws -> TensorValue {
        let driver = library.driver
        func layout(_ value: TensorValue) -> TensorLayout {
            switch value {
            case let .float(data): TensorLayout(sampleShape: Array(data.shape.dropFirst()), dataType: .float32, quantization: nil)
            case let .quantized(shape, _, q): TensorLayout(sampleShape: Array(shape.dropFirst()), dataType: q.dataType, quantization: q)
            }
        }
        let layouts = inputs.map(layout) + [output]
        let batches = inputs.map { ($0.shape.first ?? 1) } + [batch]
        let buffers = try zip(layouts, batches).map { try driver.allocate(bytes: max($0.bytesPerSample * $1, 1)) }
        defer { buffers.forEach(driver.release) }
        let stream = try driver.makeStream()
        defer { driver.destroy(stream) }
        let tensors = layouts.indices.map { DeviceTensor(address: buffers[$0].address, layout: layouts[$0], batch: batches[$0]) }
        for (index, value) in inputs.enumerated() { try CUDAHostTransfer.upload(value, to: tensors[index], driver: driver, stream: stream) }
        var encoder = CUDAEncoder(library: library, workspace: 0, accumulators: 0)
        try layer.encode(inputs: Array(tensors.dropLast()), outputs: [tensors[tensors.count - 1]], into: &encoder)
        for case let .launch(kernel, grid, block, shared, arguments, _) in encoder.steps {
            try driver.launch(kernel, grid: grid, block: block, sharedBytes: shared, arguments: arguments, stream: stream)
        }
        return try CUDAHostTransfer.download(tensors[tensors.count - 1], driver: driver, stream: stream)
    }

    private static func randomFloats(_ shape: [Int], using generator: inout SystemRandomNumberGenerator) -> TensorData {
        TensorData(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -2...2, using: &generator) })
    }

    /// Whether two float results are the same shape and equal bit for bit.
    private static func bitExact(_ got: TensorValue, _ want: TensorData) -> Bool {
        guard case let .float(got) = got else { return false }
        return got.shape == want.shape && zip(got.values, want.values).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    /// FP32 `MatrixMultiplyKernel` (matmul.cu) on random logical operands in their physical layouts, against the
    /// reference's loop (`acc += a · b` in k order, as the CPU's): every float bit for bit.
    private static func checkMatrixMultiply(_ library: CUDAKernelLibrary, a aShape: [Int], b bShape: [Int], using generator: inout SystemRandomNumberGenerator) throws -> Bool {
        let (a, b) = (randomFloats(aShape, using: &generator), randomFloats(bShape, using: &generator))
        let want = try ReferenceExecutor.evaluate(.matrixMultiply, [a, b])[0]
        let output = TensorLayout(sampleShape: Array(want.shape.dropFirst()), dataType: .float32, quantization: nil)
        return bitExact(try runLayer(MatrixMultiplyKernel(arithmetic: nil), library, inputs: [.float(a), .float(b)], output: output, batch: want.shape[0]), want)
    }

    /// INT8 `MatrixMultiplyKernel` (matmul.cu: `octet_matmul_q8`) on random stored values of the quantizations given,
    /// against `QuantizedReferenceKernels.matrixMultiply`: every integer equal.
    private static func checkQuantizedMatrixMultiply(
        _ library: CUDAKernelLibrary, a aShape: [Int], b bShape: [Int], _ arithmetic: QuantizedMatrixMultiplyArithmetic,
        using generator: inout SystemRandomNumberGenerator
    ) throws -> Bool {
        func stored(_ shape: [Int], _ q: TensorQuantization) -> TensorValue {
            .quantized(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Int32.random(in: Int32(q.qmin)...Int32(q.qmax), using: &generator) }, q)
        }
        let (a, b) = (stored(aShape, arithmetic.a), stored(bShape, arithmetic.b))
        guard case let .quantized(_, av, _) = a, case let .quantized(_, bv, _) = b,
              case let .quantized(shape, want, _) = try QuantizedReferenceKernels.matrixMultiply(av, shape: aShape, bv, shape: bShape, arithmetic)
        else { return false }
        let output = TensorLayout(sampleShape: Array(shape.dropFirst()), dataType: arithmetic.output.dataType, quantization: arithmetic.output)
        guard case let .quantized(gotShape, got, _) = try runLayer(MatrixMultiplyKernel(arithmetic: arithmetic), library, inputs: [a, b], output: output, batch: shape[0])
        else { return false }
        return gotShape == shape && got == want
    }

    /// `PadKernel` and `ReduceKernel` (pad_reduce.cu) on a random float tensor, against `ReferenceExecutor`: bit for bit.
    private static func checkShapeChange(
        _ library: CUDAKernelLibrary, _ kind: LayerKind, input shape: [Int], using generator: inout SystemRandomNumberGenerator
    ) throws -> Bool {
        let x = randomFloats(shape, using: &generator)
        let want = try ReferenceExecutor.evaluate(kind, [x])[0]
        let layer: any CUDALayer
        switch kind {
        case let .pad(p): layer = PadKernel(pad: p)
        case let .reduce(p): layer = ReduceKernel(reduce: p)
        default: return false
        }
        let output = TensorLayout(sampleShape: Array(want.shape.dropFirst()), dataType: .float32, quantization: nil)
        return bitExact(try runLayer(layer, library, inputs: [.float(x)], output: output, batch: want.shape[0]), want)
    }

    /// One FP16 convolution shape of the self-test: NCHW input `[n, c, h, w]`, `oc` filters of `kernel`, and what the
    /// epilogue adds.
    struct HalfConvolutionCase: CustomStringConvertible {
        var n: Int, c: Int, h: Int, w: Int, oc: Int
        var kernel: (Int, Int)
        var stride = 1, pad = (0, 0), dilation = 1
        var residual = false
        var activation: Activation? = nil
        var description: String {
            "N=\(n) C=\(c) \(h)x\(w) -> OC=\(oc) \(kernel.0)x\(kernel.1) stride \(stride) pad \(pad.0),\(pad.1) dilation \(dilation)"
                + (residual ? " +residual" : "") + (activation.map { " \($0.name)" } ?? "")
        }
    }

    /// Odd channel counts, OC not a multiple of 8 nor of the 64-wide tile, stride 2, padding, dilation, 1x1, a fully
    /// connected layer's shape (H = W = 1), batch 1 and 3, K not a multiple of the 32-wide k step, M not of 64.
    static let halfConvolutionCases: [HalfConvolutionCase] = [
        HalfConvolutionCase(n: 1, c: 3, h: 17, w: 19, oc: 5, kernel: (3, 3), stride: 2, pad: (1, 1), activation: .relu),
        HalfConvolutionCase(n: 3, c: 13, h: 9, w: 11, oc: 70, kernel: (3, 3), pad: (2, 2), dilation: 2, residual: true),
        HalfConvolutionCase(n: 3, c: 64, h: 7, w: 7, oc: 64, kernel: (1, 1)),
        HalfConvolutionCase(n: 3, c: 37, h: 1, w: 1, oc: 11, kernel: (1, 1)),
        HalfConvolutionCase(n: 1, c: 1000, h: 1, w: 1, oc: 129, kernel: (1, 1), activation: .clip(min: 0, max: 6)),
        HalfConvolutionCase(n: 2, c: 33, h: 10, w: 10, oc: 129, kernel: (5, 5), stride: 2, pad: (2, 2), residual: true, activation: .relu),
        HalfConvolutionCase(n: 3, c: 1, h: 5, w: 6, oc: 1, kernel: (2, 2)),
        HalfConvolutionCase(n: 1, c: 256, h: 3, w: 5, oc: 67, kernel: (1, 3), pad: (0, 1), activation: .hardSwish),
    ]

    /// `HalfConvolutionKernel` (conv_f16.cu) on every `halfConvolutionCases` shape against `Float16Reference`. The
    /// tolerance is the accumulation-order bound: the half x half products are exact in FP32 and only the order and
    /// rounding of the K + 2 FP32 additions (products, bias, residual) differ from the reference's exact sum, so
    ///   |cuda − reference| ≤ 2 · (K + 2) · 2⁻²³ · (Σ|x·w| + |bias| + |residual|) + 2⁻²² · |reference|
    /// (K·u summation bound with u = 2⁻²³, which also covers adders that truncate, doubled; the last term is the
    /// rounding of the reference's own FP32 result and activation; Relu and Clip pass an error on unchanged, HardSwish
    /// multiplies it by at most 1.5, within the factor 2). One line per shape: the largest error beside its bound, or the first element beyond it.
    private static func checkHalfConvolutions(
        _ library: CUDAKernelLibrary, log: (String) -> Void, using generator: inout SystemRandomNumberGenerator
    ) throws -> Int {
        guard library.hasTensorCoreKernels else {
            log("conv_f16: \(library.device.name) has no tensor cores for mma.m16n8k16 (compute capability 8.0): FP16 checks skipped")
            return 0
        }
        var failures = 0
        for testCase in halfConvolutionCases {
            let (ok, line) = try checkHalfConvolution(library, testCase, using: &generator)
            log("conv_f16 \(testCase): \(line)")
            if !ok { failures += 1 }
        }
        return failures
    }

    private static func checkHalfConvolution(
        _ library: CUDAKernelLibrary, _ t: HalfConvolutionCase, using generator: inout SystemRandomNumberGenerator
    ) throws -> (Bool, String) {
        func random(_ shape: [Int], _ range: ClosedRange<Float>) -> [Float] { (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &generator) } }
        let weightShape = [t.oc, t.c, t.kernel.0, t.kernel.1]
        let p = ConvolutionParameters(
            weights: Weights(shape: weightShape, values: random(weightShape, -1...1)), bias: Weights(shape: [t.oc], values: random([t.oc], -1...1)),
            strides: [t.stride, t.stride], dilations: [t.dilation, t.dilation], padsBegin: [t.pad.0, t.pad.1], padsEnd: [t.pad.0, t.pad.1])
        let x = TensorData(shape: [t.n, t.c, t.h, t.w], values: random([t.n, t.c, t.h, t.w], -2...2))
        guard let geometry = ConvolutionShape(p, input: x.shape) else { return (false, "MISMATCH: the shape has no convolution geometry") }
        let (exact, magnitude) = try Float16Reference.convolution(x, p)
        let residual = t.residual ? TensorData(shape: exact.shape, values: random(exact.shape, -1...1)) : nil
        var want = exact.values
        if let residual { want = zip(want, residual.values).map { $0 + $1 } }
        if let activation = t.activation { want = want.map { activation($0) } }

        let constants = CUDAConstantStore { try DeviceArray(bytes: $0, driver: library.driver) }
        let kernel = try HalfConvolutionKernel(geometry: geometry, weights: p.weights, bias: p.bias, activation: t.activation, constants: constants)
        let output = TensorLayout(sampleShape: Array(exact.shape.dropFirst()), dataType: .float32, quantization: nil)
        let inputs: [TensorValue] = [.float(x)] + (residual.map { [.float($0)] } ?? [])
        guard case let .float(got) = try runLayer(kernel, library, inputs: inputs, output: output, batch: t.n), got.shape == exact.shape else {
            return (false, "MISMATCH: no float output of shape \(exact.shape)")
        }
        let k = geometry.reduction
        let gamma = 2 * Double(k + 2) * 0x1p-23
        let (oh, ow) = (exact.shape[2], exact.shape[3])
        var worst = (ratio: 0.0, error: 0.0, bound: 0.0), beyond = 0, first: Int?
        // Where the bad outputs sit in the mma tiles (GEMM row m mod 16, column mod 8): a fragment-layout error shows
        // as a pattern here.
        var rowsMod16 = Set<Int>(), columnsMod8 = Set<Int>()
        for i in want.indices {
            let bound = gamma * (magnitude[i] + Double(abs(residual?.values[i] ?? 0))) + 0x1p-22 * Double(abs(want[i])) + 1e-30
            let error = Double(abs(got.values[i] - want[i]))
            if !(error <= bound) {  // NaN counts as beyond
                beyond += 1
                if first == nil { first = i }
                let pixel = i % (oh * ow), image = i / (oh * ow * t.oc)
                rowsMod16.insert(((image * oh * ow) + pixel) % 16)
                columnsMod8.insert((i / (oh * ow)) % t.oc % 8)
            }
            if error / bound > worst.ratio || error.isNaN { worst = (error / bound, error, bound) }
        }
        let summary = String(format: "K=%d, largest |cuda - reference| %.3g where the bound is %.3g (%.2f of it)", k, worst.error, worst.bound, worst.ratio)
        guard let first else { return (true, summary + ": within bound") }
        let (ox, oy, o, b) = (first % ow, (first / ow) % oh, (first / (ow * oh)) % t.oc, first / (ow * oh * t.oc))
        let zeros = got.values.allSatisfy { $0 == 0 } ? "; the output is all zeros (did the kernel run?)" : ""
        return (false, summary + String(
            format: ": BEYOND BOUND at %d of %d outputs, first [n=%d, oc=%d, y=%d, x=%d] (GEMM row m=%d, column %d): cuda %.8g, reference %.8g; bad rows mod 16 %@, columns mod 8 %@%@",
            beyond, want.count, b, o, oy, ox, (b * oh + oy) * ow + ox, o, got.values[first], want[first],
            "\(rowsMod16.sorted())", "\(columnsMod8.sorted())", zeros))
    }

    /// A CUDA engine saved and loaded again (issue #17): `built` runs `inputs` (timing its tactics at that batch),
    /// is serialized and loaded with `CUDAEngineLoader`; the load must compute no constant, upload exactly what
    /// the build uploaded (the loaded engine saved again is the same file, constants read back from the device),
    /// run the same tactics, and give identical outputs; the file leaves out the float weights of every layer that
    /// runs natively with constants (format version 3). - Returns: the number of failed checks (0 or 1).
    public static func checkEngineFile(_ built: Engine, inputs: [String: TensorData], log: (String) -> Void) throws -> Int {
        let context = built.makeContext()
        let want = try context.execute(inputs)
        let bytes = try built.serialize()
        let file = try EngineFile.decode(bytes, path: "selftest.engine")
        let leftOut = file.plan.layersWithLeftOutWeights.count
        let withWeights = built.plan.network.layers.filter { $0.kind.leavingOutWeights() != $0.kind }.count
        let loaded = try Engine(file, backend: try CUDAEngineLoader())
        guard let program = loaded.program as? CUDAProgram else {
            log("CUDA engine file round trip: the loaded engine is not a CUDA program: MISMATCH")
            return 1
        }
        let (computed, uploaded) = (program.constants.computed, program.constants.uploadedBytes)
        let savedAgain = try loaded.serialize() == bytes
        let loadedContext = loaded.makeContext()
        let got = try loadedContext.execute(inputs)
        let sameTactics = loadedContext.layerTactics == context.layerTactics
        let ok = computed == 0 && uploaded > 0 && savedAgain && sameTactics && got == want && leftOut > 0
        let phases = loaded.loadPhases.map { String(format: "%@ %.1f ms", $0.phase, $0.milliseconds) }.joined(separator: "; ")
        log("CUDA engine file round trip: \(bytes.count) bytes, float weights of \(leftOut) of \(withWeights) layers with weights left out, "
            + "\(uploaded) bytes of constants uploaded on load, \(computed) computed; "
            + "saved again \(savedAgain ? "byte-identical" : "DIFFERENT"), tactics \(sameTactics ? "the same" : "DIFFERENT"), "
            + "outputs \(got == want ? "identical" : "DIFFERENT") (load: \(phases)): \(ok ? "exact" : "MISMATCH")")
        return ok ? 0 : 1
    }

    /// `activate` (common.cuh) against the host's `Activation` on random inputs (sqrt on [0, 100], exp on
    /// [-20, 20], the others on [-8, 8], plus 0 and ±1): CUDA's erff/expf/tanhf differ from the C library's by a
    /// few ulp, so |cuda − cpu| ≤ 1e-6 + 1e-6·|cpu| (Gelu near −8 cancels 1 + erf, hence the absolute term);
    /// sqrt is correctly rounded on both and must be bit-exact. - Returns: whether all agree, the largest |difference|.
    private static func checkActivation(
        _ driver: CUDADriver, _ kernel: CUDADriver.Kernel, _ function: Activation, count: Int, using generator: inout SystemRandomNumberGenerator
    ) throws -> (Bool, Double) {
        // exp over its whole domain, with the edges (overflow, subnormal results, underflow to 0, infinities, NaN).
        let range: ClosedRange<Float> = function == .sqrt ? 0...100 : function == .exp ? -105...89 : function == .sigmoid ? -110...110 : -8...8
        let edges: [Float] = function == .exp ? [88.72283, 88.72284, -87.5, -103.9, -104, .infinity, -.infinity, .nan] : []
        let x = [0, 1, function == .sqrt ? 4 : -1] + edges + (3 + edges.count..<count).map { _ in Float.random(in: range, using: &generator) }
        let input = try driver.allocate(bytes: 4 * count), output = try driver.allocate(bytes: 4 * count)
        defer { driver.release(input); driver.release(output) }
        try driver.upload(x, to: input)
        let code = CUDAActivation(function)
        try driver.launch(kernel, grid: (UInt32((count + 255) / 256), 1, 1), block: (256, 1, 1),
                          arguments: [Int64(count), input.address, code.code, code.p0, code.p1, output.address])
        let got = try driver.download(output, count: count, as: Float.self, initial: 0)
        var worst = 0.0, ok = true
        for (v, y) in zip(x, got) {
            let want = function(v)
            if function.isBitIdenticalOnEveryBackend {
                ok = ok && (y.bitPattern == want.bitPattern || y.isNaN && want.isNaN)
                if y != want, !(y.isNaN && want.isNaN) { worst = max(worst, Double(abs(y - want))) }
            } else {
                let difference = Double(abs(y - want))
                worst = max(worst, difference)
                ok = ok && difference <= 1e-6 + 1e-6 * Double(abs(want))
            }
        }
        return (ok, worst)
    }

    /// 8-bit pixels to float with the host's `ChannelNormalization`, every float bit for bit.
    private static func checkPixels(
        _ driver: CUDADriver, _ kernel: CUDADriver.Kernel, count: Int, channels: Int, _ normalization: ChannelNormalization,
        using generator: inout SystemRandomNumberGenerator
    ) throws -> Bool {
        let x = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let input = try driver.allocate(bytes: count), output = try driver.allocate(bytes: 4 * count)
        defer { driver.release(input); driver.release(output) }
        try driver.upload(x, to: input)
        try driver.launch(kernel, grid: (UInt32((count + 255) / 256), 1, 1), block: (256, 1, 1),
                          arguments: [Int64(count), Int32(channels), input.address] + normalization.kernelArguments + [output.address])
        let got = try driver.download(output, count: count, as: Float.self, initial: 0)
        return x.indices.allSatisfy { got[$0].bitPattern == normalization(Float(x[$0]), channel: $0 % channels).bitPattern }
    }

    /// The CUDA backends engine-level checks must run on (the conformance suite): the default, which picks each
    /// convolution's tile by timing; each tile shape (and conv_pointwise.cu warp shape) pinned, so every tile is checked and not only the ones
    /// timing picks on this GPU; and the dp4a convolutions of GPUs without INT8 tensor cores. `cases` says which
    /// conformance cases a variant needs (the pinned tiles only change convolutions).
    public static func backendVariants() throws -> [(name: String, backend: CUDABackend, cases: @Sendable (_ int8: Bool, _ large: Bool, _ trtRanges: Bool) -> Bool)] {
        var variants: [(name: String, backend: CUDABackend, cases: @Sendable (Bool, Bool, Bool) -> Bool)] = [("cuda", try CUDABackend(), { _, _, _ in true })]
        for tile in ConvolutionTile.all {
            let anyGather = tile.anyGather
            variants.append(("cuda \(tile) tiles", try CUDABackend(convolutions: .tile(tile.description)), { int8, large, trt in
                int8 && (large ? !trt : anyGather && trt)
            }))
        }
        // conv_pointwise.cu applies to 1x1 layers over few channels, which the small cases have in both range modes.
        for tile in PointwiseTile.all {
            variants.append(("cuda \(tile) tiles", try CUDABackend(convolutions: .tile(tile.description)), { int8, large, _ in int8 && !large }))
        }
        variants.append(("cuda dp4a convolutions", try CUDABackend(convolutions: .dp4a), { int8, large, trt in int8 && !large && !trt }))
        return variants
    }

    /// Depthwise convolution on a 2 × 9 × 11 × C NHWC input with symmetric padding k/2, `lanes` channels and
    /// `outputsPerThread` horizontally adjacent pixels a thread
    /// (`smallSums`: the vector kernels' FP32-pipe conversion, valid here since |acc| < 25·127·255 + 3000 < 2^22).
    private static func checkDepthwise(
        _ driver: CUDADriver, _ kernel: CUDADriver.Kernel, channels c: Int, kernel k: Int, stride: Int, signedInput: Bool,
        lanes: Int, smallSums: Bool, outputsPerThread: Int = 1, using generator: inout SystemRandomNumberGenerator
    ) throws -> Bool {
        let (n, h, w, pad) = (2, 9, 11, k / 2)
        let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1)
        let x = (0..<(n * h * w * c)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let weights = (0..<(k * k * c)).map { _ in Int8.random(in: -127...127, using: &generator) }
        let bias = (0..<c).map { _ in Int32.random(in: -3000...3000, using: &generator) }
        let multipliers = (0..<c).map { _ in Float.random(in: 1e-3...2e-2, using: &generator) }
        let (lo, hi): (Float, Float) = (0, 255)
        let count = n * oh * ow * c
        let buffers = try [x.count, weights.count, 4 * c, 4 * c, count].map { try driver.allocate(bytes: $0) }
        defer { buffers.forEach(driver.release) }
        try driver.upload(x, to: buffers[0])
        try driver.upload(weights, to: buffers[1])
        try driver.upload(bias, to: buffers[2])
        try driver.upload(multipliers, to: buffers[3])
        // The argument before the output: `smallSums` for the vector kernels, `outputSigned` (0: uint8, as
        // [lo, hi] = [0, 255] here) for the one-channel kernel.
        let flag = lanes > 1 ? smallSums : false
        let arguments: [any BitwiseCopyable] = [
            Int32(n), Int32(h), Int32(w), Int32(c), Int32(oh), Int32(ow), Int32(k), Int32(k), Int32(stride), Int32(stride),
            Int32(pad), Int32(pad), Int32(1), Int32(1), buffers[0].address, Int32(signedInput ? 1 : 0), buffers[1].address,
            buffers[2].address, buffers[3].address, lo, hi, Int32(flag ? 1 : 0), buffers[4].address,
        ]
        let threads = n * oh * ((ow + outputsPerThread - 1) / outputsPerThread) * (c / lanes)
        try driver.launch(kernel, grid: (UInt32((threads + 255) / 256), 1, 1), block: (256, 1, 1), arguments: arguments)
        let got = try driver.download(buffers[4], count: count, as: UInt8.self, initial: 0)
        for index in 0..<count {
            let channel = index % c, pixel = index / c
            let (ox, oy, b) = (pixel % ow, (pixel / ow) % oh, pixel / (ow * oh))
            var acc = bias[channel]
            for ky in 0..<k {
                for kx in 0..<k {
                    let (iy, ix) = (oy * stride - pad + ky, ox * stride - pad + kx)
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    let byte = x[((b * h + iy) * w + ix) * c + channel]
                    let v = signedInput ? Int32(Int8(bitPattern: byte)) : Int32(byte)
                    acc &+= v &* Int32(weights[(ky * k + kx) * c + channel])
                }
            }
            let want = QuantizationMath.requantize(acc, multiplier: multipliers[channel], min: lo, max: hi)
            if got[index] != UInt8(truncatingIfNeeded: want) { return false }
        }
        return true
    }

    private static func checkQuantize(
        _ driver: CUDADriver, _ kernel: CUDADriver.Kernel, count: Int, using generator: inout SystemRandomNumberGenerator
    ) throws -> Bool {
        let q = TensorQuantization(range: 2.5, unsigned: false)
        // Random values, with NaN (0 / 0 upstream: 0, as the reference), ±infinity and exact ties mixed in.
        let special: [Float] = [.nan, .infinity, -.infinity, 2.5 * q.scale, -0.5 * q.scale, 0]
        let x = (0..<count).map { i in i % 7 == 3 ? special[(i / 7) % special.count] : Float.random(in: -3...3, using: &generator) }
        let input = try driver.allocate(bytes: 4 * count), output = try driver.allocate(bytes: count)
        defer { driver.release(input); driver.release(output) }
        try driver.upload(x, to: input)
        try driver.launch(
            kernel, grid: (UInt32((count + 256 * ReformatKernel.quantizeValuesPerThread - 1) / (256 * ReformatKernel.quantizeValuesPerThread)), 1, 1), block: (256, 1, 1),
            arguments: [Int64(count), input.address, q.scale, q.qmin, q.qmax, output.address])
        let got = try driver.download(output, count: count, as: UInt8.self, initial: 0)
        return zip(x, got).allSatisfy { UInt8(truncatingIfNeeded: QuantizationMath.quantize($0, q)) == $1 }
    }
}
