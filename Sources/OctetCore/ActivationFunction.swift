import Foundation

extension Activation {
    /// The activation of one value, as ONNX defines it. The reference executor and every FP32 kernel use this; CUDA's
    /// `activate` computes the same, bit for bit where `isBitIdenticalOnEveryBackend`.
    @inline(__always)
    public func callAsFunction(_ v: Float) -> Float {
        switch self {
        case .relu: return Swift.max(v, 0)
        case let .clip(lo, hi): return Swift.min(Swift.max(v, lo), hi)
        case .sigmoid: return 1 / (1 + FloatMath.exp(-v))
        case .tanh: return tanhf(v)
        case let .leakyRelu(alpha): return v >= 0 ? v : alpha * v
        case let .hardSigmoid(alpha, beta): return Swift.max(0, Swift.min(1, alpha * v + beta))
        case .hardSwish: return v * Swift.max(0, Swift.min(1, v / 6 + 0.5))
        case .erf: return erff(v)
        case .gelu(tanhApproximation: false): return 0.5 * v * (1 + erff(v * 0.70710678118654752))
        case .gelu(tanhApproximation: true): return 0.5 * v * (1 + tanhf(0.79788456080286536 * (v + 0.044715 * v * v * v)))
        case .sqrt: return v.squareRoot()
        case .exp: return FloatMath.exp(v)
        }
    }

    /// False for the functions that take the C library's `erff` or `tanhf` (CUDA's on the GPU), which may differ in
    /// the last bit; the others are IEEE operations or `FloatMath`, the same floats everywhere.
    public var isBitIdenticalOnEveryBackend: Bool {
        switch self {
        case .tanh, .erf, .gelu: false
        default: true
        }
    }
}
