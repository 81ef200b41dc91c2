import OctetCore
import OctetQuantization

/// The forms in which backends implement planned layers. One classification of a planned layer, shared by every
/// backend: a backend maps each form onto a kernel (or says why it cannot), and a layer of no native form runs
/// through the reference implementation on the host, with the reason in the build report.
///
/// A form is decided from the layer kind, its precision, its tensors' quantizations and its shapes
/// (`EnginePlan.signature`), never from a backend, so a new backend answers the same questions the CPU and
/// CUDA backends answer, and the builder can report what runs where before compiling anything.
public enum LayerForm: Sendable, Equatable {
    /// Quantize, dequantize or requantize a tensor (inserted by the builder).
    case reformat
    /// Write a constant's value.
    case constant
    /// A convolution as a GEMM over gathered input windows; `grouped` when groups > 1 (and not depthwise).
    /// With a second input, the residual is added in the epilogue.
    case convolution(grouped: Bool)
    /// One filter per channel (groups = channels), one input.
    case depthwiseConvolution
    /// `x · Wᵀ + b` over the last axis of a row-major tensor (rank 2, 3 or above 4): a GEMM over its rows.
    case fullyConnected
    /// Max or average pooling (or global pooling) over an NCHW tensor.
    case pooling
    /// An INT8 activation: a 256-entry table from input codes to output codes.
    case lookupTable
    /// A float activation, element by element.
    case activation
    /// The per-channel affine `x · scale[c] + shift[c]` over an NCHW tensor (float).
    case channelScale
    /// Softmax over axis 1 of a rank-2 tensor (float).
    case softmaxRows
    /// A binary operation on two activations of the same shape.
    case sameShapeBinary(ElementwiseOperation)
    /// A binary operation between an NCHW activation and a per-sample channel vector `[N, C, 1, 1]`
    /// (squeeze-and-excitation); `vectorFirst` when the vector is the first operand. Float.
    case channelBroadcast(ElementwiseOperation, vectorFirst: Bool)
    /// A binary operation between an activation and a one-element constant (`x + 1e-5`, `x ^ 2`, `1 / x`), the
    /// constant's value carried here; `scalarFirst` when the constant is the first operand. Float.
    case scalarBinary(ElementwiseOperation, scalar: Float, scalarFirst: Bool)
    /// `A · B` of two activations over their last two axes, the leading axes broadcast (attention): float, or
    /// INT8 with per-tensor scales on both inputs (`QuantizedMatrixMultiplyArithmetic`).
    case matrixMultiply
    /// Constant, reflect or edge padding of a float tensor of any rank (`PadParameters`).
    case padding
    /// Mean, sum, max or min of a float tensor over non-batch axes, which stay as size 1 (`ReduceParameters`).
    case reduction
    /// Concatenation along the channel axis (axis 1) of activations.
    case channelConcatenation
    /// A reshape or identity whose physical layout is its logical one: a copy.
    case view
    /// Data movement through index maps (`IndexMap`, one per input): Transpose, Slice, a Reshape or Identity that
    /// reorders NHWC data, concatenation along any axis. Bytes or floats; INT8 data movement keeps its input's
    /// quantization (the builder gives it so), an INT8 concatenation requantizes each input unlike its output.
    case gather([IndexMap])
    /// A binary operation with NumPy broadcasting on any axes, constant operands included (an `IndexMap` with two
    /// sources): float, or INT8 with the same-shape case's `QuantizedBinaryArithmetic`.
    case broadcastBinary(ElementwiseOperation, IndexMap)
    /// Softmax of a float tensor along any axis of rank up to `IndexMap.maximumRank` (`SoftmaxGeometry`).
    case softmax(axis: Int, coerced2D: Bool)
    /// No native form: the layer runs through the reference implementation on logical data.
    case hostReference(reason: String)

    /// The reason, for `.hostReference`.
    public var hostReason: String? {
        if case let .hostReference(reason) = self { reason } else { nil }
    }
}

/// A backend's answer for one planned layer.
public enum LayerSupport: Sendable, Equatable {
    /// A kernel of the backend runs it.
    case native
    /// The reference implementation runs it on the host (correct, slow), for this reason.
    case hostReference(reason: String)
    /// The backend cannot run it at all.
    case unsupported(reason: String)

    /// The support a backend gives a form it implements every case of natively.
    public init(_ form: LayerForm) {
        if let reason = form.hostReason { self = .hostReference(reason: reason) } else { self = .native }
    }
}

