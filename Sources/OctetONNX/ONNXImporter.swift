import Foundation
import OctetCore

/// Facts about an imported model that the command line prints, as TensorRT's parser does.
public struct ModelInfo: Sendable, Equatable {
    public var path: String
    public var irVersion: Int
    public var opsetVersion: Int
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int
    public var docString: String
    /// The model carries its quantization (QuantizeLinear/DequantizeLinear); it takes no range file.
    public var isExplicitlyQuantized: Bool
}

/// Reads ONNX image classifiers into Octet's `Network`.
///
/// ```swift
/// let (network, info) = try ONNXImporter.importModel(path: "model.onnx")
/// ```
///
/// Every node goes through one importer function from `opImporters`; shape subgraphs are folded at import,
/// and anything unsupported is an error naming the node, its op type and what is unsupported.
public enum ONNXImporter {
    /// The ONNX default-domain opset versions the importers are written against: from the first (opsets 1–6
    /// differ in attributes the importers read by opset: legacy broadcasting, `is_test`, Reshape's `shape`
    /// attribute, Cast's type names) to the newest the `onnx` 1.23 package writes.
    public static let supportedOpsets = 1...28

    /// Op types that can be imported, for documentation and `supportsModel`.
    public static var supportedOps: [String] { opImporters.keys.sorted() }

    /// Imports the model at `path`. Errors name the file.
    public static func importModel(path: String) throws -> (network: Network, info: ModelInfo) {
        let model = try ModelFile.load(path: path)
        let directory = (path as NSString).deletingLastPathComponent
        do {
            return try importModel(model, path: path, directory: directory.isEmpty ? "." : directory)
        } catch let error as OctetError {
            throw error.inFile(path)
        }
    }

    /// Imports a model from memory (a network stream, a fuzzer). Errors name `name` as the file.
    ///
    /// ```swift
    /// let (network, _) = try ONNXImporter.importModel(data: bytes, name: "upload.onnx")
    /// ```
    /// - Parameters:
    ///   - externalDataDirectory: where the model's external data files are; nil refuses external data.
    public static func importModel(data: Data, name: String = "<data>", externalDataDirectory: String? = nil) throws
        -> (network: Network, info: ModelInfo)
    {
        let model = try ModelFile.decode(data, path: name)
        do {
            return try importModel(model, path: name, directory: externalDataDirectory)
        } catch let error as OctetError {
            throw error.inFile(name)
        }
    }

    static func defaultOpset(_ model: Onnx_ModelProto) -> Int {
        model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { Int($0.version) } ?? 1
    }

