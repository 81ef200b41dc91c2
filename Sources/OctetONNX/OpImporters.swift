import OctetCore

/// Imports one ONNX node: receives its inputs (nil for omitted optional inputs) and returns one value per
/// node output. Throws `unsupportedNode` naming what is not supported.
typealias OpImporter = @Sendable (inout ImportContext, Onnx_NodeProto, [ImportedValue?]) throws -> [ImportedValue]

/// Every supported ONNX op, in one table. To add an op: write its importer below, list it here, add a
/// reference kernel if it needs a new `LayerKind`, a test, and a row in docs/operators.md.
let opImporters: [String: OpImporter] = [
    // Compute layers
    "Conv": importConv,
    "Gemm": importGemm,
    "MatMul": importMatMul,
    "Einsum": importEinsum,
    "BatchNormalization": importBatchNormalization,
    "MaxPool": { try importPool(&$0, $1, $2, .max) },
    "AveragePool": { try importPool(&$0, $1, $2, .average) },
    "GlobalAveragePool": { try importGlobalPool(&$0, $1, $2, .average) },
    "GlobalMaxPool": { try importGlobalPool(&$0, $1, $2, .max) },
    "ReduceMean": { try importReduce(&$0, $1, $2, .mean) },
    "ReduceSum": { try importReduce(&$0, $1, $2, .sum) },
    "ReduceMax": { try importReduce(&$0, $1, $2, .max) },
    "ReduceMin": { try importReduce(&$0, $1, $2, .min) },
    "ReduceL2": { try importReduce(&$0, $1, $2, .sum, euclidean: true) },
    "LayerNormalization": importLayerNormalization,
    "Softmax": importSoftmax,
    "LRN": importLRN,
    // Activations
    "Relu": { try importActivation(&$0, $1, $2) { _ in .relu } },
    "Sigmoid": { try importActivation(&$0, $1, $2) { _ in .sigmoid } },
    "Tanh": { try importActivation(&$0, $1, $2) { _ in .tanh } },
    "Erf": { try importActivation(&$0, $1, $2) { _ in .erf } },
    "Gelu": importGelu,
    "Sqrt": { try importActivation(&$0, $1, $2) { _ in .sqrt } },
    "Exp": { try importActivation(&$0, $1, $2) { _ in .exp } },
    "Neg": { try importScalarOperation(&$0, $1, $2, .mul, -1, first: false) },
    "Reciprocal": { try importScalarOperation(&$0, $1, $2, .div, 1, first: true) },
    "HardSwish": { try importActivation(&$0, $1, $2) { _ in .hardSwish } },
    "LeakyRelu": { try importActivation(&$0, $1, $2) { .leakyRelu(alpha: try $0.attr("alpha", default: Float(0.01))) } },
    "HardSigmoid": {
        try importActivation(&$0, $1, $2) {
            .hardSigmoid(alpha: try $0.attr("alpha", default: Float(0.2)), beta: try $0.attr("beta", default: Float(0.5)))
        }
    },
    "Clip": importClip,
    "PRelu": importPRelu,
    // Elementwise
    "Add": { try importBinary(&$0, $1, $2, .add) },
    "Sub": { try importBinary(&$0, $1, $2, .sub) },
    "Mul": { try importBinary(&$0, $1, $2, .mul) },
    "Div": { try importBinary(&$0, $1, $2, .div) },
    "Pow": { try importBinary(&$0, $1, $2, .pow) },
    "Sum": { try importVariadic(&$0, $1, $2, .add) },
    "Max": { try importVariadic(&$0, $1, $2, .max) },
    "Min": { try importVariadic(&$0, $1, $2, .min) },
    // Data movement
    "Concat": importConcat,
    "Flatten": importFlatten,
    "Reshape": importReshape,
    "Squeeze": importSqueeze,
    "Unsqueeze": importUnsqueeze,
    "Transpose": importTranspose,
    "Slice": importSlice,
    "Split": importSplit,
    "Gather": importGather,
    "Identity": importIdentity,
    "Dropout": importDropout,
    "Pad": importPad,
    "Cast": importCast,
    // Explicit quantization (QDQ)
    "QuantizeLinear": importQuantizeLinear,
    "DequantizeLinear": importDequantizeLinear,
    // Values known at import time
    "Constant": importConstant,
    "ConstantOfShape": importConstantOfShape,
    "Shape": importShape,
    "Expand": importExpand,
    "Equal": importEqual,
    "Mod": importMod,
    "Not": importNot,
    "Where": importWhere,
    "Range": importRange,
    "ScatterND": importScatterND,
]

// MARK: - Input helpers

private func input(_ inputs: [ImportedValue?], _ index: Int, _ node: Onnx_NodeProto) throws -> ImportedValue {
    guard index < inputs.count, let value = inputs[index] else {
        throw node.unsupported("required input \(index) is missing")
    }
    return value
}

private func optionalInput(_ inputs: [ImportedValue?], _ index: Int) -> ImportedValue? {
    index < inputs.count ? inputs[index] : nil
}

/// An input that must be known at import time (weights, shapes, axes).
private func constant(_ inputs: [ImportedValue?], _ index: Int, _ node: Onnx_NodeProto, _ what: String) throws
    -> ConstantTensor
{
    guard case let .constant(c) = try input(inputs, index, node) else {
        throw node.unsupported("\(what) (input \(index)) must be a constant initializer, not computed at run time")
    }
    return c
}

private func optionalConstant(_ inputs: [ImportedValue?], _ index: Int, _ node: Onnx_NodeProto, _ what: String) throws
    -> ConstantTensor?
{
    guard optionalInput(inputs, index) != nil else { return nil }
    return try constant(inputs, index, node, what)
}

private func knownInts(_ c: ConstantTensor, _ node: Onnx_NodeProto, _ what: String) throws -> [Int] {
    guard let v = c.ints else { throw node.unsupported("\(what) depends on the batch size") }
    return v
}

private func floats(_ c: ConstantTensor, _ node: Onnx_NodeProto, _ what: String) throws -> [Float] {
    guard let v = c.floats else { throw node.unsupported("\(what) depends on the batch size") }
    return v
}

/// The node's input `index` as a network tensor (a constant becomes a `Constant` layer).
private func tensorInput(_ context: inout ImportContext, _ inputs: [ImportedValue?], _ index: Int, _ node: Onnx_NodeProto)
    throws -> TensorID
{
    try context.tensor(try input(inputs, index, node), name: node.input[index])
}

/// Normalizes a possibly negative axis against `rank`.
private func normalizedAxis(_ axis: Int, rank: Int, _ node: Onnx_NodeProto) throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < rank else { throw node.unsupported("axis \(axis) is out of range for rank \(rank)") }
    return a
}

/// Refuses a value computed at import time with more than `Limits.maxFoldedElements` elements (nil: overflow).
private func checkFolded(_ count: Int?, _ node: Onnx_NodeProto) throws {
    guard let count, count <= Limits.maxFoldedElements else {
        throw node.unsupported("the value computed at import would have more than 2^26 elements")
    }
}

/// Rejects data movement across the batch axis, which would tie samples together.
private func requireNotBatch(_ axis: Int, _ node: Onnx_NodeProto, _ what: String) throws {
    if axis == 0 { throw node.unsupported("\(what) along axis 0 (the batch axis) is not supported") }
}

// MARK: - Convolution, pooling, fully connected

/// Explicit `[begin, end]` padding for two spatial axes from `pads` or `auto_pad`.
private func spatialPadding(
    _ node: Onnx_NodeProto, input: [Int], kernel: [Int], strides: [Int], dilations: [Int]
) throws -> (begin: [Int], end: [Int]) {
    let autoPad = try node.attr("auto_pad", default: "NOTSET")
    switch autoPad {
    case "NOTSET":
        let pads = try node.attr("pads", default: [0, 0, 0, 0])
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 <= Limits.maxSpatialParameter }) else {
            throw node.unsupported("pads \(pads) must be four values in 0…2^20 for 2-D")
        }
        return ([pads[0], pads[1]], [pads[2], pads[3]])
    case "VALID":
        return ([0, 0], [0, 0])
    case "SAME_UPPER", "SAME_LOWER":
        guard kernel.count == 2, input.count == 2, kernel.allSatisfy({ $0 >= 1 && $0 <= Limits.maxSpatialParameter }) else {
            throw node.unsupported("kernel \(kernel) must be two values in 1…2^20")
        }
        var begin = [0, 0], end = [0, 0]
        for axis in 0..<2 {
            let out = (input[axis] + strides[axis] - 1) / strides[axis]
            let window = (kernel[axis] - 1) * dilations[axis] + 1
            let total = max(0, (out - 1) * strides[axis] + window - input[axis])
            begin[axis] = autoPad == "SAME_UPPER" ? total / 2 : (total + 1) / 2
            end[axis] = total - begin[axis]
        }
        return (begin, end)
    default:
        throw node.unsupported("auto_pad '\(autoPad)' is not supported")
    }
}

private func twoInts(_ node: Onnx_NodeProto, _ key: String, default value: [Int], positive: Bool = true) throws -> [Int] {
    let v = try node.attr(key, default: value)
    guard v.count == 2, !positive || v.allSatisfy({ $0 > 0 }) else {
        throw node.unsupported("\(key) \(v) must be two positive values (only 2-D is supported)")
    }
    guard v.allSatisfy({ $0 <= Limits.maxSpatialParameter }) else {
        throw node.unsupported("\(key) \(v) exceeds 2^20, Octet's limit for window parameters")
    }
    return v
}

private func importConv(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let x = try tensorInput(&context, inputs, 0, node)
    let w = try constant(inputs, 1, node, "the weight tensor")
    guard w.shape.count == 4 else {
        throw node.unsupported("only 2-D convolution is supported; the weights have shape \(w.shape)")
    }
    let kernel = Array(w.shape[2...])
    if node.hasAttr("kernel_shape") {
        let declared = try node.attr("kernel_shape", default: kernel)
        guard declared == kernel else { throw node.unsupported("kernel_shape \(declared) does not match the weights \(w.shape)") }
    }
    let bias = try optionalConstant(inputs, 2, node, "the bias")
    if let bias, bias.count != w.shape[0] {
        throw node.unsupported("the bias has \(bias.count) values for \(w.shape[0]) output channels")
    }
    let strides = try twoInts(node, "strides", default: [1, 1])
    let dilations = try twoInts(node, "dilations", default: [1, 1])
    let group = try node.attr("group", default: 1)
    guard group >= 1, group <= w.shape[0] else { throw node.unsupported("group \(group) must be in 1…\(w.shape[0]) (the output channels)") }
    let shape = context.network[x].shape
    guard shape.count == 4 else { throw node.unsupported("the input must be NCHW, got shape \(shape)") }
    let pads = try spatialPadding(node, input: Array(shape[2...]), kernel: kernel, strides: strides, dilations: dilations)
    let p = ConvolutionParameters(
        weights: Weights(shape: w.shape, values: try floats(w, node, "weights")),
        bias: try bias.map { Weights(shape: [$0.count], values: try floats($0, node, "bias")) },
        strides: strides, dilations: dilations, padsBegin: pads.begin, padsEnd: pads.end, groups: group)
    return try context.addLayer(node, .convolution(p), inputs: [x])
}

