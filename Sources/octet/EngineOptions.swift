import ArgumentParser
import Foundation
import Octet

/// Options shared by every command that builds an engine (`run`, `eval`, `compare`, `inspect`, `bench`): the model, its
/// ranges, and the builder's precision settings.
struct EngineOptions: ParsableArguments {
    /// The bundled demo, found in the data directories like the sample's ResNet-50 files.
    static let demoModel = "efficientnet_lite0.onnx"
    static let demoRanges = "efficientnet_lite0_per_tensor_dynamic_range.txt"

    @Option(name: .customLong("model"), help: "ONNX model file.")
    var model = EngineOptions.demoModel

    @Option(name: .customLong("ranges"), help: "Per-tensor dynamic range file (tensor_name:range per line).")
    var ranges: String?

    @Option(name: .customLong("calibration-cache"), help: "TensorRT-style calibration cache; --ranges entries override its entries.")
    var calibrationCache: String?

    @Option(name: .customLong("data"), help: "Directory to search for input files (repeatable).")
    var data: [String] = []

    @Option(help: "Arithmetic precision: int8, fp32, mixed, fp16 or best (default: int8 with --ranges, else fp32). fp16 and best permit FP16 as TensorRT's kFP16 does: float layers with an FP16 kernel (CUDA: convolutions with groups 1, fully connected) compute half x half products with FP32 sums, the rest stay FP32; best = int8 + fp16.")
    var precision: String?

    @Flag(name: .customLong("int8"), help: "Same as --precision int8 (the sample's flag).")
    var int8 = false

    @Flag(name: .customLong("fp16"), help: "Same as --precision fp16 (the sample's flag); with --int8, --precision best. The CPU has no FP16 kernels: there it builds an FP32 engine and warns.")
    var fp16 = false

    @Flag(name: .customLong("best"), help: "Same as --precision best (trtexec's --best): INT8 where ranges allow, FP16 where a kernel exists, else FP32.")
    var best = false

    @Option(name: .customLong("layer-precision"), help: "Per-layer precision, NAME:TYPE,... (TYPE int8 or fp32).")
    var layerPrecision: String?

    @Option(name: .customLong("layer-output-type"), help: "Per-layer output type, NAME:TYPE,... (TYPE int8 or fp32).")
    var layerOutputType: String?

    @Option(name: .customLong("precision-constraints"), help: "What an impossible per-layer precision request does: obey (error), prefer (warning) or none.")
    var precisionConstraints = "none"

    @Flag(name: .customLong("trt-compatible-ranges"), help: "Keep every activation signed with scale R/127, exactly as TensorRT does.")
    var trtCompatibleRanges = false

    @Flag(name: .customLong("no-fusion"), help: "Skip the fusion passes (BatchNorm folding, activation and residual fusion).")
    var noFusion = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Device: cpu, cuda or auto.")
    var device = "auto"

    @Option(name: [.customLong("load-engine"), .customLong("loadEngine")], help: "Run this engine file (octet build --save-engine) instead of building one; compare and eval still build their FP32 baseline from --model.")
    var loadEngine: String?

    /// Options that shape a build, which a loaded engine has already had: giving one with --load-engine is an error.
    private var buildOnlyOptions: [(given: Bool, name: String)] {
        [(ranges != nil, "--ranges"), (calibrationCache != nil, "--calibration-cache"), (precision != nil, "--precision"),
         (int8, "--int8"), (fp16, "--fp16"), (best, "--best"), (layerPrecision != nil, "--layer-precision"), (layerOutputType != nil, "--layer-output-type"),
         (precisionConstraints != "none", "--precision-constraints"), (trtCompatibleRanges, "--trt-compatible-ranges"), (noFusion, "--no-fusion")]
    }