extension EnginePlan {
    /// The form of a planned layer (see `LayerForm`).
    public func form(of layer: Layer) -> LayerForm {
        let (int8, inQ, outQ, inShape, outShape) = signature(of: layer)
        /// NHWC and NCHW order agree when C or H·W is 1; every other rank is stored row-major.
        func physicalIsLogical(_ shape: [Int]) -> Bool { shape.count != 4 || shape[1] == 1 || (shape[2] == 1 && shape[3] == 1) }
        func host(_ reason: String) -> LayerForm { .hostReference(reason: reason) }
        let unquantizedInput = "an INT8 layer whose input is not quantized"
        let maximumRank = IndexMap.maximumRank
        func elementSize(_ id: TensorID) -> Int { network[id].dataType.byteSize }
        /// A one-input data movement through `map`, or why not.
        func movement(_ what: String, _ map: @autoclosure () -> IndexMap) -> LayerForm {
            guard max(inShape.count, outShape.count) <= maximumRank else { return host("\(what) of a tensor above rank \(maximumRank)") }
            guard !isConstant(layer.inputs[0]) else { return host("\(what) of a constant") }
            guard elementSize(layer.inputs[0]) == elementSize(layer.outputs[0]) else { return host("\(what) that changes the element type") }
            return .gather([map()])
        }

        switch layer.kind {
        case .reformat:
            return .reformat

        case .constant:
            return .constant

        case let .convolution(p):
            guard inShape.count == 4 else { return host("a convolution over a rank-\(inShape.count) tensor") }
            let singleInput = layer.inputs.count == 1
            if int8 {
                guard inQ[0] != nil else { return host(unquantizedInput) }
                if p.isDepthwise, outQ != nil, singleInput { return .depthwiseConvolution }
                if outQ == nil, p.groups != 1 { return host("a grouped INT8 convolution with float output") }
                return .convolution(grouped: p.groups != 1)
            }
            if p.isDepthwise, singleInput, layer.fusedActivation?.isClamp ?? true { return .depthwiseConvolution }
            return .convolution(grouped: p.groups != 1)

        case .fullyConnected:
            // Rows of the last axis (`TensorLayout`'s pixel view); the builder reads a rank-4 input through a Reshape
            // to rank 3 (`FlattenFullyConnectedPass`), as NHWC does not keep its last axis contiguous.
            guard inShape.count != 4 else { return host("a fully connected layer over the last axis of an NHWC (rank-4) tensor") }
            if int8, inQ[0] == nil { return host(unquantizedInput) }
            return .fullyConnected

        case let .pooling(p):
            guard inShape.count == 4 else { return host("pooling over a rank-\(inShape.count) tensor") }
            if int8, p.kind == .average, outQ == nil { return host("INT8 average pooling with float output") }
            return .pooling

        case .activation:
            guard int8 else { return .activation }
            return inQ[0] != nil && outQ != nil ? .lookupTable : host("an INT8 activation without input and output quantization")

        case .scale:
            if int8 { return host("Scale has no INT8 arithmetic") }
            return inShape.count == 4 ? .channelScale : host("Scale over a rank-\(inShape.count) tensor")

        case let .softmax(axis, coerced2D):
            if int8 { return host("Softmax has no INT8 arithmetic") }
            if inShape.count == 2 && axis == 1 { return .softmaxRows }
            guard inShape.count <= maximumRank else { return host("Softmax over a tensor above rank \(maximumRank)") }
            if coerced2D, inShape.count == 4, axis < 3 { return host("a Softmax before opset 13 over several axes of an NHWC tensor") }
            return .softmax(axis: axis, coerced2D: coerced2D)

        case let .elementwise(op):
            if !int8, let scalar = scalarOperand(layer) { return .scalarBinary(op, scalar: scalar.value, scalarFirst: scalar.first) }
            guard layer.inputs.count == 2 else { return host("\(op) of \(layer.inputs.count) operands") }
            let shapes = layer.inputs.map { network[$0].shape }
            let constants = layer.inputs.map(isConstant)
            /// Any broadcasting, constants included, through an index map.
            func broadcast() -> LayerForm {
                guard outShape.count <= maximumRank,
                      let map = IndexMap.broadcast(output: outShape, operands: zip(shapes, constants).map { (shape: $0, constant: $1) })
                else { return host("\(op) broadcasting \(shapes[0]) with \(shapes[1])") }
                return .broadcastBinary(op, map)
            }
            if int8 {
                guard inQ.allSatisfy({ $0 != nil }) else { return host(unquantizedInput) }
                guard outQ != nil else { return host("INT8 \(op) with float output") }
                guard QuantizationMath.hasInt8Arithmetic(op) else { return host("\(op) has no INT8 arithmetic") }
                return shapes[0] == shapes[1] && !constants.contains(true) ? .sameShapeBinary(op) : broadcast()
            }
            guard !constants.contains(true) else { return broadcast() }
            if shapes[0] == shapes[1] { return .sameShapeBinary(op) }
            func isChannelVector(_ s: [Int], of t: [Int]) -> Bool {
                s.count == 4 && t.count == 4 && s[1] == t[1] && s[2] == 1 && s[3] == 1 && (t[2] > 1 || t[3] > 1)
            }
            if isChannelVector(shapes[1], of: shapes[0]) { return .channelBroadcast(op, vectorFirst: false) }
            if isChannelVector(shapes[0], of: shapes[1]) { return .channelBroadcast(op, vectorFirst: true) }
            return broadcast()

        case let .concatenation(axis):
            if int8, outQ == nil || inQ.contains(where: { $0 == nil }) { return host(unquantizedInput) }
            let inputs = layer.inputs.map { (shape: network[$0].shape, constant: isConstant($0)) }
            if (outShape.count == 4 || outShape.count == 2) && axis == 1 && !inputs.contains(where: { $0.constant }) { return .channelConcatenation }
            guard outShape.count <= maximumRank, axis >= 1 else { return host("concatenation along axis \(axis) of a rank-\(outShape.count) tensor") }
            guard layer.inputs.allSatisfy({ elementSize($0) == elementSize(layer.outputs[0]) }) else {
                return host("concatenation of inputs of another element type than its output")
            }
            guard inputs.allSatisfy({ $0.shape.count == outShape.count && (!$0.constant || $0.shape[0] == 1) }) else {
                return host("concatenation with a constant input of batch above 1")
            }
            return .gather(IndexMap.concatenation(output: outShape, inputs: inputs, axis: axis))

        case .reshape, .identity:
            if inShape == outShape || physicalIsLogical(inShape) && physicalIsLogical(outShape) { return .view }
            return movement("\(layer.kind.typeName) that reorders NHWC data", .reshape(outputSample: Array(outShape.dropFirst())))

        case let .transpose(permutation):
            return movement("Transpose", .transpose(inputSample: Array(inShape.dropFirst()), permutation: permutation))

        case let .slice(p):
            return movement("Slice", .slice(inputSample: Array(inShape.dropFirst()), p, outputSample: Array(outShape.dropFirst())))

        case .pad:
            return int8 ? host("Pad has no INT8 arithmetic") : .padding

        case .reduce:
            return int8 ? host("Reduce has no INT8 arithmetic") : .reduction

        case .matrixMultiply:
            if int8, inQ.contains(where: { $0 == nil }) || outQ == nil { return host(unquantizedInput) }
            return layer.inputs.allSatisfy({ !isConstant($0) }) ? .matrixMultiply : host("MatMul with a constant operand of rank above 2")
        }
    }

