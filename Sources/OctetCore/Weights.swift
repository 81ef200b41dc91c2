/// A constant float tensor: convolution kernels, biases, constant operands of elementwise layers.
///
/// Stored dense, row-major (the last axis varies fastest), always as `Float`: integer ONNX initializers that
/// reach a compute layer are converted at import time.
///
/// Weights loaded from an engine file may be *left out*: the shape is known, the values are not, because the
/// backend's saved state (packed CPU weights, CUDA device constants) already holds everything derived from them
/// (docs/engine-format.md). `values` of left-out weights is a programming error that stops the process; code that
/// may meet a loaded plan checks `isLeftOut` (or `LayerKind.hasLeftOutWeights`) first and refuses in a sentence.
public struct Weights: Sendable, Equatable {
    public var shape: [Int]
    /// Nil when the values were left out of an engine file.
    private var stored: [Float]?

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "Weights: \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.stored = values
    }

    public init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    /// Weights of `shape` whose values an engine file left out.
    public static func leftOut(shape: [Int]) -> Weights { Weights(shape: shape, stored: nil) }

    private init(shape: [Int], stored: [Float]?) {
        self.shape = shape
        self.stored = stored
    }

    /// Whether the values were left out (an engine file whose backend state holds what they gave).
    public var isLeftOut: Bool { stored == nil }

    /// The values, row-major. Left-out weights have none: reading them stops the process (check `isLeftOut`).
    public var values: [Float] {
        get {
            guard let stored else { preconditionFailure("Weights \(shape): the values were left out of the engine file") }
            return stored
        }
        set { stored = newValue }
        _modify {
            precondition(stored != nil, "Weights \(shape): the values were left out of the engine file")
            yield &stored!
        }
    }

    /// The element count (the shape's product, also for left-out weights).
    public var count: Int { shape.reduce(1, *) }

    /// The same weights with another shape of the same element count (left out stays left out).
    public func reshaped(_ newShape: [Int]) -> Weights {
        precondition(newShape.reduce(1, *) == count, "Weights: \(shape) cannot become \(newShape)")
        var weights = self
        weights.shape = newShape
        return weights
    }

    /// Largest magnitude of any value: the dynamic range a constant tensor gets when none is given.
    public var maxMagnitude: Float { values.reduce(0) { max($0, abs($1)) } }
}
