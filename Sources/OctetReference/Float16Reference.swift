import OctetCore

/// The arithmetic of an FP16 layer (precision `.float16`), as the plain-loop twin of the CUDA kernel
/// `octet_conv_f16_igemm` (conv_f16.cu): the input and the weights are rounded to `Float16` (round to nearest even, as
/// the kernel's `__float2half_rn`), every half × half product is formed exactly in `Float` (two 11-bit significands
/// make at most 22 bits), and the products are summed in `Double` with the bias — the exact sum that the tensor
/// cores, adding the same products in FP32 in their own order, approximate.
///
/// Alongside each output it returns Σ|x·w| + |bias| (in `Double`), from which the self-test derives its tolerance:
/// a sum of K terms in FP32 in any order differs from the exact sum by at most γ·Σ|terms| with γ = K·u/(1 − K·u)
/// (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., §4.2), u = 2⁻²⁴ for round to nearest and 2⁻²³
/// for the truncation some tensor-core adders use.
///
/// ```swift
/// let (y, magnitude) = try Float16Reference.convolution(x, p)   // NCHW in, NCHW out, no residual, no activation
/// ```
public enum Float16Reference {
    /// `x` rounded to the nearest `Float16` and back, as a kernel staging it as half does.
    @inline(__always)
    public static func rounded(_ x: Float) -> Float { Float(Float16(x)) }

    /// A convolution (NCHW input `[N, C, H, W]`, any groups) with FP16 operands and an exact sum: the output
    /// `[N, OC, OH, OW]` and, per output element, Σ|x·w| + |bias|. Each output's products are added to its bias in
    /// the order (input channel, ky, kx) of its in-bounds taps (`ConvolutionWindows`).
    public static func convolution(_ x: TensorData, _ p: ConvolutionParameters) throws -> (y: TensorData, magnitude: [Double]) {
        let windows = try ConvolutionWindows(p, input: x.shape)
        let step = windows.inputStep
        let xs = x.values.map(rounded), ws = p.weights.values.map(rounded)
        var sums = [Double](repeating: 0, count: windows.outputCount)
        var magnitude = sums
        for b in 0..<x.shape[0] {
            for o in 0..<p.outputChannels {
                let bias = Double(p.bias?.values[o] ?? 0)
                for index in windows.outputPlane(sample: b, outputChannel: o) { (sums[index], magnitude[index]) = (bias, abs(bias)) }
                windows.forEachRun(sample: b, outputChannel: o) { weightIndex, input, output, count in
                    let weight = ws[weightIndex]
                    for t in 0..<count {
                        let product = xs[input + t * step] * weight
                        sums[output + t] += Double(product)
                        magnitude[output + t] += Double(abs(product))
                    }
                }
            }
        }
        return (TensorData(shape: windows.outputShape, values: sums.map { Float($0) }), magnitude)
    }

    /// A fully connected layer (`x · Wᵀ + b` over the last axis) with FP16 operands and an exact sum, and per output
    /// Σ|x·w| + |bias|.
    public static func fullyConnected(_ x: TensorData, _ p: FullyConnectedParameters) -> (y: TensorData, magnitude: [Double]) {
        let k = p.inputs, rows = x.count / k
        let xs = x.values.map(rounded), ws = p.weights.values.map(rounded)
        var y = [Float](repeating: 0, count: rows * p.outputs)
        var magnitude = [Double](repeating: 0, count: y.count)
        for r in 0..<rows {
            for j in 0..<p.outputs {
                let bias = Double(p.bias?.values[j] ?? 0)
                var sum = bias, size = abs(bias)
                for i in 0..<k {
                    let product = xs[r * k + i] * ws[j * k + i]
                    sum += Double(product)
                    size += Double(abs(product))
                }
                y[r * p.outputs + j] = Float(sum)
                magnitude[r * p.outputs + j] = size
            }
        }
        return (TensorData(shape: Array(x.shape.dropLast()) + [p.outputs], values: y), magnitude)
    }

    /// The FP16 result of a planned layer of precision `.float16` on float inputs: the convolution (plus its residual
    /// input, in FP32) or fully connected layer, then the fused activation. Nil for kinds that have no FP16 arithmetic.
    static func evaluate(_ layer: Layer, _ args: [TensorData]) throws -> TensorData? {
        var y: TensorData
        switch layer.kind {
        case let .convolution(p):
            y = try convolution(args[0], p).y
            if args.count == 2 { y = try ReferenceKernels.elementwise(y, args[1], .add) }
        case let .fullyConnected(p):
            y = fullyConnected(args[0], p).y
        default:
            return nil
        }
        if let activation = layer.fusedActivation { y = ReferenceKernels.activation(y, activation) }
        return y
    }
}
