import OctetCore

/// Ops that read and write batch placements themselves (they may move the batch): every other op reading a
/// placed activation goes through `importPlaced`.
let placementAwareOps: Set<String> = ["Reshape", "Squeeze", "Unsqueeze", "Transpose"]

/// Ops computing element by element on one activation: the network tensor is imported as it is.
private let pointwiseOps: Set<String> = [
    "Relu", "Sigmoid", "Tanh", "Erf", "Gelu", "Sqrt", "Exp", "Neg", "Reciprocal", "HardSwish", "LeakyRelu",
    "HardSigmoid", "Clip", "Identity", "Dropout", "Cast",
]

/// Elementwise ops with NumPy broadcasting: constant operands are aligned with the network tensor.
private let broadcastingOps: Set<String> = ["Add", "Sub", "Mul", "Div", "Pow", "Sum", "Max", "Min"]

/// Imports a node that reads an activation whose batch is not its leading ONNX axis.
///
/// The node is rewritten into the network tensor's per-sample coordinates — axis attributes and axis inputs
/// mapped through `BatchPlacement.networkAxis`, constant operands aligned with `constantShape` — and imported
/// by the op's ordinary importer; its outputs keep the placement. An op whose computation would reach across
/// the batch axis (a softmax or normalization over it, a gather from it, activations with different
/// placements) is refused, naming the node and where its batch sits.
func importPlaced(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], _ importer: OpImporter)
    throws -> [ImportedValue]
{
    var activations: [PlacedShape] = []
    for (name, value) in zip(node.input, inputs) {
        if case .tensor? = value { activations.append(context.placed(name, value!)) }
    }
    guard let reference = activations.first(where: { !$0.placement.isLeading }) else { return try importer(&context, node, inputs) }
    let p = reference.placement, rank = reference.shape.count
    func refuse(_ what: String) -> OctetError {
        node.unsupported("\(what) of \(reference.shape), where \(p.description); that would mix samples")
    }
    guard activations.allSatisfy({ $0.placement == p && $0.shape.count == rank }) else {
        let shapes = activations.map { "\($0.shape) (\($0.placement.isLeading ? "batch on axis 0" : $0.placement.description))" }
        throw node.unsupported("its activations place the batch differently: \(shapes.joined(separator: ", "))")
    }
    /// The network axis of an ONNX axis operand (possibly negative); refused for the batch axis.
    func networkAxis(_ onnxAxis: Int, _ what: String) throws -> Int {
        let normalized = onnxAxis < 0 ? onnxAxis + rank : onnxAxis
        guard normalized >= 0, normalized < rank else { throw node.unsupported("axis \(onnxAxis) is out of range for rank \(rank)") }
        guard let mapped = p.networkAxis(normalized) else { throw refuse("\(what) along axis \(normalized)") }
        return mapped
    }
    var rewritten = node, operands = inputs
    var outputBatchAxis = p.axis
    switch node.opType {
    case let op where pointwiseOps.contains(op):
        break
    case let op where broadcastingOps.contains(op):
        operands = try alignedConstants(inputs, p, rank, refuse, &rewritten)
    case "MatMul", "Gemm":
        // Over the last axis (a constant 2-D B: fully connected) or the last two (activations).
        let isFullyConnected: Bool = if case let .constant(b)? = inputs.count > 1 ? inputs[1] : nil { b.shape.count == 2 } else { false }
        guard p.axis < rank - (isFullyConnected || node.opType == "Gemm" ? 1 : 2) else { throw refuse("a matrix product over the batch axis") }
        if node.opType == "Gemm", rank != 2 { throw node.unsupported("input A must be 2-D, got \(reference.shape)") }
        if !isFullyConnected { operands = try alignedConstants(inputs, p, rank, refuse, &rewritten) }
    case "Softmax", "LayerNormalization", "Concat", "Gather":
        guard node.opType != "Softmax" || context.opset >= 13 else { throw refuse("a Softmax over axes from 1 on (before opset 13)") }
        let defaultAxis = node.opType == "Gather" ? 0 : (node.opType == "Concat" ? 1 : -1)
        let axis = try node.attr("axis", default: defaultAxis)
        let normalized = axis < 0 ? axis + rank : axis
        if node.opType == "LayerNormalization", normalized <= p.axis { throw refuse("a normalization over axes from \(normalized) on") }
        rewritten = node.setting("axis", to: try networkAxis(axis, node.opType))
        // A Gather of a constant index tensor replaces its axis with the indices' axes.
        if node.opType == "Gather", normalized < p.axis, case let .constant(indices)? = inputs.count > 1 ? inputs[1] : nil {
            outputBatchAxis = p.axis - 1 + indices.shape.count
        }
        if node.opType == "Concat", inputs.contains(where: { if case .constant? = $0 { true } else { false } }) {
            throw refuse("a Concat of constants with an activation")
        }
    case "Slice" where context.opset >= 10:
        guard case let .constant(starts)? = inputs.count > 1 ? inputs[1] : nil else { return try importer(&context, node, inputs) }
        let axes: [Int] =
            if inputs.count > 3, case let .constant(c)? = inputs[3] { c.ints ?? [] } else { Array(0..<starts.count) }
        let mapped = try axes.map { try networkAxis($0, "a Slice") }
        while operands.count < 4 { operands.append(nil) }
        operands[3] = .constant(ConstantTensor(shape: [mapped.count], ints: mapped.map { .known($0) }))
        while rewritten.input.count < 4 { rewritten.input.append("") }
        rewritten.input[3] = "\(node.output[0])__networkAxes"
    case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2":
        // Over named non-batch axes, kept as axes of 1 (so the batch stays where it is).
        let axesAsInput = context.opset >= (node.opType == "ReduceSum" ? 13 : 18)
        let axes: [Int]? =
            if axesAsInput { if inputs.count > 1, case let .constant(c)? = inputs[1] { c.ints } else { nil } }
            else if node.hasAttr("axes") { try node.attr("axes", default: [Int]()) } else { nil }
        guard let axes, !axes.isEmpty, try node.attr("keepdims", default: 1) != 0 else {
            throw refuse("a reduction over every axis, or without keepdims,")
        }
        let mapped = try axes.map { try networkAxis($0, "a reduction") }
        if axesAsInput {
            operands[1] = .constant(ConstantTensor(shape: [mapped.count], ints: mapped.map { .known($0) }))
            rewritten.input[1] = "\(node.output[0])__networkAxes"
        } else {
            rewritten = node.setting("axes", to: mapped)
        }
    case "Expand":
        // To the same rank, never along the batch axis: the target in network coordinates.
        guard inputs.count > 1, case let .constant(target)? = inputs[1], target.count == rank else {
            throw refuse("an Expand to another rank")
        }
        let sizes = target.foldedInts.map { $0.nominal * ($0.value == nil ? context.nominalBatch : 1) }
        guard sizes[p.axis] == 1 || sizes[p.axis] == reference.shape[p.axis] else { throw refuse("an Expand along the batch axis") }
        var onnxTarget = sizes
        onnxTarget[p.axis] = reference.shape[p.axis]
        operands[1] = .constant(ConstantTensor(shape: [rank + 1], ints: [.batchSize] + p.sampleShape(onnxTarget).map { .known($0) }))
        rewritten.input[1] = "\(node.output[0])__networkShape"
    case "Shape":
        // The batch times the axis' other factors: reshapes that merge the batch (`B * windows`) fold.
        var dims: [FoldedInt] = reference.shape.map { .known($0) }
        dims[p.axis] = .batch(times: p.outer * p.inner)
        let start = try node.attr("start", default: 0), end = try node.attr("end", default: rank)
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
        let (from, to) = (clamp(start), max(clamp(start), clamp(end)))
        return [.constant(ConstantTensor(shape: [to - from], ints: Array(dims[from..<to])))]
    default:
        throw refuse("\(node.opType) is not supported on an activation")
    }
    let outputs = try importer(&context, rewritten, operands)
    let placement = BatchPlacement(axis: outputBatchAxis, outer: p.outer, inner: p.inner)
    for (name, value) in zip(node.output, outputs) where !name.isEmpty {
        guard case let .tensor(id) = value else { continue }
        context.place(name, PlacedShape(shape: placement.onnxShape(context.network[id].shape), placement: placement))
    }
    return outputs
}

