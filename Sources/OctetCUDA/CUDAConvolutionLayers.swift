import OctetCore
import OctetQuantization
import OctetRuntime

/// The geometry of a 2-D convolution per sample (the batch comes at run time); fully connected layers are the
/// 1x1 case over a 1x1 image.
struct ConvolutionShape: Sendable {
    var height, width, channels, outputHeight, outputWidth, outputChannels: Int
    var kernel: (Int, Int)
    var strides: (Int, Int)
    var padsBegin: (Int, Int)
    var dilations: (Int, Int)
    var groups: Int

    init?(_ p: ConvolutionParameters, input: [Int]) {
        guard input.count == 4, p.kernel.count == 2, let out = try? LayerKind.convolution(p).outputShapes(inputs: [input])[0] else { return nil }
        (height, width, channels) = (input[2], input[3], input[1])
        (outputHeight, outputWidth, outputChannels) = (out[2], out[3], out[1])
        kernel = (p.kernel[0], p.kernel[1])
        strides = (p.strides[0], p.strides[1])
        padsBegin = (p.padsBegin[0], p.padsBegin[1])
        dilations = (p.dilations[0], p.dilations[1])
        groups = p.groups
    }

    init(fullyConnectedInputs inputs: Int, outputs: Int) {
        (height, width, channels, outputHeight, outputWidth, outputChannels) = (1, 1, inputs, 1, 1, outputs)
        (kernel, strides, padsBegin, dilations, groups) = ((1, 1), (1, 1), (0, 0), (1, 1), 1)
    }

    /// K of the GEMM view: taps times input channels per group.
    var reduction: Int { kernel.0 * kernel.1 * channels / groups }

    /// N, H, W, C, OH, OW, KH, KW, strides, pads, dilations: the leading integers of the kernels' argument structs.
    func appendGeometry(batch: Int, to arguments: inout KernelArguments) {
        for v in [batch, height, width, channels, outputHeight, outputWidth, kernel.0, kernel.1, strides.0, strides.1,
                  padsBegin.0, padsBegin.1, dilations.0, dilations.1] { arguments.append(Int32(v)) }
    }

    /// Weights from the float layout [OC][C/groups][KH][KW] to [OC][KH][KW][C/groups] (the NHWC order of taps),
    /// each output channel's row `rowLength` long (zeros after the last tap).
    func packTapsMajor<T: Numeric>(_ weights: [T], rowLength: Int) -> [T] {
        let cpg = channels / groups, (kh, kw) = kernel
        var packed = [T](repeating: 0, count: outputChannels * rowLength)
        for o in 0..<outputChannels {
            for c in 0..<cpg {
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        packed[o * rowLength + (ky * kw + kx) * cpg + c] = weights[((o * cpg + c) * kh + ky) * kw + kx]
                    }
                }
            }
        }
        return packed
    }
}

/// INT8 convolution or fully connected layer (groups = 1) as an implicit GEMM on tensor cores (conv_igemm.cu),
/// or with `dp4a` where there are none, with the fused epilogue: bias, requantization or float output, Relu/Clip,
/// residual add. Inputs whose channel count is not a multiple of 4 (the 3-channel stem) go through an explicit
/// im2col first.
struct ImplicitGEMMKernel: CUDALayer {
    let geometry: ConvolutionShape
    let weights: DeviceArray
    let bias: DeviceArray
    let multipliers: DeviceArray
    let parameters: QuantizedLinearParameters
    let bounds: (lo: Float, hi: Float)
    let needsIm2col: Bool
    /// Bytes per row of the im2col matrix (K rounded up to 16), or K itself when gathering directly.
    let gemmK: Int
    let paddedK: Int
    let multiprocessors: Int
    let tensorCores: Bool
    /// For the im2col path: each k's tap and channel, `ky << 24 | kx << 16 | c` (all ones beyond K).
    let im2colTaps: DeviceArray?

    static let tileK = 64

    init?(geometry: ConvolutionShape, _ q: QuantizedLinearParameters, activation: Activation?, tensorCores: Bool, library: CUDAKernelLibrary) throws {
        if q.output != nil {
            bounds = (q.bounds.min, q.bounds.max)
        } else {
            switch activation {
            case nil: bounds = (-.infinity, .infinity)
            case .relu?: bounds = (0, .infinity)
            case let .clip(a, b)?: bounds = (a, b)
            default: return nil // a float epilogue with another activation: not fused here
            }
        }
        self.geometry = geometry
        parameters = q
        needsIm2col = geometry.channels % 4 != 0
        let k0 = geometry.reduction
        gemmK = needsIm2col ? (k0 + 15) / 16 * 16 : k0
        paddedK = (gemmK + Self.tileK - 1) / Self.tileK * Self.tileK
        let driver = library.driver
        self.weights = try DeviceArray(geometry.packTapsMajor(q.weights, rowLength: paddedK), driver: driver)
        bias = try DeviceArray(q.bias, driver: driver)
        multipliers = try DeviceArray(q.multipliers, driver: driver)
        multiprocessors = Int(library.device.multiprocessors)
        self.tensorCores = tensorCores
        if needsIm2col {
            let (c, kw) = (geometry.channels, geometry.kernel.1)
            let taps = (0..<gemmK).map { k -> UInt32 in
                guard k < k0 else { return .max }
                let tap = k / c
                return UInt32(tap / kw) << 24 | UInt32(tap % kw) << 16 | UInt32(k % c)
            }
            im2colTaps = try DeviceArray(taps, driver: driver)
        } else {
            im2colTaps = nil
        }
    }

