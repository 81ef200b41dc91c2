import Foundation
import Testing
import _OctetTestSupport
import Octet

/// Runs the `octet` binary the way a user does and checks its whole output and exit status.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum OctetBinary {
    /// The `octet` executable built beside the test bundle.
    static var url: URL {
        let buildDirectory = Bundle.module.bundleURL.deletingLastPathComponent()
        return buildDirectory.appendingPathComponent("octet")
    }

    /// Runs `octet` (or another `executable`) to completion.
    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], executable: URL? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = executable ?? url
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs one of the `Scripts/emulate-*.sh` checks (CUDA kernel code compiled and run on the host); nil, having
    /// said so, where the script found no clang and skipped.
    static func runEmulation(_ script: String) throws -> CommandResult? {
        let path = TestPaths.packageRoot().appendingPathComponent("Scripts/\(script)").path
        let result = try run([path], executable: URL(fileURLWithPath: "/bin/bash"))
        if result.stdout.contains("emulation skipped") {
            print("\(script) skipped: \(result.stdout)")
            return nil
        }
        return result
    }
}

@Suite struct CommandLineTests {
    let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    var caffe2Model: String { fixtures.appendingPathComponent("caffe2_style_resnet.onnx").path }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("octet-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `octet tensors` on the caffe2-style fixture lists `gpu_0/data_0` first, then every ONNX node output
    /// in node order (the list made by the fixture's script); the only additions are the partial sums that
    /// a three-input Sum lowers to, as TensorRT lists its own intermediate layers.
    @Test func tensorsListsInputThenLayerOutputsInOrder() throws {
        let result = try OctetBinary.run(["tensors", "--model", caffe2Model])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let expected = try String(contentsOf: fixtures.appendingPathComponent("caffe2_style_resnet_tensors.txt"), encoding: .utf8)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "TensorName: gpu_0/data_0")
        #expect(lines.filter { !$0.contains("__partial") } == expected.split(separator: "\n").map(String.init))
        #expect(lines.filter { $0.contains("__partial") } == ["TensorName: gpu_0/res2_1_branch2c_bn_2__partial1"])
    }