private func importPool(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], _ kind: PoolingKind
) throws -> [ImportedValue] {
    if node.output.count > 1, !node.output[1].isEmpty {
        throw node.unsupported("the Indices output is not supported")
    }
    if try node.attr("storage_order", default: 0) != 0 { throw node.unsupported("storage_order 1 is not supported") }
    let x = try tensorInput(&context, inputs, 0, node)
    let shape = context.network[x].shape
    guard shape.count == 4 else { throw node.unsupported("only 2-D pooling on NCHW is supported, input shape \(shape)") }
    guard node.hasAttr("kernel_shape") else { throw node.unsupported("kernel_shape is required") }
    let kernel = try twoInts(node, "kernel_shape", default: [])
    let strides = try twoInts(node, "strides", default: [1, 1])
    let dilations = try twoInts(node, "dilations", default: [1, 1])
    let pads = try spatialPadding(node, input: Array(shape[2...]), kernel: kernel, strides: strides, dilations: dilations)
    let p = PoolingParameters(
        kind: kind, kernel: kernel, strides: strides, dilations: dilations, padsBegin: pads.begin, padsEnd: pads.end,
        ceilMode: try node.attr("ceil_mode", default: 0) != 0,
        countIncludePad: try node.attr("count_include_pad", default: 0) != 0)
    return try context.addLayer(node, .pooling(p), inputs: [x])
}

private func importGlobalPool(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], _ kind: PoolingKind
) throws -> [ImportedValue] {
    let x = try tensorInput(&context, inputs, 0, node)
    return try context.addLayer(node, .pooling(.global(kind)), inputs: [x])
}

/// Reduce{Mean,Sum,Max,Min} over non-batch axes: a mean or max over the spatial axes [2, 3] of an NCHW tensor is
/// global pooling (native kernels); anything else a `reduce` layer. `keepdims=0` adds a reshape. ReduceL2
/// (`euclidean`, Swin V2's normalized attention) is the square root of the sum of squares.
private func importReduce(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], _ operation: ReduceOperation,
    euclidean: Bool = false
) throws -> [ImportedValue] {
    let x = try tensorInput(&context, inputs, 0, node)
    let shape = context.network[x].shape
    // Axes became an input in opset 18 (ReduceSum already in 13).
    let axesAsInput = context.opset >= (operation == .sum && !euclidean ? 13 : 18)
    let axesValue: [Int]? =
        if axesAsInput { try optionalConstant(inputs, 1, node, "axes").map { try knownInts($0, node, "axes") } }
        else if node.hasAttr("axes") { try node.attr("axes", default: [Int]()) } else { nil }
    if axesValue?.isEmpty ?? false, try node.attr("noop_with_empty_axes", default: 0) != 0 {
        return try context.addLayer(node, .identity, inputs: [x])
    }
    let axes = Set(try (axesValue.flatMap { $0.isEmpty ? nil : $0 } ?? Array(0..<shape.count)).map { try normalizedAxis($0, rank: shape.count, node) })
    try requireNotBatch(axes.contains(0) ? 0 : 1, node, "a reduction")
    let keepDims = try node.attr("keepdims", default: 1) != 0
    let kind: LayerKind =
        switch operation {
        case .mean where shape.count == 4 && axes == [2, 3]: .pooling(.global(.average))
        case .max where shape.count == 4 && axes == [2, 3]: .pooling(.global(.max))
        case .mean, .sum, .max, .min: .reduce(ReduceParameters(operation: operation, axes: axes.sorted()))
        }
    let reduced: TensorID
    if euclidean {
        let squared = try context.addInternalLayer(node, "squared", .elementwise(.mul), inputs: [x, x])
        let sum = try context.addInternalLayer(node, "sumOfSquares", kind, inputs: [squared])
        if keepDims { return try context.addLayer(node, .activation(.sqrt), inputs: [sum]) }
        reduced = try context.addInternalLayer(node, "reduced", .activation(.sqrt), inputs: [sum])
    } else {
        if keepDims { return try context.addLayer(node, kind, inputs: [x]) }
        reduced = try context.addInternalLayer(node, "reduced", kind, inputs: [x])
    }
    let kept = shape.indices.filter { $0 != 0 && !axes.contains($0) }.map { shape[$0] }
    return try context.addLayer(node, .reshape(sampleShape: kept), inputs: [reduced], layerName: node.displayName + "__squeeze")
}

/// LayerNormalization (opset 17) lowered onto primitive layers over the axes from `axis` on:
/// `d = x − mean(x)`, `y = d / √(mean(d²) + ε) · scale + B`. The decomposed form exporters also write
/// (ReduceMean, Sub, Pow, Add, Sqrt, Div) imports op by op onto the same layers.
private func importLayerNormalization(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?])
    throws -> [ImportedValue]
{
    if node.output.dropFirst().contains(where: { !$0.isEmpty }) {
        throw node.unsupported("the Mean and InvStdDev outputs are not supported")
    }
    let stash = try node.attr("stash_type", default: 1)
    guard stash == 1 else { throw node.unsupported("stash_type \(stash) is not float32") }
    let x = try tensorInput(&context, inputs, 0, node)
    let shape = context.network[x].shape
    let axis = try normalizedAxis(try node.attr("axis", default: -1), rank: shape.count, node)
    try requireNotBatch(axis, node, "normalization")
    let epsilon = try node.attr("epsilon", default: Float(1e-5))
    let axes = ReduceParameters(operation: .mean, axes: Array(axis..<shape.count))
    let mean = try context.addInternalLayer(node, "mean", .reduce(axes), inputs: [x])
    let centered = try context.addInternalLayer(node, "centered", .elementwise(.sub), inputs: [x, mean])
    let squared = try context.addInternalLayer(node, "squared", .elementwise(.mul), inputs: [centered, centered])
    let variance = try context.addInternalLayer(node, "variance", .reduce(axes), inputs: [squared])
    let eps = try context.scalarTensor(epsilon, node, "epsilon")
    let shifted = try context.addInternalLayer(node, "shifted", .elementwise(.add), inputs: [variance, eps])
    let deviation = try context.addInternalLayer(node, "deviation", .activation(.sqrt), inputs: [shifted])
    let normalized = try context.addInternalLayer(node, "normalized", .elementwise(.div), inputs: [centered, deviation])
    let scale = try tensorInput(&context, inputs, 1, node)
    let output: [ImportedValue]
    if optionalInput(inputs, 2) != nil {
        let scaled = try context.addInternalLayer(node, "scaled", .elementwise(.mul), inputs: [normalized, scale])
        let bias = try tensorInput(&context, inputs, 2, node)
        output = try context.addLayer(node, .elementwise(.add), inputs: [scaled, bias])
    } else {
        output = try context.addLayer(node, .elementwise(.mul), inputs: [normalized, scale])
    }
    // As TensorRT does, the normalization stays FP32 between INT8 layers (its subtraction and products would
    // otherwise take INT8 arithmetic from calibrated ranges); the build report says "precision set to FP32".
    for index in context.network.layers.indices where context.network.layers[index].origin == [node.displayName] {
        context.network.layers[index].precision = .float32
    }
    // So does the residual sum it reads (docs/int8-accuracy.md, "ViT"): one per-tensor scale over a sum whose rows
    // differ by orders of magnitude rounds the small rows away (ViT's class token, ~0.02 beside patch tokens
    // up to ~7, becomes zero), and TensorRT deployments quantize only the GEMM and attention MatMul inputs.
    // Not a fully connected layer's bias Add (Swin V2's post-norm blocks normalize a Linear's output): it folds into
    // the layer, which would take the pin with it and run in FP32. A sum with another constant (ViT's position
    // embedding added to the class token) is pinned like a residual sum.
    let producers = context.network.producers()
    if let producer = producers[x], case .elementwise = context.network.layers[producer].kind,
       context.network.biasAddOperands(of: context.network.layers[producer], producers: producers) == nil {
        context.network.layers[producer].precision = .float32
    }
    return output
}