    static func importModel(_ model: Onnx_ModelProto, path: String, directory: String?) throws -> (network: Network, info: ModelInfo) {
        let opset = defaultOpset(model)
        guard supportedOpsets.contains(opset) else {
            throw OctetError.invalidModel(
                reason: "opset \(opset) is not supported (Octet supports opsets \(supportedOpsets.lowerBound) to \(supportedOpsets.upperBound))")
        }
        let graph = model.graph
        try GraphStructure.check(graph)
        var context = ImportContext(
            network: Network(name: graph.name.isEmpty ? ((path as NSString).lastPathComponent) : graph.name),
            opset: opset, modelDirectory: directory)

        for initializer in graph.initializer {
            context.values[initializer.name] = .constant(try ModelFile.constant(initializer, directory: context.modelDirectory))
        }
        // Old exporters also list initializers as graph inputs; only the others are real inputs.
        for input in graph.input where context.values[input.name] == nil {
            let shape = try inputShape(input)
            let id = context.network.addInput(name: input.name, shape: shape)
            context.values[input.name] = .tensor(id)
        }
        guard !context.network.inputs.isEmpty else { throw OctetError.invalidModel(reason: "the graph has no inputs") }
        let producers = GraphStructure.producers(graph)

        for node in graph.node {
            if !node.domain.isEmpty, node.domain != "ai.onnx" {
                throw node.unsupported("domain '\(node.domain)' is not supported")
            }
            guard let importer = opImporters[node.opType] else {
                throw node.unsupported("op type \(node.opType) is not supported (see docs/operators.md)")
            }
            guard node.output.first.map({ !$0.isEmpty }) == true else {
                throw node.unsupported("the node names no output")
            }
            let inputs: [ImportedValue?] = try node.input.map { name in
                if name.isEmpty { return nil }
                if let reason = context.unavailable[name] {
                    throw node.unsupported("input '\(name)' is \(reason)")
                }
                guard let value = context.values[name] else {
                    if let later = producers[name] {
                        throw node.unsupported(
                            "input '\(name)' is produced by node '\(later)' later in the graph; ONNX requires nodes in topological order")
                    }
                    throw node.unsupported("input '\(name)' is not a graph input, an initializer or the output of any node")
                }
                return value
            }
            let outputs: [ImportedValue]
            do {
                // A node reading an activation whose batch is not its leading axis imports in the network's
                // per-sample coordinates (the ops that move the batch handle placements themselves).
                let placed = node.input.contains { context.placements[$0] != nil }
                if let folded = try ConstantFolding.fold(node, inputs, opset: context.opset) {
                    outputs = folded
                } else if placed && !placementAwareOps.contains(node.opType) {
                    outputs = try importPlaced(&context, node, inputs, importer)
                } else {
                    outputs = try importer(&context, node, inputs)
                }
            } catch let OctetError.invalidNetwork(reason) {
                throw node.unsupported(reason)
            }
            // Outputs past those produced may be unnamed, or outputs the importer declared unavailable.
            guard outputs.count == node.output.count
                || (outputs.count < node.output.count
                    && node.output[outputs.count...].allSatisfy { $0.isEmpty || context.unavailable[$0] != nil })
            else {
                throw node.unsupported("\(node.output.count) outputs are named, the op produces \(outputs.count)")
            }
            for (name, value) in zip(node.output, outputs) where !name.isEmpty {
                context.values[name] = value
            }
        }

        for output in graph.output {
            if let reason = context.unavailable[output.name] {
                throw OctetError.invalidModel(reason: "graph output '\(output.name)' is \(reason)")
            }
            guard let value = context.values[output.name] else {
                throw OctetError.invalidModel(reason: "graph output '\(output.name)' is not produced by any node")
            }
            guard case let .tensor(id) = value else {
                throw OctetError.invalidModel(reason: "graph output '\(output.name)' is a constant; Octet needs it computed")
            }
            if let placed = context.placements[output.name] {
                let producer = context.network.layers.first { $0.outputs.contains(id) }?.origin.first ?? output.name
                throw OctetError.invalidModel(
                    reason: "graph output '\(output.name)' of shape \(placed.shape), produced by node '\(producer)', does not keep the batch axis first (\(placed.placement.description))")
            }
            // A Q/DQ pair before the output makes the output an alias of an inner tensor: give it the
            // output's name, which is what users ask for.
            if context.network[id].name != output.name, context.network.tensorID(named: output.name) == nil {
                context.network.renameTensor(id, to: output.name)
            }
            context.network.markOutput(id)
        }
        try context.network.validate()

        let info = ModelInfo(
            path: path, irVersion: Int(model.irVersion), opsetVersion: opset, producerName: model.producerName,
            producerVersion: model.producerVersion, domain: model.domain, modelVersion: Int(model.modelVersion),
            docString: model.docString, isExplicitlyQuantized: context.explicitlyQuantized)
        return (context.network, info)
    }

    /// Shape of a graph input. Axis 0 may be symbolic (the batch, nominally 1); other axes must be known.
    static func inputShape(_ input: Onnx_ValueInfoProto) throws -> [Int] {
        guard input.type.tensorType.elemType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw OctetError.invalidModel(reason: "input '\(input.name)' is not a float32 tensor")
        }
        let dims = input.type.tensorType.shape.dim
        guard !dims.isEmpty else { throw OctetError.invalidModel(reason: "input '\(input.name)' has no shape") }
        let shape = try dims.enumerated().map { axis, dim in
            if case let .dimValue(v)? = dim.value {
                guard v > 0 else {
                    throw OctetError.invalidModel(
                        reason: "input '\(input.name)' has dimension \(v) on axis \(axis); dimensions must be positive")
                }
                return Int(v)
            }
            guard axis == 0 else {
                throw OctetError.invalidModel(
                    reason: "input '\(input.name)' has a symbolic dimension on axis \(axis); only the batch axis may be symbolic")
            }
            return 1
        }
        do {
            try Limits.checkShape(shape, of: "input '\(input.name)'")
        } catch let OctetError.invalidNetwork(reason) {
            throw OctetError.invalidModel(reason: reason)
        }
        return shape
    }
}
