/// A dense float32 tensor in host memory, row-major (the last axis varies fastest): what users feed an
/// engine and get back from it.
public struct TensorData: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "TensorData: \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: Array(repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { values.count }

    /// Row-major strides in elements.
    public var strides: [Int] { rowMajorStrides(shape) }

    /// Sample `index` of a batched tensor (axis 0), as a tensor with batch size 1.
    public func sample(_ index: Int) -> TensorData {
        let per = shape.dropFirst().reduce(1, *)
        return TensorData(shape: [1] + shape.dropFirst(), values: Array(values[index * per..<(index + 1) * per]))
    }

    /// Stacks tensors of batch size 1 (or equal shapes) along axis 0.
    public static func batch(_ samples: [TensorData]) -> TensorData {
        guard let first = samples.first else { return TensorData(zeros: [0]) }
        let rest = Array(first.shape.dropFirst())
        precondition(samples.allSatisfy { Array($0.shape.dropFirst()) == rest }, "batch: samples differ in shape")
        let n = samples.reduce(0) { $0 + $1.shape[0] }
        return TensorData(shape: [n] + rest, values: samples.flatMap(\.values))
    }
}

/// Row-major strides of a shape, in elements.
public func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = Array(repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}
