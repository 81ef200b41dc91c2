import ArgumentParser
import Foundation
import Octet

/// `octet run`: TensorRT sampleINT8API's workflow — import an ONNX classifier, apply per-tensor dynamic
/// ranges, build an engine, classify images and print the top-5 of each.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Classify images with an ONNX model (the sampleINT8API workflow).",
        discussion: """
            Options accept the sample's spellings (--model=file.onnx). Relative file names are looked up in the \
            current directory, then in each --data directory, then in data/samples/int8_api/ and data/int8_api/. \
            With --ranges the engine is INT8 unless --precision says otherwise.

            Images: --image (repeatable) and the positional arguments name image files, folders (their \
            .jpg/.jpeg/.png/.ppm/.pnm images, sorted by name) or - (standard input); all are classified, --batch \
            at a time. With no image, the sample's coffee.ppm. With --json, standard output holds one JSON \
            object per image and every log line, banner included, goes to standard error.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("image"), help: "Image to classify: JPEG, PNG or PPM (told by its first bytes), a folder of images, or - for standard input (repeatable).")
    var image: [String] = []

    @Argument(help: "More images or folders, as --image.")
    var imageArguments: [String] = []

    static let defaultImage = "coffee.ppm"

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

    @Option(help: "Images per engine execution; the last batch holds the rest. With a single image, the image is repeated N times in one batch (a throughput check, as before).")
    var batch = 1

    @Flag(help: "Print one JSON object per image on standard output (file, top5 with class, label and probability, precision, device); logs go to standard error.")
    var json = false

    @Option(name: .customLong("save-outputs"), help: "Write the output tensor (every image's row, in order) to this NumPy .npy file (float32).")
    var saveOutputs: String?

    @Option(name: .customLong("load-inputs"), help: "Feed this NumPy .npy tensor instead of images.")
    var loadInputs: String?

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if loadInputs != nil, !(image + imageArguments).isEmpty {
            throw ValidationError("--load-inputs feeds a tensor instead of images; give it or images, not both")
        }
        if (image + imageArguments).filter({ $0 == "-" }).count > 1 {
            throw ValidationError("standard input (-) can be read once; name it once")
        }
    }

    mutating func run() throws {
        if let useDLACore {
            throw OctetError.unavailable(reason: "--useDLACore=\(useDLACore) asks for a DLA core, and there is no DLA on Octet's targets (CPUs and NVIDIA GPUs)")
        }
        let files = engine.files
        let log = Log(verbose: verbose, toStandardError: json)
        TestBanner.toStandardError = json
        TestBanner.start("Octet.sample_int8_api")

        if writeTensors {
            let modelPath = try files.locate(engine.model, what: "model file")
            let (network, _) = try ONNXImporter.importModel(path: modelPath)
            try TensorsCommand.write(network, to: networkTensorsFile)
            log.info("Wrote \(network.executionTensorNames.count) tensor names to \(networkTensorsFile)")
            TestBanner.passed()
            return
        }

        let requested = image + imageArguments
        let imagePaths = loadInputs == nil ? try ImageList.collect(requested.isEmpty ? [Self.defaultImage] : requested, files: files) : []
        // A label file the user names must exist; the sample's default name is used only where it is found.
        let referencePath = try reference.map { try files.locate($0, what: "reference labels file") } ?? files.find(Self.defaultReference)
        // A loaded engine brings its network; otherwise the model is imported and configured, then built below.
        let loaded = try engine.loadEngine.map { try engine.loadedEngine($0, log: log) }
        let (network, info, modelPath, rangesPath): (Network, ModelInfo?, String, String?) =
            try loaded.map { ($0.plan.network, nil, engine.loadEngine ?? "", nil) } ?? engine.configuredNetwork(log: log)
        log.info("Validating input parameters. Using following input files for inference.")
        log.info("    \(loaded == nil ? "Model" : "Engine") File: \(modelPath)")
        if let loadInputs { log.info("    Input Tensor File: \(loadInputs)") }
        for path in imagePaths { log.info("    Image File: \(path)") }
        log.info("    Reference File: \(referencePath ?? "(none: classes are printed by index)")")
        log.info("    Dynamic Range File: \(rangesPath ?? "(none)")")
        if let info { log.modelInfo(info) }
        engine.reportRanges(log)

        let recipe = loadInputs == nil ? try preprocessing.resolved(for: network, alternative: "use --load-inputs") : nil
        if let recipe { engine.warnIfCalibratedWithAnotherRecipe(recipe, log: log) }
        let built = try loaded ?? engine.build(network, log: log)
        let precision = loaded.map(EngineSetup.precision(of:)) ?? EngineSetup.precision(engine.resolvedPrecision, as: built)
        let precisionName = precision.uppercased()
        log.info("\(loaded == nil ? "Building and running" : "Running") a \(precisionName) \(built.backendName.uppercased()) inference engine for \(modelPath)")
        if verbose { log.verbose(built.plan.report.text) }
        let context = built.makeContext()
        let outputID = network.outputs[0]
        let isProbability = Classification.endsInSoftmax(network, output: outputID)
        var labels: Labels?, labelsRead = false  // read once the first output tells the number of classes
        var saved: [TensorData] = []

        /// Runs one input and reports each of its samples, named by `names(sample)`.
        func classify(_ input: TensorData, names: (Int) -> (file: String, sample: Int?)) throws {
            let outputs = try context.execute([network[network.inputs[0]].name: input])
            guard let output = outputs[network[outputID].name] else {
                throw OctetError.invalidNetwork(reason: "the network produced no output")
            }
            if saveOutputs != nil { saved.append(output) }
            if !labelsRead {
                labels = try referencePath.flatMap { path in
                    try Labels.forOutput(path: path, classes: ClassifierOutput.classes(of: output), output: network[outputID].name, explicitlyGiven: reference != nil, warn: log.warning)
                }
                labelsRead = true
            }
            for (sample, top) in ClassifierOutput(output, probabilities: isProbability).top.enumerated() {
                let (file, index) = names(sample)
                let result = ClassifiedImage(file: file, sample: index, precision: precision, device: built.backendName, top: top, labels: labels)
                if json {
                    try JSONOutput.printLine(result)
                    continue
                }
                let where_ = "\(precisionName), \(built.backendName.uppercased())"
                log.info(imagePaths.count > 1 ? "Octet result (\(where_)), \(file): Detected:"
                    : index == nil ? "Octet result (\(where_)): Detected:" : "Octet result (\(where_)), sample \(sample): Detected:")
                for line in result.textLines { log.info(line) }
            }
        }

        if let loadInputs {
            let input = try NumPyFile.read(path: loadInputs)
            let samples = input.shape.first ?? 1
            try classify(input) { (loadInputs, samples == 1 ? nil : $0) }
        } else if let recipe, imagePaths.count == 1 {
            // One image: repeated --batch times, as the sample's batch option always did.
            let path = imagePaths[0], name = ImageList.displayName(path)
            let picture = try ImageFile.read(path: path)
            log.info("Preprocessing a \(picture.width)x\(picture.height) \(picture.format.rawValue) image with recipe \(recipe.summary)")
            try network.checkBatch(batch)  // before the batch of copies is allocated
            let one = try recipe.inputTensor(picture, path: name)
            try classify(.batch(Array(repeating: one, count: batch))) { (name, batch == 1 ? nil : $0) }
        } else if let recipe {
            log.info("Preprocessing \(imagePaths.count) images with recipe \(recipe.summary), \(batch) per batch")
            for chunk in ImageList.batches(imagePaths, size: batch) {
                let input = try ImageList.batchTensor(chunk, recipe: recipe)
                try classify(input) { (ImageList.displayName(chunk[chunk.startIndex + $0]), nil) }
            }
        }
        if let saveOutputs { try NumPyFile.write(.batch(saved), to: saveOutputs) }
        TestBanner.passed()
    }
}

/// The sample's log prefixes: `[I]` information, `[W]` warnings, `[V]` verbose detail. On standard output,
/// as the sample prints them, or on standard error when standard output carries JSON.
struct Log {
    var verbose: Bool
    var toStandardError = false

    func info(_ message: String) { write("[I] \(message)") }

    func warning(_ message: String) { write("[W] \(message)") }

    func verbose(_ message: @autoclosure () -> String) {
        guard verbose else { return }
        for line in message().split(separator: "\n", omittingEmptySubsequences: false) { write("[V] \(line)") }
    }

    private func write(_ line: String) {
        if toStandardError {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } else {
            print(line)
        }
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
