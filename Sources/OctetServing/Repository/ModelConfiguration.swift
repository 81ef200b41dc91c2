import Foundation
import Octet

/// `DIR/<model>/config.json`: everything `octet run` takes on its command line, for one served model. Every key
/// is optional (a folder holding only `model.onnx` serves FP32 with the default recipe); an unknown key is an
/// error naming the file, so a typo never silently serves defaults. File names are relative to the model folder.
///
/// ```json
/// { "ranges": "ranges.txt", "precision": "int8", "recipe": "torchvision", "labels": "labels.txt",
///   "max_batch_size": 8, "instance_count": 2, "device": "cpu",
///   "dynamic_batching": { "max_queue_delay_microseconds": 2000 } }
/// ```
public struct ModelConfiguration: Codable, Sendable, Equatable {
    /// Range file (`tensor:range` lines) or calibration cache (`TRT-` header), as `--ranges`.
    public var ranges: String?
    /// TensorRT calibration cache, as `--calibration-cache`; `ranges` entries override its entries.
    public var calibrationCache: String?
    /// `int8`, `fp32`, `mixed` or `fp16`; default int8 with ranges (or a QDQ model), else fp32.
    public var precision: String?
    /// `obey`, `prefer` or `none`, as `--precision-constraints`.
    public var precisionConstraints: String?
    public var trtCompatibleRanges: Bool?
    public var noFusion: Bool?
    /// Preprocessing recipe for BYTES (image file) inputs: torchvision, inception, sample, tf or none.
    public var recipe: String?
    /// Class labels, one per line, for the classification extension.
    public var labels: String?
    /// The most samples one engine execution runs; a request may carry up to this many. Default 8.
    public var maxBatchSize: Int?
    /// Execution contexts of the engine, each on its own thread. Default 1.
    public var instanceCount: Int?
    /// Worker threads of each execution context (CPU). Default: the machine's cores divided by the instances.
    public var threads: Int?
    /// `cpu`, `cuda` or `auto` (default `cpu`: a server's device should not change with the machine silently).
    public var device: String?
    /// Present: requests are combined into batches, waiting at most this long for more. Absent: one request
    /// per execution.
    public var dynamicBatching: DynamicBatching?
    /// Requests waiting for an execution context; a request beyond this gets 503. Default 64.
    public var maxQueueSize: Int?
    /// A request that waited this long in the queue is answered 503 instead of run. Default 30000.
    public var queueTimeoutMilliseconds: Int?

    public struct DynamicBatching: Codable, Sendable, Equatable {
        public var maxQueueDelayMicroseconds: Int?

        enum CodingKeys: String, CodingKey { case maxQueueDelayMicroseconds = "max_queue_delay_microseconds" }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case ranges, calibrationCache = "calibration_cache", precision, precisionConstraints = "precision_constraints"
        case trtCompatibleRanges = "trt_compatible_ranges", noFusion = "no_fusion", recipe, labels
        case maxBatchSize = "max_batch_size", instanceCount = "instance_count", threads, device
        case dynamicBatching = "dynamic_batching", maxQueueSize = "max_queue_size"
        case queueTimeoutMilliseconds = "queue_timeout_milliseconds"
    }

    public init() {}

    /// Reads and checks `config.json`.
    /// - Throws: `OctetError.malformedFile` naming the file and the key or value that is wrong.
    public static func read(path: String) throws -> ModelConfiguration {
        let data = Data(try FileReading.contents(of: path, what: "a model configuration"))
        guard let object = try? JSONSerialization.jsonObject(with: data), let keys = (object as? [String: Any])?.keys else {
            throw OctetError.malformedFile(path: path, reason: "not a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = keys.sorted().first(where: { !known.contains($0) }) {
            throw OctetError.malformedFile(path: path, reason: "unknown key '\(unknown)'; the keys are \(known.sorted().joined(separator: ", "))")
        }
        let configuration: ModelConfiguration
        do {
            configuration = try JSONDecoder().decode(ModelConfiguration.self, from: data)
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            throw OctetError.malformedFile(path: path, reason: "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' must be a \(type)")
        } catch {
            throw OctetError.malformedFile(path: path, reason: "\(error)")
        }
        try configuration.validate(path: path)
        return configuration
    }

    func validate(path: String) throws {
        func check(_ condition: Bool, _ reason: String) throws {
            if !condition { throw OctetError.malformedFile(path: path, reason: reason) }
        }
        try check(precision.map { ["int8", "fp32", "mixed", "fp16", "best"].contains($0) } ?? true, "precision must be int8, fp32, mixed, fp16 or best")
        try check(precisionConstraints.map { ["obey", "prefer", "none"].contains($0) } ?? true, "precision_constraints must be obey, prefer or none")
        try check(recipe.map { PreprocessingRecipe.Name(rawValue: $0) != nil } ?? true,
                  "recipe must be one of \(PreprocessingRecipe.Name.allCases.map(\.rawValue).joined(separator: ", "))")
        try check(device.map { ["cpu", "cuda", "auto"].contains($0) } ?? true, "device must be cpu, cuda or auto")
        try check((1...4096).contains(maxBatchSize ?? 1), "max_batch_size must be from 1 to 4096")
        try check((1...64).contains(instanceCount ?? 1), "instance_count must be from 1 to 64")
        try check((1...1024).contains(threads ?? 1), "threads must be from 1 to 1024")
        try check((1...1_000_000).contains(maxQueueSize ?? 1), "max_queue_size must be from 1 to 1000000")
        try check((0...60_000_000).contains(dynamicBatching?.maxQueueDelayMicroseconds ?? 0),
                  "dynamic_batching.max_queue_delay_microseconds must be from 0 to 60000000")
        try check((1...3_600_000).contains(queueTimeoutMilliseconds ?? 1), "queue_timeout_milliseconds must be from 1 to 3600000")
    }
}