private func importGemm(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    if try node.attr("transA", default: 0) != 0 { throw node.unsupported("transA=1 is not supported") }
    let a = try tensorInput(&context, inputs, 0, node)
    // A's ONNX shape: with the batch merged into its rows (`BatchPlacement`), the network tensor has rank 3.
    let aShape = context.placed(node.input[0], try input(inputs, 0, node)).shape
    guard aShape.count == 2 else { throw node.unsupported("input A must be 2-D, got \(aShape)") }
    let b = try constant(inputs, 1, node, "B")
    guard b.shape.count == 2 else { throw node.unsupported("B must be 2-D, got \(b.shape)") }
    let transB = try node.attr("transB", default: 0) != 0
    let alpha = try node.attr("alpha", default: Float(1))
    let beta = try node.attr("beta", default: Float(1))
    let bValues = try floats(b, node, "B")
    let (k, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    var weights = [Float](repeating: 0, count: n * k)
    for j in 0..<n {
        for i in 0..<k { weights[j * k + i] = alpha * (transB ? bValues[j * k + i] : bValues[i * n + j]) }
    }
    var bias: Weights?
    if let c = try optionalConstant(inputs, 2, node, "C") {
        let values = try floats(c, node, "C")
        guard values.count == 1 || (values.count == n && c.shape.last == n) else {
            throw node.unsupported("C with shape \(c.shape) is not a per-output bias for \(n) outputs")
        }
        bias = Weights(shape: [n], values: values.count == 1 ? Array(repeating: beta * values[0], count: n) : values.map { beta * $0 })
    }
    let p = FullyConnectedParameters(weights: Weights(shape: [n, k], values: weights), bias: bias)
    return try context.addLayer(node, .fullyConnected(p), inputs: [a])
}

/// MatMul by a constant 2-D matrix is a fully connected layer over the last axis; any other MatMul (two
/// activations, as in attention, or a constant of rank above 2) a `matrixMultiply` with NumPy broadcasting.
private func importMatMul(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let (aValue, bValue) = (try input(inputs, 0, node), try input(inputs, 1, node))
    let (aShape, bShape) = (context.shape(aValue), context.shape(bValue))
    guard aShape.count >= 2, bShape.count >= 2 else {
        throw node.unsupported("operands of rank 1 (\(aShape), \(bShape)) are not supported")
    }
    if case .tensor = aValue, case let .constant(b) = bValue, b.shape.count == 2 {
        let a = try tensorInput(&context, inputs, 0, node)
        let (k, n) = (b.shape[0], b.shape[1])
        let bValues = try floats(b, node, "B")
        var weights = [Float](repeating: 0, count: n * k)
        for j in 0..<n { for i in 0..<k { weights[j * k + i] = bValues[i * n + j] } }
        let p = FullyConnectedParameters(weights: Weights(shape: [n, k], values: weights), bias: nil)
        return try context.addLayer(node, .fullyConnected(p), inputs: [a])
    }
    // The output's axis 0 must be an activation's batch axis: a constant operand may not have a higher rank.
    let activationRank = [(aValue, aShape), (bValue, bShape)].compactMap { value, shape -> Int? in
        if case .tensor = value { shape.count } else { nil }
    }.max()
    guard let activationRank else { throw node.unsupported("MatMul of two constants is not supported") }
    guard max(aShape.count, bShape.count) == activationRank else {
        throw node.unsupported("a constant operand of rank above the activation's (\(aShape), \(bShape)) would broadcast over the batch axis")
    }
    let a = try tensorInput(&context, inputs, 0, node)
    let b = try tensorInput(&context, inputs, 1, node)
    return try context.addLayer(node, .matrixMultiply, inputs: [a, b])
}

/// Einsum of two activations that is a batched matrix product — every letter in both inputs and the output
/// (batch), in both inputs only (summed), or in one input and the output — lowered onto transposes, reshapes
/// and one `matrixMultiply`. The batch axis must be the first letter of both inputs and of the output.
private func importEinsum(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let equation = try node.attr("equation", default: "").filter { !$0.isWhitespace }
    let sides = equation.components(separatedBy: "->")
    let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(Array.init)
    guard sides.count == 2, terms.count == 2, inputs.count == 2, !equation.contains(".") else {
        throw node.unsupported("equation '\(equation)': only two operands with an explicit output and no ellipsis are supported")
    }
    let (termA, termB, output) = (terms[0], terms[1], Array(sides[1]))
    guard [termA, termB, output].allSatisfy({ Set($0).count == $0.count && $0.allSatisfy(\.isLetter) }) else {
        throw node.unsupported("equation '\(equation)': repeated letters in one term (diagonals) are not supported")
    }
    let a = try tensorInput(&context, inputs, 0, node), b = try tensorInput(&context, inputs, 1, node)
    let (shapeA, shapeB) = (context.network[a].shape, context.network[b].shape)
    guard termA.count == shapeA.count, termB.count == shapeB.count else {
        throw node.unsupported("equation '\(equation)' does not match the ranks of \(shapeA) and \(shapeB)")
    }
    var size: [Character: Int] = [:]
    for (term, shape) in [(termA, shapeA), (termB, shapeB)] {
        for (letter, dim) in zip(term, shape) {
            if let known = size[letter], known != dim { throw node.unsupported("letter \(letter) has sizes \(known) and \(dim)") }
            size[letter] = dim
        }
    }
    let batch = output.filter { termA.contains($0) && termB.contains($0) }
    let freeA = output.filter { termA.contains($0) && !termB.contains($0) }
    let freeB = output.filter { termB.contains($0) && !termA.contains($0) }
    let summed = termA.filter { termB.contains($0) && !output.contains($0) }
    guard output.allSatisfy({ termA.contains($0) || termB.contains($0) }),
          termA.allSatisfy({ output.contains($0) || termB.contains($0) }), termB.allSatisfy({ output.contains($0) || termA.contains($0) }),
          let first = output.first, termA.first == first, termB.first == first
    else { throw node.unsupported("equation '\(equation)' is not a batched matrix product over the batch axis") }
    func dims(_ letters: [Character]) -> [Int] { letters.map { size[$0] ?? 1 } }
    func arrange(_ x: TensorID, _ term: [Character], _ order: [Character], _ suffix: String) throws -> TensorID {
        let permutation = order.compactMap { term.firstIndex(of: $0) }
        if permutation == Array(term.indices) { return x }
        return try context.addInternalLayer(node, suffix, .transpose(permutation: permutation), inputs: [x])
    }
    func reshape(_ x: TensorID, _ shape: [Int], _ suffix: String) throws -> TensorID {
        if context.network[x].shape == shape { return x }
        return try context.addInternalLayer(node, suffix, .reshape(sampleShape: Array(shape.dropFirst())), inputs: [x])
    }
    let (rows, inner, columns) = (dims(freeA).reduce(1, *), dims(summed).reduce(1, *), dims(freeB).reduce(1, *))
    let left = try reshape(try arrange(a, termA, batch + freeA + summed, "transposeA"), dims(batch) + [rows, inner], "matrixA")
    let right = try reshape(try arrange(b, termB, batch + summed + freeB, "transposeB"), dims(batch) + [inner, columns], "matrixB")
    let product = try context.addInternalLayer(node, "product", .matrixMultiply, inputs: [left, right])
    let unfolded = try reshape(product, dims(batch + freeA + freeB), "unfold")
    let order = batch + freeA + freeB
    let permutation = output.compactMap { order.firstIndex(of: $0) }
    if permutation == Array(order.indices) { return try context.addLayer(node, .identity, inputs: [unfolded]) }
    return try context.addLayer(node, .transpose(permutation: permutation), inputs: [unfolded])
}

/// Inference-mode BatchNormalization becomes a per-channel Scale layer (the builder later folds it into the
/// convolution that feeds it).
private func importBatchNormalization(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]
) throws -> [ImportedValue] {
    if node.output.dropFirst().contains(where: { !$0.isEmpty }) {
        throw node.unsupported("training-mode outputs (running mean/variance) are not supported")
    }
    if try node.attr("spatial", default: 1) != 1 { throw node.unsupported("spatial=0 is not supported") }
    if try node.attr("training_mode", default: 0) != 0 { throw node.unsupported("training_mode=1 is not supported") }
    // Opsets before 7 default to training (is_test=0); consumed_inputs (before 6) is a memory hint with no meaning here.
    if context.opset < 7, try node.attr("is_test", default: 0) == 0 {
        throw node.unsupported("is_test=0 asks for training-mode batch statistics (opset \(context.opset)); only inference is supported")
    }
    let x = try tensorInput(&context, inputs, 0, node)
    let names = ["scale", "B", "mean", "var"]
    let params = try (1...4).map { try floats(try constant(inputs, $0, node, names[$0 - 1]), node, names[$0 - 1]) }
    let epsilon = try node.attr("epsilon", default: Float(1e-5))
    let channels = params[0].count
    guard params.allSatisfy({ $0.count == channels }) else { throw node.unsupported("scale, B, mean and var differ in length") }
    var scale = [Float](repeating: 0, count: channels), shift = scale
    for c in 0..<channels {
        scale[c] = params[0][c] / (params[3][c] + epsilon).squareRoot()
        shift[c] = params[1][c] - params[2][c] * scale[c]
    }
    return try context.addLayer(node, .scale(ScaleParameters(scale: scale, shift: shift)), inputs: [x])
}

private func importSoftmax(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let x = try tensorInput(&context, inputs, 0, node)
    let rank = context.network[x].shape.count
    let axis = try normalizedAxis(try node.attr("axis", default: context.opset >= 13 ? -1 : 1), rank: rank, node)
    try requireNotBatch(axis, node, "Softmax")
    return try context.addLayer(node, .softmax(axis: axis, coerced2D: context.opset < 13), inputs: [x])
}

/// LRN as ONNX defines it, `y = x / (bias + alpha / size · Σ x²)^beta` with the sum over the channels
/// `c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉`, lowered onto primitive layers: the square (`x · x`), the windowed
/// channel sum as a 1×1 convolution whose band matrix holds `alpha / size` (its bias holds `bias`), the power
/// and the division. Every one has a native kernel.
private func importLRN(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let x = try tensorInput(&context, inputs, 0, node)
    let shape = context.network[x].shape
    guard shape.count == 4 else { throw node.unsupported("only NCHW (rank 4) input is supported, got \(shape)") }
    guard node.hasAttr("size") else { throw node.unsupported("attribute size is required") }
    let size = try node.attr("size", default: 1)
    let channels = shape[1]
    guard size >= 1, size <= Limits.maxSpatialParameter else { throw node.unsupported("size \(size) must be in 1…2^20") }
    guard channels * channels <= Limits.maxFoldedElements else {
        throw node.unsupported("\(channels) channels exceed the 8192 its channel-window matrix allows")
    }
    let alpha = try node.attr("alpha", default: Float(0.0001))
    let beta = try node.attr("beta", default: Float(0.75))
    let bias = try node.attr("bias", default: Float(1))
    let (below, above) = ((size - 1) / 2, size / 2)
    var band = [Float](repeating: 0, count: channels * channels)
    for c in 0..<channels {
        for source in max(0, c - below)...min(channels - 1, c + above) { band[c * channels + source] = alpha / Float(size) }
    }
    let windowSum = ConvolutionParameters(
        weights: Weights(shape: [channels, channels, 1, 1], values: band),
        bias: Weights(shape: [channels], values: Array(repeating: bias, count: channels)))
    let square = try context.addInternalLayer(node, "square", .elementwise(.mul), inputs: [x, x])
    let denominatorBase = try context.addInternalLayer(node, "windowSum", .convolution(windowSum), inputs: [square])
    let exponent = try context.scalarTensor(beta, node, "beta")
    let denominator = try context.addInternalLayer(node, "power", .elementwise(.pow), inputs: [denominatorBase, exponent])
    return try context.addLayer(node, .elementwise(.div), inputs: [x, denominator])
}

// MARK: - Activations and elementwise

private func importActivation(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?],
    _ make: (Onnx_NodeProto) throws -> Activation
) throws -> [ImportedValue] {
    let x = try tensorInput(&context, inputs, 0, node)
    return try context.addLayer(node, .activation(try make(node)), inputs: [x])
}

