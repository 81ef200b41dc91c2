import ArgumentParser
import Foundation
import Octet

/// `octet compare`: INT8 against FP32 on every tensor and on the outputs, over a folder of images, so a user
/// can find the layers that lose accuracy and pin them to FP32 with `--layer-precision NAME:fp32`.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare the INT8 engine with FP32 per tensor (SNR, max error, cosine) and on top-1/top-5 over images.")

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("images"), help: "Folder of JPEG, PNG and PPM images (.jpg .jpeg .png .ppm .pnm, sorted by name).")
    var images: String

    @Option(help: "Use at most this many images (the first, by name).")
    var limit: Int?

    @Option(help: "Skip this many images first.")
    var skip = 0

    @OptionGroup(title: "Preprocessing") var preprocessing: PreprocessingOptions

    @Option(help: "How many of the worst tensors to list.")
    var worst = 10

    @Flag(help: "Print the result as one JSON object on standard output; logs go to standard error.")
    var json = false

    @Option(name: .customLong("min-top1-agreement"), help: ArgumentHelp(MinimumAgreement.help, valueName: "fraction"))
    var minTop1Agreement: Double?

    @Flag(inversion: .prefixedNo, help: "Compare every tensor (slower), not only the outputs.")
    var tensors = true

    @Option(help: "The reference: fp32 (the FP32 engine, to find where INT8 loses accuracy) or cpu (the same engine on the CPU backend, to check --device cuda: integer tensors must be equal).")
    var versus = "fp32"

    func validate() throws {
        if !["fp32", "cpu"].contains(versus) { throw ValidationError("--versus must be fp32 or cpu") }
        try MinimumAgreement.validate(minTop1Agreement)
        if versus == "cpu", minTop1Agreement != nil {
            throw ValidationError("--min-top1-agreement checks INT8 against FP32 (--versus fp32); --versus cpu already fails on any integer mismatch")
        }
    }

    mutating func run() throws {
        let log = Log(verbose: false, toStandardError: json)
        let (network, _, modelPath, _) = try engine.configuredNetwork(log: log)
        engine.reportRanges(log)
        if versus == "cpu" { return try compareWithCPU(network, modelPath: modelPath, log: log) }
        var fp32Options = engine
        fp32Options.precision = "fp32"
        fp32Options.int8 = false
        fp32Options.loadEngine = nil  // the baseline is always built from the model
        var int8Options = engine
        if int8Options.resolvedPrecision == "fp32" { int8Options.precision = "int8" }
        let int8Engine = try int8Options.build(network, log: log)
        let fp32Engine = try fp32Options.build(network, log: Log(verbose: false, toStandardError: json))
        let (int8Context, fp32Context) = (int8Engine.makeContext(), fp32Engine.makeContext())
        let files = try imageFiles()
        let inputName = network[network.inputs[0]].name
        let recipe = try preprocessing.resolved(for: network)
        engine.warnIfCalibratedWithAnotherRecipe(recipe, log: log)
        var stats: [String: TensorComparison] = [:]
        var order: [String] = []
        var top1Agree = 0, top5Overlap = 0
        let progress = Progress(total: files.count, label: "comparing")
        func tally(_ fp32Out: [String: TensorData], _ int8Out: [String: TensorData]) {
            let outName = network[network.outputs[0]].name
            if let a = fp32Out[outName], let b = int8Out[outName] {
                let topA = ClassifierOutput(a, probabilities: false).top[0].map(\.index), topB = ClassifierOutput(b, probabilities: false).top[0].map(\.index)
                if topA.first == topB.first { top1Agree += 1 }
                top5Overlap += Set(topA).intersection(topB).count
            }
        }
        for path in files {
            let input = try recipe.inputTensor(try ImageFile.read(path: path), path: path)
            var reference: [String: TensorData] = [:]
            guard tensors else {
                let fp32Out = try fp32Context.execute([inputName: input]), int8Out = try int8Context.execute([inputName: input])
                tally(fp32Out, int8Out)
                progress.advance(by: 1)
                continue
            }
            let fp32Out = try fp32Context.execute([inputName: input]) { id, value in
                reference[fp32Engine.plan.network[id].name] = value.dequantized
            }
            let int8Out = try int8Context.execute([inputName: input]) { id, value in
                let name = int8Engine.plan.network[id].name
                guard let want = reference[name], want.values.count == value.shape.reduce(1, *) else { return }
                let got = value.dequantized.values
                if stats[name] == nil { order.append(name) }
                stats[name, default: TensorComparison()].add(candidate: got, reference: want.values)
            }
            tally(fp32Out, int8Out)
            progress.advance(by: 1)
        }
        progress.finish()
        let ranked = order.sorted { (stats[$0]?.snr ?? 0) < (stats[$1]?.snr ?? 0) }.prefix(worst)
        let overlap = Double(top5Overlap) / Double(5 * files.count)
        if json {
            let worstTensors = ranked.map { name in
                let s = stats[name] ?? TensorComparison()
                return ComparisonJSON.Tensor(tensor: name, snrDb: JSONOutput.finite(Double(s.snr)), maxAbsError: JSONOutput.finite(Double(s.maxError)), cosine: JSONOutput.finite(Double(s.cosine)))
            }
            try JSONOutput.printLine(ComparisonJSON(
                model: (modelPath as NSString).lastPathComponent, images: files.count, top1Agreement: top1Agree, top5Overlap: overlap,
                int8Layers: int8Engine.plan.report.int8LayerCount, layers: int8Engine.plan.report.layers.count, worst: worstTensors))
            try MinimumAgreement.check(minTop1Agreement, agreeing: top1Agree, total: files.count)
            return
        }
        // The candidate as built: INT8 (or mixed), FP16, BEST; FP32 where FP16 was permitted and no layer got it.
        let report = int8Engine.plan.report
        let built = EngineSetup.precision(int8Options.resolvedPrecision, as: int8Engine)
        let candidate = ["fp16", "best", "fp32"].contains(built) ? built.uppercased() : "INT8"
        print("\(candidate) vs FP32 on \(files.count) images: top-1 agreement \(top1Agree)/\(files.count), top-5 overlap \(String(format: "%.1f", 100 * overlap))%, \(report.int8LayerCount)/\(report.layers.count) layers INT8"
            + (report.float16LayerCount > 0 ? ", \(report.float16LayerCount) FP16" : ""))
        print("worst tensors (lowest SNR first):")
        print("   SNR dB   max |err|     cosine  tensor")
        for name in ranked {
            let s = stats[name] ?? TensorComparison()
            print(String(format: "%9.2f %11.4f %10.6f  ", s.snr, s.maxError, s.cosine) + name)
        }
        print("Pin a layer to FP32 with --layer-precision NAME:fp32 and compare again to see the gain.")
        try MinimumAgreement.check(minTop1Agreement, agreeing: top1Agree, total: files.count)
    }

    /// The engine on `--device` against the same engine on the CPU: integer tensors must be equal, float tensors
    /// agree to rounding (relative L2 error reported), and top-1 must match.
    private func compareWithCPU(_ network: Network, modelPath: String, log: Log) throws {
        var cpuOptions = engine
        cpuOptions.device = "cpu"
        cpuOptions.loadEngine = nil  // the CPU reference is built from the model
        let candidate = try engine.build(network, log: log)
        guard candidate.backendName != "cpu" else {
            // Comparing the CPU with itself would report a success that checks nothing.
            throw OctetError.invalidInput(
                reason: "--versus cpu checks another device against the CPU, but --device \(engine.device) runs this engine on the CPU; use --device cuda on a machine with a GPU")
        }
        let reference = try cpuOptions.build(network, log: Log(verbose: false, toStandardError: json))
        let (candidateContext, referenceContext) = (candidate.makeContext(), reference.makeContext())
        let files = try imageFiles()
        let input = network[network.inputs[0]]
        let recipe = try preprocessing.resolved(for: network)
        var integerTensors = 0, integerMismatches: [String: Int] = [:], worstFloat = (error: 0.0, tensor: "")
        // Where each tensor first came in execution order, and the largest float error per tensor: the first tensor
        // to differ is where a difference starts, the ones after it mostly inherit it.
        var executionOrder: [String: Int] = [:], floatErrors: [String: Double] = [:]
        var top1Agree = 0
        let progress = Progress(total: files.count, label: "comparing \(candidate.backendName) with cpu")
        for path in files {
            let x = try recipe.inputTensor(try ImageFile.read(path: path), path: path)
            var want: [TensorID: TensorValue] = [:]
            let referenceOut = try referenceContext.execute([input.name: x]) { id, value in if tensors { want[id] = value } }
            let candidateOut = try candidateContext.execute([input.name: x]) { id, value in
                guard let expected = want[id] else { return }
                let name = candidate.plan.network[id].name
                if executionOrder[name] == nil { executionOrder[name] = executionOrder.count }
                if case .quantized = value {
                    integerTensors += 1
                    if value != expected { integerMismatches[name, default: 0] += 1 }
                } else {
                    let error = TensorComparison.relativeL2(value.dequantized.values, expected.dequantized.values)
                    if error > worstFloat.error { worstFloat = (error, name) }
                    floatErrors[name] = max(floatErrors[name] ?? 0, error)
                }
            }
            let outName = network[network.outputs[0]].name
            if let a = referenceOut[outName]?.values, let b = candidateOut[outName]?.values {
                let error = TensorComparison.relativeL2(b, a)
                if error > worstFloat.error { worstFloat = (error, outName) }
                if a.indices.max(by: { a[$0] < a[$1] }) == b.indices.max(by: { b[$0] < b[$1] }) { top1Agree += 1 }
            }
            progress.advance(by: 1)
        }
        progress.finish()
        let name = (modelPath as NSString).lastPathComponent
        if json {
            try JSONOutput.printLine(DeviceComparisonJSON(
                model: name, device: candidate.backendName, images: files.count, integerTensors: integerTensors,
                integerMismatches: integerMismatches.values.reduce(0, +), maxFloatRelativeL2: JSONOutput.finite(worstFloat.error), top1Agreement: top1Agree))
        } else {
            print("\(candidate.backendName) vs cpu on \(files.count) images, \(name): \(integerTensors - integerMismatches.values.reduce(0, +))/\(integerTensors) integer tensors identical, largest float relative L2 error \(String(format: "%.3g", worstFloat.error))\(worstFloat.tensor.isEmpty ? "" : " ('\(worstFloat.tensor)')"), top-1 agreement \(top1Agree)/\(files.count)")
            // In execution order: the first is where the engines part.
            let inOrder = { (names: [String]) in names.sorted { (executionOrder[$0] ?? .max) < (executionOrder[$1] ?? .max) } }
            for tensor in inOrder(Array(integerMismatches.keys)).prefix(worst) {
                print("  differs: \(tensor) on \(integerMismatches[tensor] ?? 0) image(s)")
            }
            // Any difference counts: a float tensor off by one unit in the last place is enough to move a value
            // across a rounding step of the quantized tensor it feeds.
            let floats = inOrder(floatErrors.filter { $0.value > 0 }.map(\.key))
            if !floats.isEmpty {
                print("float tensors that differ, in execution order, with their relative L2 error (\(floats.count) of \(floatErrors.count)):")
                for tensor in floats.prefix(worst) { print(String(format: "  %.3g  %@", floatErrors[tensor] ?? 0, tensor)) }
            }
        }
        if !integerMismatches.isEmpty {
            throw OctetError.invalidNetwork(reason: "\(integerMismatches.count) integer tensor(s) differ between \(candidate.backendName) and cpu")
        }
    }

    private func imageFiles() throws -> [String] { try ImageList.folder(images, skip: skip, limit: limit) }
}

/// `compare --json` (against FP32): one object.
struct ComparisonJSON: Encodable {
    struct Tensor: Encodable {
        var tensor: String
        var snrDb: Double?
        var maxAbsError: Double?
        var cosine: Double?
    }

    var model: String
    var images: Int
    var top1Agreement: Int
    var top5Overlap: Double
    var int8Layers: Int
    var layers: Int
    var worst: [Tensor]
}

/// `compare --versus cpu --json`: one object.
struct DeviceComparisonJSON: Encodable {
    var model: String
    var device: String
    var images: Int
    var integerTensors: Int
    var integerMismatches: Int
    var maxFloatRelativeL2: Double?
    var top1Agreement: Int
}