    @Test func writeTensorsFlagWritesTheSampleFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try OctetBinary.run(["run", "--model=\(caffe2Model)", "--write_tensors", "--network_tensors_file=names.txt"], in: directory)
        #expect(result.status == 0)
        let written = try String(contentsOf: directory.appendingPathComponent("names.txt"), encoding: .utf8)
        #expect(written == (try OctetBinary.run(["tensors", "--model", caffe2Model]).stdout))
        #expect(result.stdout.hasSuffix("&&&& PASSED Octet.sample_int8_api # octet run --model=\(caffe2Model) --write_tensors --network_tensors_file=names.txt\n"))
    }

    /// The fixture's softmax output for a fixed input, computed by ONNX Runtime when the fixture was made,
    /// is reproduced; the whole stdout is checked.
    @Test func runWithTensorFilesMatchesOnnxRuntime() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = fixtures.appendingPathComponent("caffe2_style_resnet_input.npy").path
        let outPath = directory.appendingPathComponent("out.npy").path
        let arguments = ["run", "--precision", "fp32", "--model=\(caffe2Model)", "--load-inputs", input, "--save-outputs", outPath]
        // Run away from the repository, whose data/int8_api/ would supply default labels.
        let result = try OctetBinary.run(arguments, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)

        let ours = try NumPyFile.read(path: outPath)
        let onnxRuntime = try NumPyFile.read(path: fixtures.appendingPathComponent("caffe2_style_resnet_output.npy").path)
        #expect(ours.shape == onnxRuntime.shape)
        #expect(relativeL2(ours.values, onnxRuntime.values) < 1e-5)

        // The output ends in Softmax, so the printed probabilities are the output values themselves.
        let order = ours.values.indices.sorted { ours.values[$0] > ours.values[$1] }
        let top = order.prefix(5).enumerated().map { rank, index in
            "[I] [\(rank + 1)] class \(index)  (p=\(String(format: "%.4f", ours.values[index])))"
        }
        let commandLine = "octet " + arguments.joined(separator: " ")
        let expected = [
            "&&&& RUNNING Octet.sample_int8_api # \(commandLine)",
            "[I] Validating input parameters. Using following input files for inference.",
            "[I]     Model File: \(caffe2Model)",
            "[I]     Input Tensor File: \(input)",
            "[I]     Reference File: (none: classes are printed by index)",
            "[I]     Dynamic Range File: (none)",
            "[I] Building and running a FP32 CPU inference engine for \(caffe2Model)",
            "[I] Octet result (FP32, CPU): Detected:",
        ] + top + ["&&&& PASSED Octet.sample_int8_api # \(commandLine)"]
        #expect(result.stdout == expected.joined(separator: "\n") + "\n")
    }

    /// Malformed inputs end with exit status 1 and one sentence on standard error naming the file.
    @Test(arguments: [
        ("model.onnx", Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }), "model"),
        ("model.onnx", Data(), "model"),
        ("image.ppm", Data("P5\n2 2\n255\nabcd".utf8), "image"),
        ("image.ppm", Data("P6\n1000000 1000000\n255\n".utf8), "image"),
        ("image.ppm", Data("P6\n4 4\n255\nabc".utf8), "image"),
        ("image.ppm", Data("P3\n2 1\n255\n1 2 3 4 5 300\n".utf8), "image"),
        ("image.ppm", Data("P6\n4 4\n".utf8), "image"),
        ("ranges.txt", Data("gpu_0/data_0:1.0\ngpu_0/conv1_1 5.4\n".utf8), "ranges"),
        ("ranges.txt", Data("gpu_0/data_0:abc\n".utf8), "ranges"),
        ("input.npy", Data("not numpy".utf8), "inputs"),
    ])
    func malformedInputFailsCleanly(_ file: String, _ contents: Data, _ role: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent(file).path
        try contents.write(to: URL(fileURLWithPath: path))
        let goodImage = directory.appendingPathComponent("good.ppm").path
        try PPM.encode(RGBImage(width: 32, height: 32, pixels: Array(repeating: 128, count: 32 * 32 * 3))).write(to: URL(fileURLWithPath: goodImage))
        var arguments = ["run", "--precision", "fp32", "--model", role == "model" ? path : caffe2Model]
        switch role {
        case "image": arguments += ["--image", path]
        case "inputs": arguments += ["--load-inputs", path]
        default: arguments += ["--image", goodImage]
        }
        if role == "ranges" { arguments += ["--ranges", path] }
        let result = try OctetBinary.run(arguments)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(path), "stderr names the file: \(result.stderr)")
    }

    @Test func rangeFileErrorsGiveTheLineNumber() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ranges.txt").path
        try "gpu_0/data_0:1.0\n\ngpu_0/conv1_1 5.4\n".write(toFile: path, atomically: true, encoding: .utf8)
        let input = fixtures.appendingPathComponent("caffe2_style_resnet_input.npy").path
        let result = try OctetBinary.run(["run", "--precision", "fp32", "--model", caffe2Model, "--ranges", path, "--load-inputs", input])
        #expect(result.stderr == "Error: \(path):3: expected 'tensor_name:range', found no ':'.\n")
    }

    @Test func sampleFlagsParse() throws {
        let dla = try OctetBinary.run(["run", "--model=\(caffe2Model)", "--useDLACore=0"])
        #expect(dla.status == 1)
        #expect(dla.stderr.contains("no DLA"))
        let int8 = try OctetBinary.run(["run", "--model=\(caffe2Model)", "--int8", "--load-inputs", fixtures.appendingPathComponent("caffe2_style_resnet_input.npy").path])
        #expect(int8.status == 1, "INT8 without any range must not silently run FP32")
        #expect(int8.stderr.contains("INT8") && int8.stderr.contains("--ranges"))
        let help = try OctetBinary.run(["run", "--help"])
        for flag in ["--model", "--ranges", "--image", "--reference", "--data", "--write_tensors", "--network_tensors_file", "--verbose", "--useDLACore", "--save-outputs", "--load-inputs"] {
            #expect(help.stdout.contains(flag), "help lists \(flag)")
        }
    }

    /// `swift run octet` with no arguments: the bundled demo in data/int8_api, INT8 with its range file.
    @Test func bundledDemoPrintsTheTop5() throws {
        let result = try OctetBinary.run([], in: TestPaths.packageRoot())
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "&&&& RUNNING Octet.sample_int8_api # octet")
        #expect(lines.contains("[I]     Dynamic Range File: data/int8_api/efficientnet_lite0_per_tensor_dynamic_range.txt"))
        #expect(lines.contains("[I] Octet result (INT8, CPU): Detected:"))
        #expect(lines.contains { $0.hasPrefix("[I] [1] espresso  (class 967, p=") })
        #expect(lines.filter { $0.hasPrefix("[I] [") }.count == 5)
        #expect(lines.last == "&&&& PASSED Octet.sample_int8_api # octet")
    }

    @Test func missingModelIsAClearError() throws {
        let result = try OctetBinary.run(["run", "--model=does-not-exist.onnx", "--data=/nonexistent"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("does-not-exist.onnx") && result.stderr.contains("/nonexistent"))
    }
}