private func importClip(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    var lo = -Float.greatestFiniteMagnitude, hi = Float.greatestFiniteMagnitude
    if context.opset < 11 {
        lo = try node.attr("min", default: lo)
        hi = try node.attr("max", default: hi)
    } else {
        for (index, name) in [(1, "min"), (2, "max")] {
            guard let c = try optionalConstant(inputs, index, node, name) else { continue }
            guard let v = c.floats, v.count == 1 else { throw node.unsupported("\(name) must be a scalar") }
            if index == 1 { lo = v[0] } else { hi = v[0] }
        }
    }
    let x = try tensorInput(&context, inputs, 0, node)
    if lo == 0, hi == .greatestFiniteMagnitude { return try context.addLayer(node, .activation(.relu), inputs: [x]) }
    return try context.addLayer(node, .activation(.clip(min: lo, max: hi)), inputs: [x])
}

/// PRelu `y = x < 0 ? slope · x : x`: a one-element slope is LeakyRelu; otherwise `max(x, 0) + slope · min(x, 0)`,
/// with the product a per-channel Scale when the slope varies along axis 1 only (`[C, 1, 1]`, as PyTorch
/// exports it), an elementwise product with the broadcast slope otherwise.
private func importPRelu(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let x = try tensorInput(&context, inputs, 0, node)
    let slope = try constant(inputs, 1, node, "the slope")
    let values = try floats(slope, node, "the slope")
    if values.count == 1 { return try context.addLayer(node, .activation(.leakyRelu(alpha: values[0])), inputs: [x]) }
    let shape = context.network[x].shape
    guard slope.shape.count <= shape.count, (try? broadcastShapes(shape, slope.shape)) == shape else {
        throw node.unsupported("the slope of shape \(slope.shape) does not broadcast onto the input \(shape)")
    }
    let aligned = Array(repeating: 1, count: shape.count - slope.shape.count) + slope.shape
    let positive = try context.addInternalLayer(node, "positive", .activation(.relu), inputs: [x])
    let zero = try context.scalarTensor(0, node, "zero")
    let negative = try context.addInternalLayer(node, "negative", .elementwise(.min), inputs: [x, zero])
    let scaled: TensorID
    if shape.count >= 2, aligned.enumerated().allSatisfy({ $0.offset == 1 || $0.element == 1 }) {
        let p = ScaleParameters(scale: values, shift: Array(repeating: 0, count: values.count))
        scaled = try context.addInternalLayer(node, "scaled", .scale(p), inputs: [negative])
    } else {
        let slopeTensor = try tensorInput(&context, inputs, 1, node)
        scaled = try context.addInternalLayer(node, "scaled", .elementwise(.mul), inputs: [negative, slopeTensor])
    }
    return try context.addLayer(node, .elementwise(.add), inputs: [positive, scaled])
}

/// Gelu (opset 20): `approximate` "none" (erf) or "tanh".
private func importGelu(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let approximate = try node.attr("approximate", default: "none")
    guard approximate == "none" || approximate == "tanh" else { throw node.unsupported("approximate '\(approximate)' is not supported") }
    return try importActivation(&context, node, inputs) { _ in .gelu(tanhApproximation: approximate == "tanh") }
}

/// A unary op that is a binary operation with a constant: Neg is `x · −1`, Reciprocal `1 / x` (the same IEEE
/// results), run by the native scalar-operand kernels.
private func importScalarOperation(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], _ op: ElementwiseOperation,
    _ value: Float, first: Bool
) throws -> [ImportedValue] {
    let x = try tensorInput(&context, inputs, 0, node)
    let constant = try context.scalarTensor(value, node, "constant")
    return try context.addLayer(node, .elementwise(op), inputs: first ? [constant, x] : [x, constant])
}

/// Integer arithmetic on folded shape values (`Mul`, `Div`, … in shape subgraphs). A multiple of the batch
/// stays symbolic through products and exact quotients (`bsz * num_heads`, `B * windows / windows`); sums and
/// other operations on it depend on the batch size.
private func foldInts(_ a: ConstantTensor, _ b: ConstantTensor, _ op: ElementwiseOperation, _ node: Onnx_NodeProto)
    throws -> ConstantTensor?
{
    guard a.isInteger, b.isInteger else { return nil }
    let (x, y) = (a.foldedInts, b.foldedInts)
    // NumPy broadcasting (Swin's index grids add a column [n, 1] to a row [n]).
    guard let shape = try? broadcastShapes(a.shape, b.shape) else { return nil }
    try checkFolded(Limits.product(shape), node)
    let (ia, ib) = (ConstantFolding.broadcastIndices(a.shape, to: shape), ConstantFolding.broadcastIndices(b.shape, to: shape))
    let values = try zip(ia, ib).map { i, j -> FoldedInt in
        switch (x[i], y[j]) {
        case let (.known(l), .known(r)): return .known(try foldKnown(l, r, op, node))
        case let (.batch(k), .known(r)) where op == .mul, let (.known(r), .batch(k)) where op == .mul:
            return .batch(times: try foldKnown(k, r, .mul, node))
        case let (.batch(k), .known(r)) where op == .div && r > 0 && k % r == 0: return .batch(times: k / r)
        case let (.batch(k), .batch(l)) where op == .div && k % l == 0: return .known(k / l)
        default: throw node.unsupported("integer arithmetic on shape values that depend on the batch size is not supported")
        }
    }
    return ConstantTensor(shape: shape, ints: values)
}

/// One integer operation of `foldInts`, refusing overflow and division by zero.
private func foldKnown(_ l: Int, _ r: Int, _ op: ElementwiseOperation, _ node: Onnx_NodeProto) throws -> Int {
    let result: (partialValue: Int, overflow: Bool)
    switch op {
    case .add: result = l.addingReportingOverflow(r)
    case .sub: result = l.subtractingReportingOverflow(r)
    case .mul: result = l.multipliedReportingOverflow(by: r)
    case .div:
        guard r != 0 else { throw node.unsupported("integer division by zero") }
        result = l.dividedReportingOverflow(by: r)
    case .max: result = (max(l, r), false)
    case .min: result = (min(l, r), false)
    case .pow:
        guard r >= 0 else { throw node.unsupported("integer Pow with the negative exponent \(r)") }
        // 0, 1 and -1 never overflow: answer them directly, or a huge exponent would loop for ages.
        if l == 0 || l == 1 || l == -1 {
            result = (r == 0 ? 1 : (l == -1 && r % 2 == 0 ? 1 : l), false)
        } else {
            // |l| >= 2 overflows within 63 factors, so this loop is short whatever r is.
            var power = 1, overflow = false, remaining = r
            while remaining > 0, !overflow {
                (power, overflow) = power.multipliedReportingOverflow(by: l)
                remaining -= 1
            }
            result = (power, overflow)
        }
    }
    guard !result.overflow else { throw node.unsupported("integer \(op) of \(l) and \(r) overflows 64 bits") }
    return result.partialValue
}

private func importBinary(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], _ op: ElementwiseOperation
) throws -> [ImportedValue] {
    guard inputs.count == 2 else { throw node.unsupported("expects 2 inputs, got \(inputs.count)") }
    let inputs = try legacyBroadcastOperands(&context, node, inputs)
    if case let .constant(a)? = inputs[0], case let .constant(b)? = inputs[1] {
        if let folded = try foldInts(a, b, op, node) { return [.constant(folded)] }
        if a.isInteger || b.isInteger {
            throw node.unsupported("integer arithmetic on shape values that depend on the batch size is not supported")
        }
    }
    let a = try tensorInput(&context, inputs, 0, node)
    let b = try tensorInput(&context, inputs, 1, node)
    return try context.addLayer(node, .elementwise(op), inputs: [a, b])
}

/// Before opset 7, binary ops broadcast only with `broadcast=1`, aligning B's axes with A's from `axis` on (by
/// default B's shape is a suffix of A's); without it the shapes must be equal. Returns the operands with B
/// reshaped (trailing axes of 1) so NumPy broadcasting gives the same result.
private func legacyBroadcastOperands(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?])
    throws -> [ImportedValue?]
{
    guard context.opset < 7 else { return inputs }
    let (a, b) = (try input(inputs, 0, node), try input(inputs, 1, node))
    let (shapeA, shapeB) = (context.shape(a), context.shape(b))
    guard try node.attr("broadcast", default: 0) != 0 else {
        guard shapeA == shapeB else {
            throw node.unsupported("shapes \(shapeA) and \(shapeB) differ without broadcast=1 (opset \(context.opset) broadcasts only when asked)")
        }
        return inputs
    }
    let axis = node.hasAttr("axis") ? try normalizedAxis(try node.attr("axis", default: 0), rank: max(shapeA.count, 1), node)
        : shapeA.count - shapeB.count
    guard axis >= 0, axis + shapeB.count <= shapeA.count,
          zip(shapeA[axis...], shapeB).allSatisfy({ $0 == $1 || $1 == 1 })
    else { throw node.unsupported("B of shape \(shapeB) does not broadcast onto A of shape \(shapeA) from axis \(axis)") }
    let target = shapeB + Array(repeating: 1, count: shapeA.count - axis - shapeB.count)
    if target == shapeB { return inputs }
    switch b {
    case let .constant(c):
        return [a, .constant(c.reshaped(target))]
    case let .tensor(id):
        guard axis == 0 else { throw node.unsupported("broadcasting an activation B from axis \(axis) is not supported") }
        let reshaped = try context.addInternalLayer(node, "broadcastB", .reshape(sampleShape: Array(target.dropFirst())), inputs: [id])
        return [a, .tensor(reshaped)]
    }
}

/// `Sum`, `Max`, `Min` of any number of inputs: a chain of binary layers; the last one carries the node's
/// output name.
private func importVariadic(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], _ op: ElementwiseOperation
) throws -> [ImportedValue] {
    guard !inputs.isEmpty else { throw node.unsupported("needs at least one input") }
    var accumulator = try tensorInput(&context, inputs, 0, node)
    if inputs.count == 1 { return try context.addLayer(node, .identity, inputs: [accumulator]) }
    for index in 1..<inputs.count {
        let next = try tensorInput(&context, inputs, index, node)
        let isLast = index == inputs.count - 1
        let outputName = isLast ? node.output[0] : "\(node.output[0])__partial\(index)"
        let layerName = isLast ? node.displayName : "\(node.displayName)__partial\(index)"
        guard case let .tensor(id) = try context.addLayer(
            node, .elementwise(op), inputs: [accumulator, next], outputs: [outputName], layerName: layerName)[0]
        else { break }
        accumulator = id
    }
    return [.tensor(accumulator)]
}

// MARK: - Data movement

