import ArgumentParser
import Foundation
import Octet

/// `octet run`: TensorRT sampleINT8API's workflow — import an ONNX classifier, apply per-tensor dynamic
/// ranges, build an engine, classify one image and print the top-5.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Classify an image with an ONNX model (the sampleINT8API workflow).",
        discussion: """
            Options accept the sample's spellings (--model=file.onnx). Relative file names are looked up in the
            current directory, then in each --data directory, then in data/samples/int8_api/ and data/int8_api/.
            With --ranges the engine is INT8 unless --precision says otherwise.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("image"), help: "Image to classify: JPEG, PNG or PPM (told by its first bytes); - reads standard input.")
    var image = "coffee.ppm"

    @Option(name: .customLong("reference"), help: "Class labels, one per line, line number - 1 = class index (default: reference_labels.txt where found).")
    var reference: String?

    static let defaultReference = "reference_labels.txt"

    @Flag(name: .customLong("write_tensors"), help: "Write the network's tensor names and exit.")
    var writeTensors = false

    @Option(name: .customLong("network_tensors_file"), help: "Where --write_tensors writes (default network_tensors.txt).")
    var networkTensorsFile = "network_tensors.txt"

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Print model details and the build report.")
    var verbose = false

    @Option(name: .customLong("useDLACore"), help: "The sample's DLA option; DLA does not exist on Octet's targets.")
    var useDLACore: Int?

    @OptionGroup(title: "Preprocessing") var preprocessing: PreprocessingOptions

    @Option(help: "Run the image this many times as one batch.")
    var batch = 1

    @Option(name: .customLong("save-outputs"), help: "Write the output tensor to this NumPy .npy file (float32).")
    var saveOutputs: String?

    @Option(name: .customLong("load-inputs"), help: "Feed this NumPy .npy tensor instead of an image.")
    var loadInputs: String?

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    mutating func run() throws {
        if let useDLACore {
            throw OctetError.unavailable(reason: "--useDLACore=\(useDLACore) asks for a DLA core, and there is no DLA on Octet's targets (CPUs and NVIDIA GPUs)")
        }
        let files = engine.files
        let log = Log(verbose: verbose)
        TestBanner.start("Octet.sample_int8_api")

        if writeTensors {
            let modelPath = try files.locate(engine.model, what: "model file")
            let (network, _) = try ONNXImporter.importModel(path: modelPath)
            try TensorsCommand.write(network, to: networkTensorsFile)
            log.info("Wrote \(network.executionTensorNames.count) tensor names to \(networkTensorsFile)")
            TestBanner.passed()
            return
        }

        let imagePath = loadInputs == nil ? (image == "-" ? image : try files.locate(image, what: "image file")) : nil
        // A label file the user names must exist; the sample's default name is used only where it is found.
        let referencePath = try reference.map { try files.locate($0, what: "reference labels file") } ?? files.find(Self.defaultReference)
        let (network, info, modelPath, rangesPath) = try engine.configuredNetwork(log: log)
        log.info("Validating input parameters. Using following input files for inference.")
        log.info("    Model File: \(modelPath)")
        if let loadInputs { log.info("    Input Tensor File: \(loadInputs)") }
        if let imagePath { log.info("    Image File: \(imagePath)") }
        log.info("    Reference File: \(referencePath ?? "(none: classes are printed by index)")")
        log.info("    Dynamic Range File: \(rangesPath ?? "(none)")")
        log.modelInfo(info)
        engine.reportRanges(log)

        let input = try inputTensor(network, imagePath: imagePath, log: log)
        let precisionName = engine.resolvedPrecision.uppercased()
        let built = try engine.build(network, log: log)
        log.info("Building and running a \(precisionName) \(built.backendName.uppercased()) inference engine for \(modelPath)")
        if verbose { log.verbose(built.plan.report.text) }
        let outputs = try built.makeContext().execute([network[network.inputs[0]].name: input])
        let outputID = network.outputs[0]
        guard let output = outputs[network[outputID].name] else {
            throw OctetError.invalidNetwork(reason: "the network produced no output")
        }
        if let saveOutputs { try NumPyFile.write(output, to: saveOutputs) }

        let isProbability = Classification.endsInSoftmax(network, output: outputID)
        let samples = output.shape.first ?? 1
        let perSample = output.count / max(samples, 1)
        let labels = try referencePath.flatMap { path in
            try Labels.forOutput(path: path, classes: perSample, output: network[outputID].name, explicitlyGiven: reference != nil, log: log)
        }
        let where_ = "\(precisionName), \(built.backendName.uppercased())"
        for sample in 0..<samples {
            let top = Classification.topK(
                output.values[sample * perSample..<(sample + 1) * perSample], k: 5, outputIsProbability: isProbability)
            log.info(samples == 1 ? "Octet result (\(where_)): Detected:" : "Octet result (\(where_)), sample \(sample): Detected:")
            for (rank, entry) in top.enumerated() {
                let probability = String(format: "%.4f", entry.probability)
                if let labels {
                    log.info("[\(rank + 1)] \(labels[entry.index])  (class \(entry.index), p=\(probability))")
                } else {
                    log.info("[\(rank + 1)] class \(entry.index)  (p=\(probability))")
                }
            }
        }
        TestBanner.passed()
    }

    /// The network input: the `.npy` tensor, or the image resized and normalized, repeated `--batch` times.
    private func inputTensor(_ network: Network, imagePath: String?, log: Log) throws -> TensorData {
        if let loadInputs { return try NumPyFile.read(path: loadInputs) }
        guard let imagePath else { throw OctetError.invalidInput(reason: "no image or input tensor given") }
        let recipe = try preprocessing.resolved(for: network, alternative: "use --load-inputs")
        let picture = try ImageFile.read(path: imagePath)
        log.info("Preprocessing a \(picture.width)x\(picture.height) \(picture.format.rawValue) image with recipe \(recipe.summary)")
        try network.checkBatch(batch)  // before the batch of copies is allocated
        let one = try recipe.inputTensor(picture, path: imagePath == "-" ? ImageFile.standardInputName : imagePath)
        return .batch(Array(repeating: one, count: batch))
    }
}

/// The sample's log prefixes: `[I]` information, `[W]` warnings, `[V]` verbose detail.
struct Log {
    var verbose: Bool

    func info(_ message: String) { print("[I] \(message)") }

    func warning(_ message: String) { print("[W] \(message)") }

    func verbose(_ message: @autoclosure () -> String) {
        guard verbose else { return }
        for line in message().split(separator: "\n", omittingEmptySubsequences: false) { print("[V] \(line)") }
    }

    func modelInfo(_ info: ModelInfo) {
        verbose("----------------------------------------------------------------")
        verbose("Input filename:   \(info.path)")
        verbose("ONNX IR version:  \(info.irVersion)")
        verbose("Opset version:    \(info.opsetVersion)")
        verbose("Producer name:    \(info.producerName)")
        verbose("Producer version: \(info.producerVersion)")
        verbose("Domain:           \(info.domain)")
        verbose("Model version:    \(info.modelVersion)")
        verbose("----------------------------------------------------------------")
    }
}
