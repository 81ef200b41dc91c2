import Foundation
import Testing
import _OctetTestSupport
import Octet

/// Many images on the command line (issue #15, items 3-5): `run` over several images and folders in real
/// batches, `--json` output that parses line by line with nothing else on standard output, `eval` accuracy,
/// `--min-top1-agreement` for CI, and the recipe recorded by `calibrate` in range files.
@Suite struct CommandLineBatchTests {
    let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    var images: URL { fixtures.appendingPathComponent("images") }
    var model: String { fixtures.appendingPathComponent("caffe2_style_resnet.onnx").path }
    var root: URL { TestPaths.packageRoot() }
    var demoModel: String { root.appendingPathComponent("data/int8_api/efficientnet_lite0.onnx").path }
    var demoRanges: String { root.appendingPathComponent("data/int8_api/efficientnet_lite0_per_tensor_dynamic_range.txt").path }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("octet-batch-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Every line of `stdout` as a JSON object; a line that is not one fails the test.
    private func jsonLines(_ stdout: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        stdout.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)", sourceLocation: sourceLocation)
            return object
        }
    }

    /// The image files of the fixture folder, as `run DIR` lists them.
    private func fixtureImages() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: images.path)
            .filter { ["jpg", "png"].contains(($0 as NSString).pathExtension) }.sorted()
    }

    /// Two `--image` options classify both images (a repeated option no longer keeps the last one), each with
    /// its own top-5, and batching them gives each image the classes it gets alone.
    @Test func runClassifiesEveryImage() throws {
        let jpeg = images.appendingPathComponent("jpeg_420.jpg").path, png = images.appendingPathComponent("png_rgb8.png").path
        let common = ["run", "--precision", "fp32", "--model", model, "--recipe", "torchvision"]
        let both = try OctetBinary.run(common + ["--image", jpeg, "--image", png, "--batch", "2"])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout.contains("[I] Octet result (FP32, CPU), \(jpeg): Detected:\n"))
        #expect(both.stdout.contains("[I] Octet result (FP32, CPU), \(png): Detected:\n"))
        #expect(both.stdout.components(separatedBy: "[I] [5] ").count - 1 == 2)
        #expect(both.stdout.contains("&&&& PASSED"))
        // Positional arguments work as --image, and each image alone ranks the same classes.
        let positional = try OctetBinary.run(common + ["--json", jpeg, png])
        let together = jsonLines(positional.stdout).map { ($0["top5"] as? [[String: Any]])?.compactMap { $0["class"] as? Int } }
        for (index, path) in [jpeg, png].enumerated() {
            let alone = try OctetBinary.run(common + ["--json", "--image", path])
            #expect(alone.status == 0, "\(alone.stderr)")
            let classes = jsonLines(alone.stdout).map { ($0["top5"] as? [[String: Any]])?.compactMap { $0["class"] as? Int } }
            #expect(classes.count == 1 && together.count == 2 && classes[0] == together[index], "\(path): alone \(classes), batched \(together)")
        }
    }

    /// `run --image DIR --batch 4 --json`: one JSON object per image (the last batch partial), with labels when
    /// given; standard output holds nothing else, and the banner and logs go to standard error.
    @Test func runJSONOverAFolder() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let labels = directory.appendingPathComponent("labels.txt").path
        try (0..<10).map { "class number \($0)\n" }.joined().write(toFile: labels, atomically: true, encoding: .utf8)
        let result = try OctetBinary.run(["run", "--precision", "fp32", "--model", model, "--image", images.path, "--batch", "4", "--json", "--reference", labels])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = jsonLines(result.stdout)
        let expected = try fixtureImages()
        #expect(objects.count == expected.count)
        #expect(objects.compactMap { ($0["file"] as? String).map { ($0 as NSString).lastPathComponent } } == expected)
        for object in objects {
            let top5 = object["top5"] as? [[String: Any]] ?? []
            #expect(top5.count == 5)
            #expect(top5.allSatisfy { $0["label"] as? String == "class number \($0["class"] as? Int ?? -1)" && $0["probability"] is Double })
            #expect(object["precision"] as? String == "fp32" && object["device"] as? String == "cpu")
        }
        #expect(!result.stdout.contains("[I]") && !result.stdout.contains("&&&&"))
        #expect(result.stderr.contains("&&&& RUNNING") && result.stderr.contains("&&&& PASSED") && result.stderr.contains("[I] Setting") == false)
        // A folder without images is one sentence naming it, and the failed banner stays off standard output.
        let empty = try OctetBinary.run(["run", "--model", model, "--image", directory.path, "--json"])
        #expect(empty.status == 1 && empty.stderr.contains("\(directory.path): the folder holds no"), "\(empty.stderr)")
        #expect(empty.stdout.isEmpty && empty.stderr.contains("&&&& FAILED"))
    }

    /// `--load-inputs` still feeds a tensor, and giving it with images is a usage error.
    @Test func loadInputsStillWorks() throws {
        let input = fixtures.appendingPathComponent("caffe2_style_resnet_input.npy").path
        let result = try OctetBinary.run(["run", "--precision", "fp32", "--model", model, "--load-inputs", input, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(jsonLines(result.stdout).first?["file"] as? String == input)
        let both = try OctetBinary.run(["run", "--model", model, "--load-inputs", input, "--image", images.appendingPathComponent("jpeg_420.jpg").path])
        #expect(both.status == 1)
        #expect(both.stderr.contains("--load-inputs"))
    }

    /// With --ranges, `compare --json` and `bench --json` print JSON only: the `[I] Setting Per Tensor Dynamic
    /// Range` line goes to standard error.
    @Test func compareAndBenchJSONWithRanges() throws {
        let compare = try OctetBinary.run(["compare", "--model", demoModel, "--ranges", demoRanges, "--images", root.appendingPathComponent("data/int8_api").path, "--json", "--worst", "3"])
        #expect(compare.status == 0, "\(compare.stderr)")
        let comparison = jsonLines(compare.stdout)
        #expect(comparison.count == 1 && comparison.first?["top1_agreement"] as? Int == 1 && (comparison.first?["worst"] as? [Any])?.count == 3)
        #expect(compare.stderr.contains("[I] Setting Per Tensor Dynamic Range"))
        let bench = try OctetBinary.run(["bench", "--model", demoModel, "--ranges", demoRanges, "--json", "--iterations", "1", "--warmup", "0", "--batch", "1,2"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let timings = jsonLines(bench.stdout)
        #expect(timings.map { $0["batch"] as? Int } == [1, 2])
        #expect(timings.allSatisfy { $0["p50_ms"] is Double && $0["precision"] as? String == "int8" })
    }

    /// `bench --load-inputs`: times a given tensor (sample i % N in row i of each batch, so 2 samples fill a batch
    /// of 3); a tensor of another sample shape is one sentence naming the file, exit status 1.
    @Test func benchTimesALoadedTensor() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("photos.npy").path
        try NumPyFile.write(TensorData(shape: [2, 3, 224, 224], values: (0..<(2 * 3 * 224 * 224)).map { Float($0 % 255) / 127.5 - 1 }), to: input)
        let bench = try OctetBinary.run(["bench", "--model", demoModel, "--ranges", demoRanges, "--json", "--iterations", "1", "--warmup", "0", "--batch", "3", "--load-inputs", input])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(jsonLines(bench.stdout).map { $0["batch"] as? Int } == [3])
        let wrong = directory.appendingPathComponent("small.npy").path
        try NumPyFile.write(TensorData(shape: [1, 3, 10, 10], values: [Float](repeating: 0, count: 300)), to: wrong)
        let refused = try OctetBinary.run(["bench", "--model", demoModel, "--ranges", demoRanges, "--iterations", "1", "--load-inputs", wrong])
        #expect(refused.status == 1 && refused.stderr.contains("\(wrong) holds a tensor of shape [1, 3, 10, 10]"), "\(refused.stderr)")
    }

    /// `--min-top1-agreement`: a fraction; at the measured agreement the command passes, just above it the exit
    /// status is 1 with one sentence (ranges shrunk 1000-fold make INT8 disagree with FP32 on some images).
    @Test func minTop1AgreementFailsBelowTheThreshold() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ranges = directory.appendingPathComponent("ranges.txt").path
        let calibrate = try OctetBinary.run(["calibrate", "--model", model, "--images", images.path, "--recipe", "torchvision", "--output", ranges])
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        let shrunk = DynamicRanges(entries: try DynamicRanges.readRangeFile(path: ranges).entries.map { ($0.name, $0.range / 1000) })
        try shrunk.rangeFileText(recipe: "unused").write(toFile: ranges, atomically: true, encoding: .utf8)
        let common = ["compare", "--model", model, "--ranges", ranges, "--images", images.path, "--recipe", "torchvision", "--no-tensors", "--json"]
        let measured = try OctetBinary.run(common)
        #expect(measured.status == 0, "\(measured.stderr)")
        let agreeing = jsonLines(measured.stdout).first?["top1_agreement"] as? Int ?? -1, total = try fixtureImages().count
        try #require(agreeing >= 0 && agreeing < total, "INT8 with shrunk ranges agrees on \(agreeing)/\(total) images")
        let atThreshold = try OctetBinary.run(common + ["--min-top1-agreement", "\(Double(agreeing) / Double(total))"])
        #expect(atThreshold.status == 0, "\(atThreshold.stderr)")
        let above = try OctetBinary.run(common + ["--min-top1-agreement", "\((Double(agreeing) + 0.5) / Double(total))"])
        #expect(above.status == 1)
        // Besides log lines and progress lines, one sentence.
        #expect(above.stderr.split(separator: "\n").filter { !$0.hasPrefix("[") && !$0.hasPrefix("comparing") }.count == 1, "\(above.stderr)")
        #expect(above.stderr.contains("agree on the top-1 class of \(agreeing) of \(total) images"))
        #expect(jsonLines(above.stdout).count == 1)  // the result is still printed
        let outOfRange = try OctetBinary.run(common + ["--min-top1-agreement", "95"])
        #expect(outOfRange.status == 1 && outOfRange.stderr.contains("fraction"))
    }

    /// `calibrate` records its recipe in the range file; `run`, `compare` and `eval` warn when another recipe is used.
    @Test func recipeRecordedByCalibrateWarnsOnMismatch() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ranges = directory.appendingPathComponent("ranges.txt").path, cache = directory.appendingPathComponent("calib.cache").path
        let calibrate = try OctetBinary.run(["calibrate", "--model", model, "--images", images.path, "--recipe", "torchvision", "--output", ranges, "--cache", cache])
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        let text = try String(contentsOfFile: ranges, encoding: .utf8)
        #expect(text.hasPrefix("# octet-recipe: torchvision: shorter side to 37"))
        #expect(DynamicRanges.recordedRecipe(path: ranges)?.hasPrefix("torchvision: ") == true)
        #expect(try String(contentsOfFile: cache, encoding: .utf8).hasPrefix("TRT-"))  // caches have no comments
        let image = images.appendingPathComponent("jpeg_420.jpg").path
        let same = try OctetBinary.run(["run", "--model", model, "--ranges", ranges, "--image", image, "--recipe", "torchvision"])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(!same.stdout.contains("was calibrated with recipe"))
        let other = try OctetBinary.run(["run", "--model", model, "--ranges", ranges, "--image", image])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.contains("[W] \(ranges) was calibrated with recipe 'torchvision: "))
        let compare = try OctetBinary.run(["compare", "--model", model, "--ranges", ranges, "--images", images.path, "--recipe", "tf", "--no-tensors", "--json"])
        #expect(compare.stderr.contains("[W] \(ranges) was calibrated with recipe"))
        #expect(jsonLines(compare.stdout).count == 1)
    }

    /// `eval` on a `file<TAB>class` list: FP32 only without ranges, INT8 beside FP32 with them; a table needs
    /// --label-column, and a wrong column is one sentence naming the file.
    @Test func evalWithALabelList() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = try fixtureImages()
        let list = directory.appendingPathComponent("labels.tsv").path
        try names.enumerated().map { "\($1)\t\($0 % 10)\n" }.joined().write(toFile: list, atomically: true, encoding: .utf8)
        let common = ["eval", "--model", model, "--images", images.path, "--labels", list, "--recipe", "torchvision", "--batch", "4"]
        let fp32 = try OctetBinary.run(common + ["--json"])
        #expect(fp32.status == 0, "\(fp32.stderr)")
        let result = jsonLines(fp32.stdout).first ?? [:]
        #expect(result["images"] as? Int == names.count)
        #expect((result["results"] as? [[String: Any]])?.map { $0["precision"] as? String } == ["fp32"])
        #expect(result["top1_agreement"] == nil)
        let ranges = directory.appendingPathComponent("ranges.txt").path
        _ = try OctetBinary.run(["calibrate", "--model", model, "--images", images.path, "--recipe", "torchvision", "--output", ranges])
        let both = try OctetBinary.run(common + ["--ranges", ranges])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout.contains("FP32       ") && both.stdout.contains("INT8       ") && both.stdout.contains("INT8 vs FP32 top-1 agreement: "))
        let table = directory.appendingPathComponent("table.tsv").path
        try ("file\tmodel_a_top1_idx\tmodel_b_top1_idx\n" + names.map { "\($0)\t1\t-\n" }.joined()).write(toFile: table, atomically: true, encoding: .utf8)
        let unchosen = try OctetBinary.run(["eval", "--model", model, "--images", images.path, "--labels", table])
        #expect(unchosen.status == 1 && unchosen.stderr.contains("--label-column (model_a_top1_idx, model_b_top1_idx)"), "\(unchosen.stderr)")
        let chosen = try OctetBinary.run(["eval", "--model", model, "--images", images.path, "--labels", table, "--label-column", "model_a", "--json"])
        #expect(chosen.status == 0, "\(chosen.stderr)")
        #expect(jsonLines(chosen.stdout).first?["images"] as? Int == names.count)
        let wrong = try OctetBinary.run(["eval", "--model", model, "--images", images.path, "--labels", table, "--label-column", "model_c"])
        #expect(wrong.status == 1 && wrong.stderr.contains(table) && wrong.stderr.split(separator: "\n").count == 1, "\(wrong.stderr)")
    }

    /// `eval` in ImageNet's layout: one subfolder per synset and a synset list.
    @Test func evalWithSynsetFolders() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let synsets = ["n00000001", "n00000002", "n00000003"]
        for (index, synset) in synsets.enumerated() {
            let folder = directory.appendingPathComponent("val/\(synset)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: images.appendingPathComponent("jpeg_420.jpg"), to: folder.appendingPathComponent("a\(index).jpg"))
        }
        let list = directory.appendingPathComponent("synsets.txt").path
        try synsets.map { "\($0) some class\n" }.joined().write(toFile: list, atomically: true, encoding: .utf8)
        let result = try OctetBinary.run(["eval", "--model", model, "--images", directory.appendingPathComponent("val").path, "--synsets", list, "--recipe", "torchvision", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = jsonLines(result.stdout).first ?? [:]
        #expect(object["images"] as? Int == 3)
        // The same image under three classes is right at most once.
        let fp32 = (object["results"] as? [[String: Any]])?.first
        #expect((fp32?["top1_correct"] as? Int ?? 9) <= 1)
    }

    /// `eval` over the 29 shared photos with expected.tsv's column: FP32 (own top-1 equals the sample
    /// preprocessing's on every photo, README) is right on all 29, and INT8 with the bundled ranges is beside it.
    @Test(.enabled(if: TestPaths.hasSharedData, Comment(rawValue: TestPaths.sharedDataMissing)))
    func evalOnTheSharedPhotos() throws {
        let data = TestPaths.sharedData
        let result = try OctetBinary.run([
            "eval", "--model", data.appendingPathComponent("models/efficientnet_lite0.onnx").path, "--ranges", demoRanges,
            "--images", data.appendingPathComponent("images/224").path, "--labels", data.appendingPathComponent("images/expected.tsv").path,
            "--label-column", "effl0_top1_idx", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = jsonLines(result.stdout).first ?? [:]
        let results = object["results"] as? [[String: Any]] ?? []
        #expect(object["images"] as? Int == 29)
        #expect(results.map { $0["precision"] as? String } == ["fp32", "int8"])
        #expect(results.first?["top1_correct"] as? Int == 29)
        #expect((results.last?["top1_correct"] as? Int ?? 0) >= 26, "INT8: \(results.last ?? [:])")
        #expect((object["top1_agreement"] as? Int ?? 0) == 29 - ((object["disagreements"] as? [Any])?.count ?? 0))
    }
}