/// The operands with every constant reshaped to broadcast against the network tensor of an activation of
/// rank `rank` with placement `p` (the same elements: only axes of 1 are inserted or dropped). A reshaped
/// constant gets its own name in `node`: the constant layer made for its ONNX name may serve other nodes.
private func alignedConstants(
    _ inputs: [ImportedValue?], _ p: BatchPlacement, _ rank: Int, _ refuse: (String) -> OctetError,
    _ node: inout Onnx_NodeProto
) throws -> [ImportedValue?] {
    try inputs.indices.map { index in
        guard case let .constant(c)? = inputs[index] else { return inputs[index] }
        guard let shape = p.constantShape(c.shape, rank: rank) else {
            throw refuse("a constant of shape \(c.shape) broadcast along the batch axis")
        }
        if shape != c.shape { node.input[index] += "__" + shape.map(String.init).joined(separator: "x") }
        return .constant(c.reshaped(shape))
    }
}

extension Onnx_NodeProto {
    /// A copy with the integer attribute `key` set to `value`.
    func setting(_ key: String, to value: Int) -> Onnx_NodeProto {
        setting(key) {
            $0.type = .int
            $0.i = Int64(value)
        }
    }

    /// A copy with the integer-list attribute `key` set to `values`.
    func setting(_ key: String, to values: [Int]) -> Onnx_NodeProto {
        setting(key) {
            $0.type = .ints
            $0.ints = values.map(Int64.init)
        }
    }

    private func setting(_ key: String, _ fill: (inout Onnx_AttributeProto) -> Void) -> Onnx_NodeProto {
        var copy = self
        copy.attribute.removeAll { $0.name == key }
        var attribute = Onnx_AttributeProto()
        attribute.name = key
        fill(&attribute)
        copy.attribute.append(attribute)
        return copy
    }
}
