import ArgumentParser
import Foundation
import Octet

/// `octet bench`: latency percentiles and throughput after a warm-up, per batch size, like `trtexec`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure latency (p50/p90/p99) and throughput on random inputs (or a given tensor).")

    @OptionGroup var engine: EngineOptions

    @Option(help: "Batch sizes, comma-separated.")
    var batch = "1"

    @Option(help: "Timed runs per batch size.")
    var iterations = 30

    @Option(help: "Untimed warm-up runs per batch size.")
    var warmup = 5

    @Flag(help: "Print one JSON object per batch size instead of a table; logs go to standard error.")
    var json = false

    @Flag(help: "After timing, print the time spent in each layer (mean per run, largest first).")
    var profile = false

    @Option(help: "With --profile, how many layers to list (the slowest first).")
    var profileLayers = 25

    @Option(help: ArgumentHelp(
        "Input as the application hands it over: float32 (NCHW, normalized) or uint8 (NHWC pixels, normalized by the engine with the recipe's formula; on a GPU after a quarter of the upload).",
        valueName: "format"))
    var inputFormat = InputFormat.float32

    @Option(help: ArgumentHelp(
        "Execution contexts run concurrently, one thread (and on a GPU one stream) each, so uploads, compute and downloads of different requests overlap. Throughput = streams × iterations × batch / wall time; latencies are per request.",
        valueName: "N"))
    var streams = 1

    @Option(name: .customLong("load-inputs"), help: ArgumentHelp(
        "Time on this NumPy .npy tensor (float32 input, NCHW, its first dimension the samples; sample i % N fills row i of each batch) instead of random values in [-1, 1]: the AVX2 INT8 GEMM's speed depends on the activation bytes (row spans within 128 take vpmaddubsw), so photos time it as it runs.",
        valueName: "file"))
    var loadInputs: String?

    @OptionGroup(title: "Preprocessing (the normalization of --input-format uint8)") var preprocessing: PreprocessingOptions

    enum InputFormat: String, ExpressibleByArgument, CaseIterable {
        case float32, uint8
    }

    func validate() throws {
        guard streams >= 1, streams <= 64 else { throw ValidationError("--streams takes 1 to 64, got \(streams)") }
        guard iterations >= 1 else { throw ValidationError("--iterations takes a positive number, got \(iterations)") }
        guard warmup >= 0 else { throw ValidationError("--warmup takes 0 or more, got \(warmup)") }
        if loadInputs != nil, inputFormat != .float32 { throw ValidationError("--load-inputs feeds a float32 tensor; leave --input-format at float32") }
    }

    mutating func run() throws {
        let log = Log(verbose: false, toStandardError: json)
        let batches = try batch.split(separator: ",").map { text -> Int in
            guard let b = Int(text), b > 0 else { throw ValidationError("--batch takes positive integers, got '\(text)'") }
            return b
        }
        let built: Engine, network: Network, modelPath: String, precision: String
        if let loadEngine = engine.loadEngine {
            built = try engine.loadedEngine(loadEngine, log: log)
            (network, modelPath, precision) = (built.plan.network, loadEngine, EngineSetup.precision(of: built))
        } else {
            (network, _, modelPath, _) = try engine.configuredNetwork(log: log)
            engine.reportRanges(log)
            built = try engine.build(network, log: log)
            precision = EngineSetup.precision(engine.resolvedPrecision, as: built)
        }
        let deviceText = built.backendName == "cuda" ? EngineOptions.deviceDescription(try engine.backend()) : "\(CPUBackend.isa), \(ExecutionOptions(threads: engine.threads).threads) threads"
        let contexts = (0..<streams).map { _ in built.makeContext() }
        let context = contexts[0]
        if profile { context.enableProfiling() }
        let input = network[network.inputs[0]]
        let normalization = inputFormat == .uint8 ? try preprocessing.resolved(for: network, alternative: "use --input-format float32").normalization.channelNormalization : nil
        if !json {
            print("model \(modelPath), \(precision.uppercased()) on \(built.backendName) (\(deviceText)), \(built.plan.report.int8LayerCount)/\(built.plan.report.layers.count) layers INT8, \(inputFormat.rawValue) input, \(streams) stream\(streams == 1 ? "" : "s")")
            print("batch      p50 ms      p90 ms      p99 ms     mean ms   images/s" + (built.backendName == "cuda" ? "  compute p50 ms  compute images/s" : ""))
        }
        let loaded = try loadInputs.map { path -> TensorData in
            let tensor = try NumPyFile.read(path: path)
            let sample = Array(input.shape.dropFirst())
            guard tensor.shape.count == input.shape.count, let samples = tensor.shape.first, samples > 0, Array(tensor.shape.dropFirst()) == sample else {
                throw OctetError.invalidInput(reason: "\(path) holds a tensor of shape \(tensor.shape), but the model's input '\(input.name)' takes samples of shape \(sample)")
            }
            return tensor
        }
        for b in batches {
            let execute: (ExecutionContext) throws -> Void
            if let loaded {
                let sampleCount = loaded.shape[0], sampleSize = loaded.values.count / sampleCount
                var values = [Float]()
                values.reserveCapacity(b * sampleSize)
                for i in 0..<b { values += loaded.values[(i % sampleCount) * sampleSize..<(i % sampleCount + 1) * sampleSize] }
                let feed = [input.name: TensorData(shape: [b] + loaded.shape.dropFirst(), values: values)]
                execute = { _ = try $0.execute(feed) }
            } else if let normalization {
                let pixels = try PixelBatch(shape: [b, input.shape[2], input.shape[3], input.shape[1]], pixels: .uniformBytes(count: b * input.shape.dropFirst().reduce(1, *), seed: 1), normalization: normalization)
                execute = { _ = try $0.execute(pixels: pixels) }
            } else {
                let feed = [input.name: TensorData.uniform([b] + input.shape.dropFirst(), seed: 1)]
                execute = { _ = try $0.execute(feed) }
            }
            let run = try ConcurrentRuns(contexts: contexts, warmup: warmup, iterations: iterations, execute)
            let times = run.milliseconds.sorted(), computeTimes = run.computeMilliseconds.sorted()
            func percentile(_ p: Double, _ values: [Double] = times) -> Double { values[min(values.count - 1, Int((p * Double(values.count - 1)).rounded()))] }
            let mean = times.reduce(0, +) / Double(times.count)
            // One stream: images per median latency. Several: every image delivered over the wall time, since their
            // requests overlap.
            let throughput = streams == 1 ? Double(b) / (percentile(0.5) / 1000) : Double(b * times.count) / (run.wallMilliseconds / 1000)
            // On a GPU: the device time without input and output transfers, as trtexec's "GPU Compute Time".
            let compute = computeTimes.isEmpty ? nil : (p50: percentile(0.5, computeTimes), throughput: Double(b) / (percentile(0.5, computeTimes) / 1000))
            if json {
                try JSONOutput.printLine(BenchJSON(
                    model: (modelPath as NSString).lastPathComponent, precision: precision, batch: b, device: built.backendName,
                    inputFormat: inputFormat.rawValue, streams: streams,
                    threads: ExecutionOptions(threads: engine.threads).threads, p50Ms: percentile(0.5), p90Ms: percentile(0.9), p99Ms: percentile(0.99),
                    meanMs: mean, throughputIps: throughput, computeP50Ms: compute?.p50, computeThroughputIps: compute?.throughput))
            } else {
                print(String(format: "%5d %11.3f %11.3f %11.3f %11.3f %10.1f", b, percentile(0.5), percentile(0.9), percentile(0.99), mean, throughput)
                      + (compute.map { String(format: " %15.3f %17.1f", $0.p50, $0.throughput) } ?? ""))
            }
        }
        if profile, let times = context.layerMilliseconds {
            let runs = Double(batches.count * (warmup + iterations))
            let report = built.plan.report.layers
            let total = times.reduce(0, +)
            print("per-layer time (mean ms per run over all batch sizes, \(String(format: "%.3f", total / runs)) ms total):")
            let tactics = context.layerTactics
            for index in times.indices.sorted(by: { times[$0] > times[$1] }).prefix(max(profileLayers, 0)) {
                let tactic = tactics?[index].map { " [\($0)]" } ?? ""
                print(String(format: "%9.3f  %5.1f%%  ", times[index] / runs, 100 * times[index] / total) + "\(report[index].name)  \(report[index].kind)  \(report[index].kernel)\(tactic)")
            }
            // Totals per layer type (the first word of the kind), e.g. how much of the time convolutions take.
            var byType: [String: (ms: Double, layers: Int)] = [:]
            for index in times.indices {
                let type = String(report[index].kind.split(separator: " ").first ?? "?")
                byType[type, default: (0, 0)].ms += times[index] / runs
                byType[type, default: (0, 0)].layers += 1
            }
            print("per layer type:")
            for (type, entry) in byType.sorted(by: { $0.value.ms > $1.value.ms }) {
                print(String(format: "%9.3f  %5.1f%%  ", entry.ms, 100 * entry.ms * runs / total) + "\(type) (\(entry.layers) layers)")
            }
        }
    }
}

