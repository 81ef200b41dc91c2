/// Identifies a tensor within one `Network`.
public struct TensorID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: TensorID, b: TensorID) -> Bool { a.index < b.index }
    public var description: String { "%\(index)" }
}

/// A named tensor of the network definition: a network input, a layer output, or a constant.
public struct Tensor: Sendable, Equatable {
    /// The ONNX name, kept so that range files and reports speak the model's language.
    public var name: String
    /// Full shape; axis 0 is the batch axis (nominal size) for activations. Constants have their own shape.
    public var shape: [Int]
    public var dataType: DataType
    /// Symmetric dynamic range R: the tensor's values are taken to lie in [-R, R]. Nil when none was given.
    public private(set) var dynamicRange: Float?
    /// The exact quantization an explicitly quantized (QDQ) model gives this tensor, zero point included.
    /// Setting it also sets the dynamic range it implies; setting a dynamic range afterwards removes it.
    public private(set) var explicitQuantization: ExplicitQuantization?

    public init(name: String, shape: [Int], dataType: DataType = .float32, dynamicRange: Float? = nil) {
        self.name = name
        self.shape = shape
        self.dataType = dataType
        self.dynamicRange = dynamicRange
    }

    /// Sets the dynamic range as TensorRT's `ITensor::setDynamicRange` does: ranges are symmetric, so the
    /// larger magnitude of the two bounds wins.
    public mutating func setDynamicRange(min: Float, max: Float) {
        dynamicRange = Swift.max(abs(min), abs(max))
        explicitQuantization = nil
    }

    public mutating func clearDynamicRange() {
        dynamicRange = nil
        explicitQuantization = nil
    }

    /// Gives the tensor the model's own quantization (ONNX QuantizeLinear), and the dynamic range it implies
    /// (the larger magnitude of its representable interval).
    public mutating func setExplicitQuantization(_ q: ExplicitQuantization) {
        let (lo, hi) = q.representableInterval
        setDynamicRange(min: lo, max: hi)
        explicitQuantization = q
    }

