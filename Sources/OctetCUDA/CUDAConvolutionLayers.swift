import Foundation
import OctetCore
import OctetQuantization
import OctetRuntime

/// The geometry of a 2-D convolution per sample (the batch comes at run time); fully connected layers are the
/// 1x1 case over a column of pixels, one per row of the input's last axis.
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

    /// A fully connected layer over the last axis of `input` (a full shape, row-major): a 1x1 convolution over one
    /// column of pixels per sample, the rows of that axis.
    init(_ p: FullyConnectedParameters, input: [Int]) {
        let rows = input.dropFirst().dropLast().reduce(1, *)
        (height, width, channels, outputHeight, outputWidth, outputChannels) = (rows, 1, p.inputs, rows, 1, p.outputs)
        (kernel, strides, padsBegin, dilations, groups) = ((1, 1), (1, 1), (0, 0), (1, 1), 1)
    }

    /// K of the GEMM view: taps times input channels per group.
    var reduction: Int { kernel.0 * kernel.1 * channels / groups }

    /// N, H, W, C, OH, OW, KH, KW, strides, pads, dilations: the leading integers of the kernels' argument structs.
    func appendGeometry(batch: Int, to arguments: inout KernelArguments) {
        for v in [batch, height, width, channels, outputHeight, outputWidth, kernel.0, kernel.1, strides.0, strides.1,
                  padsBegin.0, padsBegin.1, dilations.0, dilations.1] { arguments.append(Int32(v)) }
    }

    /// The leading fields of conv_f32.cu's FloatConvArgs and conv_f16.cu's HalfConvArgs: input, weights, bias (or
    /// null), residual (the second input, or null), output, then the geometry.
    func floatConvolutionArguments(inputs: [DeviceTensor], weights: DeviceArray, bias: DeviceArray?, output y: DeviceTensor) -> KernelArguments {
        var arguments = KernelArguments()
        arguments.append(inputs[0].address)
        arguments.append(weights.address)
        arguments.append(bias?.address ?? 0)
        arguments.append(inputs.count > 1 ? inputs[1].address : UInt64(0))
        arguments.append(y.address)
        appendGeometry(batch: y.batch, to: &arguments)
        return arguments
    }

    /// Where each 4-byte word of k lies for conv_igemm.cu's gather (groups = 1): pairs of (element offset from
    /// the window's top-left corner, dy << 16 | dx with the dilated tap offsets), `rowLength / 4` of them; words
    /// beyond K get dy = 0x7fff, which the gather's bounds test rejects.
    func gatherTable(rowLength: Int) -> [Int32] {
        let (kw, c) = (kernel.1, channels)
        var table = [Int32]()
        for word in 0..<(rowLength / 4) {
            let k = word * 4, tap = k / c
            guard k < kernel.0 * kw * c else {
                table += [0, 0x7fff << 16]
                continue
            }
            let dy = (tap / kw) * dilations.0, dx = (tap % kw) * dilations.1
            table += [Int32((dy * width + dx) * c + k % c), Int32(dy << 16 | dx)]
        }
        return table
    }

    /// The stride by which the GEMM folds the input space-to-depth: `s` for a strided convolution (groups 1, no
    /// dilation, equal strides `s`) over so few channels that s·s·C fit one 16-byte gather (the 3-channel stems),
    /// else 1 (the input's own pixels).
    var foldStride: Int {
        let s = strides.0
        return s > 1 && strides.1 == s && dilations == (1, 1) && groups == 1 && channels % 16 != 0 && channels * s * s <= 16 ? s : 1
    }

    /// The convolution the GEMM runs over the input rearranged by conv_igemm.cu's octet_fold_input_nhwc into
    /// `foldedChannels` channels: with `stride` 1 the same convolution over the input's
    /// pixels with zero channels added; with `stride` s > 1, each s x s block of input pixels (counted from the
    /// padded corner) becomes one pixel of s·s·C channels, in order (dy, dx, c), and the convolution a stride-1
    /// one without padding over ceil(KH/s) x ceil(KW/s) taps. Both sum the same products as the original, so the
    /// accumulators are identical; the stem's gather moves 16 bytes at a time instead of 4.
    func folded(stride s: Int, channels foldedChannels: Int) -> ConvolutionShape {
        var f = self
        f.channels = foldedChannels
        guard s > 1 else { return f }
        f.kernel = ((kernel.0 + s - 1) / s, (kernel.1 + s - 1) / s)
        (f.height, f.width) = (outputHeight + f.kernel.0 - 1, outputWidth + f.kernel.1 - 1)
        (f.strides, f.padsBegin) = ((1, 1), (0, 0))
        return f
    }

    /// Weights [OC][C][KH][KW] of this convolution as those of `folded(stride:channels:)`, in the same layout:
    /// tap (ty, tx) of folded channel (dy·s + dx)·C + c is tap (s·ty + dy, s·tx + dx) of channel c; zeros where
    /// that tap or channel does not exist.
    func foldWeights<T: Numeric>(_ weights: [T], stride s: Int, channels foldedChannels: Int) -> [T] {
        let f = folded(stride: s, channels: foldedChannels)
        let (kh, kw) = kernel, (fh, fw) = f.kernel
        var result = [T](repeating: 0, count: outputChannels * foldedChannels * fh * fw)
        for o in 0..<outputChannels {
            for c in 0..<channels {
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let folded = ((ky % s) * s + kx % s) * channels + c
                        result[((o * foldedChannels + folded) * fh + ky / s) * fw + kx / s] = weights[((o * channels + c) * kh + ky) * kw + kx]
                    }
                }
            }
        }
        return result
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

