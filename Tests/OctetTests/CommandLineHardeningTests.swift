import Foundation
import Testing
import _OctetTestSupport
import Octet

/// What a user can get wrong on the command line, and what Octet must say: exit status 1, one sentence on
/// standard error naming the file (and line or tensor), `&&&& FAILED` after a started run; warnings where the
/// input is legal but suspicious. Never a signal, never `&&&& PASSED` on garbage.
@Suite struct CommandLineHardeningTests {
    let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    var model: String { fixtures.appendingPathComponent("caffe2_style_resnet.onnx").path }
    var input: String { fixtures.appendingPathComponent("caffe2_style_resnet_input.npy").path }

    private func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("octet-hardening-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Ranges of every tensor of the fixture, observed on its input (as `octet calibrate --method max` would).
    private func goodRanges() throws -> DynamicRanges {
        let (network, _) = try ONNXImporter.importModel(path: model)
        return try ReferenceExecutor(network: network).calibrate([network[network.inputs[0]].name: try NumPyFile.read(path: input)]).ranges
    }

    private func expectOneSentenceFailure(_ result: CommandResult, naming needle: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1, "exit status \(result.status); stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(needle), "stderr names \(needle): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stdout.contains("&&&& PASSED"), sourceLocation: sourceLocation)
    }

    /// A range of 0 quantizes everything to 0 and 1e30 does too: both, and negative or NaN ranges, are errors
    /// naming the file, the line and the tensor.
    @Test(arguments: ["0", "-2.5", "nan", "1e30", "inf"])
    func unusableRangeIsAnError(_ value: String) throws {
        var text = try goodRanges().rangeFileText()
        text += "gpu_0/conv1_1:\(value)\n"
        let path = try temporaryFile("ranges.txt", text)
        let line = text.split(separator: "\n").count
        let result = try OctetBinary.run(["run", "--model", model, "--ranges", path, "--load-inputs", input])
        expectOneSentenceFailure(result, naming: "\(path):\(line):")
        #expect(result.stderr.contains("'gpu_0/conv1_1'"))
        #expect(result.stdout.contains("&&&& FAILED Octet.sample_int8_api # octet run"))
    }

    /// A TensorRT cache may hold scale 0 (a tensor that was always 0), but not a scale whose range is absurd.
    @Test func calibrationCacheScalesAreChecked() throws {
        let zero = try temporaryFile("calib.cache", "TRT-8601-EntropyCalibration2\ngpu_0/data_0: 3c010a14\ngpu_0/conv1_1: 00000000\n")
        let parsed = try DynamicRanges.readCalibrationCache(path: zero).ranges
        #expect(parsed.dictionary["gpu_0/conv1_1"] == 0)
        let huge = try temporaryFile("calib.cache", "TRT-8601-EntropyCalibration2\ngpu_0/data_0: 7f000000\n")
        #expect(throws: OctetError.self) { try DynamicRanges.readCalibrationCache(path: huge) }
    }

    /// Calibration writes a positive range for an always-zero tensor, so its own files read back.
    @Test func calibrationNeverWritesAZeroRange() throws {
        var calibrator = Calibrator()
        calibrator.observe("zeros", [0, 0, 0])
        let text = calibrator.ranges(.max).rangeFileText()
        let path = try temporaryFile("ranges.txt", text)
        #expect(try DynamicRanges.readRangeFile(path: path).dictionary["zeros"] == DynamicRanges.alwaysZeroRange)
    }

    @Test func rangeFileOfAnotherModelIsAnError() throws {
        let path = try temporaryFile("ranges.txt", "input:2.0\nconv0/out:4.5\nfc/out:10\n")
        let result = try OctetBinary.run(["run", "--model", model, "--ranges", path, "--load-inputs", input])
        expectOneSentenceFailure(result, naming: path)
        #expect(result.stderr.contains("another model"))
    }

