import Foundation
import Testing
import _OctetTestSupport
import Octet

/// Range files and precision constraints through the command line, on the caffe2-style fixture.
@Suite struct CommandLineInt8Tests {
    let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    var model: String { fixtures.appendingPathComponent("caffe2_style_resnet.onnx").path }
    var input: String { fixtures.appendingPathComponent("caffe2_style_resnet_input.npy").path }

    /// A range file with the maximum |value| of every tensor on the fixture's input, minus `omit`, plus `extra`.
    private func rangeFile(omit: [String] = [], extra: String = "") throws -> String {
        let (network, _) = try ONNXImporter.importModel(path: model)
        let ranges = try ReferenceExecutor(network: network).calibrate([network[network.inputs[0]].name: try NumPyFile.read(path: input)]).ranges
        let kept = DynamicRanges(entries: ranges.entries.filter { !omit.contains($0.name) })
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("octet-ranges-\(UUID().uuidString).txt").path
        try (kept.rangeFileText() + extra).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func run(_ ranges: String, _ extra: [String] = []) throws -> CommandResult {
        try OctetBinary.run(["run", "--model=\(model)", "--ranges=\(ranges)", "--load-inputs", input] + extra)
    }

    @Test func rangesMakeAnInt8EngineAndVerboseShowsIt() throws {
        let ranges = try rangeFile(extra: "(Unnamed Layer* 174) [Shuffle]_output:3.5\n")
        defer { try? FileManager.default.removeItem(atPath: ranges) }
        let result = try run(ranges, ["--verbose"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Building and running a INT8 CPU inference engine"))
        #expect(result.stdout.contains("[V] Range for '(Unnamed Layer* 174) [Shuffle]_output' matches no tensor; ignored"))
        // The convolutions run INT8, with the ONNX nodes they came from; the Softmax stays FP32 and says why.
        #expect(result.stdout.contains("gpu_0/conv1_1 Convolution 7x7") || result.stdout.contains("Convolution"))
        let reportLines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("[V]   [") }
        #expect(reportLines.contains { $0.contains("Convolution") && $0.contains(" INT8 ") && $0.contains("from=") })
        #expect(reportLines.contains { $0.contains("Softmax") && $0.contains("FP32") && $0.contains("not INT8: Softmax has no INT8 implementation") })
        #expect(result.stdout.contains("Octet result (INT8, CPU)"))
    }

    @Test func missingRangeRunsThatLayerInFP32AndSaysSo() throws {
        let ranges = try rangeFile(omit: ["gpu_0/res2_0_branch2a_bn_2"])
        defer { try? FileManager.default.removeItem(atPath: ranges) }
        let result = try run(ranges, ["--verbose"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[W] 1 tensor(s) have no dynamic range"))
        #expect(result.stdout.contains("Tensors without a dynamic range: gpu_0/res2_0_branch2a_bn_2"))
        #expect(result.stdout.contains("not INT8: no dynamic range for 'gpu_0/res2_0_branch2a_bn_2'"))
    }

    @Test func obeyMakesAnImpossibleRequestAnErrorAndPreferAWarning() throws {
        let ranges = try rangeFile()
        defer { try? FileManager.default.removeItem(atPath: ranges) }
        let request = ["--precision", "fp32", "--layer-precision", "gpu_0/softmax_1:int8"]
        let obey = try run(ranges, request + ["--precision-constraints", "obey"])
        #expect(obey.status == 1)
        #expect(obey.stderr == "Error: Layer 'gpu_0/softmax_1' cannot run in the requested precision: Softmax has no INT8 implementation.\n")
        let prefer = try run(ranges, request + ["--precision-constraints", "prefer"])
        #expect(prefer.status == 0, "\(prefer.stderr)")
        #expect(prefer.stdout.contains("[W] layer 'gpu_0/softmax_1' runs in FP32 although INT8 was requested: Softmax has no INT8 implementation"))
        let unknown = try run(ranges, ["--layer-precision", "no_such_layer:fp32"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no layer is named 'no_such_layer'"))
    }

    @Test func inspectPrintsTheReportWithoutRunning() throws {
        let ranges = try rangeFile()
        defer { try? FileManager.default.removeItem(atPath: ranges) }
        let result = try OctetBinary.run(["inspect", "--model", model, "--ranges", ranges, "--layer-precision", "gpu_0/pred_1:fp32"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Engine layers ("))
        #expect(result.stdout.contains("gpu_0/pred_1 FullyConnected") && result.stdout.contains("not INT8: precision set to FP32"))
        #expect(!result.stdout.contains("Detected"))
    }
}
