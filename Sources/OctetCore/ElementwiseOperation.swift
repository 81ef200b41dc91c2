import Foundation

/// A binary elementwise operation, with NumPy broadcasting within each sample (`LayerKind.elementwise`).
///
/// Everything about one operation lives here: its case, its FP32 formula (which the reference executor and every
/// FP32 kernel on the host use) and the code the C kernels switch on. docs/adding-an-op.md is the recipe for a
/// new one: this file, the importer table, the CUDA `binary` switch, the operators table — and for INT8,
/// `QuantizedBinaryArithmetic`.
public enum ElementwiseOperation: String, Sendable, Equatable, CaseIterable {
    case add, sub, mul, div, max, min, pow

    /// The operation on two values, as ONNX defines it.
    @inline(__always)
    public func callAsFunction(_ x: Float, _ y: Float) -> Float {
        switch self {
        case .add: x + y
        case .sub: x - y
        case .mul: x * y
        case .div: x / y
        case .max: Swift.max(x, y)
        case .min: Swift.min(x, y)
        case .pow: FloatMath.pow(x, y)
        }
    }

    /// The operation's code in kernels written in C (`binary` in Sources/OctetCUDA/Kernels/eltwise.cu); a test
    /// checks that every code has its case there.
    public var code: Int32 {
        switch self {
        case .add: 0
        case .sub: 1
        case .mul: 2
        case .div: 3
        case .max: 4
        case .min: 5
        case .pow: 6
        }
    }

    /// True where the operation is defined for every pair of finite operands (Div and Pow are not).
    public var isTotal: Bool {
        switch self {
        case .add, .sub, .mul, .max, .min: true
        case .div, .pow: false
        }
    }
}