/// Concatenates constants along `axis` (generic over element type).
private func concatenateConstants(_ parts: [ConstantTensor], axis: Int) -> ConstantTensor {
    var shape = parts[0].shape
    shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
    let outer = shape[..<axis].reduce(1, *)
    var indices: [(part: Int, index: Int)] = []
    for o in 0..<outer {
        for (p, part) in parts.enumerated() {
            let block = part.shape[axis...].reduce(1, *)
            for i in 0..<block { indices.append((p, o * block + i)) }
        }
    }
    if parts.allSatisfy(\.isInteger) {
        let ints = parts.map(\.foldedInts)
        return ConstantTensor(shape: shape, ints: indices.map { ints[$0.part][$0.index] })
    }
    let floats = parts.map { $0.floats ?? [] }
    return ConstantTensor(shape: shape, floats: indices.map { floats[$0.part][$0.index] })
}

private func importConcat(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    // Concat-1 (before opset 4) defaults to axis 1; later opsets require the attribute.
    guard node.hasAttr("axis") || context.opset < 4 else { throw node.unsupported("attribute axis is required") }
    let values = try inputs.indices.map { try input(inputs, $0, node) }
    guard let firstValue = values.first else { throw node.unsupported("needs at least one input") }
    let rank = context.shape(firstValue).count
    let axis = try normalizedAxis(try node.attr("axis", default: 1), rank: max(rank, 1), node)
    let constants = values.compactMap { if case let .constant(c) = $0 { c } else { nil } }
    if constants.count == values.count {
        guard rank >= 1, constants.allSatisfy({ $0.shape.count == rank }) else { throw node.unsupported("inputs differ in rank or are scalars") }
        guard constants.allSatisfy({ c in c.shape.indices.allSatisfy { $0 == axis || c.shape[$0] == constants[0].shape[$0] } }) else {
            throw node.unsupported("input shapes \(constants.map(\.shape)) differ outside axis \(axis)")
        }
        try checkFolded(constants.reduce(0) { $0 + $1.count }, node)
        return [.constant(concatenateConstants(constants, axis: axis))]
    }
    try requireNotBatch(axis, node, "Concat")
    let ids = try values.indices.map { try tensorInput(&context, inputs, $0, node) }
    return try context.addLayer(node, .concatenation(axis: axis), inputs: ids)
}

private func importFlatten(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let shape = context.shape(value)
    let axis = try node.attr("axis", default: 1)
    let a = axis < 0 ? axis + shape.count : axis
    guard a >= 0, a <= shape.count else { throw node.unsupported("axis \(axis) is out of range for rank \(shape.count)") }
    let flat = [shape[..<a].reduce(1, *), shape[a...].reduce(1, *)]
    if case let .constant(c) = value { return [.constant(c.reshaped(flat))] }
    guard a >= 1, shape[1..<a].reduce(1, *) == 1 else {
        throw node.unsupported("flattening into the batch axis (axis \(axis) of \(shape)) is not supported")
    }
    let x = try tensorInput(&context, inputs, 0, node)
    return try context.addLayer(node, .reshape(sampleShape: [flat[1]]), inputs: [x])
}

/// Resolves an ONNX Reshape target against an input shape. For activations, the target says where the batch
/// goes: the entry that is a multiple of the batch symbol, else a copied (0) batch axis, else (a model exported
/// at a fixed batch) a first entry equal to the batch, else the inferred (-1) axis. The batch must stay
/// one factor of that axis (`BatchPlacement`): a reshape that interleaves samples is refused.
private func importReshape(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    // Reshape-1 (before opset 5) takes the target as the attribute `shape`.
    let target: [FoldedInt] =
        if context.opset < 5 {
            node.hasAttr("shape") ? try node.attr("shape", default: [Int]()).map { .known($0) }
                : try { throw node.unsupported("attribute shape is required before opset 5") }()
        } else { try constant(inputs, 1, node, "the target shape").foldedInts }
    let placed = context.placed(node.input[0], value)
    let shape = placed.shape
    let allowZero = try node.attr("allowzero", default: 0) != 0
    var resolved: [Int] = []
    var inferAxis: Int?
    for (axis, dim) in target.enumerated() {
        switch dim {
        case let .batch(times): resolved.append(times * context.nominalBatch)
        case .known(-1):
            guard inferAxis == nil else { throw node.unsupported("the target shape has more than one -1") }
            inferAxis = axis
            resolved.append(1)
        case .known(0) where !allowZero:
            guard axis < shape.count else { throw node.unsupported("target 0 at axis \(axis) has no input dimension to copy") }
            resolved.append(shape[axis])
        case let .known(v):
            guard v >= 0 else { throw node.unsupported("invalid target dimension \(v)") }
            resolved.append(v)
        }
    }
    let total = shape.reduce(1, *)
    if let inferAxis {
        guard let rest = Limits.product(resolved), rest > 0, total % rest == 0 else { throw node.unsupported("cannot reshape \(shape) into \(target)") }
        resolved[inferAxis] = total / rest
    }
    guard Limits.product(resolved) == total else { throw node.unsupported("cannot reshape \(shape) into \(resolved)") }
    if case let .constant(c) = value { return [.constant(c.reshaped(resolved))] }

    let symbolAxes = target.indices.filter { if case .batch = target[$0] { true } else { false } }
    let inputAxis = placed.placement.axis
    let batchAxis: Int? =
        if symbolAxes.count == 1 { symbolAxes[0] }
        else if !symbolAxes.isEmpty { nil }
        else if inputAxis < target.count, target[inputAxis] == .known(0), !allowZero { inputAxis }
        else if placed.placement.isLeading, target.first?.value == shape.first { 0 }
        else if let inferAxis { inferAxis }
        else { nil }
    guard let batchAxis,
          let placement = placed.placement.reshaped(from: shape, to: resolved, batchAxis: batchAxis, batch: context.nominalBatch)
    else {
        throw node.unsupported("reshaping \(shape) into \(resolved) moves data across the batch axis")
    }
    let x = try tensorInput(&context, inputs, 0, node)
    let output = try context.addLayer(node, .reshape(sampleShape: placement.sampleShape(resolved)), inputs: [x])
    context.place(node.output[0], PlacedShape(shape: resolved, placement: placement))
    return output
}

/// Axes from the `axes` attribute (before opset 13) or input 1.
private func axesOperand(_ context: ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws -> [Int]? {
    if context.opset >= 13 {
        return try optionalConstant(inputs, 1, node, "axes").map { try knownInts($0, node, "axes") }
    }
    return node.hasAttr("axes") ? try node.attr("axes", default: [Int]()) : nil
}

/// Squeeze and Unsqueeze: the value with axes of size 1 removed or inserted; an activation's batch moves to
/// `batchAxis` (where its batch axis lands), staying one factor of it.
private func reshapeValue(
    _ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?], to newShape: [Int], batchAxis: Int
) throws -> [ImportedValue] {
    let value = try input(inputs, 0, node)
    if case let .constant(c) = value { return [.constant(c.reshaped(newShape))] }
    let placed = context.placed(node.input[0], value)
    guard let placement = placed.placement.reshaped(from: placed.shape, to: newShape, batchAxis: batchAxis, batch: context.nominalBatch) else {
        throw node.unsupported("reshaping \(placed.shape) into \(newShape) moves data across the batch axis")
    }
    let x = try tensorInput(&context, inputs, 0, node)
    let output = try context.addLayer(node, .reshape(sampleShape: placement.sampleShape(newShape)), inputs: [x])
    context.place(node.output[0], PlacedShape(shape: newShape, placement: placement))
    return output
}

private func importSqueeze(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let placed = context.placed(node.input[0], value)
    let shape = placed.shape
    let isTensor = if case .tensor = value { true } else { false }
    let batchAxis = placed.placement.axis
    let axes = try Set((try axesOperand(context, node, inputs) ?? shape.indices.filter { shape[$0] == 1 && !(isTensor && $0 == batchAxis) })
        .map { try normalizedAxis($0, rank: shape.count, node) })
    for axis in axes where shape[axis] != 1 { throw node.unsupported("cannot squeeze axis \(axis) of size \(shape[axis])") }
    if isTensor, axes.contains(batchAxis) { throw node.unsupported("squeezing the batch axis is not supported") }
    return try reshapeValue(
        &context, node, inputs, to: shape.indices.filter { !axes.contains($0) }.map { shape[$0] },
        batchAxis: batchAxis - axes.filter { $0 < batchAxis }.count)
}

private func importUnsqueeze(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let placed = context.placed(node.input[0], value)
    let shape = placed.shape
    guard let rawAxes = try axesOperand(context, node, inputs) else { throw node.unsupported("axes are required") }
    let rank = shape.count + rawAxes.count
    let axes = Set(try rawAxes.map { try normalizedAxis($0, rank: rank, node) })
    guard axes.count == rawAxes.count else { throw node.unsupported("axes \(rawAxes) repeat an axis") }
    var rest = shape.makeIterator()
    let newShape = (0..<rank).map { axes.contains($0) ? 1 : (rest.next() ?? 1) }
    // The input's axes fill the positions not inserted, in order: the batch axis lands on the one of its index.
    let kept = (0..<rank).filter { !axes.contains($0) }
    let batchAxis = kept.indices.contains(placed.placement.axis) ? kept[placed.placement.axis] : 0  // 0 for a scalar constant
    return try reshapeValue(&context, node, inputs, to: newShape, batchAxis: batchAxis)
}

private func importTranspose(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let placed = context.placed(node.input[0], value)
    let rank = placed.shape.count
    let perm = try node.attr("perm", default: Array((0..<rank).reversed()))
    guard perm.count == rank, Set(perm) == Set(0..<rank) else {
        throw node.unsupported("permutation \(perm) does not fit shape \(placed.shape)")
    }
    if case let .constant(c) = value {
        let outShape = perm.map { c.shape[$0] }, inStrides = rowMajorStrides(c.shape), outStrides = rowMajorStrides(outShape)
        let indices = (0..<c.count).map { index in
            perm.indices.reduce(0) { $0 + (index / outStrides[$1]) % outShape[$1] * inStrides[perm[$1]] }
        }
        return [.constant(c.gathered(indices, shape: outShape))]
    }
    // The batch moves with its ONNX axis; per sample, each ONNX axis is one network axis (two for a batch
    // axis with outer and inner factors, which stay together).
    let p = placed.placement
    let output = PlacedShape(
        shape: perm.map { placed.shape[$0] },
        placement: BatchPlacement(axis: perm.firstIndex(of: p.axis) ?? 0, outer: p.outer, inner: p.inner))
    let networkPermutation = [0] + perm.flatMap { p.networkAxes($0) }
    let x = try tensorInput(&context, inputs, 0, node)
    let kind: LayerKind = networkPermutation == Array(networkPermutation.indices) ? .identity : .transpose(permutation: networkPermutation)
    let result = try context.addLayer(node, kind, inputs: [x])
    context.place(node.output[0], output)
    return result
}

