import Foundation
import Testing
import _OctetTestSupport
@testable import OctetONNX
import Octet

/// Each ONNX op imports to the expected layers, shape subgraphs fold, and unsupported constructs fail with
/// the node, op type and reason.
@Suite struct ONNXImporterTests {
    private func run(_ network: Network, _ input: TensorData) throws -> TensorData {
        let outputs = try ReferenceExecutor(network: network).run([network[network.inputs[0]].name: input])
        return try #require(outputs[network[network.outputs[0]].name])
    }

    @Test func convBatchNormReluPoolGemm() throws {
        var b = ONNXModelBuilder(opset: 9, input: "gpu_0/data_0", shape: [1, 3, 8, 8])
        b.initializer("w", [4, 3, 3, 3], Weights.random([4, 3, 3, 3], seed: 1).values)
        for (name, value) in [("scale", Float(2)), ("bias", 0.5), ("mean", 0.25), ("var", 3)] {
            b.initializer(name, [4], Array(repeating: value, count: 4))
        }
        b.initializer("fc_w", [5, 4], Weights.random([5, 4], seed: 2).values)
        b.initializer("fc_b", [5], [1, 2, 3, 4, 5])
        b.ints("shape", [1, -1])
        b.node("Conv", ["gpu_0/data_0", "w"], ["gpu_0/conv1_1"], ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
        b.node("BatchNormalization", ["gpu_0/conv1_1", "scale", "bias", "mean", "var"], ["gpu_0/bn_1"], ["epsilon": .float(1e-5)])
        b.node("Relu", ["gpu_0/bn_1"], ["gpu_0/relu_1"])
        b.node("MaxPool", ["gpu_0/relu_1"], ["gpu_0/pool_1"], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        b.node("GlobalAveragePool", ["gpu_0/pool_1"], ["gpu_0/gap_1"])
        b.node("Reshape", ["gpu_0/gap_1", "shape"], ["gpu_0/flat_1"])
        b.node("Gemm", ["gpu_0/flat_1", "fc_w", "fc_b"], ["gpu_0/pred_1"], ["transB": .int(1)])
        b.node("Softmax", ["gpu_0/pred_1"], ["gpu_0/softmax_1"])
        b.output("gpu_0/softmax_1")
        let network = try b.importNetwork()
        #expect(network.layers.map(\.kind.typeName) == ["Convolution", "Scale", "Activation", "Pooling", "GlobalPooling", "Reshape", "FullyConnected", "Softmax"])
        #expect(network.executionTensorNames.first == "gpu_0/data_0")
        #expect(network[network.outputs[0]].shape == [1, 5])
        let y = try run(network, .random([1, 3, 8, 8], seed: 9))
        #expect(abs(y.values.reduce(0, +) - 1) < 1e-5)
    }

    @Test func batchNormalizationFoldsToScale() throws {
        var b = ONNXModelBuilder(shape: [1, 2, 1, 1])
        b.initializer("s", [2], [2, 3]); b.initializer("b", [2], [1, -1])
        b.initializer("m", [2], [0.5, 0]); b.initializer("v", [2], [4, 1])
        b.node("BatchNormalization", ["input", "s", "b", "m", "v"], ["y"], ["epsilon": .float(0)])
        b.output("y")
        let y = try run(try b.importNetwork(), TensorData(shape: [1, 2, 1, 1], values: [2.5, 2]))
        let expected: [Float] = [3, 5]  // 2 · (2.5 − 0.5) / √4 + 1, 3 · 2 / √1 − 1
        #expect(y.values == expected)
    }

    @Test func sameUpperPaddingAndCeilModePooling() throws {
        var b = ONNXModelBuilder(shape: [1, 1, 5, 5])
        b.initializer("w", [1, 1, 3, 3], Array(repeating: 1, count: 9))
        b.node("Conv", ["input", "w"], ["c"], ["auto_pad": .string("SAME_UPPER"), "strides": .ints([2, 2])])
        b.node("AveragePool", ["c"], ["p"], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1), "count_include_pad": .int(1)])
        b.output("p")
        let network = try b.importNetwork()
        guard case let .convolution(p) = network.layers[0].kind else { Issue.record("expected a convolution"); return }
        #expect(p.padsBegin == [1, 1] && p.padsEnd == [1, 1])
        #expect(network[network.outputs[0]].shape == [1, 1, 2, 2])
    }

