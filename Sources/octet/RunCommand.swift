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
            """
    )

    @Option(name: .customLong("model"), help: "ONNX model file.")
    var model = "efficientnet_lite0.onnx"

    @Option(name: .customLong("ranges"), help: "Per-tensor dynamic range file (tensor_name:range per line).")
    var ranges: String?

    @Option(name: .customLong("image"), help: "PPM image (P6 or P3) to classify.")
    var image = "coffee.ppm"

    @Option(name: .customLong("reference"), help: "Class labels, one per line (reference_labels.txt).")
    var reference = "reference_labels.txt"

    @Option(name: .customLong("data"), help: "Directory to search for input files (repeatable).")
    var data: [String] = []

    @Flag(name: .customLong("write_tensors"), help: "Write the network's tensor names and exit.")
    var writeTensors = false

    @Option(name: .customLong("network_tensors_file"), help: "Where --write_tensors writes (default network_tensors.txt).")
    var networkTensorsFile = "network_tensors.txt"

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Print model details and the network.")
    var verbose = false

    @Option(help: "Arithmetic precision: int8, fp32, mixed or fp16 (default: int8 with --ranges, else fp32).")
    var precision: String?

    @Flag(name: .customLong("int8"), help: "Same as --precision int8 (the sample's flag).")
    var int8 = false

    @Flag(name: .customLong("fp16"), help: "Same as --precision fp16 (the sample's flag).")
    var fp16 = false

    @Option(name: .customLong("useDLACore"), help: "The sample's DLA option; DLA does not exist on Octet's targets.")
    var useDLACore: Int?

    @Option(help: "Input normalization: \(Normalization.allCases.map(\.rawValue).joined(separator: ", ")).")
    var normalization = Normalization.sample.rawValue

    @Option(name: .customLong("save-outputs"), help: "Write the output tensor to this NumPy .npy file (float32).")
    var saveOutputs: String?

    @Option(name: .customLong("load-inputs"), help: "Feed this NumPy .npy tensor instead of an image.")
    var loadInputs: String?

    func validate() throws {
        if int8 && fp16 { throw ValidationError("--int8 and --fp16 select different precisions; give one") }
        if let precision, DataType(userSpelling: precision) == nil, precision.lowercased() != "mixed" {
            throw ValidationError("--precision must be int8, fp32, mixed or fp16, not '\(precision)'")
        }
        if Normalization(rawValue: normalization) == nil {
            throw ValidationError("--normalization must be one of \(Normalization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// The precision the user asked for, with the sample's flags and the range-file default resolved.
    var requestedPrecision: String {
        if let precision { return precision.lowercased() }
        if int8 { return "int8" }
        if fp16 { return "fp16" }
        return ranges == nil ? "fp32" : "int8"
    }

    func run() throws {
        if let useDLACore {
            throw OctetError.unavailable(reason: "--useDLACore=\(useDLACore) asks for a DLA core, and there is no DLA on Octet's targets (CPUs and NVIDIA GPUs)")
        }
        let files = SampleFiles(userDirectories: data)
        let log = Log(verbose: verbose)
        let commandLine = (["octet"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        print("&&&& RUNNING Octet.sample_int8_api # \(commandLine)")

        let modelPath = try files.locate(model, what: "model file")
        let (network, info) = try ONNXImporter.importModel(path: modelPath)
        if writeTensors {
            try TensorsCommand.write(network, to: networkTensorsFile)
            log.info("Wrote \(network.executionTensorNames.count) tensor names to \(networkTensorsFile)")
            print("&&&& PASSED Octet.sample_int8_api # \(commandLine)")
            return
        }

        let imagePath = loadInputs == nil ? try files.locate(image, what: "image file") : nil
        let referencePath = files.find(reference)
        let rangesPath = try ranges.map { try files.locate($0, what: "dynamic range file") }
        log.info("Validating input parameters. Using following input files for inference.")
        log.info("    Model File: \(modelPath)")
        if let loadInputs { log.info("    Input Tensor File: \(loadInputs)") }
        if let imagePath { log.info("    Image File: \(imagePath)") }
        log.info("    Reference File: \(referencePath ?? "(none: classes are printed by index)")")
        log.info("    Dynamic Range File: \(rangesPath ?? "(none)")")
        log.modelInfo(info)

        var configured = network
        if let rangesPath {
            let table = try DynamicRanges.readRangeFile(path: rangesPath)
            let unknown = configured.apply(table)
            log.info("Setting Per Tensor Dynamic Range: \(table.entries.count - unknown.count) of \(table.entries.count) entries match a tensor")
            for name in unknown { log.verbose("Range for '\(name)' matches no tensor; ignored") }
        }
        if verbose { log.verbose(configured.summary) }

        let precisionName = requestedPrecision
        guard precisionName == "fp32" else {
            throw OctetError.unavailable(
                reason: "\(precisionName.uppercased()) engines are not available in this build of Octet yet; run with --precision fp32")
        }

        let inputID = configured.inputs[0]
        let inputShape = configured[inputID].shape
        let input: TensorData
        if let loadInputs {
            input = try NumPyFile.read(path: loadInputs)
        } else if let imagePath {
            guard inputShape.count == 4, inputShape[1] == 3 else {
                throw OctetError.invalidInput(reason: "the model input '\(configured[inputID].name)' has shape \(inputShape), not [N, 3, H, W]; use --load-inputs")
            }
            let picture = try PPM.read(path: imagePath)
            if picture.width != inputShape[3] || picture.height != inputShape[2] {
                log.info("Resizing \(picture.width)x\(picture.height) image to \(inputShape[3])x\(inputShape[2])")
            }
            let preset = Normalization(rawValue: normalization) ?? .sample
            input = picture.inputTensor(height: inputShape[2], width: inputShape[3], normalization: preset)
        } else {
            throw OctetError.invalidInput(reason: "no image or input tensor given")
        }

        log.info("Building and running a FP32 CPU inference engine (reference executor) for \(modelPath)")
        let executor = ReferenceExecutor(network: configured)
        let outputs = try executor.run([configured[inputID].name: input])
        let outputID = configured.outputs[0]
        guard let output = outputs[configured[outputID].name] else {
            throw OctetError.invalidNetwork(reason: "the network produced no output")
        }
        if let saveOutputs { try NumPyFile.write(output, to: saveOutputs) }

        let labels = try referencePath.map { try Labels(path: $0) }
        let isProbability = Classification.endsInSoftmax(configured, output: outputID)
        let batch = output.shape.first ?? 1
        let perSample = output.count / max(batch, 1)
        for sample in 0..<batch {
            let top = Classification.topK(
                output.values[sample * perSample..<(sample + 1) * perSample], k: 5, outputIsProbability: isProbability)
            log.info(batch == 1 ? "Octet result (FP32, CPU): Detected:" : "Octet result (FP32, CPU), sample \(sample): Detected:")
            for (rank, entry) in top.enumerated() {
                let probability = String(format: "%.4f", entry.probability)
                if let labels {
                    log.info("[\(rank + 1)] \(labels[entry.index])  (class \(entry.index), p=\(probability))")
                } else {
                    log.info("[\(rank + 1)] class \(entry.index)  (p=\(probability))")
                }
            }
        }
        print("&&&& PASSED Octet.sample_int8_api # \(commandLine)")
    }
}

/// The sample's log prefixes: `[I]` for information, `[V]` for verbose detail.
struct Log {
    var verbose: Bool

    func info(_ message: String) { print("[I] \(message)") }

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