/// A tensor-core tile of conv_igemm.cu: each block computes `m` x `n` outputs with warps of `warpM` x `warpN`,
/// taking `k` bytes of the reduction per step through a `stages`-deep copy pipeline. `all` lists the
/// instantiated kernels (keep it in step with the file).
struct ConvolutionTile: Hashable, Sendable, CustomStringConvertible {
    let m: Int, n: Int, k: Int, warpM: Int, warpN: Int, stages: Int
    /// Instantiated for 8- and 4-byte gathers too, not only 16-byte ones.
    var anyGather = false
    /// Warpgroup MMA (wgmma, compute capability 9.0 only): `m` / 64 warpgroups, each on 64 rows and all `n`
    /// columns (warps of 16 x `n`), operands in swizzled shared memory.
    var warpgroup = false
    /// A warpgroup tile that leaves one stage's MMAs running while it issues the next (copying a stage less ahead).
    var overlapped = false

    init(m: Int, n: Int, k: Int, warpM: Int, warpN: Int, stages: Int, anyGather: Bool = false) {
        (self.m, self.n, self.k, self.warpM, self.warpN, self.stages, self.anyGather) = (m, n, k, warpM, warpN, stages, anyGather)
    }

    /// A warpgroup-MMA tile.
    init(warpgroupM m: Int, n: Int, k: Int, stages: Int, overlapped: Bool = false) {
        self.init(m: m, n: n, k: k, warpM: 16, warpN: n, stages: stages)
        (warpgroup, self.overlapped) = (true, overlapped)
    }

    var threads: Int { 32 * (m / warpM) * (n / warpN) }
    var description: String {
        warpgroup ? "\(m)x\(n)x\(k)_\(overlapped ? "wgo" : "wg")_s\(stages)" : "\(m)x\(n)x\(k)_w\(warpM)x\(warpN)_s\(stages)"
    }

    /// Dynamic shared memory of a block (conv_igemm.cu's layout): the pipeline (rows padded by 16 bytes; warpgroup
    /// tiles: unpadded, and 1024 bytes more to align it for the swizzle), the biases and multipliers, the residual
    /// tile (rows padded by 16 bytes).
    func sharedBytes(residual: Bool) -> Int {
        let pipeline = warpgroup ? stages * (m + n) * k + 1024 : stages * (m + n) * (k + 16)
        return pipeline + 8 * n + (residual ? m * (n + 16) : 0)
    }