    /// torch's export of `x.view(x.size(0), 2, -1, h, w)`: Shape → Gather → Unsqueeze → Concat → Reshape,
    /// with the batch kept symbolic so the network runs at any batch size.
    @Test func shapeSubgraphFoldsWithSymbolicBatch() throws {
        var b = ONNXModelBuilder(shape: [nil, 4, 2, 2])
        b.ints("zero", [0], shape: [])
        b.ints("axes", [0])
        b.ints("two", [2]); b.ints("minus", [-1]); b.ints("hw", [2, 2])
        b.node("Shape", ["input"], ["shape"])
        b.node("Gather", ["shape", "zero"], ["n"], ["axis": .int(0)])
        b.node("Unsqueeze", ["n", "axes"], ["n1"])
        b.node("Concat", ["n1", "two", "minus", "hw"], ["target"], ["axis": .int(0)])
        b.node("Reshape", ["input", "target"], ["r"])
        b.node("Transpose", ["r"], ["t"], ["perm": .ints([0, 2, 1, 3, 4])])
        b.ints("flat", [0, -1, 2, 2])
        b.node("Reshape", ["t", "flat"], ["y"])
        b.output("y")
        let network = try b.importNetwork()
        #expect(network.layers.map(\.kind.typeName) == ["Reshape", "Transpose", "Reshape"])
        // Channel shuffle of 4 channels in 2 groups: order 0, 2, 1, 3; two samples at once.
        let x = TensorData(shape: [2, 4, 2, 2], values: (0..<32).map(Float.init))
        let y = try run(network, x)
        #expect(y.shape == [2, 4, 2, 2])
        let channels = stride(from: 0, to: 32, by: 4).map { y.values[$0] / 4 }
        #expect(channels == [0, 2, 1, 3, 4, 6, 5, 7])
    }

    @Test func splitSliceGatherSqueezeConcat() throws {
        var b = ONNXModelBuilder(opset: 13, shape: [nil, 4, 2, 2])
        b.ints("split", [1, 3])
        b.node("Split", ["input", "split"], ["a", "b"], ["axis": .int(1)])
        b.ints("starts", [1]); b.ints("ends", [Int.max]); b.ints("sliceAxes", [1])
        b.node("Slice", ["b", "starts", "ends", "sliceAxes"], ["c"])
        b.ints("index", [0], shape: [])
        b.node("Gather", ["c", "index"], ["g"], ["axis": .int(1)])
        b.ints("unsq", [1])
        b.node("Unsqueeze", ["g", "unsq"], ["u"])
        b.node("Concat", ["u", "a"], ["y"], ["axis": .int(-3)])
        b.output("y")
        let network = try b.importNetwork()
        let x = TensorData(shape: [1, 4, 2, 2], values: (0..<16).map(Float.init))
        let y = try run(network, x)
        #expect(y.shape == [1, 2, 2, 2])
        #expect(y.values == [8, 9, 10, 11, 0, 1, 2, 3])  // channel 2, then channel 0
    }

    @Test func sumOfThreeInputsAndClipOpsets() throws {
        var b = ONNXModelBuilder(opset: 9, shape: [1, 3])
        b.node("Sum", ["input", "input", "input"], ["s"])
        b.node("Clip", ["s"], ["y"], ["min": .float(0), "max": .float(6)])
        b.output("y")
        let network = try b.importNetwork()
        #expect(network.layers.count == 3)
        #expect(try run(network, TensorData(shape: [1, 3], values: [-1, 1, 3])).values == [0, 3, 6])

        var c = ONNXModelBuilder(opset: 13, shape: [1, 3])
        c.initializer("lo", [], [0]); c.initializer("hi", [], [6])
        c.node("Clip", ["input", "lo", "hi"], ["y"])
        c.output("y")
        #expect(try run(try c.importNetwork(), TensorData(shape: [1, 3], values: [-1, 1, 9])).values == [0, 1, 6])
    }

