import ArgumentParser
import Foundation
import Octet

/// `octet build`: build an engine once and save it (`trtexec --saveEngine`), so that `run`, `bench`, `compare`,
/// `eval` and `inspect` load it with `--load-engine` instead of importing, planning, packing and timing again.
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an engine from an ONNX model and save it to an engine file.",
        discussion: """
            The engine file holds the plan (network with its weights, quantization of every integer tensor, build \
            report, builder options), the target (the CPU instruction set the weights were packed for, or the GPU's \
            compute capability and the compiled kernels) and the backend's prepared state (packed weights and kernel \
            choices; CUDA tactics per batch size), then a CRC-32 (docs/engine-format.md). Loading does no graph pass, \
            no weight packing and no tactic timing, and refuses an engine packed for an instruction set or compute \
            capability this machine lacks.

            On CUDA, --batch lists the batch sizes whose convolution tiles are timed now and saved (each later batch \
            size is timed at its first run); --timing-cache keeps those timings for later builds, keyed by layer \
            signature and device, as trtexec's --timingCacheFile.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(name: [.customLong("save-engine"), .customLong("saveEngine")], help: "Where to write the engine file.")
    var saveEngine: String

    @Option(name: [.customLong("timing-cache"), .customLong("timingCacheFile")], help: "CUDA tactic timing cache: read if it exists, written after the build.")
    var timingCache: String?

    @Option(help: "CUDA: batch sizes whose tactics are timed and saved with the engine, comma-separated.")
    var batch = "1"

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Print the build report.")
    var verbose = false

    func validate() throws {
        if engine.loadEngine != nil { throw ValidationError("build makes an engine from --model; --load-engine has nothing to do here") }
    }

    mutating func run() throws {
        let log = Log(verbose: verbose)
        let batches = try batch.split(separator: ",").map { text -> Int in
            guard let b = Int(text), b > 0 else { throw ValidationError("--batch takes positive integers, got '\(text)'") }
            return b
        }
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6 }
        let (network, _, modelPath, _) = try engine.configuredNetwork(log: log)
        engine.reportRanges(log)
        let imported = elapsed(since: start)
        let cache = try timingCache.map { try CUDATimingCache(path: $0) }
        let built = try engine.build(network, log: log, timingCache: cache)
        let planned = elapsed(since: start)
        if built.backendName == "cuda" {
            let input = network[network.inputs[0]]
            let context = built.makeContext()
            for b in batches {
                try network.checkBatch(b)
                _ = try context.execute([input.name: TensorData.uniform([b] + input.shape.dropFirst(), seed: 1)])
            }
        } else if timingCache != nil {
            log.warning("the \(built.backendName) backend times no tactics; --timing-cache is not used")
        }
        let total = elapsed(since: start)
        var phases = String(format: "import %.1f ms, build %.1f ms", imported, planned - imported)
        if built.backendName == "cuda" { phases += String(format: ", tactic timing at batch %@ %.1f ms", batch, total - planned) }
        log.info(String(format: "Built a %@ %@ engine for %@ in %.1f ms (%@)", EngineSetup.precision(of: built).uppercased(), built.backendName.uppercased(), modelPath, total, phases))
        let backendPhases = built.buildPhases
        if !backendPhases.isEmpty {
            // The same split as `run --load-engine`'s "Load phases", so both can be compared with or without the
            // driver and context start-up that a build and a load both pay.
            let backendTotal = backendPhases.map(\.milliseconds).reduce(0, +)
            let all: [(phase: String, milliseconds: Double)] = [("import", imported)] + backendPhases
                + [("graph passes, precision and the rest of the build", planned - imported - backendTotal), ("tactic timing at batch \(batch)", total - planned)]
            log.info(EngineSetup.phaseLine("Build phases", all))
        }
        log.verbose(built.plan.report.text)
        let saveStart = DispatchTime.now().uptimeNanoseconds
        let bytes = try built.write(to: saveEngine)
        log.info(String(format: "Saved the engine to %@ (%d bytes, format version %d) in %.1f ms", saveEngine, bytes, Int(EngineFile.formatVersion), elapsed(since: saveStart)))
        if let cache, let timingCache {
            try cache.write(to: timingCache)
            log.info("Timing cache \(timingCache): \(cache.count) entries (\(cache.hits) layers answered from it, \(cache.misses) timed)")
        }
    }
}