    @Test func rangesThatMatchNoTensorAreAWarning() throws {
        let path = try temporaryFile("ranges.txt", try goodRanges().rangeFileText() + "gpu_0/typo_1:3.0\n")
        let result = try OctetBinary.run(["run", "--model", model, "--ranges", path, "--load-inputs", input])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[W] 1 range(s) in \(path) match no tensor of the model and are ignored: 'gpu_0/typo_1'"))
    }

    @Test func emptyRangeFileIsAnError() throws {
        let path = try temporaryFile("ranges.txt", "# nothing here\n\n")
        expectOneSentenceFailure(try OctetBinary.run(["run", "--model", model, "--ranges", path, "--load-inputs", input]), naming: path)
    }

    @Test func missingReferenceFileIsAnError() throws {
        let result = try OctetBinary.run(["run", "--model", model, "--load-inputs", input, "--reference", "/nonexistent/labels.txt"])
        expectOneSentenceFailure(result, naming: "/nonexistent/labels.txt")
    }

    /// A label file one line short of the model's classes would name every class wrongly.
    @Test func labelFileOfTheWrongLengthIsAnError() throws {
        let (network, _) = try ONNXImporter.importModel(path: model)
        let classes = network[network.outputs[0]].shape.dropFirst().reduce(1, *)
        let path = try temporaryFile("labels.txt", (0..<(classes + 1)).map { "label \($0)" }.joined(separator: "\n") + "\n")
        let result = try OctetBinary.run(["run", "--model", model, "--load-inputs", input, "--reference", path])
        expectOneSentenceFailure(result, naming: path)
        #expect(result.stderr.contains("has \(classes + 1) labels") && result.stderr.contains("\(classes) classes"))
        let right = try temporaryFile("labels.txt", (0..<classes).map { "label \($0)" }.joined(separator: "\n") + "\n")
        let ok = try OctetBinary.run(["run", "--model", model, "--load-inputs", input, "--reference", right])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("[I] [1] label "))
    }

    /// An INT8 output type that cannot hold is never dropped silently: a warning, or an error under obey.
    @Test func impossibleInt8OutputTypeIsReported() throws {
        let path = try temporaryFile("ranges.txt", try goodRanges().rangeFileText())
        let request = ["run", "--model", model, "--ranges", path, "--load-inputs", input, "--layer-output-type", "gpu_0/softmax_1:int8"]
        let warned = try OctetBinary.run(request)
        #expect(warned.status == 0, "\(warned.stderr)")
        #expect(warned.stdout.contains("[W] layer 'gpu_0/softmax_1': INT8 output was requested but it writes float32"))
        let obeyed = try OctetBinary.run(request + ["--precision-constraints", "obey"])
        expectOneSentenceFailure(obeyed, naming: "gpu_0/softmax_1")
    }

    @Test func compareVersusCPUOnTheCPUIsAnError() throws {
        let directory = try temporaryFile("dummy.txt", "")
        let images = (directory as NSString).deletingLastPathComponent
        try PPM.encode(RGBImage(width: 8, height: 8, pixels: Array(repeating: 99, count: 8 * 8 * 3)))
            .write(to: URL(fileURLWithPath: images).appendingPathComponent("a.ppm"))
        let result = try OctetBinary.run(["compare", "--model", model, "--images", images, "--versus", "cpu", "--device", "cpu", "--precision", "fp32"])
        expectOneSentenceFailure(result, naming: "--versus cpu")
    }

    /// Usage errors exit 1 like every other error (ArgumentParser's default is 64); --version and --help exit 0.
    @Test func usageErrorsExitOneAndVersionPrints() throws {
        let unknown = try OctetBinary.run(["run", "--no-such-option"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("--no-such-option"))
        let badValue = try OctetBinary.run(["run", "--batch", "0"])
        #expect(badValue.status == 1)
        let version = try OctetBinary.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "octet \(OctetVersion.current)\n")
        #expect(try OctetBinary.run(["--help"]).status == 0)
    }

    @Test func directoryAsImageOrRangesIsAnError() throws {
        let directory = FileManager.default.temporaryDirectory.path
        expectOneSentenceFailure(try OctetBinary.run(["run", "--model", model, "--ranges", directory, "--load-inputs", input]), naming: directory)
    }
}
