import OctetCore

/// Everything an INT8 convolution or fully connected layer needs, derived once from its float weights and
/// the quantization of its tensors. The reference executor and every backend use this one derivation.
///
/// acc[c] = bias[c] + Σ q_x · q_w[c]              (int32; a padded position contributes q_x = z_x, real 0)
///        = bias_float[c]/(s_x·s_w[c]) + Σ (q_x − z_x) · q_w[c]   since `bias` has −z_x · Σ q_w[c] folded in
/// quantized output: q_y = requantize(acc, multiplier[c], residual − z_r, residualMultiplier, bounds) + z_y
/// float output:     y = act(Float(acc) · multiplier[c] [+ Float(residual − z_r) · s_r])  (multiplier = s_x · s_w[c])
public struct QuantizedLinearParameters: Sendable, Equatable {
    /// Weights per output channel in [-127, 127], in the float weights' layout (output channel first).
    public var weights: [Int8]
    public var weightScales: [Float]
    /// Quantized bias with the input zero point folded in: `round(b / (s_x · s_w)) − z_x · Σ_k q_w[c,k]`.
    public var bias: [Int32]
    public var multipliers: [Float]
    public var input: TensorQuantization
    /// Nil when the layer writes float.
    public var output: TensorQuantization?
    public var residual: TensorQuantization?
    /// `s_residual / s_y`, or `s_residual` when the output is float.
    public var residualMultiplier: Float
    /// Clamp bounds of `q_y − z_y` (Relu / Clip folded in, `QuantizationMath.bounds`); unused for float output.
    public var bounds: (min: Float, max: Float)

    public static func == (a: Self, b: Self) -> Bool {
        a.weights == b.weights && a.weightScales == b.weightScales && a.bias == b.bias && a.multipliers == b.multipliers
            && a.input == b.input && a.output == b.output && a.residual == b.residual
            && a.residualMultiplier == b.residualMultiplier && a.bounds == b.bounds
    }

    public init(
        weights: Weights, bias: Weights?, input: TensorQuantization, output: TensorQuantization?,
        residual: TensorQuantization?, activation: Activation?
    ) {
        let (q, scales) = QuantizationMath.quantizeWeightsPerChannel(weights)
        self.weights = q
        self.weightScales = scales
        self.bias = QuantizationMath.compensateBias(
            QuantizationMath.quantizeBias(
                bias?.values ?? Array(repeating: 0, count: weights.shape[0]), inputScale: input.scale, weightScales: scales),
            inputZeroPoint: input.zeroPoint, weights: q)
        self.multipliers = QuantizationMath.multipliers(inputScale: input.scale, weightScales: scales, outputScale: output?.scale ?? 1)
        let epilogue = Epilogue(input: input, output: output, residual: residual, activation: activation)
        self.input = input
        self.output = output
        self.residual = residual
        residualMultiplier = epilogue.residualMultiplier
        bounds = epilogue.bounds
    }

    /// The parameters that need no weight (tensor quantizations, residual multiplier, clamp bounds): what a kernel
    /// whose packed weights were loaded from an engine file needs, without quantizing the weights again.
    public struct Epilogue: Sendable {
        public var input: TensorQuantization
        public var output: TensorQuantization?
        public var residual: TensorQuantization?
        public var residualMultiplier: Float
        public var bounds: (min: Float, max: Float)

        public init(input: TensorQuantization, output: TensorQuantization?, residual: TensorQuantization?, activation: Activation?) {
            self.input = input
            self.output = output
            self.residual = residual
            // The residual in the output's units: relative to its scale, or real values when the output is float.
            residualMultiplier = residual.map { $0.scale / (output?.scale ?? 1) } ?? 0
            bounds = output.map { QuantizationMath.bounds($0, activation: activation) } ?? (-.infinity, .infinity)
        }
    }
}

/// An INT8 GEMM's quantization: the epilogue at once, the quantized weights, bias and multipliers only when weights
/// are packed (a build), never when they come packed from an engine file (CPU and CUDA loads alike).
public final class QuantizedLinear {
    public let epilogue: QuantizedLinearParameters.Epilogue
    private let weights: Weights, bias: Weights?, activation: Activation?
    private var computed: QuantizedLinearParameters?

    public init(weights: Weights, bias: Weights?, input: TensorQuantization, output: TensorQuantization?, residual: TensorQuantization?, activation: Activation?) {
        epilogue = .init(input: input, output: output, residual: residual, activation: activation)
        (self.weights, self.bias, self.activation) = (weights, bias, activation)
    }

    /// The full parameters, derived the first time they are asked for.
    public var parameters: QuantizedLinearParameters {
        if let computed { return computed }
        let q = QuantizedLinearParameters(
            weights: weights, bias: bias, input: epilogue.input, output: epilogue.output, residual: epilogue.residual, activation: activation)
        computed = q
        return q
    }
}
