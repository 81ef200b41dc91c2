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
}
