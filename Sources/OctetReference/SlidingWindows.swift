import OctetCore

/// One spatial axis of a sliding window (convolution or pooling): output `o` reads input coordinate
/// `o · stride − padBegin + k · dilation` at kernel tap `k`; coordinates outside `0 ..< inputSize` are padding.
///
/// That coordinate grows with both `o` and `k`, so the outputs that read inside the input at one tap form one
/// range, and so do the taps of one output: no reference kernel needs a bounds test per tap.
struct WindowAxis {
    let inputSize: Int
    let outputSize: Int
    let kernel: Int
    let stride: Int
    let dilation: Int
    let padBegin: Int
    let padEnd: Int
    /// Per kernel tap, the outputs whose input coordinate at that tap lies inside the input.
    private(set) var insideOutputs: [Range<Int>] = []

    init(inputSize: Int, outputSize: Int, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int) {
        (self.inputSize, self.outputSize, self.kernel) = (inputSize, outputSize, kernel)
        (self.stride, self.dilation, self.padBegin, self.padEnd) = (stride, dilation, padBegin, padEnd)
        insideOutputs = (0..<kernel).map { tap in
            var first = 0
            while first < outputSize, inputCoordinate(output: first, tap: tap) < 0 { first += 1 }
            var end = outputSize
            while end > first, inputCoordinate(output: end - 1, tap: tap) >= inputSize { end -= 1 }
            return first..<end
        }
    }

    /// The input coordinate `output` reads at kernel tap `tap` (negative or ≥ `inputSize` in the padding).
    @inline(__always)
    func inputCoordinate(output: Int, tap: Int) -> Int { output * stride - padBegin + tap * dilation }

    /// How many taps of `output` read inside the input.
    func insideTaps(output: Int) -> Int {
        (0..<kernel).count { (0..<inputSize).contains(inputCoordinate(output: output, tap: $0)) }
    }

    /// How many taps of `output` read inside the input padded at both ends (a coordinate is never below
    /// `−padBegin`, but with `ceil_mode` a window may reach past the trailing pad).
    func paddedTaps(output: Int) -> Int {
        (0..<kernel).count { inputCoordinate(output: output, tap: $0) < inputSize + padEnd }
    }
}

/// The 2-D windows of one input plane (`H × W`, row-major) onto one output plane (`OH × OW`): the one place the
/// reference kernels (FP32, INT8 and FP16 convolutions, FP32 and INT8 pooling) turn strides, dilations and
/// asymmetric pads into indices.
///
/// The walk goes tap by tap in the kernel's row-major order and, per tap, along output rows: each output
/// element therefore receives its in-bounds taps in kernel order, the order of the ONNX definition on which a
/// float sum depends, and the caller's innermost loop runs along an output row, which the compiler vectorizes.
///
/// ```swift
/// windows.forEachRun { tap, input, output, count in
///     for t in 0..<count { y[output + t] += w[tap] * x[input + t * windows.inputStep] }
/// }
/// ```
struct SlidingWindows {
    let rows: WindowAxis
    let columns: WindowAxis

    /// The input distance between neighbouring outputs of a run (the column stride).
    var inputStep: Int { columns.stride }
    var taps: Int { rows.kernel * columns.kernel }
    var inputPlaneSize: Int { rows.inputSize * columns.inputSize }
    var outputPlaneSize: Int { rows.outputSize * columns.outputSize }

