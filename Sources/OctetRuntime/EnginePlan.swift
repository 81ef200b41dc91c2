import OctetCore
import OctetQuantization

/// What the builder decided: the optimized network (fused layers, reformat layers inserted), each layer's
/// precision, and each tensor's storage type and quantization. Backends compile a plan; the reference
/// executor runs it with plain loops, and every backend must match it exactly on integer tensors.
public struct EnginePlan: Sendable {
    /// Layers carry `precision` (`.int8`, `.float16`: FP16 operands over FP32 tensors, or `.float32`); tensors carry
    /// their storage `dataType`.
    public var network: Network
    /// Quantization of every tensor whose storage type is `.int8` or `.uint8`.
    public var quantization: [TensorID: TensorQuantization]
    /// Human-readable account of the build.
    public var report: BuildReport

    public init(network: Network, quantization: [TensorID: TensorQuantization], report: BuildReport) {
        self.network = network
        self.quantization = quantization
        self.report = report
    }

    public func quantization(of id: TensorID) -> TensorQuantization? { quantization[id] }

    /// What a backend looks at first when it chooses a kernel for a layer: whether it computes in INT8, its inputs'
    /// and its output's quantizations (nil for float tensors), its first input's and its output's logical shapes.
    public func signature(of layer: Layer) -> (
        int8: Bool, inputs: [TensorQuantization?], output: TensorQuantization?, inputShape: [Int], outputShape: [Int]
    ) {
        (layer.precision == .int8, layer.inputs.map { quantization[$0] }, quantization[layer.outputs[0]],
         layer.inputs.first.map { network[$0].shape } ?? [], network[layer.outputs[0]].shape)
    }

    /// The value a constant layer produces: its weights, quantized when its output is an integer tensor.
    /// - Throws: `OctetError.unavailable` when an engine file left the constant's values out (its backend state holds them).
    public func constantValue(_ layer: Layer) throws -> TensorValue? {
        guard case let .constant(w) = layer.kind else { return nil }
        if w.isLeftOut { throw OctetError.weightsLeftOut(layer: layer.name) }
        guard let q = quantization[layer.outputs[0]] else { return .float(TensorData(shape: w.shape, values: w.values)) }
        return .quantized(shape: w.shape, values: w.values.map { QuantizationMath.quantize($0, q) }, q)
    }

    // MARK: Weights left out of engine files

    /// The plan as an engine file keeps it when the backend's saved state holds what the layers at `layers`
    /// (indices into `network.layers`) derived from their weights: those layers' float weights are left out
    /// (`LayerKind.leavingOutWeights`), so the file does not carry them twice.
    public func leavingOutWeights(ofLayers layers: Set<Int>) -> EnginePlan {
        var plan = self
        for index in layers where plan.network.layers.indices.contains(index) {
            plan.network.layers[index].kind = plan.network.layers[index].kind.leavingOutWeights()
        }
        return plan
    }

    /// The layers whose weights the engine file this plan came from left out (empty for a built plan).
    public var layersWithLeftOutWeights: [Int] { network.layers.indices.filter { network.layers[$0].kind.hasLeftOutWeights } }

    /// Whether every weight is present, so the reference executor (or anything else that reads weights) can run it.
    public var hasAllWeights: Bool { !network.layers.contains { $0.kind.hasLeftOutWeights } }
}

/// A tensor's value in host memory, in logical (row-major, NCHW) order: float, or stored 8-bit integers
/// (held as Int32 for easy comparison) with their quantization.
public enum TensorValue: Sendable, Equatable {
    case float(TensorData)
    case quantized(shape: [Int], values: [Int32], TensorQuantization)

    public var shape: [Int] {
        switch self {
        case let .float(t): t.shape
        case let .quantized(shape, _, _): shape
        }
    }

    /// Real values (dequantized when quantized).
    public var dequantized: TensorData {
        switch self {
        case let .float(t): t
        case let .quantized(shape, values, q): TensorData(shape: shape, values: values.map { QuantizationMath.dequantize($0, q) })
        }
    }
}

/// One line per engine layer, and the lists users ask for: what runs in INT8, what does not and why.
public struct BuildReport: Sendable, Equatable {
    public struct LayerEntry: Sendable, Equatable {
        public var name: String
        public var kind: String
        public var origin: [String]
        public var precision: DataType
        public var inputTypes: [String]
        public var outputTypes: [String]
        public var kernel: String
        /// Why the layer runs in a wider precision than the builder permitted, each part labelled: `not INT8: …`
        /// (INT8 enabled, the layer is not INT8) and `not FP16: …` (FP16 permitted, the layer stays FP32). Engine
        /// files written before FP16 hold the INT8 reason unlabelled.
        public var reason: String?
        /// Why the backend runs the layer through the reference implementation on the host, when it does.
        public var hostReason: String?

        public init(name: String, kind: String, origin: [String], precision: DataType, inputTypes: [String], outputTypes: [String], kernel: String, reason: String?) {
            self.name = name
            self.kind = kind
            self.origin = origin
            self.precision = precision
            self.inputTypes = inputTypes
            self.outputTypes = outputTypes
            self.kernel = kernel
            self.reason = reason
        }
    }

    /// The builder's settings (`int8=true`, `noFusion=false`, ...), one `name=value` each, as an engine file
    /// records them.
    public var builderOptions: [String] = []
    public var layers: [LayerEntry] = []
    /// What the passes did, one line each ("fused BatchNorm 'bn1' into Conv 'conv1'").
    public var passLog: [String] = []
    /// Tensors without a dynamic range that kept a layer out of INT8.
    public var missingRanges: [String] = []
    /// Warnings (precision constraints that could not be obeyed with `prefer`).
    public var warnings: [String] = []

    public init() {}

    public var int8LayerCount: Int { layers.filter { $0.precision == .int8 }.count }
    public var float16LayerCount: Int { layers.filter { $0.precision == .float16 }.count }

    /// The layers the backend runs on the host reference implementation, with the reason.
    public var hostLayers: [(name: String, reason: String)] { layers.compactMap { l in l.hostReason.map { (l.name, $0) } } }

    /// The report as text, one line per engine layer.
    public var text: String {
        var lines: [String] = []
        for entry in passLog { lines.append("pass: \(entry)") }
        let float16 = float16LayerCount > 0 ? ", \(float16LayerCount) in FP16" : ""
        lines.append("Engine layers (\(layers.count), \(int8LayerCount) in INT8\(float16)):")
        for (index, layer) in layers.enumerated() {
            var line = "  [\(index)] \(layer.name) \(layer.kind) \(layer.precision) in=\(layer.inputTypes.joined(separator: ",")) out=\(layer.outputTypes.joined(separator: ",")) kernel=\(layer.kernel)"
            if layer.origin != [layer.name] { line += " from=\(layer.origin.joined(separator: ","))" }
            if let reason = layer.reason { line += "  (\(reason.hasPrefix("not ") ? reason : "not INT8: " + reason))" }
            if let hostReason = layer.hostReason { line += "  (host reference: \(hostReason))" }
            lines.append(line)
        }
        if !missingRanges.isEmpty { lines.append("Tensors without a dynamic range: \(missingRanges.joined(separator: ", "))") }
        for warning in warnings { lines.append("warning: \(warning)") }
        return lines.joined(separator: "\n")
    }
}