    private var vectorBytes: Int {
        let c = needsIm2col ? gemmK : geometry.channels
        return c % 16 == 0 ? 16 : c % 8 == 0 ? 8 : 4
    }

    private var inputType: String { parameters.input.isSigned ? "s8" : "u8" }

    var kernelName: String {
        let gemm = tensorCores ? "conv_igemm_v\(vectorBytes)_\(inputType)__mma_m16n8k32" : "conv_\(inputType)__dp4a"
        return (needsIm2col ? "im2col+" : "") + gemm
    }

    func workspaceBytes(batch: Int, inputs: [TensorLayout]) -> Int {
        needsIm2col ? batch * geometry.outputHeight * geometry.outputWidth * gemmK : 0
    }

    /// How one GEMM is cut into blocks: large tiles when they give every SM work, small ones otherwise (batch 1,
    /// late layers), and when even those leave SMs idle, the K dimension split across blocks (`splits` > 1)
    /// whose int32 partial sums are added atomically (exact in any order) and finished by a second kernel.
    struct Schedule {
        var tileM: Int
        var tileN: Int
        var splits: Int
        var tilesPerSplit: Int
    }

    func schedule(rows m: Int) -> Schedule {
        let kTiles = paddedK / Self.tileK
        let blocks = { (tm: Int, tn: Int) in ((m + tm - 1) / tm) * ((geometry.outputChannels + tn - 1) / tn) }
        // Narrow layers (64 output channels or fewer) waste half of a 128-wide tile.
        let wideN = geometry.outputChannels <= 64 ? 64 : 128
        if blocks(128, wideN) >= multiprocessors { return Schedule(tileM: 128, tileN: wideN, splits: 1, tilesPerSplit: kTiles) }
        let small = blocks(64, 64)
        guard small < multiprocessors, kTiles >= 4 else { return Schedule(tileM: 64, tileN: 64, splits: 1, tilesPerSplit: kTiles) }
        // Enough splits to fill the SMs, each at least two k tiles long.
        let wanted = min((multiprocessors + small - 1) / small, kTiles / 2, 16)
        let perSplit = (kTiles + wanted - 1) / wanted
        return Schedule(tileM: 64, tileN: 64, splits: (kTiles + perSplit - 1) / perSplit, tilesPerSplit: perSplit)
    }

    func accumulatorBytes(batch: Int) -> Int {
        let m = batch * geometry.outputHeight * geometry.outputWidth
        return tensorCores && schedule(rows: m).splits > 1 ? 4 * m * geometry.outputChannels : 0
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, y) = (inputs[0], outputs[0])
        let batch = y.batch
        let g = geometry
        let m = batch * g.outputHeight * g.outputWidth
        var source = x.address
        var gemmGeometry = g
        if needsIm2col {
            var im2col = KernelArguments()
            g.appendGeometry(batch: batch, to: &im2col)
            for v in [g.reduction, gemmK] { im2col.append(Int32(v)) }
            im2col.append(im2colTaps?.address ?? 0)
            im2col.append(x.address)
            im2col.append(encoder.workspace)
            let chunks = m * gemmK / 16
            guard chunks < Int(Int32.max) else {
                throw OctetError.invalidInput(reason: "batch \(batch) is too large for the CUDA backend's im2col (\(chunks) chunks; the limit is 2^31); split the batch")
            }
            try encoder.launch("octet_im2col_nhwc", elements: chunks, im2col)
            source = encoder.workspace
            // The columns are a [batch][OH][OW][gemmK] image convolved 1x1.
            gemmGeometry = ConvolutionShape(fullyConnectedInputs: gemmK, outputs: g.outputChannels)
            (gemmGeometry.height, gemmGeometry.width, gemmGeometry.outputHeight, gemmGeometry.outputWidth) = (g.outputHeight, g.outputWidth, g.outputHeight, g.outputWidth)
        }
        var arguments = KernelArguments()
        arguments.append(source)
        arguments.append(weights.address)
        arguments.append(bias.address)
        arguments.append(multipliers.address)
        arguments.append(inputs.count > 1 ? inputs[1].address : UInt64(0))
        arguments.append(y.address)
        gemmGeometry.appendGeometry(batch: batch, to: &arguments)
        for v in [g.outputChannels, gemmGeometry.reduction, paddedK, m] { arguments.append(Int32(v)) }
        arguments.append(bounds.lo)
        arguments.append(bounds.hi)
        arguments.append(parameters.residualMultiplier)
        let outputMode: Int32 = parameters.output.map { $0.isSigned ? 0 : 1 } ?? 2
        arguments.append(outputMode)
        arguments.append(inputs.count > 1 ? inputs[1].isSigned : Int32(0))
        let plan = tensorCores ? schedule(rows: m) : Schedule(tileM: 0, tileN: 0, splits: 1, tilesPerSplit: 0)
        arguments.append(plan.splits > 1 ? encoder.accumulators : UInt64(0))
        arguments.append(Int32(plan.tilesPerSplit))
        arguments.align()
        guard tensorCores else {
            let count = m * g.outputChannels
            try encoder.launch("octet_conv_dp4a_\(inputType)", elements: count, arguments)
            return
        }
        let shared = 3 * (plan.tileM + plan.tileN) * (Self.tileK + 16)
        // Warp tiles of 64x32 (128-row tiles) or 32x32 (64-row tiles).
        let threads = 32 * (plan.tileM / (plan.tileM == 128 ? 64 : 32)) * (plan.tileN / 32)
        try encoder.launch(
            "octet_conv_igemm_\(plan.tileM)x\(plan.tileN)_v\(vectorBytes)_\(inputType)",
            grid: (UInt32((m + plan.tileM - 1) / plan.tileM), UInt32((g.outputChannels + plan.tileN - 1) / plan.tileN), UInt32(plan.splits)),
            block: (UInt32(threads), 1, 1), sharedBytes: shared, arguments)
        if plan.splits > 1 {
            let count = m * g.outputChannels
            try encoder.launch("octet_conv_split_epilogue", elements: count, arguments)
        }
    }
}

