import OctetCore

/// How a quantized tensor stores real values: `x ≈ scale · (q − zeroPoint)`, with `q` an 8-bit integer.
///
/// Octet's one definition of the INT8 arithmetic lives in this file. Every backend must produce, on
/// integer tensors, exactly the bytes these functions produce.
///
/// Zero points: tensors quantized from a range file are symmetric (zero point 0, TensorRT's semantics);
/// explicitly quantized (QDQ) models give activations their own scale and zero point (e.g. onnxruntime's
/// asymmetric uint8). Every formula below reduces to the zero-point-free one, byte for byte, when z = 0.
/// Arithmetic happens on `q − z` (the real value over the scale); results are clamped and rounded in that
/// relative domain, `[qmin − z, qmax − z]`, and z is added last.
public struct TensorQuantization: Sendable, Equatable, CustomStringConvertible {
    /// `.int8` (q in [-128, 127], scale R/127) or `.uint8` (q in [0, 255], scale R/255).
    public var dataType: DataType
    public var scale: Float
    /// The stored value that represents real 0; inside [qmin, qmax]. 0 for range-file quantization.
    public var zeroPoint: Int32

    public init(dataType: DataType, scale: Float, zeroPoint: Int32 = 0) {
        precondition(dataType.isQuantized)
        precondition(dataType == .int8 ? (-128...127).contains(zeroPoint) : (0...255).contains(zeroPoint))
        self.dataType = dataType
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The quantization for a symmetric dynamic range R: signed with scale R/127 as TensorRT does, or, for
    /// a tensor known to be non-negative, unsigned with scale R/255 (twice the resolution).
    public init(range: Float, unsigned: Bool) {
        // A zero range (a tensor that is always 0) still needs a usable, non-zero scale.
        let r = range > 0 ? range : DynamicRanges.alwaysZeroRange
        self.init(dataType: unsigned ? .uint8 : .int8, scale: unsigned ? r / 255 : r / 127)
    }

    /// The model's own quantization of an explicitly quantized tensor.
    public init(_ explicit: ExplicitQuantization) {
        self.init(dataType: explicit.dataType, scale: explicit.scale, zeroPoint: explicit.zeroPoint)
    }

    public var isSigned: Bool { dataType == .int8 }
    /// Smallest and largest stored value.
    public var qmin: Float { isSigned ? -128 : 0 }
    public var qmax: Float { isSigned ? 127 : 255 }
    /// The stored interval relative to the zero point, `[qmin − z, qmax − z]`: the clamp bounds of `q − z`.
    public var relativeBounds: (min: Float, max: Float) { (qmin - Float(zeroPoint), qmax - Float(zeroPoint)) }

    public var description: String {
        zeroPoint == 0 ? "\(dataType)(scale \(scale))" : "\(dataType)(scale \(scale), zero point \(zeroPoint))"
    }
}

/// The reference arithmetic: quantize, requantize, weight and bias quantization.
public enum QuantizationMath {
    /// `q = clamp(roundHalfEven(x / scale), qmin − z, qmax − z) + z`.
    @inline(__always)
    public static func quantize(_ x: Float, _ q: TensorQuantization) -> Int32 {
        let (lo, hi) = q.relativeBounds
        return saturateAndRound(x / q.scale, min: lo, max: hi) + q.zeroPoint
    }

    /// `x = Float(q − z) · scale`.
    @inline(__always)
    public static func dequantize(_ value: Int32, _ q: TensorQuantization) -> Float { Float(value - q.zeroPoint) * q.scale }

    /// Converts a stored value to another quantization: `y = Float(q − z_in) · (s_in / s_out)`, clamped and
    /// rounded relative to the output zero point, then `+ z_out`. Exact identity when both agree.
    @inline(__always)
    public static func requantize(_ value: Int32, from input: TensorQuantization, to output: TensorQuantization) -> Int32 {
        let (lo, hi) = output.relativeBounds
        return saturateAndRound(Float(value - input.zeroPoint) * (input.scale / output.scale), min: lo, max: hi) + output.zeroPoint
    }

    /// Clamps to `[min, max]` (integral bounds) and rounds half to even. Clamping first is the same as
    /// rounding first when the bounds are integers, and keeps the conversion in range.
    @inline(__always)
    public static func saturateAndRound(_ y: Float, min: Float, max: Float) -> Int32 {
        // NaN (0/0 in a float layer before a quantize) becomes real 0 instead of trapping the process; the
        // quantizing kernels (the CPU reformat, CUDA's octet_quantize_f32) do the same, so every backend agrees.
        guard !y.isNaN else { return 0 }
        let clamped = Swift.min(Swift.max(y, min), max)
        return Int32(clamped.rounded(.toNearestOrEven))
    }