    @Test func matMulFlattenDropoutIdentityHardSwish() throws {
        var b = ONNXModelBuilder(opset: 14, shape: [nil, 2, 1, 1])
        b.node("Flatten", ["input"], ["f"], ["axis": .int(1)])
        b.initializer("m", [2, 3], [1, 0, 1, 0, 1, 1])
        b.node("MatMul", ["f", "m"], ["mm"])
        b.node("Dropout", ["mm"], ["d"])
        b.node("Identity", ["d"], ["i"])
        b.node("HardSwish", ["i"], ["y"])
        b.output("y")
        let y = try run(try b.importNetwork(), TensorData(shape: [1, 2, 1, 1], values: [6, -6]))
        #expect(y.values == [6, 0, 0])  // [6, -6, 0] through HardSwish
    }

    @Test func unsupportedOpNamesNodeAndType() throws {
        var b = ONNXModelBuilder(shape: [1, 3, 4, 4])
        b.node("NonMaxSuppression", ["input"], ["y"], name: "my_nms")
        b.output("y")
        #expect {
            try b.importNetwork()
        } throws: { error in
            let text = "\(error)"
            return text.contains("my_nms") && text.contains("NonMaxSuppression") && text.contains("not supported")
        }
    }

    @Test func unsupportedAttributeAndOpset() throws {
        var b = ONNXModelBuilder(shape: [1, 3, 4, 4])
        b.node("MaxPool", ["input"], ["y"], name: "pool", ["kernel_shape": .ints([2, 2]), "storage_order": .int(1)])
        b.output("y")
        #expect { try b.importNetwork() } throws: { "\($0)".contains("storage_order") && "\($0)".contains("pool") }

        var future = ONNXModelBuilder(opset: 29, shape: [1, 3])
        future.node("Relu", ["input"], ["y"])
        future.output("y")
        #expect { try future.importNetwork() } throws: { "\($0)".contains("opset 29") }

        var batchMix = ONNXModelBuilder(shape: [nil, 3, 2])
        batchMix.ints("t", [-1])
        batchMix.node("Reshape", ["input", "t"], ["y"], name: "flatten_all")
        batchMix.output("y")
        #expect { try batchMix.importNetwork() } throws: { "\($0)".contains("batch axis") && "\($0)".contains("flatten_all") }
    }

    @Test func externalDataIsLoaded() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("octet-external-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights: [Float] = [1, 2, 3, 4, 5, 6]
        var blob = Data([0, 0, 0, 0])  // an offset, as tools that pack several tensors write
        weights.withUnsafeBytes { blob.append(contentsOf: $0) }
        try blob.write(to: directory.appendingPathComponent("weights.bin"))

        let path = try ONNXModelBuilder.externalMatMul(location: "weights.bin", offset: 4, length: 24).write(to: directory.appendingPathComponent("model.onnx").path)
        let network = try ONNXImporter.importModel(path: path).network
        let y = try run(network, TensorData(shape: [1, 3], values: [1, 1, 1]))
        #expect(y.values == [9, 12])

        try FileManager.default.removeItem(at: directory.appendingPathComponent("weights.bin"))
        #expect { try ONNXImporter.importModel(path: path) } throws: { "\($0)".contains("weights.bin") }
    }

    /// An ONNX Runtime style QDQ model: Q/DQ on activations (int8 input, uint8 after a folded Relu6),
    /// per-channel int8 weights and int32 biases through DequantizeLinear.
    static func qdqModel() -> ONNXModelBuilder {
        var b = ONNXModelBuilder(shape: [nil, 2, 3, 3])
        b.initializer("in_scale", [], [1.0 / 127])
        b.quantized("in_zp", [], [0], type: .int8)
        b.node("QuantizeLinear", ["input", "in_scale", "in_zp"], ["input_q"])
        b.node("DequantizeLinear", ["input_q", "in_scale", "in_zp"], ["input_dq"])
        b.quantized("w_q", [2, 2, 1, 1], [127, -64, 10, 127], type: .int8)
        b.initializer("w_scale", [2], [0.5, 0.25])
        b.quantized("w_zp", [2], [0, 0], type: .int8)
        b.node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w"], ["axis": .int(0)])
        b.quantized("b_q", [2], [254, -508], type: .int32)
        b.initializer("b_scale", [2], [0.5 / 127, 0.25 / 127])
        b.quantized("b_zp", [2], [0, 0], type: .int32)
        b.node("DequantizeLinear", ["b_q", "b_scale", "b_zp"], ["b"], ["axis": .int(0)])
        b.node("Conv", ["input_dq", "w", "b"], ["conv"])
        b.initializer("out_scale", [], [6.0 / 255])
        b.quantized("out_zp", [], [0], type: .uint8)
        b.node("QuantizeLinear", ["conv", "out_scale", "out_zp"], ["conv_q"])
        b.node("DequantizeLinear", ["conv_q", "out_scale", "out_zp"], ["y"])
        b.output("y")
        return b
    }

    @Test func qdqModelImportsWithItsScales() throws {
        let path = try Self.qdqModel().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (network, info) = try ONNXImporter.importModel(path: path)
        #expect(info.isExplicitlyQuantized)
        // Weights and biases dequantized per channel.
        guard case let .convolution(p) = network.layers.first(where: { $0.kind.typeName == "Convolution" })?.kind else {
            Issue.record("no convolution")
            return
        }
        #expect(p.weights.values == [63.5, -32, 2.5, 31.75])
        #expect(p.bias?.values.map { ($0 * 1000).rounded() } == [1000, -1000])
        // The activations carry the ranges the Q/DQ pairs imply; the uint8 one is clipped at [0, 6] (a folded Relu6).
        #expect(network[try #require(network.tensorID(named: "input"))].dynamicRange == 128.0 / 127)
        #expect(network[try #require(network.tensorID(named: "conv"))].dynamicRange == 6)
        #expect(network.layers.contains { $0.kind == .activation(.clip(min: 0, max: 6)) })
        // Built with its own quantization, every compute layer runs INT8, and the output is close to FP32.
        var config = BuilderConfig(int8: true)
        config.explicitQuantization = true
        let engine = try Builder(config: config, backend: CPUBackend()).build(network)
        #expect(engine.plan.report.layers.filter { $0.kind.hasPrefix("Convolution") }.allSatisfy { $0.precision == .int8 })
        let input = TensorData.random([2, 2, 3, 3], seed: 3)
        let got = try #require(try engine.makeContext().execute(["input": input])["y"])
        let want = try #require(try ReferenceExecutor(network: network).run(["input": input])["y"])
        #expect(relativeL2(got.values, want.values) < 0.05)
    }

    /// A QDQ convolution with onnxruntime's asymmetric uint8 activations (zero points 128 and 64), padded.
    static func qdqZeroPointModel() -> ONNXModelBuilder {
        var b = ONNXModelBuilder(shape: [nil, 2, 3, 3])
        b.initializer("in_scale", [], [2.0 / 255])
        b.quantized("in_zp", [], [128], type: .uint8)
        b.node("QuantizeLinear", ["input", "in_scale", "in_zp"], ["input_q"])
        b.node("DequantizeLinear", ["input_q", "in_scale", "in_zp"], ["input_dq"])
        b.initializer("w", [2, 2, 3, 3], (0..<36).map { Float($0 % 7) / 7 - 0.4 })
        b.initializer("bias", [2], [0.25, -0.5])
        b.node("Conv", ["input_dq", "w", "bias"], ["conv"], ["pads": .ints([1, 1, 1, 1])])
        b.initializer("out_scale", [], [8.0 / 255])
        b.quantized("out_zp", [], [64], type: .uint8)
        b.node("QuantizeLinear", ["conv", "out_scale", "out_zp"], ["conv_q"])
        b.node("DequantizeLinear", ["conv_q", "out_scale", "out_zp"], ["y"])
        b.output("y")
        return b
    }

    /// onnxruntime's asymmetric uint8 activations: the input quantized with zero point 128, a padded
    /// convolution whose output has zero point 64. The exact scales and zero points reach the engine plan,
    /// and the CPU engine's integers equal the reference executor's (padding counts as real 0).
    @Test func qdqZeroPointsReachThePlan() throws {
        let path = try Self.qdqZeroPointModel().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (network, _) = try ONNXImporter.importModel(path: path)
        let inputQ = ExplicitQuantization(dataType: .uint8, scale: 2.0 / 255, zeroPoint: 128)
        let outputQ = ExplicitQuantization(dataType: .uint8, scale: 8.0 / 255, zeroPoint: 64)
        #expect(network[try #require(network.tensorID(named: "input"))].explicitQuantization == inputQ)
        #expect(network[try #require(network.tensorID(named: "conv"))].explicitQuantization == outputQ)
        // The Clip keeps the representable interval, [−64, 191] · 8/255.
        #expect(network.layers.contains { $0.kind == .activation(.clip(min: -64 * 8.0 / 255, max: 191 * 8.0 / 255)) })

        var config = BuilderConfig(int8: true)
        config.explicitQuantization = true
        let engine = try Builder(config: config, backend: CPUBackend()).build(network)
        let reference = try Builder(config: config, backend: ReferenceBackend()).build(network)
        let quantizations = Set(engine.plan.quantization.values.map(\.description))
        #expect(quantizations.contains(TensorQuantization(inputQ).description), "\(quantizations)")
        #expect(quantizations.contains(TensorQuantization(outputQ).description), "\(quantizations)")
        #expect(engine.plan.report.layers.filter { $0.kind.hasPrefix("Convolution") }.allSatisfy { $0.precision == .int8 })
        let input = TensorData.random([2, 2, 3, 3], seed: 5)
        var expected: [TensorID: TensorValue] = [:]
        _ = try reference.makeContext().execute(["input": input]) { id, value in expected[id] = value }
        var compared = 0
        _ = try engine.makeContext().execute(["input": input]) { id, value in
            guard case .quantized = value else { return }
            #expect(value == expected[id], "\(engine.plan.network[id].name)")
            compared += 1
        }
        #expect(compared >= 2)
        let got = try #require(try engine.makeContext().execute(["input": input])["y"])
        let want = try #require(try ReferenceExecutor(network: network).run(["input": input])["y"])
        #expect(relativeL2(got.values, want.values) < 0.05)
    }

    @Test func qdqModelRefusesARangeFile() throws {
        let model = try Self.qdqModel().write()
        let ranges = FileManager.default.temporaryDirectory.appendingPathComponent("octet-qdq-\(UUID().uuidString).txt").path
        try "input:1\n".write(toFile: ranges, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: model); try? FileManager.default.removeItem(atPath: ranges) }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("octet-qdq-\(UUID().uuidString).npy").path
        try NumPyFile.write(.random([1, 2, 3, 3], seed: 1), to: input)
        defer { try? FileManager.default.removeItem(atPath: input) }
        let refused = try OctetBinary.run(["run", "--model", model, "--ranges", ranges, "--load-inputs", input])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("carries its own quantization"))
        let accepted = try OctetBinary.run(["run", "--model", model, "--load-inputs", input])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stdout.contains("Building and running a INT8 CPU inference engine"))
    }

    @Test func controlCharactersInNamesStayOnOneLine() {
        let error = OctetError.unsupportedNode(node: "bad\nname\t", opType: "Relu", reason: "input 'x\ry' is missing")
        #expect(!error.description.contains("\n") && !error.description.contains("\r"))
        #expect(error.description == "ONNX node 'bad\\u{a}name\\u{9}' (Relu): input 'x\\u{d}y' is missing.")
    }

    @Test func malformedModelsFailWithOneSentence() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("octet-bad-\(UUID().uuidString).onnx").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var generator = SeededGenerator(seed: 42)
        let valid = try ONNXModelBuilder(shape: [1, 3]).withRelu().data()
        let cases: [Data] = [
            Data(),
            Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }),
            valid.prefix(valid.count / 2),
            valid.prefix(valid.count - 3),
        ]
        for data in cases {
            try data.write(to: URL(fileURLWithPath: path))
            #expect { try ONNXImporter.importModel(path: path) } throws: { error in
                let text = "\(error)"
                return text.hasPrefix(path) && !text.contains("\n")
            }
        }
    }
}

extension ONNXModelBuilder {
    fileprivate func withRelu() -> ONNXModelBuilder {
        var copy = self
        copy.node("Relu", ["input"], ["y"])
        copy.output("y")
        return copy
    }
}