    /// The value of a binary layer's one-element constant operand, when the other operand is an activation of
    /// the output's shape (the constant broadcasts without changing it).
    func scalarOperand(_ layer: Layer) -> (value: Float, first: Bool)? {
        guard layer.inputs.count == 2 else { return nil }
        let scalars = layer.inputs.map(scalarConstant)
        guard (scalars[0] == nil) != (scalars[1] == nil) else { return nil }
        let first = scalars[0] != nil
        guard network[layer.inputs[first ? 1 : 0]].shape == network[layer.outputs[0]].shape, let value = scalars[first ? 0 : 1] else { return nil }
        return (value, first)
    }

    /// The float value a one-element constant tensor holds when a float layer reads it: the constant itself, or
    /// its dequantized value where an INT8 build stored the constant quantized and a reformat dequantizes it.
    private func scalarConstant(_ id: TensorID) -> Float? {
        guard let producer = network.layers.first(where: { $0.outputs.contains(id) }) else { return nil }
        switch producer.kind {
        case .constant:
            // An engine file never leaves a one-element constant out (`LayerKind.leavingOutWeights`).
            guard let values = (try? constantValue(producer))?.dequantized.values, values.count == 1 else { return nil }
            return values[0]
        case .reformat where quantization[id] == nil:
            return scalarConstant(producer.inputs[0])
        case .reformat, .convolution, .fullyConnected, .pooling, .activation, .scale, .elementwise, .concatenation, .softmax,
             .reshape, .transpose, .slice, .pad, .reduce, .matrixMultiply, .identity:
            return nil
        }
    }

    /// Whether a tensor is produced by a constant layer, directly or through reformats (an INT8 build quantizes a
    /// constant and dequantizes it for a float reader): constants are not batched (`TensorPlacement.Entry.fixedBatch`).
    public func isConstant(_ id: TensorID) -> Bool {
        guard let producer = network.layers.first(where: { $0.outputs.contains(id) }) else { return false }
        switch producer.kind {
        case .constant: return true
        case .reformat: return isConstant(producer.inputs[0])
        default: return false
        }
    }
}