    /// The epilogue of every integer layer with an int32 accumulator:
    /// `y = Float(acc) · multiplier [+ Float(residual − residualZeroPoint) · residualMultiplier]`, then
    /// `q = saturateAndRound(y, min, max) + zeroPoint`, with `min`/`max` relative to the output zero point
    /// (`bounds`). Two roundings (multiply, then add), never a fused multiply-add: the kernels do the same.
    @inline(__always)
    public static func requantize(
        _ acc: Int32, multiplier: Float, residual: Int32? = nil, residualZeroPoint: Int32 = 0, residualMultiplier: Float = 0,
        min: Float, max: Float, zeroPoint: Int32 = 0
    ) -> Int32 {
        var y = Float(acc) * multiplier
        if let residual { y = y + Float(residual - residualZeroPoint) * residualMultiplier }
        return saturateAndRound(y, min: min, max: max) + zeroPoint
    }

    /// Output bounds of `q − z` for an output quantization and a fused piecewise-linear activation: the
    /// stored interval relative to the zero point, `[qmin − z, qmax − z]`, which Relu raises to 0 at the
    /// bottom and Clip(a, b) narrows to `[round(a/s), round(b/s)]`. Kernels add z after rounding.
    public static func bounds(_ out: TensorQuantization, activation: Activation?) -> (min: Float, max: Float) {
        var (lo, hi) = out.relativeBounds
        switch activation {
        case .relu?: lo = Swift.max(lo, 0)
        case let .clip(a, b)?:
            lo = Swift.max(lo, Swift.min(hi, (a / out.scale).rounded(.toNearestOrEven)))
            hi = Swift.min(hi, Swift.max(lo, (b / out.scale).rounded(.toNearestOrEven)))
        case nil, .sigmoid?, .tanh?, .leakyRelu?, .hardSigmoid?, .hardSwish?, .erf?, .gelu?, .sqrt?, .exp?:
            break  // not a clamp: it narrows nothing
        }
        return (lo, hi)
    }

    /// Symmetric per-output-channel weight quantization: `scale_c = max|w_c| / 127`, `q = round(w / scale_c)`
    /// in [-127, 127]. `weights` has the output channel as its first axis.
    public static func quantizeWeightsPerChannel(_ weights: Weights) -> (values: [Int8], scales: [Float]) {
        let channels = weights.shape[0]
        let per = weights.count / max(channels, 1)
        var values = [Int8](repeating: 0, count: weights.count)
        var scales = [Float](repeating: 1, count: channels)
        for c in 0..<channels {
            var largest: Float = 0
            for i in 0..<per { largest = Swift.max(largest, abs(weights.values[c * per + i])) }
            let scale = largest > 0 ? largest / 127 : 1
            scales[c] = scale
            for i in 0..<per {
                values[c * per + i] = Int8(saturateAndRound(weights.values[c * per + i] / scale, min: -127, max: 127))
            }
        }
        return (values, scales)
    }

    /// Bias as int32 in the accumulator's scale `inputScale · weightScale_c`.
    public static func quantizeBias(_ bias: [Float], inputScale: Float, weightScales: [Float]) -> [Int32] {
        zip(bias, weightScales).map { b, ws in
            let v = (b / (inputScale * ws)).rounded(.toNearestOrEven)
            return Int32(Swift.min(Swift.max(v, -2_147_483_520), 2_147_483_520))
        }
    }

    /// Folds the input zero point into a quantized bias: `Σ_k (q_x − z_x) · q_w[c,k] = Σ_k q_x · q_w[c,k] −
    /// z_x · Σ_k q_w[c,k]`, so `bias'[c] = bias[c] − z_x · Σ_k q_w[c,k]`, computed in Int64 and saturated to
    /// the same interval as `quantizeBias`. `weights` has the output channel first. Unchanged when z_x = 0.
    public static func compensateBias(_ bias: [Int32], inputZeroPoint: Int32, weights: [Int8]) -> [Int32] {
        guard inputZeroPoint != 0, !bias.isEmpty else { return bias }
        let per = weights.count / bias.count
        return bias.indices.map { c in
            var sum: Int64 = 0
            for k in 0..<per { sum += Int64(weights[c * per + k]) }
            let v = Int64(bias[c]) - Int64(inputZeroPoint) * sum
            return Int32(Swift.min(Swift.max(v, -2_147_483_520), 2_147_483_520))
        }
    }

    /// Per-channel multipliers `inputScale · weightScale_c / outputScale` (outputScale 1 for float output).
    public static func multipliers(inputScale: Float, weightScales: [Float], outputScale: Float) -> [Float] {
        weightScales.map { inputScale * $0 / outputScale }
    }

    /// A 256-entry table giving, for every stored input value, the quantized result of `f`: exact INT8
    /// evaluation of any unary function (zero points included, through `dequantize` and `quantize`).
    /// Index with `q - qminInput`.
    public static func lookupTable(
        input: TensorQuantization, output: TensorQuantization, _ f: (Float) -> Float
    ) -> [Int32] {
        let lo = Int32(input.qmin)
        return (0..<256).map { i in quantize(f(dequantize(lo + Int32(i), input)), output) }
    }
}