    static let large = ConvolutionTile(m: 128, n: 128, k: 64, warpM: 64, warpN: 32, stages: 3, anyGather: true)
    static let narrow = ConvolutionTile(m: 128, n: 64, k: 64, warpM: 64, warpN: 32, stages: 3, anyGather: true)
    static let small = ConvolutionTile(m: 64, n: 64, k: 64, warpM: 32, warpN: 32, stages: 3, anyGather: true)
    static let all: [ConvolutionTile] = [
        large, narrow, small,
        ConvolutionTile(m: 128, n: 64, k: 64, warpM: 64, warpN: 32, stages: 4),
        ConvolutionTile(m: 128, n: 64, k: 64, warpM: 64, warpN: 32, stages: 2),
        ConvolutionTile(m: 64, n: 64, k: 64, warpM: 32, warpN: 32, stages: 2),
        ConvolutionTile(m: 128, n: 64, k: 64, warpM: 32, warpN: 32, stages: 2),
        ConvolutionTile(m: 128, n: 128, k: 64, warpM: 64, warpN: 64, stages: 3),
        ConvolutionTile(m: 256, n: 64, k: 64, warpM: 64, warpN: 32, stages: 3),
        ConvolutionTile(m: 128, n: 128, k: 128, warpM: 64, warpN: 64, stages: 2),
        ConvolutionTile(m: 128, n: 64, k: 128, warpM: 64, warpN: 32, stages: 3),
        ConvolutionTile(m: 256, n: 64, k: 128, warpM: 64, warpN: 32, stages: 2),
        ConvolutionTile(m: 128, n: 64, k: 32, warpM: 64, warpN: 32, stages: 4, anyGather: true),
        ConvolutionTile(m: 128, n: 128, k: 32, warpM: 64, warpN: 32, stages: 4, anyGather: true),
        ConvolutionTile(warpgroupM: 128, n: 128, k: 128, stages: 3),
        ConvolutionTile(warpgroupM: 128, n: 128, k: 64, stages: 4),
        ConvolutionTile(warpgroupM: 128, n: 64, k: 128, stages: 4),
        ConvolutionTile(warpgroupM: 64, n: 128, k: 128, stages: 4),
        ConvolutionTile(warpgroupM: 128, n: 128, k: 64, stages: 4, overlapped: true),
        ConvolutionTile(warpgroupM: 128, n: 128, k: 64, stages: 5, overlapped: true),
        ConvolutionTile(warpgroupM: 128, n: 64, k: 128, stages: 4, overlapped: true),
    ]

    /// `OCTET_CUDA_WGMMA=0` leaves the warpgroup tiles out (to time the engine without them).
    static let warpgroupEnabled = ProcessInfo.processInfo.environment["OCTET_CUDA_WGMMA"] != "0"

    /// 32-byte k steps are timed only for reductions this short (the mobile nets' 16- to 24-channel 1×1 layers,
    /// the folded stems): longer ones keep 64- and 128-byte steps, which move more bytes per barrier.
    static let shortReduction = 96
}

/// A warp shape of conv_pointwise.cu, the kernel for 1x1 convolutions over few channels that keeps each warp's
/// weights in registers and uses no shared memory: every warp finishes `columns` output channels of `rows` output
/// pixels a step. `all` lists the instantiated kernels (keep it in step with the file).
struct PointwiseTile: Hashable, Sendable, CustomStringConvertible {
    let columns: Int, rows: Int

    var description: String { "pointwise_n\(columns)_m\(rows)" }

    static let all = [16, 32, 48, 64].map { PointwiseTile(columns: $0, rows: $0 == 64 ? 16 : 32) }
    /// Threads of a block: four warps, each on its own rows.
    static let threads = 128
    /// `OCTET_CUDA_POINTWISE=0` leaves these kernels out (to time the engine without them).
    static let enabled = ProcessInfo.processInfo.environment["OCTET_CUDA_POINTWISE"] != "0"
    /// The kernels read K in steps of 32 bytes, 8 bytes a lane, and hold at most four steps of weights.
    static let maximumReduction = 128

    /// Whether the kernels compute `shape`, whose input pixels are K = `shape.channels` contiguous bytes: a 1x1
    /// convolution with stride 1 and no padding (groups 1) over a multiple of 8 channels, at most
    /// `maximumReduction`. The output channels must fill this tile's slabs: `tiles(for:)`.
    static func applies(to shape: ConvolutionShape) -> Bool {
        shape.kernel == (1, 1) && shape.strides == (1, 1) && shape.padsBegin == (0, 0) && shape.groups == 1
            && (shape.outputHeight, shape.outputWidth) == (shape.height, shape.width)
            && shape.channels % 8 == 0 && shape.channels <= maximumReduction
    }

    /// The tiles whose slabs divide the output channels of `shape`, where the kernels apply.
    static func tiles(for shape: ConvolutionShape) -> [PointwiseTile] {
        applies(to: shape) ? all.filter { shape.outputChannels % $0.columns == 0 } : []
    }

    /// The kernel for a reduction of `reduction` bytes (one to four k steps) over int8 or uint8 input.
    func kernel(reduction: Int, signedInput: Bool) -> String {
        "octet_conv_pointwise_k\((reduction + 31) / 32 * 32)_n\(columns)_m\(rows)_\(signedInput ? "s8" : "u8")"
    }

