import OctetCore

/// INT8 elementwise Add, Sub and Mul, written once for the reference and every host kernel (the CUDA kernels
/// take their multipliers from here). On `a = q_a − z_a` and `b = q_b − z_b`:
/// Add / Sub: `y = Float(a)·(s_a/s_y) ± Float(b)·(s_b/s_y)`; Mul: `y = (Float(a)·Float(b))·(s_a·s_b/s_y)`;
/// then `q_y = saturateAndRound(y)` within the output's bounds (narrowed by a fused Relu/Clip) `+ z_y`.
public struct QuantizedBinaryArithmetic: Sendable, Equatable {
    /// The operations that have INT8 arithmetic.
    public enum Operation: String, Sendable, Equatable {
        case add, sub, mul

        /// Nil for an operation without INT8 arithmetic (one whose name is not a case here).
        public init?(_ operation: ElementwiseOperation) { self.init(rawValue: operation.rawValue) }

        /// The elementwise operation it is.
        public var elementwise: ElementwiseOperation {
            switch self {
            case .add: .add
            case .sub: .sub
            case .mul: .mul
            }
        }
    }

    public let operation: Operation
    public let a: TensorQuantization
    public let b: TensorQuantization
    public let output: TensorQuantization
    /// `s_a/s_y`, `s_b/s_y`, `s_a·s_b/s_y`.
    public let multiplierA: Float
    public let multiplierB: Float
    public let productMultiplier: Float
    /// Bounds of `q_y − z_y` (`QuantizationMath.bounds`).
    public let bounds: (min: Float, max: Float)

    /// Nil when `operation` has no INT8 arithmetic.
    public init?(_ operation: ElementwiseOperation, a: TensorQuantization, b: TensorQuantization, output: TensorQuantization, activation: Activation?) {
        guard let op = Operation(operation) else { return nil }
        self.operation = op
        (self.a, self.b, self.output) = (a, b, output)
        multiplierA = a.scale / output.scale
        multiplierB = b.scale / output.scale
        productMultiplier = a.scale * b.scale / output.scale
        bounds = QuantizationMath.bounds(output, activation: activation)
    }

    /// The stored output for stored inputs `qa`, `qb`.
    @inline(__always)
    public func apply(_ qa: Int32, _ qb: Int32) -> Int32 {
        let x = Float(qa - a.zeroPoint), y = Float(qb - b.zeroPoint)
        let r: Float = switch operation {
        case .add: x * multiplierA + y * multiplierB
        case .sub: x * multiplierA - y * multiplierB
        case .mul: (x * y) * productMultiplier
        }
        return QuantizationMath.saturateAndRound(r, min: bounds.min, max: bounds.max) + output.zeroPoint
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.operation == r.operation && l.a == r.a && l.b == r.b && l.output == r.output && l.bounds == r.bounds
    }
}

extension QuantizationMath {
    /// Whether `operation` has INT8 arithmetic (`QuantizedBinaryArithmetic`).
    public static func hasInt8Arithmetic(_ operation: ElementwiseOperation) -> Bool {
        QuantizedBinaryArithmetic.Operation(operation) != nil
    }

    /// INT8 average pooling's output, written once: the integer window sum of `q − z_x` (padding is real 0)
    /// becomes `y = Float(sum) · (s_x / s_y) / divisor`, rounded within the output's bounds, `+ z_y`.
    @inline(__always)
    public static func averagePoolingOutput(
        sum: Int32, divisor: Int, multiplier: Float, bounds: (min: Float, max: Float), zeroPoint: Int32
    ) -> Int32 {
        saturateAndRound(Float(sum) * multiplier / Float(Swift.max(divisor, 1)), min: bounds.min, max: bounds.max) + zeroPoint
    }
}

/// INT8 MatMul between two quantized activations (per-tensor scales on both inputs), written once for the
/// reference and every kernel: `acc = Σ_k (q_a − z_a)·(q_b − z_b)` in int32, then the common epilogue
/// (`QuantizationMath.requantize`) with `multiplier = (s_a·s_b)/s_y` and the output's bounds (narrowed by a fused
/// Relu/Clip), `+ z_y`.
public struct QuantizedMatrixMultiplyArithmetic: Sendable, Equatable {
    /// The longest inner dimension whose accumulator cannot overflow: 32768 · 255 · 255 < 2^31.
    public static let maxInnerSize = 32768

    public let a: TensorQuantization
    public let b: TensorQuantization
    public let output: TensorQuantization
    public let multiplier: Float
    /// Bounds of `q_y − z_y` (`QuantizationMath.bounds`).
    public let bounds: (min: Float, max: Float)

    public init(a: TensorQuantization, b: TensorQuantization, output: TensorQuantization, activation: Activation?) {
        (self.a, self.b, self.output) = (a, b, output)
        multiplier = (a.scale * b.scale) / output.scale
        bounds = QuantizationMath.bounds(output, activation: activation)
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.a == r.a && l.b == r.b && l.output == r.output && l.multiplier == r.multiplier && l.bounds == r.bounds
    }

    /// The stored output value of one int32 accumulator.
    @inline(__always)
    public func requantize(_ acc: Int32) -> Int32 {
        QuantizationMath.requantize(acc, multiplier: multiplier, min: bounds.min, max: bounds.max, zeroPoint: output.zeroPoint)
    }
}
