import Foundation
import OctetCore

/// Float arithmetic on values known at import, evaluated there instead of becoming layers: Swin V2 computes
/// its relative-position bias with a small MLP (MatMul, Relu, Sigmoid, …) over a constant table, and the
/// result is then gathered by constant indices, which only a constant supports; ViT scales queries and keys
/// by `Sqrt` of a constant. A network tensor always has a batch axis; a constant computation has none (as a
/// layer, its axis 0 would be read as the batch and grow with it), so folding is what keeps it out of the network.
enum ConstantFolding {
    /// The folded outputs of `node` when every input is a constant, one is a float, and the op is one of the
    /// pointwise, broadcasting or matrix-product ops below; nil otherwise (the op's importer decides).
    static func fold(_ node: Onnx_NodeProto, _ inputs: [ImportedValue?], opset: Int) throws -> [ImportedValue]? {
        // Omitted optional inputs (Clip's min or max) stay nil.
        var constants: [ConstantTensor?] = []
        for value in inputs {
            switch value {
            case let .constant(c)?: constants.append(c)
            case nil: constants.append(nil)
            case .tensor?: return nil
            }
        }
        guard constants.contains(where: { $0.map { !$0.isInteger } ?? false }), let first = constants.first ?? nil else { return nil }
        func values(_ c: ConstantTensor) throws -> [Float] {
            guard let v = c.floats else { throw node.unsupported("a value folded at import depends on the batch size") }
            return v
        }
        let folded: ConstantTensor
        switch node.opType {
        case "Relu": folded = try map(first, values) { max($0, 0) }
        case "Sigmoid": folded = try map(first, values) { 1 / (1 + Foundation.exp(-$0)) }
        case "Exp": folded = try map(first, values) { Foundation.exp($0) }
        case "Neg": folded = try map(first, values) { -$0 }
        case "Sqrt": folded = try map(first, values) { $0.squareRoot() }
        case "Reciprocal": folded = try map(first, values) { 1 / $0 }
        case "Tanh": folded = try map(first, values) { Foundation.tanh($0) }
        case "Erf": folded = try map(first, values) { Foundation.erf($0) }
        case "Clip" where opset >= 11:
            func bound(_ index: Int) throws -> Float? { try constants.count > index ? constants[index].flatMap { try values($0).first } : nil }
            let (lo, hi) = (try bound(1) ?? -.greatestFiniteMagnitude, try bound(2) ?? .greatestFiniteMagnitude)
            folded = try map(first, values) { min(max($0, lo), hi) }
        case "Add", "Sub", "Mul", "Div", "Pow":
            guard constants.count == 2, let second = constants[1] else { return nil }
            let operation: (Float, Float) -> Float =
                switch node.opType { case "Add": (+) case "Sub": (-) case "Mul": (*) case "Div": (/) default: { Foundation.pow($0, $1) } }
            folded = try broadcast(first, second, values, node, operation)
        case "MatMul":
            guard constants.count == 2, let second = constants[1] else { return nil }
            folded = try matrixProduct(first, second, values, node)
        default:
            return nil
        }
        return [.constant(folded)]
    }

    private static func map(_ c: ConstantTensor, _ values: (ConstantTensor) throws -> [Float], _ f: (Float) -> Float) throws -> ConstantTensor {
        ConstantTensor(shape: c.shape, floats: try values(c).map(f))
    }

    /// Flat index into `shape` (right-aligned, axes of 1 broadcast) of each element of `out`.
    static func broadcastIndices(_ shape: [Int], to out: [Int]) -> [Int] {
        let aligned = Array(repeating: 1, count: out.count - shape.count) + shape
        let inStrides = rowMajorStrides(aligned), outStrides = rowMajorStrides(out)
        return (0..<out.reduce(1, *)).map { index in
            out.indices.reduce(0) { sum, axis in
                aligned[axis] == 1 ? sum : sum + (index / outStrides[axis]) % out[axis] * inStrides[axis]
            }
        }
    }

    private static func checkSize(_ shape: [Int], _ node: Onnx_NodeProto) throws {
        guard let count = Limits.product(shape), count <= Limits.maxFoldedElements else {
            throw node.unsupported("the value computed at import would have more than 2^26 elements")
        }
    }

    private static func broadcast(
        _ a: ConstantTensor, _ b: ConstantTensor, _ values: (ConstantTensor) throws -> [Float], _ node: Onnx_NodeProto,
        _ operation: (Float, Float) -> Float
    ) throws -> ConstantTensor {
        let out = try broadcastShapes(a.shape, b.shape)
        try checkSize(out, node)
        let (x, y) = (try values(a), try values(b))
        let (ia, ib) = (broadcastIndices(a.shape, to: out), broadcastIndices(b.shape, to: out))
        return ConstantTensor(shape: out, floats: zip(ia, ib).map { operation(x[$0], y[$1]) })
    }

    /// NumPy `matmul` of two constants of rank 2 or more, the axes before the last two broadcast.
    private static func matrixProduct(
        _ a: ConstantTensor, _ b: ConstantTensor, _ values: (ConstantTensor) throws -> [Float], _ node: Onnx_NodeProto
    ) throws -> ConstantTensor {
        guard a.shape.count >= 2, b.shape.count >= 2, a.shape[a.shape.count - 1] == b.shape[b.shape.count - 2] else {
            throw node.unsupported("\(a.shape) and \(b.shape) are not matrices with a common inner size")
        }
        let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        let batch = try broadcastShapes(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        try checkSize(batch + [m, n], node)
        let (x, y) = (try values(a), try values(b))
        let (ia, ib) = (broadcastIndices(Array(a.shape.dropLast(2)), to: batch), broadcastIndices(Array(b.shape.dropLast(2)), to: batch))
        var out = [Float](repeating: 0, count: batch.reduce(1, *) * m * n)
        for (matrix, (sa, sb)) in zip(ia, ib).enumerated() {
            for row in 0..<m {
                for column in 0..<n {
                    var sum: Float = 0
                    for i in 0..<k { sum += x[(sa * m + row) * k + i] * y[(sb * k + i) * n + column] }
                    out[(matrix * m + row) * n + column] = sum
                }
            }
        }
        return ConstantTensor(shape: batch + [m, n], floats: out)
    }
}