    /// Blocks for `m` output pixels and `outputChannels`: one slab of columns each, the slabs of a group of rows
    /// in consecutive blocks; enough warps a slab to fill the device (`multiprocessors`, about 12 warps each) or to
    /// give each warp about eight groups of rows, whichever is more, never more than there are groups.
    func blocks(rows m: Int, outputChannels: Int, multiprocessors: Int) -> Int {
        let slabs = outputChannels / columns, groups = (m + rows - 1) / rows, warps = Self.threads / 32
        let rowWarps = min(groups, max((groups + 7) / 8, (multiprocessors * 12 + slabs - 1) / slabs))
        return slabs * ((rowWarps + warps - 1) / warps)
    }
}

/// INT8 convolution or fully connected layer (groups = 1) as an implicit GEMM on tensor cores (conv_igemm.cu),
/// or with `dp4a` where there are none, with the fused epilogue: bias, requantization or float output, Relu/Clip,
/// residual add. Inputs whose channel count is not a multiple of 4 (the 3-channel stem) are first rearranged
/// (`ConvolutionShape.folded`): space-to-depth where the convolution is strided and s·s·C ≤ 16, else with their
/// channels padded to a multiple of 4, so every gather moves whole 4-byte words, 16 where folded.
struct ImplicitGEMMKernel: CUDALayer {
    let geometry: ConvolutionShape
    /// The convolution the GEMM runs: `geometry`, or its folded form over the rearranged input.
    let gemmShape: ConvolutionShape
    let weights: DeviceArray
    let bias: DeviceArray
    let multipliers: DeviceArray
    /// The quantization the epilogue applies (no weights: a loaded engine never quantizes them).
    let epilogue: QuantizedLinearParameters.Epilogue
    let bounds: (lo: Float, hi: Float)
    /// K rounded up to whole k steps of every tile: the length of each packed weight row.
    let paddedK: Int
    let device: CUDADriver.Device
    let tensorCores: Bool
    let hasResidual: Bool
    /// The only tile to use where it applies (`ConvolutionTile.description`).
    let pinnedTile: String?
    /// Each 4-byte word of k: its element offset from the window's corner and its tap's (dy, dx), for the gather.
    let taps: DeviceArray
    /// Whether every accumulator plus bias stays below 2^22 in magnitude for any input (Σ|w|·max|x| + |bias| per
    /// output channel), so the epilogue may convert it to float with FP32 adds instead of the conversion unit.
    let smallSums: Bool

    /// Every tile's k step divides this.
    static let rowAlignment = 128

    /// The bounds test of the gather marks k beyond K with dy = 0x7fff, so input sides stay below 2^14.
    static let maximumSide = 16384

    init?(
        geometry: ConvolutionShape, _ q: QuantizedLinear, activation: Activation?, residual: Bool, tensorCores: Bool, pinnedTile: String?,
        device: CUDADriver.Device, constants: CUDAConstantStore<DeviceArray>
    ) throws {
        if q.epilogue.output != nil {
            bounds = (q.epilogue.bounds.min, q.epilogue.bounds.max)
        } else {
            switch activation {
            case nil: bounds = (-.infinity, .infinity)
            case .relu?: bounds = (0, .infinity)
            case let .clip(a, b)?: bounds = (a, b)
            default: return nil // a float epilogue with another activation: not fused here
            }
        }
        // The bounds test of the gather marks k beyond K with dy = 0x7fff.
        guard max(geometry.height, geometry.width) < Self.maximumSide else { return nil }
        self.geometry = geometry
        epilogue = q.epilogue
        hasResidual = residual
        self.pinnedTile = pinnedTile
        let foldStride = geometry.foldStride
        let gatherChannels = foldStride > 1 ? 16 : (geometry.channels + 3) / 4 * 4
        gemmShape = geometry.folded(stride: foldStride, channels: gatherChannels)
        paddedK = (gemmShape.reduction + Self.rowAlignment - 1) / Self.rowAlignment * Self.rowAlignment
        let (gemmShape, paddedK, outputs) = (gemmShape, paddedK, geometry.outputChannels)
        self.weights = try constants.array("the packed weights", count: outputs * paddedK, of: Int8.self) {
            gemmShape.packTapsMajor(geometry.foldWeights(q.parameters.weights, stride: foldStride, channels: gatherChannels), rowLength: paddedK)
        }
        bias = try constants.array("the bias", count: outputs) { q.parameters.bias }
        multipliers = try constants.array("the multipliers", count: outputs) { q.parameters.multipliers }
        self.device = device
        self.tensorCores = tensorCores
        taps = try constants.array("the tap table", count: paddedK / 2, of: Int32.self) { gemmShape.gatherTable(rowLength: paddedK) }
        smallSums = try constants.flag("whether the sums stay below 2^22") { q.parameters.sumsBelow2To22 }
    }

