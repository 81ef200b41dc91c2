/// A constant float tensor: convolution kernels, biases, constant operands of elementwise layers.
///
/// Stored dense, row-major (the last axis varies fastest), always as `Float`: integer ONNX initializers that
/// reach a compute layer are converted at import time.
public struct Weights: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "Weights: \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    public var count: Int { values.count }

    /// Largest magnitude of any value: the dynamic range a constant tensor gets when none is given.
    public var maxMagnitude: Float { values.reduce(0) { max($0, abs($1)) } }
}
