import Foundation

/// The steps from an ONNX file and its settings to a built engine, shared by the command line (`EngineOptions`)
/// and the server's model repository (`octet serve`), so both build the same engine from the same settings.
/// Messages go through `warn` (and `detail`, for what only `--verbose` shows): the caller owns its log.
public enum EngineSetup {
    /// How the ranges of a range file or calibration cache matched a network.
    public struct RangeSummary: Codable, Sendable {
        public var entries: Int
        public var unknown: [String]
        /// The range file or calibration cache the entries came from (both, joined by " and ").
        public var source: String
    }

    /// `"Load phases: file read (mapped) 1.2 ms; CRC-32 of 130 bytes 0.1 ms; ..."`: one line of timed phases, separated
    /// by semicolons (phase names may hold commas), as `octet build` and `octet run --load-engine` print them and
    /// Benchmarks/cuda/h200_run.sh reads them.
    public static func phaseLine(_ title: String, _ phases: [(phase: String, milliseconds: Double)]) -> String {
        "\(title): " + phases.map { String(format: "%@ %.1f ms", $0.phase, $0.milliseconds) }.joined(separator: "; ")
    }

    /// Reads a range file, or a TensorRT calibration cache (recognized by its `TRT-` first line).
    public static func readRanges(_ path: String) throws -> DynamicRanges {
        if try FileReading.contents(of: path, what: "a dynamic range file or calibration cache").prefix(4).elementsEqual("TRT-".utf8) {
            return try DynamicRanges.readCalibrationCache(path: path).ranges
        }
        return try DynamicRanges.readRangeFile(path: path)
    }

    /// Applies a calibration cache and a range file (the sample's rule: manual ranges override calibrated ones)
    /// to `network`; nil when neither is given.
    /// - Throws: when the files hold no entry, or when no entry names a tensor of the model (another model's file).
    public static func applyRanges(rangesPath: String?, cachePath: String?, to network: inout Network, modelPath: String) throws -> RangeSummary? {
        var table: DynamicRanges?
        if let cachePath { table = try DynamicRanges.readCalibrationCache(path: cachePath).ranges }
        if let rangesPath {
            let manual = try readRanges(rangesPath)
            table = table.map { $0.overriding(with: manual) } ?? manual
        }
        guard let table else { return nil }
        let source = [cachePath, rangesPath].compactMap { $0 }.joined(separator: " and ")
        guard !table.entries.isEmpty else {
            throw OctetError.malformedFile(path: source, reason: "the file holds no 'tensor_name:range' entries")
        }
        let unknown = network.apply(table)
        if unknown.count == table.entries.count {
            throw OctetError.invalidInput(
                reason: "none of the \(table.entries.count) ranges in \(source) names a tensor of \(modelPath) (the first is '\(unknown[0])'); was the file written for another model? `octet tensors --model \(modelPath)` lists the names")
        }
        return RangeSummary(entries: table.entries.count, unknown: unknown, source: source)
    }

    /// The builder configuration for a precision (`int8`, `fp32`, `mixed`, `fp16` or `best` = INT8 and FP16 permitted)
    /// and the precision options.
    public static func builderConfig(
        precision: String, constraints: String, trtCompatibleRanges: Bool, noFusion: Bool, explicitQuantization: Bool
    ) -> BuilderConfig {
        var config = BuilderConfig()
        switch precision {
        case "int8", "mixed": config.int8 = true
        case "fp16": config.fp16 = true
        case "best": (config.int8, config.fp16) = (true, true)
        default: break
        }
        config.obeyPrecisionConstraints = constraints == "obey"
        config.preferPrecisionConstraints = constraints == "prefer"
        config.trtCompatibleRanges = trtCompatibleRanges
        config.noFusion = noFusion
        config.explicitQuantization = explicitQuantization
        return config
    }

    /// `cpu`, `cuda` (an error naming the reason when there is no usable GPU), or `auto`: CUDA when a device is
    /// present, else the CPU, saying why (a warning where a driver is installed but CUDA did not start).
    public static func backend(
        _ device: String, timingCache: CUDATimingCache? = nil, warn: (String) -> Void = { _ in }, detail: (String) -> Void = { _ in }
    ) throws -> any Backend {
        switch device {
        case "cuda": return try CUDABackend(timingCache: timingCache)
        case "auto":
            do {
                return try CUDABackend(timingCache: timingCache)
            } catch {
                if CUDADriver.driverLibraryInstalled {
                    warn("--device auto runs on the CPU: \(error)")
                } else {
                    detail("--device auto runs on the CPU: \(error)")
                }
                return CPUBackend()
            }
        default: return CPUBackend()
        }
    }

    /// The precision an engine was built with (`int8`, `fp32`, `mixed`, `fp16`, `best`), from its builder options: what
    /// a loaded engine file reports. FP16 that was permitted but given to no layer (a backend without FP16 kernels)
    /// does not count: such an `fp16` engine is `fp32`, a `best` one `int8`.
    public static func precision(of engine: Engine) -> String {
        precision(engine.plan.report.builderOptions.first { $0.hasPrefix("precision=") }.map { String($0.dropFirst("precision=".count)) } ?? "fp32", as: engine)
    }

    /// The precision `requested` for an engine, as `engine` got it: without FP16 when no layer runs in FP16.
    public static func precision(_ requested: String, as engine: Engine) -> String {
        guard engine.plan.report.float16LayerCount == 0 else { return requested }
        return requested == "fp16" ? "fp32" : requested == "best" ? "int8" : requested
    }

    /// What the engine runs on, for banners: the CPU's instruction set or the GPU's name.
    public static func deviceDescription(_ backend: any Backend) -> String {
        if let cuda = backend as? CUDABackend { return cuda.deviceDescription }
        return "\(CPUBackend.isa)"
    }

    /// Builds `network` and says what did not come out as asked: INT8 requested but no INT8 layer is an error;
    /// tensors without a range, layers on the host reference implementation and the builder's warnings are
    /// warnings — never silent.
    public static func build(
        _ network: Network, config: BuilderConfig, backend: any Backend, threads: Int?, precision: String,
        hasRanges: Bool, warn: (String) -> Void
    ) throws -> Engine {
        let engine = try Builder(config: config, backend: backend, options: ExecutionOptions(threads: threads)).build(network)
        if config.int8, engine.plan.report.int8LayerCount == 0 {
            let remedy = hasRanges
                ? "the ranges given leave \(engine.plan.report.missingRanges.count) tensor(s) without one (`octet inspect` lists the layers and why)"
                : "give dynamic ranges with --ranges"
            throw OctetError.precisionConstraint(layer: "(all)", reason: "INT8 was requested but no layer can run in INT8: \(remedy)")
        }
        if ["int8", "best"].contains(precision), !engine.plan.report.missingRanges.isEmpty {
            warn("\(engine.plan.report.missingRanges.count) tensor(s) have no dynamic range; their layers run in FP32 (--verbose lists them)")
        }
        let hostLayers = engine.plan.report.hostLayers
        if !hostLayers.isEmpty {
            warn("\(hostLayers.count) layer(s) have no \(backend.name) kernel and run on the host reference implementation, slowly: \(hostLayers.prefix(3).map { "'\($0.name)' (\($0.reason))" }.joined(separator: ", "))\(hostLayers.count > 3 ? ", ..." : "") (--verbose lists them)")
        }
        for warning in engine.plan.report.warnings { warn(warning) }
        return engine
    }
}