/// `bench --json`: one object per batch size.
struct BenchJSON: Encodable {
    var model: String
    var precision: String
    var batch: Int
    var device: String
    var inputFormat: String
    var streams: Int
    var threads: Int
    var p50Ms: Double
    var p90Ms: Double
    var p99Ms: Double
    var meanMs: Double
    var throughputIps: Double
    var computeP50Ms: Double?
    var computeThroughputIps: Double?
}

/// Warm-up and timed runs of one batch on every context at once, one thread each (a single context runs on the
/// calling thread, as before streams existed).
struct ConcurrentRuns {
    /// Every timed request's latency, all contexts together.
    var milliseconds: [Double] = []
    /// The device compute time of each timed request, where the backend reports it.
    var computeMilliseconds: [Double] = []
    /// From the first timed request's start to the last one's end.
    var wallMilliseconds = 0.0

    init(contexts: [ExecutionContext], warmup: Int, iterations: Int, _ execute: @escaping (ExecutionContext) throws -> Void) throws {
        for context in contexts {
            for _ in 0..<warmup { try execute(context) }
        }
        let threads = Threads(contexts: contexts, execute: execute)
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: contexts.count) { threads.run(index: $0, iterations: iterations) }
        wallMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        if let error = threads.results.lazy.compactMap(\.error).first { throw error }
        milliseconds = threads.results.flatMap(\.times)
        computeMilliseconds = threads.results.flatMap(\.compute)
    }

    /// The contexts and one result slot per context. `@unchecked Sendable`: thread `index` touches only
    /// `contexts[index]` and `results[index]` (contexts are per-thread by contract; the slots are separate
    /// storage), and the caller reads the results after every thread has finished.
    private final class Threads: @unchecked Sendable {
        let contexts: [ExecutionContext]
        let execute: (ExecutionContext) throws -> Void
        let results: UnsafeMutableBufferPointer<(times: [Double], compute: [Double], error: (any Error)?)>

        init(contexts: [ExecutionContext], execute: @escaping (ExecutionContext) throws -> Void) {
            self.contexts = contexts
            self.execute = execute
            results = .allocate(capacity: contexts.count)
            results.initialize(repeating: ([], [], nil))
        }

        deinit {
            results.deinitialize()
            results.deallocate()
        }

        func run(index: Int, iterations: Int) {
            do {
                for _ in 0..<iterations {
                    let begin = DispatchTime.now().uptimeNanoseconds
                    try execute(contexts[index])
                    results[index].times.append(Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e6)
                    if let compute = contexts[index].lastComputeMilliseconds { results[index].compute.append(compute) }
                }
            } catch {
                results[index].error = error
            }
        }
    }
}

/// The fixed linear congruential sequence bench inputs come from, so timings never run on zeros and every run
/// feeds the same values.
struct BenchSequence {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 6_364_136_223_846_793_005 &+ 1 }

    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }
}

extension [UInt8] {
    /// Fixed pseudo-random bytes, standing in for pixels.
    static func uniformBytes(count: Int, seed: UInt64) -> [UInt8] {
        var sequence = BenchSequence(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: sequence.next() >> 56) }
    }
}

extension TensorData {
    /// Fixed pseudo-random values in [-1, 1].
    static func uniform(_ shape: [Int], seed: UInt64) -> TensorData {
        var sequence = BenchSequence(seed: seed)
        let values = (0..<shape.reduce(1, *)).map { _ in Float(sequence.next() >> 40) / Float(1 << 23) - 1 }
        return TensorData(shape: shape, values: values)
    }
}
