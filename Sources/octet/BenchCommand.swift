import ArgumentParser
import Foundation
import Octet

/// `octet bench`: latency percentiles and throughput after a warm-up, per batch size, like `trtexec`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure latency (p50/p90/p99) and throughput on random inputs.")

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

    mutating func run() throws {
        let log = Log(verbose: false, toStandardError: json)
        let batches = try batch.split(separator: ",").map { text -> Int in
            guard let b = Int(text), b > 0 else { throw ValidationError("--batch takes positive integers, got '\(text)'") }
            return b
        }
        let built: Engine, network: Network, modelPath: String, precision: String
        if let loadEngine = engine.loadEngine {
            built = try engine.loadedEngine(loadEngine, log: log)
            (network, modelPath, precision) = (built.plan.network, loadEngine, EngineOptions.precision(of: built))
        } else {
            (network, _, modelPath, _) = try engine.configuredNetwork(log: log)
            engine.reportRanges(log)
            built = try engine.build(network, log: log)
            precision = engine.resolvedPrecision
        }
        let deviceText = built.backendName == "cuda" ? EngineOptions.deviceDescription(try engine.backend()) : "\(CPUBackend.isa), \(ExecutionOptions(threads: engine.threads).threads) threads"
        let context = built.makeContext()
        if profile { context.enableProfiling() }
        let input = network[network.inputs[0]]
        if !json {
            print("model \(modelPath), \(precision.uppercased()) on \(built.backendName) (\(deviceText)), \(built.plan.report.int8LayerCount)/\(built.plan.report.layers.count) layers INT8")
            print("batch      p50 ms      p90 ms      p99 ms     mean ms   images/s" + (built.backendName == "cuda" ? "  compute p50 ms  compute images/s" : ""))
        }
        for b in batches {
            let data = TensorData.uniform([b] + input.shape.dropFirst(), seed: 1)
            let feed = [input.name: data]
            for _ in 0..<warmup { _ = try context.execute(feed) }
            var times: [Double] = [], computeTimes: [Double] = []
            for _ in 0..<iterations {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try context.execute(feed)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                if let compute = context.lastComputeMilliseconds { computeTimes.append(compute) }
            }
            times.sort()
            computeTimes.sort()
            func percentile(_ p: Double, _ values: [Double] = times) -> Double { values[min(values.count - 1, Int((p * Double(values.count - 1)).rounded()))] }
            let mean = times.reduce(0, +) / Double(times.count)
            let throughput = Double(b) / (percentile(0.5) / 1000)
            // On a GPU: the device time without input and output transfers, as trtexec's "GPU Compute Time".
            let compute = computeTimes.isEmpty ? nil : (p50: percentile(0.5, computeTimes), throughput: Double(b) / (percentile(0.5, computeTimes) / 1000))
            if json {
                try JSONOutput.printLine(BenchJSON(
                    model: (modelPath as NSString).lastPathComponent, precision: precision, batch: b, device: built.backendName,
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
    var threads: Int
    var p50Ms: Double
    var p90Ms: Double
    var p99Ms: Double
    var meanMs: Double
    var throughputIps: Double
    var computeP50Ms: Double?
    var computeThroughputIps: Double?
}

extension TensorData {
    /// Fixed pseudo-random values in [-1, 1] (a linear congruential sequence), so timings never run on zeros.
    static func uniform(_ shape: [Int], seed: UInt64) -> TensorData {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
        return TensorData(shape: shape, values: values)
    }
}
