import ArgumentParser
import Foundation
import Octet

/// `octet eval`: top-1 and top-5 accuracy of the INT8 engine and of FP32 side by side on labelled images,
/// their top-1 agreement and the images where they disagree (docs/evaluation.md).
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure top-1/top-5 accuracy of INT8 and FP32 side by side on labelled images.",
        discussion: """
            Labels come either from --labels FILE, lines of `file<TAB>class` (class index, 0-based; a header line \
            and --label-column select one column of a wider table such as ../shared/data/images/expected.tsv), \
            or from an ImageNet-style folder with one subfolder per synset and --synsets FILE (line i = the \
            synset id of class i, e.g. n01440764; anything after the id on a line is ignored). INT8 runs when \
            --ranges, --calibration-cache or a QuantizeLinear/DequantizeLinear model makes it possible (or \
            --precision asks for it); otherwise FP32 only. See docs/evaluation.md.
            """)

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("images"), help: "Folder of images (.jpg .jpeg .png .ppm .pnm, sorted by name), or of one subfolder per synset with --synsets.")
    var images: String

    @Option(help: "Labels: `file<TAB>class` per line (file name inside --images, class index).")
    var labels: String?

    @Option(name: .customLong("label-column"), help: "With a --labels table that has a header line: the column holding the class, by name (a name X also finds X_top1_idx) or 1-based number.")
    var labelColumn: String?

    @Option(help: "Synset list for a folder of synset subfolders: line i is the synset id of class i.")
    var synsets: String?

    @Option(name: .customLong("reference"), help: "Class names, one per line (line - 1 = class index), to name classes in the disagreement list.")
    var reference: String?

    @Option(help: "Images per engine execution (the last batch holds the rest).")
    var batch = 8

    @Option(help: "Use at most this many images (the first, by name).")
    var limit: Int?

    @Option(help: "Skip this many images first.")
    var skip = 0

    @OptionGroup(title: "Preprocessing") var preprocessing: PreprocessingOptions

    @Flag(help: "Print the result as one JSON object on standard output; logs go to standard error.")
    var json = false

    @Option(name: .customLong("min-top1-agreement"), help: ArgumentHelp(MinimumAgreement.help, valueName: "fraction"))
    var minTop1Agreement: Double?

    func validate() throws {
        if (labels == nil) == (synsets == nil) {
            throw ValidationError("give the labels with --labels FILE (file<TAB>class lines) or --synsets FILE (one subfolder per synset), one of them")
        }
        if labelColumn != nil, labels == nil { throw ValidationError("--label-column selects a column of the --labels table") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if skip < 0 { throw ValidationError("--skip must not be negative") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        try MinimumAgreement.validate(minTop1Agreement)
    }

    mutating func run() throws {
        let log = Log(verbose: false, toStandardError: json)
        let labelled = try labelledImages(log: log)
        let (network, _, modelPath, _) = try engine.configuredNetwork(log: log)
        engine.reportRanges(log)
        let recipe = try preprocessing.resolved(for: network)
        engine.warnIfCalibratedWithAnotherRecipe(recipe, log: log)

        var fp32Options = engine
        fp32Options.precision = "fp32"
        fp32Options.int8 = false
        fp32Options.fp16 = false
        fp32Options.loadEngine = nil  // the baseline is always built from the model
        let loaded = try engine.loadEngine.map { try engine.loadedEngine($0, expected: network, log: log) }
        let candidatePrecision = loaded.map(EngineSetup.precision(of:)) ?? engine.resolvedPrecision
        let hasCandidate = candidatePrecision != "fp32" || loaded != nil
        if !hasCandidate, minTop1Agreement != nil {
            throw OctetError.invalidInput(
                reason: "--min-top1-agreement compares INT8 with FP32, but \(modelPath) runs in FP32 only here; give --ranges or --calibration-cache")
        }
        var runs = [Evaluation(precision: "fp32", engine: try fp32Options.build(network, log: log))]
        if hasCandidate {
            let built = try loaded ?? engine.build(network, log: log)
            runs.append(Evaluation(precision: loaded == nil ? EngineSetup.precision(candidatePrecision, as: built) : candidatePrecision, engine: built))
        }
        let names = try reference.map { try Labels(path: try engine.files.locate($0, what: "reference labels file")) }

        let inputName = network[network.inputs[0]].name, outputName = network[network.outputs[0]].name
        let isProbability = Classification.endsInSoftmax(network, output: network.outputs[0])
        let progress = Progress(total: labelled.count, label: "evaluating", onlyOnTerminal: true)
        var agreeing = 0
        var disagreements: [EvalJSON.Disagreement] = []
        for chunk in ImageList.batches(labelled, size: batch) {
            let input = try ImageList.batchTensor(chunk.map(\.path), recipe: recipe)
            var top1: [[Int]] = []
            for index in runs.indices {
                let start = DispatchTime.now().uptimeNanoseconds
                guard let output = try runs[index].context.execute([inputName: input])[outputName] else {
                    throw OctetError.invalidNetwork(reason: "the network produced no output")
                }
                runs[index].seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let ranked = ClassifierOutput(output, probabilities: isProbability).top
                let classes = ClassifierOutput.classes(of: output)
                for (image, top) in zip(chunk, ranked) {
                    guard image.classIndex < classes else {
                        throw OctetError.invalidInput(
                            reason: "\(image.path) is labelled class \(image.classIndex) in \(labels ?? synsets ?? ""), but the model's output '\(outputName)' has \(classes) classes")
                    }
                    runs[index].tally(top, label: image.classIndex)
                }
                top1.append(ranked.map { $0.first?.index ?? -1 })
            }
            if hasCandidate {
                for (offset, image) in chunk.enumerated() {
                    let (fp32, other) = (top1[0][offset], top1[1][offset])
                    if fp32 == other {
                        agreeing += 1
                    } else {
                        disagreements.append(EvalJSON.Disagreement(file: image.path, label: image.classIndex, top1: ["fp32": fp32, candidatePrecision: other]))
                    }
                }
            }
            progress.advance(by: chunk.count)
        }
        progress.finish()

        let result = EvalJSON(
            model: (modelPath as NSString).lastPathComponent, images: labelled.count, recipe: recipe.summary, batch: batch,
            results: runs.map(\.json), top1Agreement: hasCandidate ? agreeing : nil,
            top1AgreementFraction: hasCandidate ? Double(agreeing) / Double(labelled.count) : nil,
            disagreements: hasCandidate ? disagreements : nil)
        if json {
            try JSONOutput.printLine(result)
        } else {
            printText(result, candidate: hasCandidate ? candidatePrecision : nil, names: names)
        }
        try MinimumAgreement.check(minTop1Agreement, agreeing: agreeing, total: labelled.count, candidate: candidatePrecision.uppercased())
    }

    private func printText(_ result: EvalJSON, candidate: String?, names: Labels?) {
        func name(_ index: Int) -> String { names.map { "\(index) \($0[index])" } ?? "\(index)" }
        func share(_ count: Int) -> String { String(format: "%d/%d (%.2f%%)", count, result.images, 100 * Double(count) / Double(result.images)) }
        print("Evaluated \(result.model) on \(result.images) images of \(images), recipe \(result.recipe)")
        print("precision  top-1                top-5                images/s")
        for run in result.results {
            print(run.precision.uppercased().padding(toLength: 11, withPad: " ", startingAt: 0)
                  + share(run.top1Correct).padding(toLength: 21, withPad: " ", startingAt: 0)
                  + share(run.top5Correct).padding(toLength: 21, withPad: " ", startingAt: 0)
                  + String(format: "%.1f", run.imagesPerSecond))
        }
        guard let candidate, let agreeing = result.top1Agreement, let disagreements = result.disagreements else {
            print("FP32 only: give --ranges or --calibration-cache (or a QDQ model) to evaluate INT8 beside it.")
            return
        }
        let upper = candidate.uppercased()
        print("\(upper) vs FP32 top-1 agreement: \(share(agreeing))")
        if !disagreements.isEmpty {
            print("\(upper) and FP32 disagree on \(disagreements.count) image(s):")
            for d in disagreements {
                print("  \(d.file): label \(name(d.label)), FP32 \(name(d.top1["fp32"] ?? -1)), \(upper) \(name(d.top1[candidate] ?? -1))")
            }
        }
    }

    /// The images to evaluate with their class, in file-name order, after --skip and --limit.
    private func labelledImages(log: Log) throws -> [LabelledImage] {
        var all: [LabelledImage] = []
        if let synsets {
            all = try LabelledImage.synsetFolders(images, synsetsPath: try engine.files.locate(synsets, what: "synset list"))
        } else if let labels {
            let table = try LabelTable(path: try engine.files.locate(labels, what: "labels file"), column: labelColumn)
            var missing: [String] = []
            for path in try ImageList.folder(images) {
                let file = (path as NSString).lastPathComponent
                if let classIndex = table.classes[file] {
                    all.append(LabelledImage(path: path, classIndex: classIndex))
                } else {
                    missing.append(file)
                }
            }
            guard !all.isEmpty else {
                throw OctetError.invalidInput(reason: "no image of \(images) has a class in \(labels)\(table.columnDescription); the first column must hold file names inside the folder")
            }
            if !missing.isEmpty {
                log.warning("\(missing.count) image(s) have no class in \(labels)\(table.columnDescription) and are skipped: \(missing.prefix(3).joined(separator: ", "))\(missing.count > 3 ? ", ..." : "")")
            }
        }
        let selected = Array(all.dropFirst(skip).prefix(limit ?? Int.max))
        guard !selected.isEmpty else { throw OctetError.invalidInput(reason: "--skip \(skip) leaves none of the \(all.count) labelled images of \(images)") }
        return selected
    }
}

/// One engine's pass over the images: the engine, its context and its tallies.
private struct Evaluation {
    var precision: String
    var engine: Engine
    var context: ExecutionContext
    var top1 = 0, top5 = 0, images = 0
    var seconds = 0.0

    init(precision: String, engine: Engine) {
        self.precision = precision
        self.engine = engine
        context = engine.makeContext()
    }

    mutating func tally(_ top: [RankedClass], label: Int) {
        images += 1
        if top.first?.index == label { top1 += 1 }
        if top.prefix(5).contains(where: { $0.index == label }) { top5 += 1 }
    }

    var json: EvalJSON.Result {
        EvalJSON.Result(
            precision: precision, device: engine.backendName, top1Correct: top1, top5Correct: top5,
            top1Accuracy: Double(top1) / Double(max(images, 1)), top5Accuracy: Double(top5) / Double(max(images, 1)),
            imagesPerSecond: seconds > 0 ? Double(images) / seconds : 0)
    }
}

/// `eval --json`: one object.
struct EvalJSON: Encodable {
    struct Result: Encodable {
        var precision: String
        var device: String
        var top1Correct: Int
        var top5Correct: Int
        var top1Accuracy: Double
        var top5Accuracy: Double
        /// Images per second of engine execution (decoding and preprocessing excluded).
        var imagesPerSecond: Double
    }

    struct Disagreement: Encodable {
        var file: String
        var label: Int
        /// Top-1 class per precision (`fp32`, `int8`).
        var top1: [String: Int]
    }

    var model: String
    var images: Int
    var recipe: String
    var batch: Int
    var results: [Result]
    var top1Agreement: Int?
    var top1AgreementFraction: Double?
    var disagreements: [Disagreement]?
}

/// An image and its class index.
struct LabelledImage {
    var path: String
    var classIndex: Int

    /// ImageNet's layout: `folder/<synset>/<image>`, with class i the synset on line i of `synsetsPath`.
    static func synsetFolders(_ folder: String, synsetsPath: String) throws -> [LabelledImage] {
        let text = try FileReading.text(of: synsetsPath, what: "a synset list")
        // `n01440764` or `n01440764 tench, Tinca tinca` (LOC_synset_mapping.txt): the first word is the id.
        let ids = text.split(separator: "\n").compactMap { $0.split(whereSeparator: \.isWhitespace).first.map(String.init) }
        let classOf = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let subfolders: [String]
        do {
            subfolders = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(name), isDirectory: &isDirectory) && isDirectory.boolValue
            }
        } catch {
            throw OctetError.io(path: folder, reason: "cannot list the image folder")
        }
        guard !subfolders.isEmpty else { throw OctetError.io(path: folder, reason: "--synsets expects one subfolder per synset, and the folder has none") }
        var result: [LabelledImage] = []
        for name in subfolders {
            guard let classIndex = classOf[name] else {
                throw OctetError.invalidInput(reason: "the subfolder \((folder as NSString).appendingPathComponent(name)) is not a synset of \(synsetsPath)")
            }
            let path = (folder as NSString).appendingPathComponent(name)
            result += try PreprocessingOptions.imageFiles(in: path).map { LabelledImage(path: (path as NSString).appendingPathComponent($0), classIndex: classIndex) }
        }
        return result
    }
}