    /// 1, or the stride s of the space-to-depth rearrangement.
    private var foldStride: Int { geometry.foldStride }
    /// The channels the GEMM gathers: the input's, rounded up to 4, or 16 where folded space-to-depth.
    private var gatherChannels: Int { gemmShape.channels }
    /// K of the GEMM: taps times `gatherChannels`.
    private var gemmK: Int { gemmShape.reduction }
    /// Whether the input is rearranged first (into the workspace).
    private var rearrangesInput: Bool { gatherChannels != geometry.channels || foldStride > 1 }
    private var vectorBytes: Int { gatherChannels % 16 == 0 ? 16 : gatherChannels % 8 == 0 ? 8 : 4 }
    private var inputType: String { epilogue.input.isSigned ? "s8" : "u8" }

    var kernelName: String {
        let gemm = tensorCores ? "conv_igemm_v\(vectorBytes)_\(inputType)__mma_m16n8k32" : "conv_\(inputType)__dp4a"
        return (foldStride > 1 ? "space_to_depth\(foldStride)+" : rearrangesInput ? "pad_channels+" : "") + gemm
    }

    func workspaceBytes(batch: Int, inputs: [TensorLayout]) -> Int {
        rearrangesInput ? batch * gemmShape.height * gemmShape.width * gatherChannels : 0
    }

    /// How one GEMM is cut into blocks: a tile of conv_igemm.cu, and when even small tiles leave SMs idle, the K
    /// dimension split across blocks (`splits` > 1) whose int32 partial sums are added atomically (exact in any
    /// order) and finished by a second kernel; or a warp shape of conv_pointwise.cu (short-K 1x1 convolutions).
    enum Schedule: CustomStringConvertible {
        case tiled(ConvolutionTile, splits: Int, tilesPerSplit: Int)
        case pointwise(PointwiseTile)

        var description: String {
            switch self {
            case let .tiled(tile, splits, _): "\(tile)" + (splits > 1 ? "_splitk\(splits)" : "")
            case let .pointwise(tile): "\(tile)"
            }
        }

        var splits: Int {
            if case let .tiled(_, splits, _) = self { return splits }
            return 1
        }
    }

    /// The schedules worth timing for `m` output pixels, the heuristic's first: large tiles when they give every
    /// SM work, small ones otherwise (batch 1, late layers), with split K when even those leave SMs idle; then
    /// every other tile this gather width has that fits the device's shared memory, then conv_pointwise.cu's warp
    /// shapes where they apply. A pinned tile (`OCTET_CUDA_CONV_TILE=<tile>`, or the self-test's) is the only
    /// schedule where it applies.
    func schedules(rows m: Int) -> [Schedule] {
        let sms = Int(device.multiprocessors)
        let blocks = { (tile: ConvolutionTile) in ((m + tile.m - 1) / tile.m) * ((geometry.outputChannels + tile.n - 1) / tile.n) }
        let whole = { (tile: ConvolutionTile) in Schedule.tiled(tile, splits: 1, tilesPerSplit: Int(Int32.max)) }
        // Split K works in the small tile's k steps.
        let kTiles = (gemmK + ConvolutionTile.small.k - 1) / ConvolutionTile.small.k
        var heuristic: Schedule
        // Narrow layers (64 output channels or fewer) waste half of a 128-wide tile.
        let wide = geometry.outputChannels <= 64 ? ConvolutionTile.narrow : .large
        var heuristicTile = wide
        if blocks(wide) >= sms {
            heuristic = whole(wide)
        } else if blocks(.small) >= sms || kTiles < 4 {
            (heuristic, heuristicTile) = (whole(.small), .small)
        } else {
            // Enough splits to fill the SMs, each at least two k tiles long.
            let wanted = min((sms + blocks(.small) - 1) / blocks(.small), kTiles / 2, 16)
            let perSplit = (kTiles + wanted - 1) / wanted
            (heuristic, heuristicTile) = (.tiled(.small, splits: (kTiles + perSplit - 1) / perSplit, tilesPerSplit: perSplit), .small)
        }
        let fits = { (tile: ConvolutionTile) in
            (tile.anyGather || vectorBytes == 16) && tile.sharedBytes(residual: hasResidual) <= Int(device.sharedMemoryPerBlockOptIn)
                && (!tile.warpgroup || (device.hasWarpgroupMMA && ConvolutionTile.warpgroupEnabled))
        }
        // Float outputs and rearranged inputs stay with conv_igemm.
        let pointwise = epilogue.output != nil && !rearrangesInput && PointwiseTile.enabled ? PointwiseTile.tiles(for: gemmShape) : []
        if let pinnedTile {
            if let tile = ConvolutionTile.all.first(where: { $0.description == pinnedTile }), fits(tile) { return [whole(tile)] }
            if let tile = pointwise.first(where: { $0.description == pinnedTile }) { return [.pointwise(tile)] }
        }
        let worthTiming = { (tile: ConvolutionTile) in tile.k > 32 || self.gemmK <= ConvolutionTile.shortReduction }
        return [heuristic] + ConvolutionTile.all.filter { fits($0) && worthTiming($0) && $0 != heuristicTile }.map(whole)
            + pointwise.map(Schedule.pointwise)
    }