/// Clamped `[start, end)` with positive step along one axis, as ONNX Slice defines it.
private func sliceRange(start: Int, end: Int, step: Int, dim: Int, _ node: Onnx_NodeProto) throws -> (Int, Int) {
    guard step > 0 else { throw node.unsupported("slice steps must be positive (got \(step))") }
    func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + dim : v, 0), dim) }
    return (clamp(start), max(clamp(start), clamp(end)))
}

/// ONNX Slice on a value known at import, where the step may be negative (`x[::-1]`, as exporters reverse pad
/// lists): the first index taken and how many, from start, end and step clamped as the spec says.
private func constantSliceRange(start: Int, end: Int, step: Int, dim: Int, _ node: Onnx_NodeProto) throws -> (first: Int, count: Int) {
    guard step != 0 else { throw node.unsupported("a slice step of 0") }
    if step > 0 {
        let (first, last) = try sliceRange(start: start, end: end, step: step, dim: dim, node)
        return (first, stridedCount(from: first, to: last, step: step))
    }
    let first = min(max(start < 0 ? start + dim : start, 0), dim - 1)
    let stop = min(max(end < 0 ? end + dim : end, -1), dim - 1)
    return (first, first > stop ? (first - stop - 1) / -step + 1 : 0)
}

/// Elements of a constant selected by per-axis ranges (generic strided gather used by Slice and Split).
private func sliceConstant(_ c: ConstantTensor, starts: [Int], ends: [Int], steps: [Int]) -> ConstantTensor {
    sliceConstant(c, firsts: starts, counts: (0..<c.shape.count).map { stridedCount(from: starts[$0], to: ends[$0], step: steps[$0]) }, steps: steps)
}

/// Elements `firsts[axis] + k · steps[axis]` (k below `counts[axis]`) of a constant, any step sign.
private func sliceConstant(_ c: ConstantTensor, firsts starts: [Int], counts shape: [Int], steps: [Int]) -> ConstantTensor {
    let inStrides = rowMajorStrides(c.shape)
    let outStrides = rowMajorStrides(shape)
    let indices = (0..<shape.reduce(1, *)).map { index in
        var (source, rest) = (0, index)
        for axis in 0..<shape.count {
            source += (starts[axis] + (rest / outStrides[axis]) * steps[axis]) * inStrides[axis]
            rest %= outStrides[axis]
        }
        return source
    }
    return c.gathered(indices, shape: shape)
}

private func importSlice(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let shape = context.shape(value)
    let starts: [Int], ends: [Int], axesArg: [Int]?, stepsArg: [Int]?
    if context.opset < 10 {
        starts = try node.attr("starts", default: [Int]())
        ends = try node.attr("ends", default: [Int]())
        axesArg = node.hasAttr("axes") ? try node.attr("axes", default: [Int]()) : nil
        stepsArg = nil
    } else {
        starts = try knownInts(try constant(inputs, 1, node, "starts"), node, "starts")
        ends = try knownInts(try constant(inputs, 2, node, "ends"), node, "ends")
        axesArg = try optionalConstant(inputs, 3, node, "axes").map { try knownInts($0, node, "axes") }
        stepsArg = try optionalConstant(inputs, 4, node, "steps").map { try knownInts($0, node, "steps") }
    }
    let axes = try (axesArg ?? Array(0..<starts.count)).map { try normalizedAxis($0, rank: shape.count, node) }
    let steps = stepsArg ?? Array(repeating: 1, count: starts.count)
    guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
        throw node.unsupported("starts, ends, axes and steps differ in length")
    }
    if case let .constant(c) = value {
        var (firsts, counts, strides) = (Array(repeating: 0, count: shape.count), shape, Array(repeating: 1, count: shape.count))
        for (i, axis) in axes.enumerated() {
            (firsts[axis], counts[axis]) = try constantSliceRange(start: starts[i], end: ends[i], step: steps[i], dim: shape[axis], node)
            strides[axis] = steps[i]
        }
        return [.constant(sliceConstant(c, firsts: firsts, counts: counts, steps: strides))]
    }
    var p = SliceParameters(starts: Array(repeating: 0, count: shape.count), ends: shape, steps: Array(repeating: 1, count: shape.count))
    for (i, axis) in axes.enumerated() {
        (p.starts[axis], p.ends[axis]) = try sliceRange(start: starts[i], end: ends[i], step: steps[i], dim: shape[axis], node)
        p.steps[axis] = steps[i]
    }
    guard p.starts[0] == 0, p.ends[0] == shape[0], p.steps[0] == 1 else {
        throw node.unsupported("slicing the batch axis is not supported")
    }
    let x = try tensorInput(&context, inputs, 0, node)
    return try context.addLayer(node, .slice(p), inputs: [x])
}

/// Pad in constant, reflect or edge mode: pads from the attribute `paddings` (opset 1), `pads` (2–10) or the
/// input `pads` (11 on; `axes` from 18), never on the batch axis and never negative (cropping).
private func importPad(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    guard case .tensor = value else { throw node.unsupported("padding a constant is not supported") }
    let rank = context.shape(value).count
    let modeName = try node.attr("mode", default: "constant")
    guard let mode = PadMode(rawValue: modeName) else { throw node.unsupported("mode '\(modeName)' is not supported") }
    let pads: [Int], axesArg: [Int]?
    var fill: Float = 0
    if context.opset < 11 {
        let key = context.opset < 2 ? "paddings" : "pads"
        guard node.hasAttr(key) else { throw node.unsupported("attribute \(key) is required") }
        pads = try node.attr(key, default: [Int]())
        fill = try node.attr("value", default: Float(0))
        axesArg = nil
    } else {
        pads = try knownInts(try constant(inputs, 1, node, "pads"), node, "pads")
        if let c = try optionalConstant(inputs, 2, node, "constant_value") {
            guard let v = c.floats, v.count == 1 else { throw node.unsupported("constant_value must be one value") }
            fill = v[0]
        }
        axesArg = context.opset >= 18 ? try optionalConstant(inputs, 3, node, "axes").map { try knownInts($0, node, "axes") } : nil
    }
    let axes = try (axesArg ?? Array(0..<rank)).map { try normalizedAxis($0, rank: rank, node) }
    guard pads.count == 2 * axes.count, Set(axes).count == axes.count else {
        throw node.unsupported("\(pads.count) pads do not give a begin and an end for each of the axes \(axes)")
    }
    guard pads.allSatisfy({ $0 >= 0 }) else { throw node.unsupported("negative pads \(pads) (cropping) are not supported") }
    var p = PadParameters(mode: mode, padsBegin: Array(repeating: 0, count: rank), padsEnd: Array(repeating: 0, count: rank), value: fill)
    for (index, axis) in axes.enumerated() {
        p.padsBegin[axis] = pads[index]
        p.padsEnd[axis] = pads[index + axes.count]
    }
    if p.padsBegin[0] != 0 || p.padsEnd[0] != 0 { try requireNotBatch(0, node, "padding") }
    let x = try tensorInput(&context, inputs, 0, node)
    if (p.padsBegin + p.padsEnd).allSatisfy({ $0 == 0 }) { return try context.addLayer(node, .identity, inputs: [x]) }
    return try context.addLayer(node, .pad(p), inputs: [x])
}

private func importSplit(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let shape = context.shape(value)
    let axis = try normalizedAxis(try node.attr("axis", default: 0), rank: shape.count, node)
    let count = node.output.count
    var sizes: [Int]
    if context.opset >= 13, let split = try optionalConstant(inputs, 1, node, "split") {
        sizes = try knownInts(split, node, "split")
    } else if context.opset < 13, node.hasAttr("split") {
        sizes = try node.attr("split", default: [Int]())
    } else {
        let parts = context.opset >= 18 ? try node.attr("num_outputs", default: count) : count
        guard parts == count, parts >= 1 else { throw node.unsupported("num_outputs \(parts) differs from the \(count) outputs named") }
        let chunk = (shape[axis] + parts - 1) / parts
        sizes = (0..<parts).map { min(chunk, max(0, shape[axis] - $0 * chunk)) }
    }
    guard sizes.count == count, sizes.allSatisfy({ $0 >= 0 && $0 <= shape[axis] }), sizes.reduce(0, +) == shape[axis] else {
        throw node.unsupported("split sizes \(sizes) do not divide axis \(axis) of \(shape) into \(count) outputs")
    }
    var results: [ImportedValue] = []
    var offset = 0
    for (index, size) in sizes.enumerated() {
        var p = SliceParameters(starts: Array(repeating: 0, count: shape.count), ends: shape, steps: Array(repeating: 1, count: shape.count))
        p.starts[axis] = offset
        p.ends[axis] = offset + size
        offset += size
        if case let .constant(c) = value {
            results.append(.constant(sliceConstant(c, starts: p.starts, ends: p.ends, steps: p.steps)))
            continue
        }
        try requireNotBatch(axis, node, "Split")
        let x = try tensorInput(&context, inputs, 0, node)
        results += try context.addLayer(node, .slice(p), inputs: [x], outputs: [node.output[index]], layerName: node.output[index])
    }
    return results
}

/// Gather with constant indices: folded when the data is constant too; on activations, a scalar index or a
/// contiguous run of indices along a non-batch axis becomes a slice (plus a reshape for a scalar index).
private func importGather(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let shape = context.shape(value)
    let axis = try normalizedAxis(try node.attr("axis", default: 0), rank: shape.count, node)
    let indicesTensor = try constant(inputs, 1, node, "indices")
    let indices = try knownInts(indicesTensor, node, "indices").map { $0 < 0 ? $0 + shape[axis] : $0 }
    guard indices.allSatisfy({ $0 >= 0 && $0 < shape[axis] }) else {
        throw node.unsupported("indices out of range for axis \(axis) of size \(shape[axis])")
    }
    let outShape = Array(shape[..<axis]) + indicesTensor.shape + Array(shape[(axis + 1)...])
    if case let .constant(c) = value {
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        try checkFolded(Limits.product([outer, indices.count, inner]), node)
        var flat: [Int] = []
        for o in 0..<outer { for i in indices { for k in 0..<inner { flat.append((o * shape[axis] + i) * inner + k) } } }
        return [.constant(c.gathered(flat, shape: outShape))]
    }
    try requireNotBatch(axis, node, "Gather")
    guard let first = indices.first, indices == Array(first..<(first + indices.count)) else {
        throw node.unsupported("only a contiguous run of indices is supported on activations")
    }
    var p = SliceParameters(starts: Array(repeating: 0, count: shape.count), ends: shape, steps: Array(repeating: 1, count: shape.count))
    p.starts[axis] = first
    p.ends[axis] = first + indices.count
    let x = try tensorInput(&context, inputs, 0, node)
    if indicesTensor.shape.count == 1 { return try context.addLayer(node, .slice(p), inputs: [x]) }
    let sliced = try context.network.addLayer(
        name: node.displayName + "__slice", kind: .slice(p), inputs: [x], outputNames: [node.output[0] + "__slice"],
        origin: [node.displayName])[0]
    return try context.addLayer(node, .reshape(sampleShape: Array(outShape.dropFirst())), inputs: [sliced])
}