    /// Takes `other`'s quantization, explicit or from its dynamic range, for a tensor that holds the same values
    /// (data movement's output, a reshaped copy); nothing changes where `other` has neither.
    public mutating func takeRange(of other: Tensor) {
        if let q = other.explicitQuantization {
            setExplicitQuantization(q)
        } else if let r = other.dynamicRange {
            setDynamicRange(min: -r, max: r)
        }
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// The quantization an ONNX QuantizeLinear node states for an activation: `x = scale · (q − zeroPoint)`,
/// q stored as `dataType` (`.int8` or `.uint8`). `OctetQuantization.TensorQuantization` is built from it.
public struct ExplicitQuantization: Sendable, Equatable {
    public var dataType: DataType
    public var scale: Float
    public var zeroPoint: Int32

    public init(dataType: DataType, scale: Float, zeroPoint: Int32) {
        precondition(dataType.isQuantized)
        self.dataType = dataType
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The real values the stored type can represent: `[scale · (qmin − z), scale · (qmax − z)]`.
    public var representableInterval: (min: Float, max: Float) {
        let (qmin, qmax): (Int32, Int32) = dataType == .int8 ? (-128, 127) : (0, 255)
        return (scale * Float(qmin - zeroPoint), scale * Float(qmax - zeroPoint))
    }
}

/// One layer of the network definition: a primitive `LayerKind` with its inputs, outputs and the user's
/// precision requests (TensorRT's `ILayer::setPrecision` and `setOutputType`).
public struct Layer: Sendable, Equatable {
    /// The ONNX node name (or a derived name when one node became several layers).
    public var name: String
    public var kind: LayerKind
    public var inputs: [TensorID]
    public var outputs: [TensorID]
    /// The arithmetic this layer must compute in, when the user asked for one; nil lets the builder choose.
    public var precision: DataType?
    /// Requested storage type per output; nil entries let the builder choose.
    public private(set) var outputTypes: [DataType?]
    /// Names of the ONNX nodes this layer came from (for reports).
    public var origin: [String]
    /// An activation applied to the output, fused by the builder (Relu or Clip after a convolution).
    public var fusedActivation: Activation?

    public init(name: String, kind: LayerKind, inputs: [TensorID], outputs: [TensorID], origin: [String] = []) {
        self.name = name
        self.kind = kind
        self.inputs = inputs
        self.outputs = outputs
        self.precision = nil
        self.outputTypes = Array(repeating: nil, count: outputs.count)
        self.origin = origin.isEmpty ? [name] : origin
        self.fusedActivation = nil
    }

    /// Requests the storage type of output `index`.
    public mutating func setOutputType(_ index: Int, _ type: DataType) {
        precondition(outputTypes.indices.contains(index), "layer '\(name)' has no output \(index)")
        outputTypes[index] = type
    }

    public func outputType(_ index: Int) -> DataType? { outputTypes[index] }

    mutating func resetOutputTypes() { outputTypes = Array(repeating: nil, count: outputs.count) }
}

/// The network definition: named tensors and the layers that connect them, in topological order.
///
/// Value type: a builder takes a copy and rewrites it; the user's network is never changed behind their back.
public struct Network: Sendable, Equatable {
    public var name: String
    public private(set) var tensors: [Tensor] = []
    public var layers: [Layer] = []
    public private(set) var inputs: [TensorID] = []
    public private(set) var outputs: [TensorID] = []

    public init(name: String = "network") { self.name = name }

    /// A network from its parts, as an engine file stores it (layers in topological order, outputs inferred
    /// before). Checks that every tensor id is in range and the graph is well formed (`validate`).
    /// - Throws: `OctetError.invalidNetwork` naming what is out of range or inconsistent.
    public init(name: String, tensors: [Tensor], layers: [Layer], inputs: [TensorID], outputs: [TensorID]) throws {
        let ids = inputs + outputs + layers.flatMap { $0.inputs + $0.outputs }
        if let bad = ids.first(where: { !tensors.indices.contains($0.index) }) {
            throw OctetError.invalidNetwork(reason: "tensor \(bad) is not one of the network's \(tensors.count) tensors")
        }
        self.name = name
        self.tensors = tensors
        self.layers = layers
        self.inputs = inputs
        self.outputs = outputs
        try validate()
    }

    // MARK: Building

    /// Adds a network input.
    @discardableResult
    public mutating func addInput(name: String, shape: [Int], dataType: DataType = .float32) -> TensorID {
        let id = addTensor(Tensor(name: name, shape: shape, dataType: dataType))
        inputs.append(id)
        return id
    }

    /// Adds a tensor that no layer produces yet (used by passes that rewire the graph).
    public mutating func addTensor(_ tensor: Tensor) -> TensorID {
        tensors.append(tensor)
        return TensorID(tensors.count - 1)
    }

    /// Appends a layer, inferring its output shapes from its inputs.
    /// - Parameters:
    ///   - outputNames: names for the outputs; their count is the number of outputs the kind produces.
    /// - Returns: the ids of the new output tensors.
    @discardableResult
    public mutating func addLayer(
        name: String, kind: LayerKind, inputs: [TensorID], outputNames: [String], origin: [String] = []
    ) throws -> [TensorID] {
        let shapes = try kind.outputShapes(inputs: inputs.map { tensors[$0.index].shape })
        guard shapes.count == outputNames.count else {
            throw OctetError.invalidNetwork(reason: "layer '\(name)' produces \(shapes.count) outputs, \(outputNames.count) named")
        }
        for (outputName, shape) in zip(outputNames, shapes) { try Limits.checkShape(shape, of: "tensor '\(outputName)'") }
        let outs = zip(outputNames, shapes).map { addTensor(Tensor(name: $0, shape: $1)) }
        layers.append(Layer(name: name, kind: kind, inputs: inputs, outputs: outs, origin: origin))
        return outs
    }

    /// Renames a tensor (names stay unique: the caller checks).
    public mutating func renameTensor(_ id: TensorID, to name: String) { tensors[id.index].name = name }

    public mutating func markOutput(_ id: TensorID) {
        if !outputs.contains(id) { outputs.append(id) }
    }

    public mutating func replaceOutput(_ old: TensorID, with new: TensorID) {
        outputs = outputs.map { $0 == old ? new : $0 }
    }

    // MARK: Access

    public subscript(id: TensorID) -> Tensor {
        get { tensors[id.index] }
        set { tensors[id.index] = newValue }
    }

    /// The tensor with this name, if any. Names are unique within a network.
    public func tensorID(named name: String) -> TensorID? {
        tensors.indices.first { tensors[$0].name == name }.map(TensorID.init)
    }

    /// Sets the dynamic range of the named tensor (see `Tensor.setDynamicRange`).
    /// - Returns: false when no tensor has that name.
    @discardableResult
    public mutating func setDynamicRange(_ name: String, min: Float, max: Float) -> Bool {
        guard let id = tensorID(named: name) else { return false }
        tensors[id.index].setDynamicRange(min: min, max: max)
        return true
    }

    /// Index of the layer producing each tensor (nil for network inputs and dangling tensors).
    public func producers() -> [TensorID: Int] {
        var map: [TensorID: Int] = [:]
        for (index, layer) in layers.enumerated() { for out in layer.outputs { map[out] = index } }
        return map
    }

    /// Where `layer` is a fully connected layer's bias Add — an Add of the layer's output and a constant vector of its
    /// output size along the last axis, as exporters write a Linear over a rank-3/4 tensor — the two producers:
    /// the fully connected layer and the constant. The fold-bias-add pass folds such an Add (when the layer's output
    /// is private to it); the LayerNormalization importer leaves it unpinned for that reason.
    public func biasAddOperands(of layer: Layer, producers: [TensorID: Int]) -> (fullyConnected: Int, constant: Int, side: Int)? {
        guard layer.kind == .elementwise(.add), layer.inputs.count == 2 else { return nil }
        for side in 0..<2 {
            guard let fc = producers[layer.inputs[side]], let constant = producers[layer.inputs[1 - side]],
                  case let .fullyConnected(p) = layers[fc].kind, case let .constant(c) = layers[constant].kind,
                  c.count == p.outputs, c.shape.last == p.outputs
            else { continue }
            return (fc, constant, side)
        }
        return nil
    }

    /// For each tensor, the indices of the layers that read it.
    public func consumers() -> [TensorID: [Int]] {
        var map: [TensorID: [Int]] = [:]
        for (index, layer) in layers.enumerated() { for input in layer.inputs { map[input, default: []].append(index) } }
        return map
    }

    /// Tensors in the order TensorRT's sample lists them: network inputs, then every layer's outputs in order.
    /// Constant layers are included, as TensorRT includes its constant layers.
    public var executionTensorNames: [String] {
        inputs.map { self[$0].name } + layers.flatMap { $0.outputs.map { self[$0].name } }
    }

    /// Checks that every activation fits `Limits.maxTensorElements` at `batch` samples, so a caller can refuse
    /// a batch before allocating its inputs (the engine checks its arena again when it runs).
    /// - Throws: `OctetError.invalidInput` naming the first tensor that would be too large.
    public func checkBatch(_ batch: Int) throws {
        guard batch >= 1 else { throw OctetError.invalidInput(reason: "batch \(batch) must be at least 1") }
        let constants = Set(layers.filter { if case .constant = $0.kind { true } else { false } }.flatMap(\.outputs))
        for (index, tensor) in tensors.enumerated() where !constants.contains(TensorID(index)) {
            let perSample = Limits.product(tensor.shape.dropFirst()) ?? Int.max
            let (elements, overflow) = perSample.multipliedReportingOverflow(by: batch)
            guard !overflow, elements <= Limits.maxTensorElements else {
                throw OctetError.invalidInput(
                    reason: "batch \(batch) is too large: tensor '\(tensor.name)' would hold more than 2^31 elements, Octet's limit for one tensor; split the batch")
            }
        }
    }

    /// Checks that the graph is well formed: layers are topologically ordered, every tensor is produced once,
    /// every output is produced, and every tensor's shape is within `Limits`.
    public func validate() throws {
        for tensor in tensors { try Limits.checkShape(tensor.shape, of: "tensor '\(tensor.name)'") }
        var available = Set(inputs)
        for layer in layers {
            for input in layer.inputs where !available.contains(input) {
                throw OctetError.invalidNetwork(reason: "layer '\(layer.name)' reads '\(self[input].name)' before it is produced")
            }
            for out in layer.outputs {
                guard available.insert(out).inserted else {
                    throw OctetError.invalidNetwork(reason: "tensor '\(self[out].name)' is produced twice")
                }
            }
        }
        for out in outputs where !available.contains(out) {
            throw OctetError.invalidNetwork(reason: "network output '\(self[out].name)' is never produced")
        }
    }
}