/// A `file<TAB>class` list, or one column of a table with a header line (as ../shared/data/images/expected.tsv).
/// Blank lines and `#` lines are skipped; a row whose class is `-` or empty has no class (its image is skipped).
struct LabelTable {
    var classes: [String: Int] = [:]
    /// `, column NAME` for messages, or empty for a two-column list.
    var columnDescription = ""

    init(path: String, column: String?) throws {
        let text = try FileReading.text(of: path, what: "a labels file")
        let rows: [(line: Int, fields: [String])] = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, raw in
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !line.isEmpty, !line.hasPrefix("#") else { return nil }
            var fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.count == 1 {  // `file class` separated by spaces: the class is the last word
                let words = line.split(whereSeparator: \.isWhitespace)
                if words.count >= 2 { fields = [words.dropLast().joined(separator: " "), String(words[words.count - 1])] }
            }
            return (index + 1, fields)
        }
        guard let first = rows.first else { throw OctetError.malformedFile(path: path, reason: "the labels file holds no 'file<TAB>class' lines") }
        // A header is a first line whose second field is not a class index, or any first line when a column is named.
        let hasHeader: Bool
        if let column, let number = Int(column) {
            hasHeader = number >= 1 && number <= first.fields.count && Int(first.fields[number - 1]) == nil
        } else {
            hasHeader = column != nil || first.fields.count < 2 || Int(first.fields[1]) == nil
        }
        let header = hasHeader ? first.fields : []
        let columnIndex: Int
        if let column, let number = Int(column) {
            guard number >= 2, number <= first.fields.count else {
                throw OctetError.invalidInput(reason: "--label-column \(number) is not a class column of \(path), which has \(first.fields.count) columns (column 1 is the file name)")
            }
            columnIndex = number - 1
        } else if let column {
            guard let found = header.firstIndex(of: column) ?? header.firstIndex(of: column + "_top1_idx"), found > 0 else {
                throw OctetError.invalidInput(reason: "--label-column \(column) names no column of \(path)'s header (\(Self.candidates(header)))")
            }
            columnIndex = found
        } else {
            guard header.count <= 2 else {
                throw OctetError.invalidInput(reason: "\(path) has \(header.count) columns; choose the class column with --label-column (\(Self.candidates(header)))")
            }
            columnIndex = 1
        }
        if hasHeader { columnDescription = ", column \(header[columnIndex])" }
        for row in rows.dropFirst(hasHeader ? 1 : 0) {
            guard row.fields.count > columnIndex else {
                throw OctetError.malformedFile(path: path, line: row.line, reason: "expected 'file<TAB>class' with a class in column \(columnIndex + 1)")
            }
            let value = row.fields[columnIndex]
            if value == "-" || value.isEmpty { continue }
            guard let classIndex = Int(value), classIndex >= 0 else {
                throw OctetError.malformedFile(path: path, line: row.line, reason: "'\(value)' is not a class index (a number from 0)")
            }
            classes[(row.fields[0] as NSString).lastPathComponent] = classIndex
        }
    }

    /// The columns worth suggesting: those that hold top-1 indexes, or all but the first.
    private static func candidates(_ header: [String]) -> String {
        let indexes = header.filter { $0.hasSuffix("_idx") }
        return (indexes.isEmpty ? Array(header.dropFirst()) : indexes).joined(separator: ", ")
    }
}