/// Dropout in inference is the identity. Its mask output is not computed: a model may name it (old exporters
/// always do), and a node or graph output that reads it is an error naming it.
private func importDropout(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    if context.opset < 7, try node.attr("is_test", default: 0) == 0 {
        throw node.unsupported("is_test=0 asks for training-mode dropout (opset \(context.opset)); only inference is supported")
    }
    if context.opset >= 12, optionalInput(inputs, 2) != nil {
        let training = try constant(inputs, 2, node, "training_mode")
        guard let flags = training.ints, flags.allSatisfy({ $0 == 0 }) else {
            throw node.unsupported("training_mode must be a constant false; only inference is supported")
        }
    }
    if node.output.count > 1, !node.output[1].isEmpty {
        context.unavailable[node.output[1]] = "the mask output of Dropout node '\(node.displayName)', which Octet does not compute (inference has no mask)"
    }
    return try importIdentity(&context, node, inputs)
}

private func importIdentity(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    if case .constant = value { return [value] }
    let x = try tensorInput(&context, inputs, 0, node)
    return try context.addLayer(node, .identity, inputs: [x])
}

/// Cast-1's type names (TensorProto.DataType spelled out) for the types a classifier's Cast uses.
private let legacyCastTypes: [String: Onnx_TensorProto.DataType] = [
    "FLOAT": .float, "DOUBLE": .double, "FLOAT16": .float16, "INT64": .int64, "INT32": .int32, "INT16": .int16,
    "INT8": .int8, "UINT8": .uint8, "BOOL": .bool,
]

private func importCast(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    // Cast-1 (before opset 6) names the type as a string ("FLOAT"); `round_mode` (opset 28) concerns float8 targets only.
    let to: Onnx_TensorProto.DataType? =
        if context.opset < 6 { legacyCastTypes[try node.attr("to", default: "")] }
        else { Onnx_TensorProto.DataType(rawValue: try node.attr("to", default: 0)) }
    let value = try input(inputs, 0, node)
    let toFloat = [.float, .double, .float16].contains(to)
    if case let .constant(c) = value {
        if toFloat { return [.constant(ConstantTensor(shape: c.shape, floats: try floats(c, node, "the input")))] }
        return [.constant(ConstantTensor(shape: c.shape, ints: c.foldedInts))]
    }
    guard to == .float else { throw node.unsupported("casting an activation to \(String(describing: to)) is not supported") }
    let x = try tensorInput(&context, inputs, 0, node)
    return try context.addLayer(node, .identity, inputs: [x])
}

private func importConstant(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    if let t = node.attribute("value") {
        return [.constant(try ModelFile.constant(t.t, directory: context.modelDirectory))]
    }
    if node.hasAttr("value_float") { return [.constant(ConstantTensor(shape: [], floats: [try node.attr("value_float", default: Float(0))]))] }
    if node.hasAttr("value_floats") {
        let v = try node.attr("value_floats", default: [Float]())
        return [.constant(ConstantTensor(shape: [v.count], floats: v))]
    }
    if node.hasAttr("value_int") { return [.constant(ConstantTensor(shape: [], ints: [.known(try node.attr("value_int", default: 0))]))] }
    if node.hasAttr("value_ints") {
        let v = try node.attr("value_ints", default: [Int]())
        return [.constant(ConstantTensor(shape: [v.count], ints: v.map { .known($0) }))]
    }
    throw node.unsupported("only tensor, float and integer values are supported")
}

/// A filled constant. Float fills may have any legal tensor size (placeholder weights: the zoo's VGG fills a
/// 4096×25088 matrix), within `Limits.maxFilledElements` for the whole model; integer fills are shape values,
/// within `Limits.maxFoldedElements`.
private func importConstantOfShape(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?])
    throws -> [ImportedValue]
{
    let shape = try knownInts(try constant(inputs, 0, node, "the shape"), node, "the shape")
    guard shape.allSatisfy({ $0 >= 0 }) else { throw node.unsupported("invalid shape \(shape): dimensions must not be negative") }
    let fill = try node.attribute("value").map { try ModelFile.constant($0.t, directory: context.modelDirectory) }
        ?? ConstantTensor(shape: [1], floats: [0])
    guard let count = Limits.product(shape), count <= Limits.maxTensorElements else {
        throw node.unsupported("shape \(shape) has more than 2^31 elements, Octet's limit for one tensor")
    }
    switch fill.elements {
    case let .float(v):
        guard context.filledElements + count <= Limits.maxFilledElements else {
            throw node.unsupported("the model's ConstantOfShape nodes would fill more than 2^31 elements in all")
        }
        context.filledElements += count
        return [.constant(ConstantTensor(shape: shape, floats: Array(repeating: v.first ?? 0, count: count)))]
    case let .int(v):
        try checkFolded(count, node)
        return [.constant(ConstantTensor(shape: shape, ints: Array(repeating: v.first ?? .known(0), count: count)))]
    }
}

/// The shape of an activation as a folded integer tensor, with the batch axis as a symbol.
private func importShape(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let shape = context.shape(value)
    var dims: [FoldedInt] = shape.map { .known($0) }
    if case .tensor = value, !dims.isEmpty { dims[0] = .batchSize }
    let rank = shape.count
    func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
    let start = clamp(try node.attr("start", default: 0))
    let end = max(start, clamp(try node.attr("end", default: rank)))
    return [.constant(ConstantTensor(shape: [end - start], ints: Array(dims[start..<end])))]
}

// MARK: - Explicit quantization (QDQ)

/// Scale and zero point of a QuantizeLinear / DequantizeLinear node (per tensor, or per channel along `axis`).
private func quantizationParameters(_ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws -> (scales: [Float], zeroPoints: [Int], unsigned: Bool) {
    let scales = try floats(try constant(inputs, 1, node, "the scale"), node, "the scale")
    let zeroPoint = try optionalConstant(inputs, 2, node, "the zero point")
    let zeroPoints = try zeroPoint.map { try knownInts($0, node, "the zero point") } ?? [0]
    guard !scales.isEmpty, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw node.unsupported("scales must be positive") }
    if try node.attr("block_size", default: 0) != 0 { throw node.unsupported("blocked quantization (block_size) is not supported") }
    // Opset 28: the float type of the arithmetic (`precision`, QuantizeLinear) and of the result (`output_dtype`,
    // DequantizeLinear); Octet computes in float32.
    let floatType = Int(Onnx_TensorProto.DataType.float.rawValue)
    let floatAttribute = node.opType == "QuantizeLinear" ? "precision" : "output_dtype"
    let floatChoice = try node.attr(floatAttribute, default: 0)
    guard floatChoice == 0 || floatChoice == floatType else {
        throw node.unsupported("\(floatAttribute) \(floatChoice) is not float32, the only float type Octet computes in")
    }
    // ONNX: the zero point's element type is the quantized type; without a zero point QuantizeLinear's
    // `output_dtype` (opset 21) names it, uint8 by default.
    var unsigned = zeroPoint.map { $0.sourceType == .uint8 } ?? true
    let declared = node.opType == "QuantizeLinear" ? try node.attr("output_dtype", default: 0) : 0
    if zeroPoint == nil, declared != 0 {
        switch Onnx_TensorProto.DataType(rawValue: declared) {
        case .uint8?: unsigned = true
        case .int8?: unsigned = false
        default: throw node.unsupported("output_dtype \(declared) is not int8 or uint8")
        }
    }
    return (scales, zeroPoints, unsigned)
}

/// QuantizeLinear on an activation saturates to its representable interval [lo, hi]; it becomes a Clip to
/// that interval whose output carries the node's exact quantization (scale, zero point, int8 or uint8; see
/// `Tensor.setExplicitQuantization`). Quantizers commonly drop a Relu6 in favour of exactly this saturation,
/// so it must not be ignored. The builder fuses the Clip into the producing layer, which then writes the
/// tensor with that quantization, computed with Octet's own arithmetic.
private func importQuantizeLinear(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let (scales, zeroPoints, unsigned) = try quantizationParameters(node, inputs)
    guard case .tensor = value else {
        throw node.unsupported("quantizing a constant is only supported through DequantizeLinear of an initializer")
    }
    guard scales.count == 1, zeroPoints.count == 1 else {
        throw node.unsupported("per-channel quantization of activations is not supported")
    }
    let (qmin, qmax) = unsigned ? (0, 255) : (-128, 127)
    guard (qmin...qmax).contains(zeroPoints[0]) else {
        throw node.unsupported("zero point \(zeroPoints[0]) is outside [\(qmin), \(qmax)]")
    }
    let explicit = ExplicitQuantization(dataType: unsigned ? .uint8 : .int8, scale: scales[0], zeroPoint: Int32(zeroPoints[0]))
    let (lo, hi) = explicit.representableInterval
    let x = try tensorInput(&context, inputs, 0, node)
    // The quantized tensor's producer computes in INT8 with this quantization too (the Clip then fuses into it).
    if context.network[x].dynamicRange == nil { context.network[x].setExplicitQuantization(explicit) }
    let out = try context.addLayer(node, .activation(.clip(min: lo, max: hi)), inputs: [x])
    if case let .tensor(id) = out[0] { context.network[id].setExplicitQuantization(explicit) }
    context.explicitlyQuantized = true
    return out
}

/// DequantizeLinear: after a QuantizeLinear, the activation itself; on an integer initializer (weights,
/// biases), the dequantized float constant, per tensor or per channel along `axis`.
private func importDequantizeLinear(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let (scales, zeroPoints, _) = try quantizationParameters(node, inputs)
    context.explicitlyQuantized = true
    guard case let .constant(c) = value else { return [value] }
    let q = try knownInts(c, node, "the quantized data")
    let int32Range = Int(Int32.min)...Int(Int32.max)
    guard q.allSatisfy(int32Range.contains), zeroPoints.allSatisfy(int32Range.contains) else {
        throw node.unsupported("quantized values or zero points exceed the int32 range")
    }
    if scales.count == 1 {
        return [.constant(ConstantTensor(shape: c.shape, floats: q.map { Float($0 - zeroPoints[0]) * scales[0] }))]
    }
    let axis = try normalizedAxis(try node.attr("axis", default: 1), rank: c.shape.count, node)
    guard c.shape[axis] == scales.count, zeroPoints.count == 1 || zeroPoints.count == scales.count else {
        throw node.unsupported("\(scales.count) scales do not match axis \(axis) of \(c.shape)")
    }
    let inner = c.shape[(axis + 1)...].reduce(1, *)
    let values = q.indices.map { i -> Float in
        let channel = (i / inner) % scales.count
        return Float(q[i] - zeroPoints[zeroPoints.count == 1 ? 0 : channel]) * scales[channel]
    }
    return [.constant(ConstantTensor(shape: c.shape, floats: values))]
}

