import ArgumentParser
import Foundation
import Octet

/// The pieces every command that classifies many images shares (`run`, `eval`, `compare`, `calibrate`):
/// listing the images, cutting them into batches of real, different images, ranking each sample's classes,
/// and writing results as JSON.
enum ImageList {
    /// The images named by `arguments`, in order: a folder stands for its images (sorted by name, not
    /// recursive), `-` for standard input, and any other name is a file found like every input file.
    /// - Throws: `OctetError.io` naming a folder with no images or a file that does not exist.
    static func collect(_ arguments: [String], files: SampleFiles) throws -> [String] {
        var paths: [String] = []
        for argument in arguments {
            if argument == "-" {
                paths.append(argument)
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
                paths += try folder(argument)
            } else {
                paths.append(try files.locate(argument, what: "image file"))
            }
        }
        return paths
    }

    /// The decodable images of `folder` (by extension, sorted by name), as paths; an error when there is none.
    static func folder(_ folder: String, skip: Int = 0, limit: Int? = nil) throws -> [String] {
        let names = Array(try PreprocessingOptions.imageFiles(in: folder).dropFirst(skip).prefix(limit ?? Int.max))
        guard !names.isEmpty else {
            throw OctetError.io(path: folder, reason: "the folder holds no .jpg, .jpeg, .png, .ppm or .pnm images")
        }
        return names.map { (folder as NSString).appendingPathComponent($0) }
    }

    /// The name printed for an image: the path as given, or `<standard input>`.
    static func displayName(_ path: String) -> String { path == "-" ? ImageFile.standardInputName : path }

    /// One network input for `paths`: each image decoded and preprocessed by `recipe`, stacked as `[N, 3, H, W]`.
    static func batchTensor(_ paths: some Collection<String>, recipe: PreprocessingRecipe) throws -> TensorData {
        .batch(try paths.map { path in try recipe.inputTensor(try ImageFile.read(path: path), path: displayName(path)) })
    }

    /// `items` cut into consecutive batches of `size`; the last one holds the rest.
    static func batches<T>(_ items: [T], size: Int) -> [ArraySlice<T>] {
        precondition(size > 0, "batch size must be positive")
        return stride(from: 0, to: items.count, by: size).map { items[$0..<min(items.count, $0 + size)] }
    }
}

/// One image's result as `run --json` prints it: one object per line.
struct ClassifiedImage: Codable, Equatable {
    struct Entry: Codable, Equatable {
        var rank: Int
        var classIndex: Int
        var label: String?
        var probability: Float

        enum CodingKeys: String, CodingKey {
            case rank, classIndex = "class", label, probability
        }
    }

    var file: String
    /// The sample's index in the input tensor, for `--load-inputs` and a repeated image.
    var sample: Int?
    var precision: String
    var device: String
    var top5: [Entry]

    init(file: String, sample: Int? = nil, precision: String, device: String, top: [RankedClass], labels: Labels?) {
        self.file = file
        self.sample = sample
        self.precision = precision
        self.device = device
        top5 = top.enumerated().map { rank, entry in
            Entry(rank: rank + 1, classIndex: entry.index, label: labels?[entry.index], probability: entry.probability)
        }
    }

    /// The sample's `[1] label  (class i, p=0.1234)` lines, as sampleINT8API prints its top-5.
    var textLines: [String] {
        top5.map { entry in
            let probability = String(format: "%.4f", entry.probability)
            if let label = entry.label { return "[\(entry.rank)] \(label)  (class \(entry.classIndex), p=\(probability))" }
            return "[\(entry.rank)] class \(entry.classIndex)  (p=\(probability))"
        }
    }
}

/// JSON on standard output through `Codable`, so every line parses (names with quotes, infinite SNRs).
enum JSONOutput {
    /// Prints `value` as one line of JSON.
    static func printLine(_ value: some Encodable) throws {
        print(try line(value))
    }

    static func line(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // the same bytes on every run
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw OctetError.invalidInput(reason: "the result cannot be written as JSON: \(error)")
        }
    }

    /// A finite number, or nil (JSON `null`) for infinities and NaN, which JSON cannot hold.
    static func finite(_ value: Double) -> Double? { value.isFinite ? value : nil }
}

extension EngineOptions {
    /// Warns when the range file was written by `octet calibrate` with another preprocessing recipe than
    /// `recipe`: ranges measured on other inputs clip or waste INT8 levels.
    func warnIfCalibratedWithAnotherRecipe(_ recipe: PreprocessingRecipe, log: Log) {
        guard let path = rangeFilePath, let recorded = DynamicRanges.recordedRecipe(path: path) else { return }
        guard recorded != recipe.summary else { return }
        log.warning("\(path) was calibrated with recipe '\(recorded)', but this run preprocesses with '\(recipe.summary)'; the ranges may not fit these inputs (give the same --recipe as to calibrate)")
    }
}

/// `--min-top1-agreement`, shared by `eval` and `compare`: the fraction (0...1) of images on which the INT8
/// engine's top-1 must equal FP32's, for CI pipelines; below it the command exits 1.
struct MinimumAgreement {
    static let help = "Exit with status 1 when INT8 and FP32 agree on the top-1 class of fewer than this fraction of the images (0 to 1, e.g. 0.95)."

    static func validate(_ value: Double?) throws {
        if let value, !(0...1).contains(value) {
            throw ValidationError("--min-top1-agreement is a fraction from 0 to 1 (0.95 means 95% of the images), not \(value)")
        }
    }

    /// Throws one sentence when `agreeing` of `total` is below `minimum`.
    static func check(_ minimum: Double?, agreeing: Int, total: Int, candidate: String = "INT8") throws {
        guard let minimum, total > 0 else { return }
        let fraction = Double(agreeing) / Double(total)
        guard fraction < minimum else { return }
        throw OctetError.invalidInput(
            reason: "\(candidate) and FP32 agree on the top-1 class of \(agreeing) of \(total) images (\(String(format: "%.4g", fraction))), below --min-top1-agreement \(minimum)")
    }
}
