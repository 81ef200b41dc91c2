import ArgumentParser
import Foundation
import Octet

/// `octet preprocess`: the network input `octet run` would feed, written as `.npy`, so a recipe can be checked
/// against the framework it imitates (Scripts/compare_preprocessing.py) and its cost measured (`--iterations`).
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode and preprocess one image as `run` would, and write the input tensor as .npy.",
        discussion: "The input size comes from --model's first input, else from --size. Recipes: docs/preprocessing.md.")

    @Option(help: "Image: JPEG, PNG or PPM (told by its first bytes); - reads standard input.")
    var image: String

    @Option(help: "ONNX model whose input size ([N, 3, H, W]) the tensor takes.")
    var model: String?

    @Option(help: "Input size HxW when no --model is given.")
    var size = "224x224"

    @OptionGroup(title: "Preprocessing") var preprocessing: PreprocessingOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write the [1, 3, H, W] float32 tensor (.npy).")
    var output: String?

    @Option(help: "Decode and preprocess this many times and print the median and fastest times.")
    var iterations = 1

    @Flag(help: "Also print every run's decode and preprocess milliseconds (for Scripts/bench_preprocessing.py).")
    var printTimes = false

    func validate() throws {
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if output == nil && iterations == 1 { throw ValidationError("give --output, --iterations, or both") }
    }

    func run() throws {
        let recipe: PreprocessingRecipe
        if let model {
            recipe = try preprocessing.resolved(for: try ONNXImporter.importModel(path: model).network)
        } else {
            let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--size takes HxW, not '\(size)'") }
            recipe = try preprocessing.resolved(height: parts[0], width: parts[1])
        }
        let name = image == "-" ? ImageFile.standardInputName : image
        // Standard input can be read once: time repeated decodes of the same bytes.
        let data: Data
        if image == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = try FileReading.contents(of: image, what: "an image file")
        }
        var decodeTimes: [Double] = [], preprocessTimes: [Double] = []
        var tensor = TensorData(shape: [0], values: [])
        var decoded: DecodedImage?
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            let picture = try ImageFile.decode(data, path: name)
            let middle = DispatchTime.now().uptimeNanoseconds
            tensor = try recipe.inputTensor(picture, path: name)
            let end = DispatchTime.now().uptimeNanoseconds
            decodeTimes.append(Double(middle - start) / 1e6)
            preprocessTimes.append(Double(end - middle) / 1e6)
            decoded = picture
        }
        if let output { try NumPyFile.write(tensor, to: output) }
        guard let decoded else { return }
        print("\(name): \(decoded.width)x\(decoded.height) \(decoded.format.rawValue), recipe \(recipe.summary)")
        if iterations > 1 {
            func stats(_ t: [Double]) -> String {
                let sorted = t.sorted()
                return String(format: "median %.2f ms, fastest %.2f ms", sorted[sorted.count / 2], sorted[0])
            }
            let total = zip(decodeTimes, preprocessTimes).map { $0 + $1 }
            print("decode: \(stats(decodeTimes)); preprocess: \(stats(preprocessTimes)); both: \(stats(total)) over \(iterations) runs")
        }
        if printTimes {
            print("times " + zip(decodeTimes, preprocessTimes).map { String(format: "%.3f,%.3f", $0, $1) }.joined(separator: " "))
        }
    }
}