// MARK: - Shape values: comparisons, selection, broadcasting

/// The constants of a node whose every input must be known at import (shape arithmetic and masks), broadcast to
/// one size: each operand has that many elements or one (NumPy broadcasting of such vectors).
private func foldedOperands(_ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws -> (operands: [ConstantTensor], shape: [Int], count: Int) {
    let operands = try inputs.indices.map { index -> ConstantTensor in
        guard case let .constant(c)? = inputs[index] else {
            throw node.unsupported("input \(index) is computed at run time; \(node.opType) is only supported on values known at import")
        }
        return c
    }
    let largest = operands.max { $0.count < $1.count }
    guard let largest, operands.allSatisfy({ $0.count == largest.count || $0.count == 1 }) else {
        throw node.unsupported("operands of shapes \(operands.map(\.shape)) do not broadcast element by element")
    }
    return (operands, largest.shape, largest.count)
}

/// `a == b` on values known at import. The symbolic batch equals itself and no number below 1.
private func importEqual(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let (operands, shape, count) = try foldedOperands(node, inputs)
    guard operands.count == 2 else { throw node.unsupported("expects 2 inputs") }
    let (a, b) = (operands[0].foldedInts, operands[1].foldedInts)
    if !operands[0].isInteger || !operands[1].isInteger, let x = operands[0].floats, let y = operands[1].floats {
        return [.constant(ConstantTensor(shape: shape, ints: (0..<count).map { .known(x[x.count == 1 ? 0 : $0] == y[y.count == 1 ? 0 : $0] ? 1 : 0) }))]
    }
    let values = try (0..<count).map { i -> FoldedInt in
        switch (a[a.count == 1 ? 0 : i], b[b.count == 1 ? 0 : i]) {
        case let (.known(x), .known(y)): return .known(x == y ? 1 : 0)
        case let (.batch(k), .batch(l)):
            guard k == l else { throw node.unsupported("comparing \(k) and \(l) times the batch size depends on the batch size") }
            return .known(1)
        case let (.batch(k), .known(v)), let (.known(v), .batch(k)):
            guard v < k else { throw node.unsupported("comparing \(k) times the batch size with \(v) depends on the batch size") }
            return .known(0)
        }
    }
    return [.constant(ConstantTensor(shape: shape, ints: values))]
}

/// Integer `a mod b` on values known at import (`fmod=0`: the sign of the divisor, as Python's %).
private func importMod(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let (operands, shape, count) = try foldedOperands(node, inputs)
    guard operands.count == 2, let a = operands[0].ints, let b = operands[1].ints, operands.allSatisfy(\.isInteger),
          try node.attr("fmod", default: 0) == 0
    else { throw node.unsupported("only integer Mod (fmod=0) of values known at import is supported") }
    let values = try (0..<count).map { i -> FoldedInt in
        let (x, y) = (a[a.count == 1 ? 0 : i], b[b.count == 1 ? 0 : i])
        guard y != 0 else { throw node.unsupported("integer modulo by zero") }
        let r = x % y
        return .known(r != 0 && (r < 0) != (y < 0) ? r + y : r)
    }
    return [.constant(ConstantTensor(shape: shape, ints: values))]
}

private func importNot(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let (operands, shape, _) = try foldedOperands(node, inputs)
    guard let values = operands.first?.ints else { throw node.unsupported("Not of a value depending on the batch size") }
    return [.constant(ConstantTensor(shape: shape, ints: values.map { .known($0 == 0 ? 1 : 0) }))]
}

/// `condition ? x : y` on values known at import.
private func importWhere(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let (operands, shape, count) = try foldedOperands(node, inputs)
    guard operands.count == 3, let condition = operands[0].ints else {
        throw node.unsupported("the condition must be known at import")
    }
    func pick(_ i: Int) -> Int { condition[condition.count == 1 ? 0 : i] != 0 ? 1 : 2 }
    func element(_ c: ConstantTensor, _ i: Int) -> Int { c.count == 1 ? 0 : i }
    if operands[1].isInteger, operands[2].isInteger {
        let values = (0..<count).map { i in operands[pick(i)].foldedInts[element(operands[pick(i)], i)] }
        return [.constant(ConstantTensor(shape: shape, ints: values))]
    }
    guard let x = operands[1].floats, let y = operands[2].floats else { throw node.unsupported("x or y depends on the batch size") }
    let values = (0..<count).map { i in pick(i) == 1 ? x[element(operands[1], i)] : y[element(operands[2], i)] }
    return [.constant(ConstantTensor(shape: shape, floats: values))]
}

/// Expand (NumPy broadcasting to a shape). An activation becomes `x + 0` with a zero constant of the target
/// shape (the elementwise layer broadcasts); a constant is broadcast at import, the batch dimension left at 1
/// (constants are not batched: the layers that read it repeat it per sample, as ViT's class token).
private func importExpand(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let value = try input(inputs, 0, node)
    let target = try constant(inputs, 1, node, "the shape").foldedInts
    let shape = context.shape(value)
    let resolved = target.map { $0.value ?? 1 }
    guard resolved.allSatisfy({ $0 >= 0 }) else { throw node.unsupported("invalid shape \(target)") }
    let out = try broadcastShapes(shape, resolved)
    switch value {
    case let .constant(c):
        try checkFolded(Limits.product(out), node)
        let padded = Array(repeating: 1, count: out.count - shape.count) + shape
        let inStrides = rowMajorStrides(padded), outStrides = rowMajorStrides(out)
        let indices = (0..<out.reduce(1, *)).map { index in
            var (source, rest) = (0, index)
            for axis in 0..<out.count {
                let coordinate = rest / outStrides[axis]
                rest %= outStrides[axis]
                if padded[axis] != 1 { source += coordinate * inStrides[axis] }
            }
            return source
        }
        return [.constant(c.reshaped(padded).gathered(indices, shape: out))]
    case .tensor:
        let x = try tensorInput(&context, inputs, 0, node)
        if out == shape { return try context.addLayer(node, .identity, inputs: [x]) }
        guard out.count == shape.count else { throw node.unsupported("expanding \(shape) to a higher rank \(out) would move the batch axis") }
        try checkFolded(Limits.product(out.dropFirst()), node)  // the zero constant
        let zeros = try context.tensor(.constant(ConstantTensor(shape: [1] + out.dropFirst(), floats: Array(repeating: 0, count: out.dropFirst().reduce(1, *)))), name: node.output[0] + "__zeros")
        return try context.addLayer(node, .elementwise(.add), inputs: [x, zeros])
    }
}

/// Range on values known at import (Swin's relative-position tables): `start, start + delta, …` below `limit`.
private func importRange(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let (operands, _, _) = try foldedOperands(node, inputs)
    guard operands.count == 3, operands.allSatisfy({ $0.count == 1 }) else { throw node.unsupported("start, limit and delta must be scalars") }
    if operands.allSatisfy(\.isInteger) {
        let v = operands.compactMap { $0.ints?.first }
        guard v.count == 3, v[2] != 0 else {
            throw node.unsupported("an integer range needs known start, limit and a non-zero delta")
        }
        let count = max(0, (v[1] - v[0] + v[2] - (v[2] > 0 ? 1 : -1)) / v[2])
        try checkFolded(count, node)
        return [.constant(ConstantTensor(shape: [count], ints: (0..<count).map { .known(v[0] + $0 * v[2]) }))]
    }
    let v = operands.compactMap { $0.floats?.first }
    guard v.count == 3, v[2] != 0, v.allSatisfy(\.isFinite) else {
        throw node.unsupported("a float range needs finite start, limit and a non-zero delta")
    }
    let count = max(0, Int(((v[1] - v[0]) / v[2]).rounded(.up)))
    try checkFolded(count, node)
    return [.constant(ConstantTensor(shape: [count], floats: (0..<count).map { v[0] + Float($0) * v[2] }))]
}

/// ScatterND (no reduction) on values known at import: a copy of data with the slices that indices name
/// replaced by updates (Swin's attention-mask regions).
private func importScatterND(_ context: inout ImportContext, _ node: Onnx_NodeProto, _ inputs: [ImportedValue?]) throws
    -> [ImportedValue]
{
    let (data, indices, updates) = (try constant(inputs, 0, node, "data"), try constant(inputs, 1, node, "indices"), try constant(inputs, 2, node, "updates"))
    guard try node.attr("reduction", default: "none") == "none" else { throw node.unsupported("only reduction 'none' is supported") }
    guard let depth = indices.shape.last, depth <= data.shape.count, let positions = indices.ints else {
        throw node.unsupported("indices of shape \(indices.shape) do not index data of shape \(data.shape)")
    }
    let sliceSize = data.shape[depth...].reduce(1, *), strides = rowMajorStrides(data.shape)
    let count = depth == 0 ? 1 : positions.count / depth
    guard updates.count == count * sliceSize else { throw node.unsupported("updates of shape \(updates.shape) do not fit the indices") }
    var source = Array(0..<data.count).map { (0, $0) }  // (tensor: 0 data, 1 updates; element)
    for row in 0..<count {
        var offset = 0
        for axis in 0..<depth {
            let dim = data.shape[axis], i = positions[row * depth + axis]
            guard i >= -dim, i < dim else { throw node.unsupported("index \(i) is out of range for axis \(axis) of size \(dim)") }
            offset += (i < 0 ? i + dim : i) * strides[axis]
        }
        for k in 0..<sliceSize { source[offset + k] = (1, row * sliceSize + k) }
    }
    if data.isInteger, updates.isInteger {
        let (d, u) = (data.foldedInts, updates.foldedInts)
        return [.constant(ConstantTensor(shape: data.shape, ints: source.map { $0.0 == 0 ? d[$0.1] : u[$0.1] }))]
    }
    guard let d = data.floats, let u = updates.floats else { throw node.unsupported("data or updates depend on the batch size") }
    return [.constant(ConstantTensor(shape: data.shape, floats: source.map { $0.0 == 0 ? d[$0.1] : u[$0.1] }))]
}
