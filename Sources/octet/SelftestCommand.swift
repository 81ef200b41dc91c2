import ArgumentParser
import Foundation
import Octet
import OctetConformance

/// `octet selftest`: the kernel-versus-reference checks, runnable wherever the binary runs (a release binary
/// built with --static-swift-stdlib runs on a GPU machine without a Swift toolchain).
struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest", abstract: "Check every kernel against the reference arithmetic on random inputs of awkward sizes.")

    @Option(help: "Device: cpu, cuda or auto (cuda when present, else cpu).")
    var device = "cpu"

    func validate() throws {
        if !["cpu", "cuda", "auto"].contains(device) { throw ValidationError("--device must be cpu, cuda or auto") }
    }

    @Flag(name: .customLong("verbose"), help: "Print every conformance case, not only failures and totals.")
    var verbose = false

    func run() throws {
        let log: (String) -> Void = { print("[I] \($0)") }
        var failures = try CPUSelfTest.run(log: log)
        failures += try conformance(on: [("cpu", CPUBackend(), { _, _, _ in true })], reloading: CPUBackend(), log: log)
        if device != "cpu" {
            do {
                failures += try CUDASelfTest.run(log: log)
                let variants = try CUDASelfTest.backendVariants()
                // The default variant's engines are saved and loaded too: every layer's constants through the file.
                failures += try conformance(on: variants.prefix(1).map { ($0.name, $0.backend, $0.cases) }, reloading: try CUDAEngineLoader(), log: log)
                failures += try conformance(on: variants.dropFirst().map { ($0.name, $0.backend, $0.cases) }, log: log)
                failures += try demoModelCheck(log: log)
            } catch let error as OctetError where device == "auto" {
                log("CUDA checks skipped: \(error)")
            }
        }
        guard failures == 0 else {
            throw OctetError.invalidNetwork(reason: "selftest found \(failures) mismatch(es); see the lines above")
        }
        print("&&&& PASSED Octet.selftest")
    }

    /// The conformance suite on each backend (every case the variant needs): one line per failure (with the
    /// case's seed), a total per backend.
    /// `reloading`: every case's engine is also saved and loaded on this backend, and must give the same outputs.
    private func conformance(
        on backends: [(name: String, backend: any Backend, cases: (_ int8: Bool, _ large: Bool, _ trtRanges: Bool) -> Bool)],
        reloading loader: (any EngineLoadingBackend)? = nil, log: (String) -> Void
    ) throws -> Int {
        let reload = loader.map { loader in
            { (engine: Engine) throws -> Engine in try Engine(EngineFile.decode(engine.serialize(), path: "conformance.engine"), backend: loader) }
        }
        var failures = 0
        for (name, backend, wanted) in backends {
            let cases = ConformanceSuite.cases.filter { wanted($0.arithmetic != .fp32, $0.isLarge, $0.arithmetic == .int8TensorRT) }
            var failed = 0, integers = 0, inexact: [String] = [], inexactFP32Cases = 0
            for testCase in cases {
                let outcome = try ConformanceSuite.check(testCase, on: backend, reload: reload)
                integers += outcome.integerTensors
                if !outcome.passed { failed += 1 }
                if !outcome.passed || verbose { log(outcome.summary) }
                guard outcome.passed, !outcome.inexactFloats.isEmpty else { continue }
                if testCase.arithmetic == .fp32 {
                    inexactFP32Cases += 1
                } else {
                    inexact.append("\(testCase.name) [\(testCase.arithmetic)]: \(outcome.inexactFloats.joined(separator: ", "))")
                }
            }
            log("conformance on \(name): \(cases.count - failed)/\(cases.count) cases passed, \(integers) integer tensors compared"
                + (loader == nil ? "" : ", every engine also saved and loaded again"))
            // Within tolerance, so passing. Listed for INT8 cases, where a float that feeds a quantizer must match bit
            // for bit for the integers after it to match on real models (docs/int8-accuracy.md, "Swin V2"); FP32
            // cases, whose kernels may sum in another order, only counted.
            if !inexact.isEmpty || inexactFP32Cases > 0 {
                log("conformance on \(name): float tensors within tolerance but not bit-identical to the reference in \(inexact.count) INT8 cases and \(inexactFP32Cases) FP32 cases")
                for line in inexact { log("  \(line)") }
            }
            failures += failed
        }
        return failures
    }

    /// The network as an FP16 CUDA engine (`--fp16`) against the FP32 CUDA engine on `input`: every sample's top-1
    /// class must agree and some layer must run in FP16; prints the relative L2 difference of the outputs. The FP16
    /// engine is then saved and loaded again (`CUDASelfTest.checkEngineFile`: no constant computed, same outputs).
    /// - Returns: the number of failed checks.
    private func float16ModelCheck(_ network: Network, input: [String: TensorData], name: String, log: (String) -> Void) throws -> Int {
        let half = try Builder(config: BuilderConfig(fp16: true), backend: CUDABackend()).build(network)
        let full = try Builder(config: BuilderConfig(), backend: CUDABackend()).build(network)
        let output = network[network.outputs[0]].name
        guard let got = try half.makeContext().execute(input)[output], let want = try full.makeContext().execute(input)[output] else {
            log("\(name) FP16 vs FP32 on cuda: no output '\(output)': MISMATCH")
            return 1
        }
        let classes = max(want.shape.last ?? 1, 1), rows = want.count / classes
        var agree = 0
        for r in 0..<rows {
            let range = (r * classes)..<((r + 1) * classes)
            let top: (ArraySlice<Float>) -> Int? = { values in values.indices.max { values[$0] < values[$1] } }
            if top(got.values[range]) == top(want.values[range]) { agree += 1 }
        }
        let error = TensorComparison.relativeL2(got.values, want.values)
        let layers = half.plan.report.float16LayerCount
        let ok = agree == rows && layers > 0
        log("\(name) FP16 vs FP32 on cuda: \(layers) FP16 layers, top-1 \(agree)/\(rows) equal, outputs relative L2 \(String(format: "%.2g", error))\(ok ? "" : ": MISMATCH")")
        return (ok ? 0 : 1) + (try CUDASelfTest.checkEngineFile(half, inputs: input, log: { log("FP16 \($0)") }))
    }

    /// The bundled demo (EfficientNet-Lite0 with its range file, the coffee photo) as one INT8 plan compiled for
    /// the CPU and for CUDA: every integer tensor must be equal, the logits within 1e-5 relative L2.
    private func demoModelCheck(log: (String) -> Void) throws -> Int {
        let files = SampleFiles(userDirectories: [])
        guard let model = files.find(EngineOptions.demoModel), let ranges = files.find(EngineOptions.demoRanges),
              let image = files.find("coffee.ppm") else {
            log("bundled demo not found (run from the repository root): end-to-end check skipped")
            return 0
        }
        var (network, _) = try ONNXImporter.importModel(path: model)
        network.apply(try DynamicRanges.readRangeFile(path: ranges))
        var config = BuilderConfig()
        config.int8 = true
        let cpu = try Builder(config: config, backend: CPUBackend()).build(network)
        let cuda = Engine(plan: cpu.plan, program: try CUDABackend().compile(cpu.plan, options: ExecutionOptions()), backendName: "cuda")
        let input = network[network.inputs[0]]
        let x = try PPM.read(path: image).inputTensor(height: input.shape[2], width: input.shape[3], normalization: .sample)
        // Built on CUDA (tactics timed at batch 2), saved and loaded: the same engine without computing a constant.
        let pair = TensorData(shape: [2] + x.shape.dropFirst(), values: x.values + x.values.reversed())
        let engineFileFailures = try CUDASelfTest.checkEngineFile(try Builder(config: config, backend: CUDABackend()).build(network), inputs: [input.name: pair], log: log)
        var expected: [TensorID: TensorValue] = [:]
        let want = try cpu.makeContext().execute([input.name: x]) { id, value in expected[id] = value }
        var integers = 0, mismatches = 0
        let got = try cuda.makeContext().execute([input.name: x]) { id, value in
            guard case .quantized = value else { return }
            integers += 1
            if expected[id] != value { mismatches += 1 }
        }
        let output = cpu.outputNames[0]
        let error = TensorComparison.relativeL2(got[output]?.values ?? [], want[output]?.values ?? [1])
        let ok = mismatches == 0 && integers > 0 && error <= 1e-5
        log("bundled demo INT8 on cuda vs cpu: \(integers - mismatches)/\(integers) integer tensors identical, logits relative L2 \(String(format: "%.2g", error)): \(ok ? "exact" : "MISMATCH")")
        // The same photo as 8-bit pixels, normalized on the device: the logits of the float input, bit for bit.
        let picture = try PPM.read(path: image).resized(width: input.shape[3], height: input.shape[2])
        let bytes = picture.pixels.compactMap { UInt8(exactly: $0) }
        guard bytes.count == picture.pixels.count else {
            log("bundled demo photo is not at the input size: 8-bit pixel input check skipped")
            return (ok ? 0 : 1) + engineFileFailures
        }
        let pixels = try PixelBatch(shape: [1, input.shape[2], input.shape[3], 3], pixels: bytes, normalization: Normalization.sample.channelNormalization)
        let fromPixels = try cuda.makeContext().execute(pixels: pixels)
        let pixelsOK = fromPixels[output] == got[output]
        log("bundled demo INT8 on cuda, 8-bit pixel input vs float input: \(pixelsOK ? "identical logits" : "MISMATCH")")
        let float16Failures = try float16ModelCheck(network, input: [input.name: x], name: "bundled demo", log: log)
        return (ok ? 0 : 1) + (pixelsOK ? 0 : 1) + engineFileFailures + float16Failures
    }
}
