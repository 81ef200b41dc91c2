import ArgumentParser
import Foundation
import Octet

/// `octet calibrate`: runs the FP32 engine over a folder of images, collects per-tensor statistics and
/// writes the range file the sample expects users to bring (and, on request, a TensorRT calibration cache).
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Compute per-tensor dynamic ranges from images and write a range file (and a calibration cache).",
        discussion: "Methods (docs/calibration.md): max, percentile (--percentile, default 99.999), entropy (TensorRT's EntropyCalibration2), mse.")

    @Option(name: .customLong("model"), help: "ONNX model file.")
    var model: String

    @Option(name: .customLong("images"), help: "Folder of JPEG, PNG and PPM images (.jpg .jpeg .png .ppm .pnm, sorted by name).")
    var images: String

    @Option(help: "Calibration method: max (the default, chosen by measurement: docs/calibration.md), percentile, entropy or mse.")
    var method = "max"

    @Option(help: "Percentile of |x| for --method percentile.")
    var percentile = 99.999

    @Option(help: "Images per FP32 batch.")
    var batch = 8

    @Option(help: "Use at most this many images (the first, by name).")
    var limit: Int?

    @Option(help: "Skip this many images first (with --limit, selects a slice for held-out evaluation).")
    var skip = 0

    @Option(name: [.customShort("o"), .customLong("output")], help: "Range file to write.")
    var output: String

    @Option(help: "Also write a TensorRT-style calibration cache here.")
    var cache: String?

    @OptionGroup(title: "Preprocessing") var preprocessing: PreprocessingOptions

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Device for the FP32 runs: cpu, cuda or auto (cuda when present).")
    var device = "auto"

    var calibrationMethod: CalibrationMethod {
        get throws {
            switch method {
            case "max": return .max
            case "percentile": return .percentile(percentile)
            case "entropy": return .entropy
            case "mse": return .mse
            default: throw ValidationError("--method must be max, percentile, entropy or mse, not '\(method)'")
            }
        }
    }

    func validate() throws {
        _ = try calibrationMethod
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if !["cpu", "cuda", "auto"].contains(device) { throw ValidationError("--device must be cpu, cuda or auto") }
        if !(0 < percentile && percentile <= 100) { throw ValidationError("--percentile must be in (0, 100]") }
    }

    func run() throws {
        let method = try calibrationMethod
        let (network, _) = try ONNXImporter.importModel(path: model)
        let files = try imageFiles()
        let recipe = try preprocessing.resolved(for: network)
        // FP32 with no fusion, so every tensor of the ONNX graph is observed under its own name.
        var config = BuilderConfig()
        config.noFusion = true
        let engine = try Builder(config: config, backend: try EngineOptions.backend(device), options: ExecutionOptions(threads: threads)).build(network)
        let context = engine.makeContext()
        var calibrator = Calibrator()
        let progress = Progress(total: files.count, label: "calibrating")
        // The builder's own tensors (the rows a fully connected layer reads a rank-4 tensor as) are not the model's.
        let modelTensors = Set(network.executionTensorNames)
        for chunk in ImageList.batches(files, size: batch) {
            _ = try context.execute([network[network.inputs[0]].name: try ImageList.batchTensor(chunk, recipe: recipe)]) { id, value in
                let name = engine.plan.network[id].name
                if modelTensors.contains(name) { calibrator.observe(name, value.dequantized.values) }
            }
            progress.advance(by: chunk.count)
        }
        progress.finish()
        // Tensors the engine never materializes (outputs of removed Identity/Dropout) take their input's range.
        var ranges = calibrator.ranges(method)
        let known = Set(ranges.entries.map(\.name))
        for layer in network.layers where layer.kind == .identity {
            let outName = network[layer.outputs[0]].name, inName = network[layer.inputs[0]].name
            if !known.contains(outName), let r = ranges.dictionary[inName] { ranges.entries.append((outName, r)) }
        }
        do {
            // The recipe goes into the range file as a comment, for run/compare/eval to check; a calibration
            // cache has no comment syntax, so it carries none.
            try ranges.rangeFileText(recipe: recipe.summary).write(toFile: output, atomically: true, encoding: .utf8)
            if let cache { try ranges.calibrationCacheText(header: Self.cacheHeader(method)).write(toFile: cache, atomically: true, encoding: .utf8) }
        } catch {
            throw OctetError.io(path: cache ?? output, reason: "cannot write the calibration result")
        }
        print("Calibrated \(ranges.entries.count) tensors on \(files.count) images with \(method); wrote \(output)\(cache.map { " and \($0)" } ?? "")")
    }

    /// TensorRT names its caches by algorithm; Octet's methods map onto those names.
    static func cacheHeader(_ method: CalibrationMethod) -> String {
        switch method {
        case .entropy: "TRT-8601-EntropyCalibration2"
        case .max: "TRT-8601-MinMaxCalibration"
        case .percentile: "TRT-8601-PercentileCalibration"
        case .mse: "TRT-8601-MSECalibration"
        }
    }

    private func imageFiles() throws -> [String] { try ImageList.folder(images, skip: skip, limit: limit) }
}

/// A one-line progress bar with the time left, on standard error (standard output stays machine-readable).
final class Progress {
    let total: Int
    let label: String
    private var done = 0
    private let start = Date()
    private let interactive = isatty(STDERR_FILENO) != 0
    private let silent: Bool

    /// `onlyOnTerminal`: draw nothing when standard error is not a terminal (no progress lines in CI logs).
    init(total: Int, label: String, onlyOnTerminal: Bool = false) {
        self.total = total
        self.label = label
        silent = onlyOnTerminal && !interactive
    }

    func advance(by count: Int) {
        done += count
        guard !silent else { return }
        let fraction = Double(done) / Double(max(total, 1))
        let elapsed = Date().timeIntervalSince(start)
        let left = fraction > 0 ? elapsed / fraction - elapsed : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "%@ [%@] %d/%d, %.1fs elapsed, %.1fs left", label, bar, done, total, elapsed, left)
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + line + (interactive ? "" : "\n")).utf8))
    }

    func finish() { if interactive, !silent { FileHandle.standardError.write(Data("\n".utf8)) } }
}