/// INT8 depthwise convolution (dwconv.cu), one thread per output element.
struct DepthwiseKernel: CUDALayer {
    let convolution: ConvolutionParameters
    let weights: DeviceArray
    let bias: DeviceArray
    let multipliers: DeviceArray
    let parameters: QuantizedLinearParameters
    var kernelName: String { "dwconv_\(parameters.input.isSigned ? "s8" : "u8")_nhwc\(convolution.outputChannels % 4 == 0 ? "_x4" : "")__cuda" }

    init(_ p: ConvolutionParameters, _ q: QuantizedLinearParameters, driver: CUDADriver) throws {
        let c = p.outputChannels, (kh, kw) = (p.kernel[0], p.kernel[1])
        var packed = [Int8](repeating: 0, count: c * kh * kw)
        for ch in 0..<c {
            for t in 0..<(kh * kw) { packed[t * c + ch] = q.weights[ch * kh * kw + t] }
        }
        convolution = p
        weights = try DeviceArray(packed, driver: driver)
        bias = try DeviceArray(q.bias, driver: driver)
        multipliers = try DeviceArray(q.multipliers, driver: driver)
        parameters = q
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, y) = (inputs[0], outputs[0])
        let p = convolution
        var arguments = KernelArguments()
        for v in [y.batch, x.layout.height, x.layout.width, x.layout.channels, y.layout.height, y.layout.width, p.kernel[0], p.kernel[1],
                  p.strides[0], p.strides[1], p.padsBegin[0], p.padsBegin[1], p.dilations[0], p.dilations[1]] { arguments.append(Int32(v)) }
        arguments.append(x.address)
        arguments.append(x.isSigned)
        arguments.append(weights.address)
        arguments.append(bias.address)
        arguments.append(multipliers.address)
        arguments.append(parameters.bounds.min)
        arguments.append(parameters.bounds.max)
        arguments.append(Int32(parameters.output?.isSigned == true ? 1 : 0))
        arguments.append(y.address)
        if convolution.outputChannels % 4 == 0 {
            try encoder.launch("octet_dwconv_q_nhwc_x4", elements: y.count / 4, arguments)
        } else {
            try encoder.launch("octet_dwconv_q_nhwc", elements: y.count, arguments)
        }
    }
}

/// FP32 convolution or fully connected layer (conv_f32.cu): direct, any groups, bias, residual, activation.
struct FloatConvolutionKernel: CUDALayer {
    let geometry: ConvolutionShape
    let weights: DeviceArray
    let bias: DeviceArray?
    let activation: CUDAActivation
    let kernelName = "conv_f32_direct_nhwc__cuda"

    init(geometry: ConvolutionShape, weights: Weights, bias: Weights?, activation: Activation?, driver: CUDADriver) throws {
        self.geometry = geometry
        self.weights = try DeviceArray(geometry.packTapsMajor(weights.values, rowLength: geometry.reduction), driver: driver)
        self.bias = try bias.map { try DeviceArray($0.values, driver: driver) }
        self.activation = CUDAActivation(activation)
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        var arguments = KernelArguments()
        arguments.append(inputs[0].address)
        arguments.append(weights.address)
        arguments.append(bias?.address ?? 0)
        arguments.append(inputs.count > 1 ? inputs[1].address : UInt64(0))
        arguments.append(y.address)
        geometry.appendGeometry(batch: y.batch, to: &arguments)
        arguments.append(Int32(geometry.outputChannels))
        arguments.append(Int32(geometry.groups))
        arguments.append(activation.code)
        arguments.append(activation.p0)
        arguments.append(activation.p1)
        arguments.align()
        try encoder.launch("octet_conv_f32_direct", elements: y.count, arguments)
    }
}
