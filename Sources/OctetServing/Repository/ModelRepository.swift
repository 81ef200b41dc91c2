import Foundation
import Logging
import Octet

/// One model the server answers for: its engine, what its tensors look like on the wire, how image inputs are
/// preprocessed, its labels, and the scheduler that runs its requests.
final class ServedModel: Sendable {
    let name: String
    /// The one version served (the repository holds one engine per model folder).
    let version = "1"
    let engine: Engine
    let configuration: ModelConfiguration
    let inputs: [TensorMetadata]
    let outputs: [TensorMetadata]
    /// How BYTES (image file) inputs become the first input, where that input is `[N, 3, H, W]`.
    let recipe: PreprocessingRecipe?
    let labels: Labels?
    /// Output names whose values are already probabilities (the network ends in Softmax).
    let probabilityOutputs: Set<String>
    let precision: String
    let scheduler: BatchScheduler

    init(name: String, engine: Engine, configuration: ModelConfiguration, recipe: PreprocessingRecipe?, labels: Labels?,
         precision: String, scheduler: BatchScheduler) {
        self.name = name
        self.engine = engine
        self.configuration = configuration
        self.recipe = recipe
        self.labels = labels
        self.precision = precision
        self.scheduler = scheduler
        let network = engine.plan.network
        inputs = network.inputs.map { TensorMetadata(name: network[$0].name, datatype: "FP32", shape: [-1] + network[$0].shape.dropFirst()) }
        outputs = network.outputs.map { TensorMetadata(name: network[$0].name, datatype: "FP32", shape: [-1] + network[$0].shape.dropFirst()) }
        probabilityOutputs = Set(network.outputs.filter { Classification.endsInSoftmax(network, output: $0) }.map { network[$0].name })
    }

    var maxBatchSize: Int { scheduler.settings.maxBatchSize }
}

/// A model repository: `DIR/<model name>/model.onnx` (built when the server starts) or `DIR/<model name>/model.engine`
/// (an engine file from `octet build --save-engine`, loaded as built), and an optional
/// `DIR/<model name>/config.json` (``ModelConfiguration``). A folder that cannot be served stops the start with one
/// sentence naming the file, rather than a server that answers for fewer models than asked.
enum ModelRepository {
    /// The ONNX model a folder may hold.
    static let modelFileName = "model.onnx"
    /// The engine file a folder may hold instead: no import, graph pass, weight packing or tactic timing at start.
    static let engineFileName = "model.engine"
    static let configurationFileName = "config.json"