    func tactics(batch: Int) -> [String] {
        tensorCores ? schedules(rows: batch * geometry.outputHeight * geometry.outputWidth).map(\.description) : []
    }

    func accumulatorBytes(batch: Int) -> Int {
        let m = batch * geometry.outputHeight * geometry.outputWidth
        return tensorCores && schedules(rows: m).contains(where: { $0.splits > 1 }) ? 4 * m * geometry.outputChannels : 0
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, y) = (inputs[0], outputs[0])
        let batch = y.batch
        let g = geometry
        let m = batch * g.outputHeight * g.outputWidth
        var source = x.address
        if rearrangesInput {
            // Stride 1: channels padded, pixels as they are (the GEMM pads); else space-to-depth from the padded corner.
            let (padTop, padLeft) = foldStride > 1 ? g.padsBegin : (0, 0)
            try encoder.launch("octet_fold_input_nhwc", elements: batch * gemmShape.height * gemmShape.width, [
                Int32(batch), Int32(g.height), Int32(g.width), Int32(g.channels), Int32(foldStride), Int32(padTop), Int32(padLeft),
                Int32(gemmShape.height), Int32(gemmShape.width), Int32(gatherChannels), x.address, encoder.workspace,
            ])
            source = encoder.workspace
        }
        var arguments = KernelArguments()
        arguments.append(source)
        arguments.append(weights.address)
        arguments.append(bias.address)
        arguments.append(multipliers.address)
        arguments.append(inputs.count > 1 ? inputs[1].address : UInt64(0))
        arguments.append(y.address)
        arguments.append(taps.address)
        gemmShape.appendGeometry(batch: batch, to: &arguments)
        for v in [g.outputChannels, gemmK, paddedK, m] { arguments.append(Int32(v)) }
        arguments.append(bounds.lo)
        arguments.append(bounds.hi)
        arguments.append(epilogue.residualMultiplier)
        let outputMode: Int32 = epilogue.output.map { $0.isSigned ? 0 : 1 } ?? 2
        arguments.append(outputMode)
        arguments.append(inputs.count > 1 ? inputs[1].isSigned : Int32(0))
        guard tensorCores else {
            arguments.append(UInt64(0))
            arguments.append(Int32(0))
            arguments.append(Int32(smallSums ? 1 : 0))
            arguments.align()
            try encoder.launch("octet_conv_dp4a_\(inputType)", elements: m * g.outputChannels, arguments)
            return
        }
        let choices = schedules(rows: m)
        let plan = choices[min(encoder.tactic, choices.count - 1)]
        let (partial, tilesPerSplit): (UInt64, Int) = switch plan {
        case let .tiled(_, splits, tilesPerSplit): (splits > 1 ? encoder.accumulators : 0, tilesPerSplit)
        case .pointwise: (0, Int(Int32.max))
        }
        arguments.append(partial)
        arguments.append(Int32(tilesPerSplit))
        arguments.append(Int32(smallSums ? 1 : 0))
        arguments.align()
        switch plan {
        case let .pointwise(tile):
            let blocks = tile.blocks(rows: m, outputChannels: g.outputChannels, multiprocessors: Int(device.multiprocessors))
            try encoder.launch(
                tile.kernel(reduction: gemmK, signedInput: epilogue.input.isSigned), grid: (UInt32(blocks), 1, 1),
                block: (UInt32(PointwiseTile.threads), 1, 1), arguments, overlapsPrevious: true)
        case let .tiled(tile, splits, _):
            try encoder.launch(
                "octet_conv_igemm_\(tile)_v\(vectorBytes)_\(inputType)",
                grid: (UInt32(((m + tile.m - 1) / tile.m) * ((g.outputChannels + tile.n - 1) / tile.n)), 1, UInt32(splits)),
                block: (UInt32(tile.threads), 1, 1), sharedBytes: tile.sharedBytes(residual: hasResidual), arguments, overlapsPrevious: true)
            if splits > 1 {
                try encoder.launch("octet_conv_split_epilogue", elements: m * g.outputChannels, arguments)
            }
        }
    }
}