    func validate() throws {
        if let precision, !["int8", "fp32", "mixed", "fp16", "best", "float", "half"].contains(precision.lowercased()) {
            throw ValidationError("--precision must be int8, fp32, mixed, fp16 or best, not '\(precision)'")
        }
        if !["obey", "prefer", "none"].contains(precisionConstraints) {
            throw ValidationError("--precision-constraints must be obey, prefer or none")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !["cpu", "cuda", "auto"].contains(device) { throw ValidationError("--device must be cpu, cuda or auto") }
        if loadEngine != nil, let option = buildOnlyOptions.first(where: \.given) {
            throw ValidationError("\(option.name) shapes a build, and --load-engine runs an engine already built with its own settings (octet inspect --load-engine lists them); rebuild it with octet build \(option.name) ... --save-engine instead")
        }
    }

    /// The engine of `--load-engine`, loaded on the backend it was built for (no pass, no packing, no tactic
    /// timing), with the time it took in the log. `expected`, when given, is the network the command imported from
    /// --model: the engine must have its inputs and outputs.
    func loadedEngine(_ path: String, expected: Network? = nil, log: Log) throws -> Engine {
        let start = DispatchTime.now().uptimeNanoseconds
        let located = try files.locate(path, what: "engine file")
        // The backend (the CUDA driver and context) opens on another thread while the file is read and checked.
        let opened = try Engine.open(engineFile: located) { file in
            if device != "auto", device != file.backendName {
                throw OctetError.invalidInput(reason: "--device \(device) cannot run \(located), a \(file.backendName) engine built for \(file.target)")
            }
        }
        let file = opened.file
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let engine = try Engine(file, backend: opened.backend, options: ExecutionOptions(threads: threads))
        let end = DispatchTime.now().uptimeNanoseconds
        let milliseconds = Double(end - start) / 1e6
        log.info(String(format: "Loaded the %@ engine %@ (%@, %@) in %.1f ms", file.backendName.uppercased(), located, file.target, EngineSetup.precision(of: engine), milliseconds))
        // Where the load went: the file's phases, the wait for the backend (the part of its opening the file's phases
        // did not hide), the backend's own phases.
        let backendPhases = engine.loadPhases
        let phases = opened.phases + (backendPhases.isEmpty ? [("program made from the saved state", Double(end - loadStart) / 1e6)] : backendPhases)
        log.info(EngineSetup.phaseLine("Load phases", phases))
        if let milliseconds = opened.backendMilliseconds {
            log.verbose(String(format: "The %@ backend opened in %.1f ms on its own thread (for CUDA: the driver and the device's context), beside the file's read and checks", file.backendName, milliseconds))
        }
        if let expected {
            let signature = { (n: Network) in (n.inputs + n.outputs).map { "\(n[$0].name)\(n[$0].shape.dropFirst())" } }
            guard signature(expected) == signature(engine.plan.network) else {
                throw OctetError.invalidInput(
                    reason: "\(located) has inputs and outputs \(signature(engine.plan.network)), and the model has \(signature(expected)); was it built from another model?")
            }
        }
        for warning in engine.plan.report.warnings { log.warning(warning) }
        return engine
    }


    /// `int8`, `fp32`, `mixed`, `fp16` or `best`, with the sample's flags (`--int8 --fp16` is `best`, as in trtexec) and
    /// the range-file default resolved.
    var resolvedPrecision: String {
        switch precision?.lowercased() {
        case "float"?: return "fp32"
        case "half"?: return "fp16"
        case let p?: return p
        case nil: return best || (int8 && fp16) ? "best" : int8 ? "int8" : fp16 ? "fp16" : (ranges == nil && calibrationCache == nil && !explicitlyQuantized) ? "fp32" : "int8"
        }
    }

    var files: SampleFiles { SampleFiles(userDirectories: data) }

    /// Whether the model carries QuantizeLinear/DequantizeLinear (known after `configuredNetwork`).
    private(set) var explicitlyQuantized = false

    /// How the ranges matched the network (after `configuredNetwork`).
    private(set) var rangeSummary: EngineSetup.RangeSummary?

    /// The range file found for `--ranges` (after `configuredNetwork`), which may record its recipe.
    private(set) var rangeFilePath: String?

    /// Prints how the ranges matched the network, where the caller's log wants it. Entries that match no
    /// tensor are legal (TensorRT-internal names) but often a typo or another model's file: a warning.
    func reportRanges(_ log: Log) {
        guard let s = rangeSummary else { return }
        log.info("Setting Per Tensor Dynamic Range: \(s.entries - s.unknown.count) of \(s.entries) entries match a tensor")
        guard !s.unknown.isEmpty else { return }
        let shown = s.unknown.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + (s.unknown.count > 3 ? ", ..." : "")
        log.warning("\(s.unknown.count) range(s) in \(s.source) match no tensor of the model and are ignored: \(shown) (--verbose lists them all)")
        for name in s.unknown { log.verbose("Range for '\(name)' matches no tensor; ignored") }
    }

    /// Imports the model and applies ranges and per-layer requests, as the sample does before building.
    mutating func configuredNetwork(log: Log) throws -> (network: Network, info: ModelInfo, modelPath: String, rangesPath: String?) {
        let modelPath = try files.locate(model, what: "model file")
        // The demo model comes with its range file, as the sample's model does.
        if model == Self.demoModel, ranges == nil, calibrationCache == nil, files.find(Self.demoRanges) != nil {
            ranges = Self.demoRanges
        }
        var (network, info) = try ONNXImporter.importModel(path: modelPath)
        explicitlyQuantized = info.isExplicitlyQuantized
        if info.isExplicitlyQuantized, ranges != nil || calibrationCache != nil {
            throw OctetError.invalidInput(
                reason: "\(modelPath) carries its own quantization (QuantizeLinear/DequantizeLinear), so it takes no range file or calibration cache, as in TensorRT")
        }
        let rangesPath = try ranges.map { try files.locate($0, what: "dynamic range file") }
        rangeFilePath = rangesPath
        let cachePath = try calibrationCache.map { try files.locate($0, what: "calibration cache") }
        rangeSummary = try EngineSetup.applyRanges(rangesPath: rangesPath, cachePath: cachePath, to: &network, modelPath: modelPath)
        try apply(layerPrecision, option: "--layer-precision", to: &network) { layer, type in layer.precision = type }
        try apply(layerOutputType, option: "--layer-output-type", to: &network) { layer, type in
            for index in layer.outputs.indices { layer.setOutputType(index, type) }
        }
        return (network, info, modelPath, rangesPath)
    }

    /// Reads a range file, or a TensorRT calibration cache (recognized by its `TRT-` first line).
    static func readRanges(_ path: String) throws -> DynamicRanges { try EngineSetup.readRanges(path) }

    private func apply(_ list: String?, option: String, to network: inout Network, _ set: (inout Layer, DataType) -> Void) throws {
        guard let list else { return }
        for item in list.split(separator: ",") {
            guard let colon = item.lastIndex(of: ":") else {
                throw OctetError.invalidInput(reason: "\(option) expects NAME:TYPE, got '\(item)'")
            }
            let name = String(item[..<colon]), typeText = String(item[item.index(after: colon)...])
            guard let type = DataType(userSpelling: typeText), type == .int8 || type == .float32 else {
                throw OctetError.invalidInput(reason: "\(option): '\(typeText)' is not int8 or fp32")
            }
            let matches = network.layers.indices.filter { network.layers[$0].name == name || network.layers[$0].outputs.contains { network[$0].name == name } }
            guard !matches.isEmpty else { throw OctetError.invalidInput(reason: "\(option): no layer is named '\(name)' (octet inspect lists them)") }
            for index in matches { set(&network.layers[index], type) }
        }
    }

    /// The builder configuration for the resolved precision.
    func builderConfig() throws -> BuilderConfig {
        EngineSetup.builderConfig(
            precision: resolvedPrecision, constraints: precisionConstraints, trtCompatibleRanges: trtCompatibleRanges,
            noFusion: noFusion, explicitQuantization: explicitlyQuantized)
    }

    /// The backend for `--device`.
    func backend(log: Log? = nil, timingCache: CUDATimingCache? = nil) throws -> any Backend { try Self.backend(device, log: log, timingCache: timingCache) }

    /// `cpu`, `cuda` (an error naming the reason when there is no usable GPU), or `auto`: CUDA when a device is
    /// present, else the CPU, saying why (a warning where a driver is installed but CUDA did not start).
    static func backend(_ device: String, log: Log? = nil, timingCache: CUDATimingCache? = nil) throws -> any Backend {
        try EngineSetup.backend(device, timingCache: timingCache, warn: { log?.warning($0) }, detail: { log?.verbose($0) })
    }

    /// What the engine runs on, for banners: the CPU's instruction set or the GPU's name.
    static func deviceDescription(_ backend: any Backend) -> String { EngineSetup.deviceDescription(backend) }

    /// The engine for `network`: built with these options, or the `--load-engine` file (checked against `network`).
    func build(_ network: Network, log: Log, timingCache: CUDATimingCache? = nil) throws -> Engine {
        if let loadEngine { return try loadedEngine(loadEngine, expected: network, log: log) }
        let backend = try backend(log: log, timingCache: timingCache)
        log.verbose("Device: \(backend.name), \(Self.deviceDescription(backend))")
        return try EngineSetup.build(
            network, config: try builderConfig(), backend: backend, threads: threads, precision: resolvedPrecision,
            hasRanges: rangeSummary != nil, warn: log.warning)
    }
}