    /// Builds every model of `directory`.
    /// - Throws: `OctetError` naming the folder or file that cannot be served.
    static func load(_ directory: String, metrics: ServingMetrics?, logger: Logger) throws -> [String: ServedModel] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw OctetError.io(path: directory, reason: "cannot list the model repository")
        }
        var models: [String: ServedModel] = [:]
        for name in names {
            let folder = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            models[name] = try loadModel(name: name, folder: folder, metrics: metrics, logger: logger)
        }
        guard !models.isEmpty else {
            throw OctetError.io(path: directory, reason: "the model repository holds no model folder (DIR/<model name>/\(modelFileName) or \(engineFileName))")
        }
        return models
    }

    static func loadModel(name: String, folder: String, metrics: ServingMetrics?, logger: Logger) throws -> ServedModel {
        let file = path(in: folder)
        let onnxPath = file(modelFileName), enginePath = file(engineFileName)
        let hasModel = FileManager.default.fileExists(atPath: onnxPath), hasEngine = FileManager.default.fileExists(atPath: enginePath)
        guard hasModel != hasEngine else {
            throw OctetError.io(path: folder, reason: hasModel
                ? "the model folder holds both \(modelFileName) and \(engineFileName); keep the one to serve"
                : "the model folder holds no \(modelFileName) or \(engineFileName)")
        }
        let configurationPath = file(configurationFileName)
        let configuration = FileManager.default.fileExists(atPath: configurationPath)
            ? try ModelConfiguration.read(path: configurationPath) : ModelConfiguration()
        let warn: (String) -> Void = { logger.warning("\(name): \($0)") }
        let instances = configuration.instanceCount ?? 1
        let threads = configuration.threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / instances)
        let (engine, modelPath, precision, deviceText) = hasEngine
            ? try loadEngine(enginePath, configuration: configuration, configurationPath: configurationPath, threads: threads)
            : try buildEngine(onnxPath, name: name, configuration: configuration, configurationPath: configurationPath, threads: threads, warn: warn)
        let network = engine.plan.network
        let maxBatchSize = configuration.maxBatchSize ?? 8
        try network.checkBatch(maxBatchSize)

        let input = network[network.inputs[0]]
        let isImageInput = network.inputs.count == 1 && input.shape.count == 4 && input.shape[1] == 3
        let recipeName = configuration.recipe.flatMap(PreprocessingRecipe.Name.init(rawValue:)) ?? .sample
        let recipe = isImageInput ? PreprocessingRecipe.named(recipeName, height: input.shape[2], width: input.shape[3]) : nil
        let classes = network[network.outputs[0]].shape.dropFirst().reduce(1, *)
        let labels = try configuration.labels.map(file).flatMap {
            try Labels.forOutput(path: $0, classes: classes, output: network[network.outputs[0]].name, explicitlyGiven: true, warn: warn)
        }
        let settings = BatchScheduler.Settings(
            instances: instances, maxBatchSize: maxBatchSize,
            maxQueueDelay: configuration.dynamicBatching.map { .microseconds($0.maxQueueDelayMicroseconds ?? 0) },
            maxQueueSize: configuration.maxQueueSize ?? 64,
            queueTimeout: .milliseconds(configuration.queueTimeoutMilliseconds ?? 30_000))
        let scheduler = BatchScheduler(engine: engine, settings: settings, metrics: metrics?.model(name))
        logger.info("\(name): \(precision.uppercased()) \(engine.backendName.uppercased()) engine (\(deviceText)) for \(modelPath), \(engine.plan.report.int8LayerCount) INT8 layers; \(instances) execution context(s) of \(threads) thread(s), max batch \(maxBatchSize), \(settings.maxQueueDelay.map { "dynamic batching with \($0) delay" } ?? "no dynamic batching")\(recipe.map { "; images: recipe \($0.summary)" } ?? "")")
        return ServedModel(name: name, engine: engine, configuration: configuration, recipe: recipe, labels: labels, precision: precision, scheduler: scheduler)
    }

    /// File names in `config.json` are relative to the model folder.
    private static func path(in folder: String) -> (String) -> String {
        { relative in relative.hasPrefix("/") ? relative : (folder as NSString).appendingPathComponent(relative) }
    }

    /// `model.onnx`, imported and built with the configuration's ranges and builder options.
    private static func buildEngine(
        _ modelPath: String, name: String, configuration: ModelConfiguration, configurationPath: String, threads: Int, warn: @escaping (String) -> Void
    ) throws -> (Engine, path: String, precision: String, device: String) {
        let file = path(in: (modelPath as NSString).deletingLastPathComponent)
        var (network, info) = try ONNXImporter.importModel(path: modelPath)
        network.name = name
        let rangesPath = configuration.ranges.map(file), cachePath = configuration.calibrationCache.map(file)
        if info.isExplicitlyQuantized, rangesPath != nil || cachePath != nil {
            throw OctetError.invalidInput(
                reason: "\(modelPath) carries its own quantization (QuantizeLinear/DequantizeLinear), so \(configurationPath) may name no ranges or calibration_cache")
        }
        let ranges = try EngineSetup.applyRanges(rangesPath: rangesPath, cachePath: cachePath, to: &network, modelPath: modelPath)
        let precision = configuration.precision ?? (ranges != nil || info.isExplicitlyQuantized ? "int8" : "fp32")
        if let ranges, !ranges.unknown.isEmpty {
            warn("\(ranges.unknown.count) range(s) in \(ranges.source) match no tensor of the model and are ignored")
        }
        let config = EngineSetup.builderConfig(
            precision: precision, constraints: configuration.precisionConstraints ?? "none",
            trtCompatibleRanges: configuration.trtCompatibleRanges ?? false, noFusion: configuration.noFusion ?? false,
            explicitQuantization: info.isExplicitlyQuantized)
        let backend = try EngineSetup.backend(configuration.device ?? "cpu", warn: warn)
        let engine = try EngineSetup.build(
            network, config: config, backend: backend, threads: threads, precision: precision, hasRanges: ranges != nil, warn: warn)
        return (engine, modelPath, precision, EngineSetup.deviceDescription(backend))
    }

    /// `model.engine`, loaded on the backend it was built for. The keys that shape a build are refused: the engine
    /// fixed them when it was built (`octet build`), and a configuration that names them is not the one served.
    private static func loadEngine(
        _ enginePath: String, configuration: ModelConfiguration, configurationPath: String, threads: Int
    ) throws -> (Engine, path: String, precision: String, device: String) {
        let buildKeys: [(key: ModelConfiguration.CodingKeys, set: Bool)] = [
            (.ranges, configuration.ranges != nil), (.calibrationCache, configuration.calibrationCache != nil),
            (.precision, configuration.precision != nil), (.precisionConstraints, configuration.precisionConstraints != nil),
            (.trtCompatibleRanges, configuration.trtCompatibleRanges != nil), (.noFusion, configuration.noFusion != nil),
        ]
        if let key = buildKeys.first(where: \.set)?.key {
            throw OctetError.invalidInput(reason: "\(configurationPath) sets \(key.rawValue), which \(enginePath) fixed when it was built; rebuild the engine to change it")
        }
        let opened = try Engine.open(engineFile: enginePath) { file in
            if let device = configuration.device, device != "auto", device != file.backendName {
                throw OctetError.invalidInput(reason: "\(configurationPath) asks for device \(device), and \(enginePath) is a \(file.backendName) engine built for \(file.target)")
            }
        }
        let file = opened.file
        let engine = try Engine(file, backend: opened.backend, options: ExecutionOptions(threads: threads))
        return (engine, enginePath, EngineSetup.precision(of: engine), "\(file.backendName) engine file for \(file.target)")
    }
}