/// INT8 depthwise convolution (dwconv.cu): one thread per output element, or per 8 or 4 channels of a pixel, or
/// (a tactic, where the kernel is 3 or 5 wide with horizontal stride 1 or 2) per 8 or 4 channels of a row of four
/// pixels.
struct DepthwiseKernel: CUDALayer {
    let convolution: ConvolutionParameters
    let weights: DeviceArray
    let bias: DeviceArray
    let multipliers: DeviceArray
    let epilogue: QuantizedLinearParameters.Epilogue
    /// Every |acc| < 2^22 for any input (Σ|w|·max|x| + |bias| per channel): the epilogue may convert with FP32 adds.
    let smallSums: Bool

    /// Channels per thread: 8, 4 or 1.
    private var lanes: Int { convolution.outputChannels % 8 == 0 ? 8 : convolution.outputChannels % 4 == 0 ? 4 : 1 }
    var kernelName: String { "dwconv_\(epilogue.input.isSigned ? "s8" : "u8")_nhwc\(lanes > 1 ? "_x\(lanes)" : "")__cuda" }

    /// The row kernel's name suffix, where one is instantiated for this kernel width and horizontal stride.
    private var rowKernel: String? {
        let (width, stride) = (convolution.kernel[1], convolution.strides[1])
        guard lanes > 1, [3, 5].contains(width), [1, 2].contains(stride), convolution.dilations[1] == 1 else { return nil }
        return "k\(width)s\(stride)_r4"
    }

    /// A pixel a thread, or a row of four pixels a thread: which is faster depends on the layer's size and the GPU.
    func tactics(batch: Int) -> [String] { rowKernel.map { ["pixel", "row4 \($0)"] } ?? [] }

