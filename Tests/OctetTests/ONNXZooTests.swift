import Foundation
import Testing
import _OctetTestSupport
import Octet

/// The nine light model-zoo graphs the `onnx` Python package ships (placeholder weights: every weight tensor is a
/// ConstantOfShape of one value) import and build, and some run against onnxruntime when it is installed.
/// `Scripts/compare_onnx_zoo.py` compares all nine, with random weights too.
@Suite(.serialized) struct ONNXZooTests {
    static let models = [
        "resnet50", "vgg19", "bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "shufflenet", "squeezenet",
        "zfnet512",
    ]
    /// The ones run against onnxruntime here: LRN, Dropout's mask, Transpose and Concat, kept small for `swift test`.
    static let compared = ["bvlc_alexnet", "inception_v1", "shufflenet", "squeezenet"]

    /// Output of a short Python program, or nil when python3 or the module is missing.
    static func python(_ code: String, arguments: [String] = []) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", code] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let lightFolder: String? = python(
        "import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), 'backend', 'test', 'data', 'light'))")
    static var missing: String { "the onnx Python package (its backend/test/data/light models) is not installed: zoo tests skipped" }

    @Test func everyLightZooGraphImportsAndBuilds() throws {
        guard let folder = Self.lightFolder else { print(Self.missing); return }
        for name in Self.models {
            let path = "\(folder)/light_\(name).onnx"
            let (network, _) = try ONNXImporter.importModel(path: path)
            let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network)
            #expect(network[network.outputs[0]].shape.reduce(1, *) == 1000, "\(name)")
            #expect(!engine.plan.network.layers.isEmpty, "\(name)")
        }
    }

    @Test func lightZooGraphsMatchOnnxRuntime() throws {
        guard let folder = Self.lightFolder else { print(Self.missing); return }
        guard Self.python("import onnxruntime") != nil else { print("onnxruntime is not installed: zoo comparison skipped"); return }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("octet-zoo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        for (index, name) in Self.compared.enumerated() {
            let path = "\(folder)/light_\(name).onnx"
            let (network, _) = try ONNXImporter.importModel(path: path)
            let inputName = network[network.inputs[0]].name
            let x = TensorData.random(network[network.inputs[0]].shape, seed: UInt64(index))
            try NumPyFile.write(x, to: "\(work)/in.npy")
            let ort = """
                import sys, numpy as np, onnxruntime as ort
                so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                so.intra_op_num_threads = 1; so.log_severity_level = 3
                s = ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
                np.save(sys.argv[3], s.run(None, {sys.argv[2]: np.load(sys.argv[4])})[0].astype(np.float32))
                """
            guard Self.python(ort, arguments: [path, inputName, "\(work)/ort.npy", "\(work)/in.npy"]) != nil else {
                Issue.record("onnxruntime could not run \(path)")
                continue
            }
            let want = try NumPyFile.read(path: "\(work)/ort.npy")
            let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network)
            let got = try #require(try engine.makeContext().execute([inputName: x])[network[network.outputs[0]].name])
            #expect(got.shape == want.shape, "\(name)")
            #expect(relativeL2(got.values, want.values) <= 1e-4, "\(name)")
        }
    }
}
