import OctetCore

/// What an ONNX value is while importing: a tensor of the network being built, or a value known now.
enum ImportedValue: Sendable {
    case tensor(TensorID)
    case constant(ConstantTensor)
}

/// State of one import: the network under construction, the value of every ONNX name seen so far, and the
/// opset in force.
struct ImportContext {
    var network: Network
    var values: [String: ImportedValue] = [:]
    let opset: Int
    /// Where external data files are; nil for a model read from memory.
    let modelDirectory: String?
    /// Set when the model carries QuantizeLinear / DequantizeLinear nodes: its ranges come from them.
    var explicitlyQuantized = false
    /// Node outputs Octet does not compute (Dropout's mask), with what they are: an error if a node or the
    /// graph output reads one, nothing if none does.
    var unavailable: [String: String] = [:]
    /// Float elements filled by ConstantOfShape so far, against `Limits.maxFilledElements`.
    var filledElements = 0
    /// Activations whose batch is not their leading ONNX axis (attention's layouts), by ONNX name; every other
    /// activation's ONNX shape is its network shape. See `BatchPlacement`.
    var placements: [String: PlacedShape] = [:]
    /// The batch size the network's shapes use: the first input's axis 0 (1 when symbolic).
    var nominalBatch: Int { network.inputs.first.map { network[$0].shape.first ?? 1 } ?? 1 }

    /// Shape of a value: the tensor's nominal shape, or the constant's.
    func shape(_ value: ImportedValue) -> [Int] {
        switch value {
        case let .tensor(id): network[id].shape
        case let .constant(c): c.shape
        }
    }

    /// The value as a network tensor; constants become `Constant` layers named after the ONNX value, once.
    mutating func tensor(_ value: ImportedValue, name: String) throws -> TensorID {
        switch value {
        case let .tensor(id): return id
        case let .constant(c):
            if let id = network.tensorID(named: name) { return id }
            guard let weights = c.weights else {
                throw OctetError.invalidNetwork(reason: "constant '\(name)' depends on the batch size and cannot be a tensor")
            }
            let id = try network.addLayer(name: name, kind: .constant(weights), inputs: [], outputNames: [name])[0]
            values[name] = .tensor(id)
            return id
        }
    }

    /// Adds one layer producing the node's outputs (named as in ONNX).
    /// - Parameters:
    ///   - outputs: output tensor names; the node's first output by default.
    ///   - layerName: the layer's name; the node's name (or first output when unnamed) by default.
    mutating func addLayer(
        _ node: Onnx_NodeProto, _ kind: LayerKind, inputs: [TensorID], outputs: [String]? = nil,
        layerName: String? = nil
    ) throws -> [ImportedValue] {
        let names = outputs ?? Array(node.output.prefix(1))
        let ids = try network.addLayer(
            name: layerName ?? node.displayName, kind: kind, inputs: inputs, outputNames: names,
            origin: [node.displayName])
        return ids.map { .tensor($0) }
    }

    /// Adds one layer of a lowering (an op that becomes several layers): named after the node with `suffix`,
    /// its output after the node's first output with the same suffix, the node as its origin.
    mutating func addInternalLayer(_ node: Onnx_NodeProto, _ suffix: String, _ kind: LayerKind, inputs: [TensorID]) throws
        -> TensorID
    {
        try network.addLayer(
            name: "\(node.displayName)__\(suffix)", kind: kind, inputs: inputs, outputNames: ["\(node.output[0])__\(suffix)"],
            origin: [node.displayName])[0]
    }

    /// A one-element float constant as a network tensor (an operand of a lowering), named after the node.
    mutating func scalarTensor(_ value: Float, _ node: Onnx_NodeProto, _ suffix: String) throws -> TensorID {
        try tensor(.constant(ConstantTensor(shape: [1], floats: [value])), name: "\(node.output[0])__\(suffix)")
    }
}