    init(_ p: ConvolutionParameters, _ q: QuantizedLinear, constants: CUDAConstantStore<DeviceArray>) throws {
        let c = p.outputChannels, taps = p.kernel[0] * p.kernel[1]
        convolution = p
        // Tap-major ([KH·KW][C]), so neighbouring threads read neighbouring channels.
        weights = try constants.array("the packed weights", count: c * taps, of: Int8.self) {
            let w = q.parameters.weights
            var packed = [Int8](repeating: 0, count: c * taps)
            for ch in 0..<c {
                for t in 0..<taps { packed[t * c + ch] = w[ch * taps + t] }
            }
            return packed
        }
        bias = try constants.array("the bias", count: c) { q.parameters.bias }
        multipliers = try constants.array("the multipliers", count: c) { q.parameters.multipliers }
        epilogue = q.epilogue
        smallSums = try constants.flag("whether the sums stay below 2^22") { q.parameters.sumsBelow2To22 }
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
        arguments.append(epilogue.bounds.min)
        arguments.append(epilogue.bounds.max)
        if lanes > 1 {
            arguments.append(Int32(smallSums ? 1 : 0))
            arguments.append(y.address)
            if let row = rowKernel, encoder.tactic == 1 {
                let rows = y.count / y.layout.width / lanes, blocks = (y.layout.width + 3) / 4
                try encoder.launch("octet_dwconv_q_nhwc_x\(lanes)_\(row)", elements: rows * blocks, arguments)
            } else {
                try encoder.launch("octet_dwconv_q_nhwc_x\(lanes)", elements: y.count / lanes, arguments)
            }
        } else {
            arguments.append(Int32(epilogue.output?.isSigned == true ? 1 : 0))
            arguments.append(y.address)
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

    init(geometry: ConvolutionShape, weights: Weights, bias: Weights?, activation: Activation?, constants: CUDAConstantStore<DeviceArray>) throws {
        self.geometry = geometry
        self.weights = try constants.array("the packed weights", count: geometry.outputChannels * geometry.reduction) {
            geometry.packTapsMajor(weights.values, rowLength: geometry.reduction)
        }
        self.bias = try bias.map { b in try constants.array("the bias", count: geometry.outputChannels) { b.values } }
        self.activation = CUDAActivation(activation)
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        var arguments = geometry.floatConvolutionArguments(inputs: inputs, weights: weights, bias: bias, output: y)
        arguments.append(Int32(geometry.outputChannels))
        arguments.append(Int32(geometry.groups))
        arguments.append(activation.code)
        arguments.append(activation.p0)
        arguments.append(activation.p1)
        arguments.align()
        try encoder.launch("octet_conv_f32_direct", elements: y.count, arguments)
    }
}

extension QuantizedLinearParameters {
    /// Whether |Σ w·x + bias| < 2^22 for every output channel and every possible input (Σ|w| · max|x| + |bias|),
    /// so the CUDA epilogues may convert the sums to float with exact FP32 adds instead of the conversion unit.
    var sumsBelow2To22: Bool {
        let outputs = bias.count, reduction = weights.count / max(outputs, 1)
        let largestInput = input.isSigned ? 128 : 255
        return (0..<outputs).allSatisfy { o in
            let weightSum = weights[(o * reduction)..<((o + 1) * reduction)].reduce(0) { $0 + abs(Int($1)) }
            return weightSum * largestInput + abs(Int(bias[o])) < 1 << 22
        }
    }
}

/// FP16 convolution (groups 1) or fully connected layer (conv_f16.cu): an implicit GEMM on tensor cores with half
/// operands and FP32 accumulation over FP32 NHWC tensors — the input rounded to half as the kernel stages it, the
/// weights packed as half at build time — then bias, residual and activation in FP32 as `FloatConvolutionKernel`.
struct HalfConvolutionKernel: CUDALayer {
    let geometry: ConvolutionShape
    /// `[OC][paddedK]` IEEE half bit patterns, taps-major like the FP32 kernel's rows, zeros after K.
    let weights: DeviceArray
    let bias: DeviceArray?
    let activation: CUDAActivation
    let paddedK: Int
    let kernelName = "conv_f16_igemm_64x64x32__mma_m16n8k16"

    /// The kernel's tile (conv_f16.cu): 64 output pixels x 64 output channels a block, k steps of 32.
    static let tile = (m: 64, n: 64, k: 32)
    static let function = "octet_conv_f16_igemm_64x64x32_w32x32__mma_m16n8k16"

    init(geometry: ConvolutionShape, weights: Weights, bias: Weights?, activation: Activation?, constants: CUDAConstantStore<DeviceArray>) throws {
        guard geometry.groups == 1 else {
            throw OctetError.invalidNetwork(reason: "conv_f16.cu computes convolutions with groups 1 only (CUDABackend.float16Refusal), not \(geometry.groups) groups")
        }
        self.geometry = geometry
        let paddedK = (geometry.reduction + Self.tile.k - 1) / Self.tile.k * Self.tile.k
        self.paddedK = paddedK
        self.weights = try constants.array("the packed half weights", count: geometry.outputChannels * paddedK, of: UInt16.self) {
            geometry.packTapsMajor(weights.values, rowLength: paddedK).map { Float16($0).bitPattern }
        }
        self.bias = try bias.map { b in try constants.array("the bias", count: geometry.outputChannels) { b.values } }
        self.activation = CUDAActivation(activation)
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0], g = geometry
        let m = y.batch * g.outputHeight * g.outputWidth
        var arguments = g.floatConvolutionArguments(inputs: inputs, weights: weights, bias: bias, output: y)
        for v in [g.outputChannels, g.reduction, paddedK, m] { arguments.append(Int32(v)) }
        arguments.append(activation.code)
        arguments.append(activation.p0)
        arguments.append(activation.p1)
        arguments.align()
        let tile = Self.tile
        try encoder.launch(
            Self.function, grid: (UInt32((m + tile.m - 1) / tile.m), UInt32((g.outputChannels + tile.n - 1) / tile.n), 1), block: (128, 1, 1),
            arguments)
    }
}
