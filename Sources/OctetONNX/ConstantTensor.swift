import OctetCore

/// One element of an integer tensor computed at import time. Shape subgraphs (Shape → Gather → Concat →
/// Reshape) carry the batch size as a symbol, so a model with a dynamic batch folds to a batch-agnostic
/// Reshape instead of one frozen at the nominal batch. Attention merges the batch with other axes
/// (`bsz * num_heads`, Swin's `B * windows`), so the symbol carries a known factor.
enum FoldedInt: Equatable, Sendable {
    case known(Int)
    /// The batch dimension of an activation times a known factor (1 for the batch itself), whatever the batch
    /// size at run time.
    case batch(times: Int)

    /// The batch itself.
    static let batchSize = FoldedInt.batch(times: 1)

    var value: Int? { if case let .known(v) = self { v } else { nil } }

    /// The size at the nominal batch of 1 the network is imported with.
    var nominal: Int {
        switch self {
        case let .known(v): v
        case let .batch(times): times
        }
    }
}

/// A tensor whose value is known at import time: an initializer, a `Constant` node, or the folded result of
/// ops on such tensors.
struct ConstantTensor: Sendable {
    enum Elements: Sendable {
        case float([Float])
        case int([FoldedInt])
    }

    var shape: [Int]
    var elements: Elements
    /// The ONNX element type it was read as (nil for folded values): tells uint8 from int8 zero points.
    var sourceType: Onnx_TensorProto.DataType?

    init(shape: [Int], floats: [Float]) {
        self.shape = shape
        self.elements = .float(floats)
    }

    init(shape: [Int], ints: [FoldedInt]) {
        self.shape = shape
        self.elements = .int(ints)
    }

    var count: Int {
        switch elements {
        case let .float(v): v.count
        case let .int(v): v.count
        }
    }

    /// The values as floats (integers converted); nil when an element is the symbolic batch.
    var floats: [Float]? {
        switch elements {
        case let .float(v): v
        case let .int(v):
            v.allSatisfy { $0.value != nil } ? v.map { Float($0.value ?? 0) } : nil
        }
    }

    /// The values as known integers (floats truncated); nil when an element is the symbolic batch.
    var ints: [Int]? {
        switch elements {
        case let .float(v): v.allSatisfy(\.isFinite) ? v.map { Int($0) } : nil
        case let .int(v): v.allSatisfy { $0.value != nil } ? v.map { $0.value ?? 0 } : nil
        }
    }

    var foldedInts: [FoldedInt] {
        switch elements {
        case let .float(v): v.map { .known(Int($0)) }
        case let .int(v): v
        }
    }

    var isInteger: Bool { if case .int = elements { true } else { false } }

    /// Same elements, new shape (Reshape, Flatten, Squeeze, Unsqueeze on a constant).
    func reshaped(_ shape: [Int]) -> ConstantTensor {
        var copy = self
        copy.shape = shape
        return copy
    }

    /// Elements at the given flat indices, with a new shape.
    func gathered(_ indices: [Int], shape: [Int]) -> ConstantTensor {
        switch elements {
        case let .float(v): ConstantTensor(shape: shape, floats: indices.map { v[$0] })
        case let .int(v): ConstantTensor(shape: shape, ints: indices.map { v[$0] })
        }
    }

    var weights: Weights? { floats.map { Weights(shape: shape, values: $0) } }
}