    /// Windows of `kernel` over an input of `inputSize` (`[H, W]`) giving `outputSize` (`[OH, OW]`); each
    /// geometry array is `[along rows, along columns]`.
    init(inputSize: [Int], outputSize: [Int], kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int], padsEnd: [Int]) {
        func axis(_ a: Int) -> WindowAxis {
            WindowAxis(
                inputSize: inputSize[a], outputSize: outputSize[a], kernel: kernel[a], stride: strides[a],
                dilation: dilations[a], padBegin: padsBegin[a], padEnd: padsEnd[a])
        }
        (rows, columns) = (axis(0), axis(1))
    }

    /// The windows of a pooling layer over NCHW `input` giving NCHW `output` (a global pooling's window is the
    /// whole plane).
    init(_ p: PoolingParameters, input: [Int], output: [Int]) {
        let plane = Array(input[2...])
        self.init(
            inputSize: plane, outputSize: Array(output[2...]), kernel: p.isGlobal ? plane : p.kernel,
            strides: p.isGlobal ? [1, 1] : p.strides, dilations: p.isGlobal ? [1, 1] : p.dilations,
            padsBegin: p.isGlobal ? [0, 0] : p.padsBegin, padsEnd: p.isGlobal ? [0, 0] : p.padsEnd)
    }

    /// Calls `body(tap, input, output, count)` for every kernel tap (`tap = ky · kernelWidth + kx`, in that
    /// order) and every output row that reads inside the input at that tap: the output pixels
    /// `output ..< output + count` of the plane read the input pixels `input + t · inputStep`, `t < count`.
    /// Taps that read only padding are skipped.
    @inline(__always)
    func forEachRun(_ body: (_ tap: Int, _ input: Int, _ output: Int, _ count: Int) -> Void) {
        for ky in 0..<rows.kernel {
            for kx in 0..<columns.kernel {
                let outputColumns = columns.insideOutputs[kx]
                if outputColumns.isEmpty { continue }
                let ix = columns.inputCoordinate(output: outputColumns.lowerBound, tap: kx)
                for oy in rows.insideOutputs[ky] {
                    let iy = rows.inputCoordinate(output: oy, tap: ky)
                    body(ky * columns.kernel + kx, iy * columns.inputSize + ix, oy * columns.outputSize + outputColumns.lowerBound, outputColumns.count)
                }
            }
        }
    }

    /// Per output pixel (row-major), how many taps read inside the input, or, with `includingPadding`, inside
    /// the padded input: the divisor of average pooling.
    func tapCounts(includingPadding: Bool) -> [Int] {
        func perOutput(_ axis: WindowAxis) -> [Int] {
            (0..<axis.outputSize).map { includingPadding ? axis.paddedTaps(output: $0) : axis.insideTaps(output: $0) }
        }
        let perColumn = perOutput(columns)
        return perOutput(rows).flatMap { r in perColumn.map { r * $0 } }
    }
}

/// The windows of a convolution over an NCHW tensor: `SlidingWindows` per plane, walked over the input channels
/// of an output channel's group, with indices into the whole input, weight (`[OC, C/groups, KH, KW]`) and
/// output (`[N, OC, OH, OW]`) tensors.
struct ConvolutionWindows {
    let planes: SlidingWindows
    let outputShape: [Int]
    let inputChannels: Int
    let inputChannelsPerGroup: Int
    let outputChannelsPerGroup: Int

    init(_ p: ConvolutionParameters, input: [Int]) throws {
        outputShape = try LayerKind.convolution(p).outputShapes(inputs: [input])[0]
        planes = SlidingWindows(
            inputSize: Array(input[2...]), outputSize: Array(outputShape[2...]), kernel: p.kernel, strides: p.strides,
            dilations: p.dilations, padsBegin: p.padsBegin, padsEnd: p.padsEnd)
        inputChannels = input[1]
        inputChannelsPerGroup = p.inputChannelsPerGroup
        outputChannelsPerGroup = outputShape[1] / p.groups
    }

    var inputStep: Int { planes.inputStep }
    var outputCount: Int { outputShape.reduce(1, *) }
    /// The weights of one output channel (`C/groups · KH · KW`).
    var weightsPerOutputChannel: Int { inputChannelsPerGroup * planes.taps }

    /// The elements of output plane (`sample`, `outputChannel`) in the output tensor.
    func outputPlane(sample: Int, outputChannel: Int) -> Range<Int> {
        let start = (sample * outputShape[1] + outputChannel) * planes.outputPlaneSize
        return start..<(start + planes.outputPlaneSize)
    }

    /// `SlidingWindows.forEachRun` for output plane (`sample`, `outputChannel`), input channel by input channel
    /// of its group: `body(weight, input, output, count)` — output elements `output ..< output + count` add
    /// weight element `weight` times input elements `input + t · inputStep`. Each output element receives its
    /// in-bounds taps in the order (input channel, ky, kx).
    @inline(__always)
    func forEachRun(sample: Int, outputChannel: Int, _ body: (_ weight: Int, _ input: Int, _ output: Int, _ count: Int) -> Void) {
        let group = outputChannel / outputChannelsPerGroup
        let outputStart = outputPlane(sample: sample, outputChannel: outputChannel).lowerBound
        for i in 0..<inputChannelsPerGroup {
            let inputStart = (sample * inputChannels + group * inputChannelsPerGroup + i) * planes.inputPlaneSize
            let weightStart = (outputChannel * inputChannelsPerGroup + i) * planes.taps
            planes.forEachRun { tap, input, output, count in
                body(weightStart + tap, inputStart + input, outputStart + output, count)
            }
        }
    }
}
