import Foundation
import Testing
import _OctetTestSupport
@testable import OctetONNX
import Octet
import OctetConformance

extension LayerSupport {
    fileprivate var isHost: Bool { if case .hostReference = self { true } else { false } }
}

/// The ops of transformer and modern CNN classifiers — LayerNormalization and its decomposed form, MatMul between
/// activations, reductions, Erf and Gelu — against their ONNX definitions written out here, on the CPU engine.
@Suite struct TransformerOperatorTests {
    private func run(_ b: ONNXModelBuilder, _ inputs: [String: TensorData]) throws -> (TensorData, Engine) {
        let network = try b.importNetwork()
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network)
        let out = try #require(try engine.makeContext().execute(inputs)[network[network.outputs[0]].name])
        return (out, engine)
    }

    /// LayerNormalization over the last `count` axes, written out.
    private func layerNorm(_ x: TensorData, count: Int, scale: [Float], bias: [Float], epsilon: Float) -> [Float] {
        let inner = x.shape.suffix(count).reduce(1, *)
        var out = x.values
        for row in 0..<(x.count / inner) {
            let values = x.values[(row * inner)..<((row + 1) * inner)]
            let mean = values.reduce(0, +) / Float(inner)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(inner)
            for (k, v) in values.enumerated() {
                out[row * inner + k] = (v - mean) / (variance + epsilon).squareRoot() * scale[k % scale.count] + bias[k % bias.count]
            }
        }
        return out
    }

    @Test(arguments: [-1, 1])
    func layerNormalizationAndItsDecomposedForm(axis: Int) throws {
        let shape = [2, 3, 7]
        let normalized = axis == -1 ? [7] : [3, 7]
        let scale = Weights.random(normalized, seed: 2), bias = Weights.random(normalized, seed: 3)
        let x = TensorData.random(shape, in: -3...3, seed: 4)
        let want = layerNorm(x, count: normalized.count, scale: scale.values, bias: bias.values, epsilon: 1e-3)

        var fused = ONNXModelBuilder(opset: 17, shape: [nil, 3, 7])
        fused.initializer("scale", normalized, scale.values)
        fused.initializer("bias", normalized, bias.values)
        fused.node("LayerNormalization", ["input", "scale", "bias"], ["y"], ["axis": .int(axis), "epsilon": .float(1e-3)])
        fused.output("y")
        #expect(worstTolerance(try run(fused, ["input": x]).0.values, want, atol: 1e-5, rtol: 1e-5).ratio <= 1)
        // It stays FP32 between INT8 layers, as TensorRT keeps it.
        let lowered = try fused.importNetwork().layers.filter { $0.origin == ["y"] }
        #expect(!lowered.isEmpty && lowered.allSatisfy { $0.precision == .float32 })

        // As exporters decompose it: ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div, Mul, Add.
        var decomposed = ONNXModelBuilder(opset: 18, shape: [nil, 3, 7])
        let axes = decomposed.ints("axes", axis == -1 ? [-1] : [1, 2])
        decomposed.initializer("two", [], [2])
        decomposed.initializer("eps", [], [1e-3])
        decomposed.initializer("scale", normalized, scale.values)
        decomposed.initializer("bias", normalized, bias.values)
        decomposed.node("ReduceMean", ["input", axes], ["mean"])
        decomposed.node("Sub", ["input", "mean"], ["d"])
        decomposed.node("Pow", ["d", "two"], ["d2"])
        decomposed.node("ReduceMean", ["d2", axes], ["var"])
        decomposed.node("Add", ["var", "eps"], ["ve"])
        decomposed.node("Sqrt", ["ve"], ["std"])
        decomposed.node("Div", ["d", "std"], ["n"])
        decomposed.node("Mul", ["n", "scale"], ["s"])
        decomposed.node("Add", ["s", "bias"], ["y"])
        decomposed.output("y")
        #expect(worstTolerance(try run(decomposed, ["input": x]).0.values, want, atol: 1e-5, rtol: 1e-5).ratio <= 1)
    }

    /// The residual sum a LayerNormalization reads stays FP32 too (ViT's class token would round to zero in INT8);
    /// the other branch of the sum, a GEMM input, keeps its INT8 precision.
    @Test func residualSumReadByLayerNormalizationStaysFloat() throws {
        var b = ONNXModelBuilder(opset: 17, shape: [nil, 3, 4])
        b.initializer("w", [4, 4], Weights.random([4, 4], seed: 7).values)
        b.initializer("scale", [4], [1, 1, 1, 1])
        b.node("MatMul", ["input", "w"], ["branch"])
        b.node("Add", ["input", "branch"], ["sum"])
        b.node("LayerNormalization", ["sum", "scale"], ["y"])
        b.output("y")
        let layers = try b.importNetwork().layers
        let sum = try #require(layers.first { $0.outputs.count == 1 && $0.origin == ["sum"] })
        #expect(sum.precision == .float32)
        #expect(layers.filter { $0.origin == ["branch"] }.allSatisfy { $0.precision == nil })
    }

    /// A bias Add that a LayerNormalization reads (Swin V2's post-norm blocks: norm(Linear(x))) is not a residual sum:
    /// it is not pinned, so it folds into its fully connected layer, which runs INT8 in an INT8 build.
    @Test func biasAddReadByLayerNormalizationKeepsItsGemmInt8() throws {
        var b = ONNXModelBuilder(opset: 17, shape: [nil, 3, 4])
        b.initializer("w", [4, 4], Weights.random([4, 4], seed: 7).values)
        b.initializer("bias", [4], [0.5, -0.25, 0.125, 1])
        b.initializer("scale", [4], [1, 1, 1, 1])
        b.node("MatMul", ["input", "w"], ["product"])
        b.node("Add", ["product", "bias"], ["linear"])
        b.node("LayerNormalization", ["linear", "scale"], ["y"])
        b.output("y")
        var network = try b.importNetwork()
        #expect(network.layers.filter { $0.origin == ["linear"] }.allSatisfy { $0.precision == nil })
        // A constant added to something else (ViT's position embedding) is pinned like a residual sum.
        var embedding = ONNXModelBuilder(opset: 17, shape: [nil, 3, 4])
        embedding.initializer("position", [1, 3, 4], Weights.random([1, 3, 4], seed: 9).values)
        embedding.initializer("scale", [4], [1, 1, 1, 1])
        embedding.node("Add", ["input", "position"], ["embedded"])
        embedding.node("LayerNormalization", ["embedded", "scale"], ["y"])
        embedding.output("y")
        #expect(try embedding.importNetwork().layers.filter { $0.origin == ["embedded"] }.allSatisfy { $0.precision == .float32 })
        for tensor in network.tensors { _ = network.setDynamicRange(tensor.name, min: -4, max: 4) }
        let engine = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend()).build(network)
        let gemm = engine.plan.report.layers.filter { $0.origin.contains("product") }
        #expect(!gemm.isEmpty && gemm.allSatisfy { $0.precision == .int8 }, "\(engine.plan.report.text)")
        // Only FP32 layers read its output, so it keeps its float sum: no quantize-then-dequantize in between.
        #expect(gemm.allSatisfy { $0.outputTypes == ["FP32"] && $0.hostReason == nil }, "\(engine.plan.report.text)")
    }

    /// A depthwise convolution read only by a LayerNormalization (ConvNeXt's block) still quantizes its output: no
    /// backend has a float epilogue for it, and the host reference would run it instead.
    @Test func depthwiseConvolutionReadByLayerNormalizationStaysNative() throws {
        var b = ONNXModelBuilder(opset: 17, shape: [nil, 4, 5, 5])
        b.initializer("w", [4, 1, 3, 3], Weights.random([4, 1, 3, 3], seed: 13).values)
        b.initializer("scale", [4], [1, 1, 1, 1])
        b.node("Conv", ["input", "w"], ["dw"], ["group": .int(4), "pads": .ints([1, 1, 1, 1])])
        b.node("Transpose", ["dw"], ["nhwc"], ["perm": .ints([0, 2, 3, 1])])
        b.node("LayerNormalization", ["nhwc", "scale"], ["y"])
        b.output("y")
        var network = try b.importNetwork()
        for tensor in network.tensors { _ = network.setDynamicRange(tensor.name, min: -4, max: 4) }
        let engine = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend()).build(network)
        let depthwise = engine.plan.report.layers.filter { $0.origin.contains("dw") && $0.kind.hasPrefix("Convolution") }
        #expect(!depthwise.isEmpty && depthwise.allSatisfy { $0.precision == .int8 && $0.hostReason == nil && $0.outputTypes != ["FP32"] },
                "\(engine.plan.report.text)")
    }

    /// A convolution with a fused residual Add whose result is a network output (float) keeps the residual: the sum
    /// is computed before the float is written, within INT8's error of the FP32 engine.
    @Test func residualConvolutionWritingANetworkOutputKeepsTheResidual() throws {
        var b = ONNXModelBuilder(opset: 17, shape: [nil, 4, 5, 5])
        b.initializer("w", [4, 4, 1, 1], Weights.random([4, 4, 1, 1], seed: 11).values.map { $0 * 0.1 })
        b.node("Conv", ["input", "w"], ["branch"])
        b.node("Add", ["branch", "input"], ["y"])
        b.output("y")
        var network = try b.importNetwork()
        for tensor in network.tensors { _ = network.setDynamicRange(tensor.name, min: -4, max: 4) }
        let x = TensorData.random([1, 4, 5, 5], in: -3...3, seed: 12)
        let name = network[network.outputs[0]].name
        let float = try #require(try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network).makeContext().execute(["input": x])[name])
        let int8 = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend()).build(network)
        let y = try #require(try int8.makeContext().execute(["input": x])[name])
        #expect(worstTolerance(y.values, float.values, atol: 0.1, rtol: 0.05).ratio <= 1, "\(int8.plan.report.text)")
    }

    /// F.normalize as exported (Swin V2's cosine attention): x / Expand(Clip(ReduceL2(x), min ε)). In an INT8 build the
    /// divisor's chain runs FP32 with the reason in the report, so a zero row divides by ε (0, as in FP32) instead of
    /// by a quantized 0 (NaN); the numerator's producer stays INT8.
    @Test func divisorOfANormalizationStaysFloat() throws {
        var b = ONNXModelBuilder(opset: 17, shape: [nil, 3, 4])
        b.initializer("w", [4, 4], Weights.random([4, 4], seed: 8).values)
        b.initializer("eps", [], [1e-12])
        let shape = b.ints("shape", [1, 3, 4])
        b.node("MatMul", ["input", "w"], ["q"])
        b.node("ReduceL2", ["q"], ["norm"], ["axes": .ints([-1]), "keepdims": .int(1)])
        b.node("Clip", ["norm", "eps", ""], ["clamped"])
        b.node("Expand", ["clamped", shape], ["expanded"])
        b.node("Div", ["q", "expanded"], ["y"])
        b.output("y")
        var network = try b.importNetwork()
        for tensor in network.tensors { _ = network.setDynamicRange(tensor.name, min: -4, max: 4) }
        let engine = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend()).build(network)
        let report = engine.plan.report.layers
        let chain = report.filter { ["clamped", "expanded"].contains($0.origin.first ?? "") }
        #expect(!chain.isEmpty && chain.allSatisfy { $0.precision == .float32 && ($0.reason ?? "").contains("divisor of") }, "\(engine.plan.report.text)")
        #expect(report.filter { $0.origin == ["q"] }.allSatisfy { $0.precision == .int8 }, "\(engine.plan.report.text)")
        // A zero row (q = 0 where the input row is 0) gives 0, not NaN.
        var x = TensorData.random([1, 3, 4], seed: 9)
        for k in 0..<4 { x.values[4 + k] = 0 }
        let y = try #require(try engine.makeContext().execute(["input": x])[network[network.outputs[0]].name])
        #expect(y.values[4..<8].allSatisfy { $0 == 0 } && y.values.allSatisfy(\.isFinite), "\(y.values)")
    }

    /// A NaN that reaches a quantizer (0 / 0 in an FP32 Div before an INT8 layer) is stored as 0 by the CPU's reformat
    /// kernel, as by the reference (`QuantizationMath.saturateAndRound`), so the integer tensors agree; the CUDA
    /// self-test checks `octet_quantize_f32` the same way.
    @Test func nanReachingAQuantizerIsZeroAsInTheReference() throws {
        var b = ONNXModelBuilder(opset: 17, shape: [nil, 3, 4])
        b.initializer("w", [4, 5], Weights.random([4, 5], seed: 10).values)
        b.node("Div", ["input", "input"], ["ratio"])
        b.node("MatMul", ["ratio", "w"], ["y"])
        b.output("y")
        var network = try b.importNetwork()
        for tensor in network.tensors { _ = network.setDynamicRange(tensor.name, min: -2, max: 2) }
        let engine = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend()).build(network)
        var x = TensorData.random([1, 3, 4], seed: 11)
        x.values[1] = 0
        x.values[6] = 0
        var cpu: [TensorID: TensorValue] = [:], reference: [TensorID: TensorValue] = [:]
        _ = try engine.makeContext().execute(["input": x]) { id, value in cpu[id] = value }
        _ = try QuantizedReferenceExecutor(plan: engine.plan).run(["input": x]) { id, value in reference[id] = value }
        let quantized = cpu.filter { if case .quantized = $0.value { true } else { false } }
        #expect(!quantized.isEmpty)
        for (id, value) in quantized {
            #expect(value == reference[id], "\(engine.plan.network[id].name)")
            if case let .quantized(_, values, _) = value, engine.plan.network[id].shape.last == 4 { #expect(values[1] == 0 && values[6] == 0) }
        }
    }

    /// The CPU's FP32 LayerNormalization equals the reference bit for bit on a Swin-sized input (3136 rows of 96), layer
    /// by layer: the CUDA reductions are bit-exact against the same reference (`octet selftest --device cuda`), so the
    /// quantized tensors a LayerNorm feeds agree across backends only while this holds.
    @Test func layerNormalizationIsBitExactAgainstTheReference() throws {
        var b = ONNXModelBuilder(opset: 17, shape: [nil, 3136, 96])
        b.initializer("scale", [96], Weights.random([96], seed: 2).values)
        b.initializer("bias", [96], Weights.random([96], seed: 3).values)
        b.node("LayerNormalization", ["input", "scale", "bias"], ["y"], ["axis": .int(-1), "epsilon": .float(1e-5)])
        b.output("y")
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(try b.importNetwork())
        let x = TensorData.random([1, 3136, 96], in: -3...3, seed: 4)
        var cpu: [TensorID: TensorData] = [:], reference: [TensorID: TensorData] = [:]
        _ = try engine.makeContext().execute(["input": x]) { id, value in if case let .float(t) = value { cpu[id] = t } }
        _ = try ReferenceExecutor(network: engine.plan.network).run(["input": x]) { id, value in reference[id] = value }
        let computed = engine.plan.network.layers.filter { if case .constant = $0.kind { false } else { true } }
        #expect(computed.count >= 8)
        for layer in computed {
            let (a, r) = (try #require(cpu[layer.outputs[0]]), try #require(reference[layer.outputs[0]]))
            #expect(a.values.map(\.bitPattern) == r.values.map(\.bitPattern), "\(layer.name)")
        }
    }

    /// MatMul between activations with a broadcast leading axis, and by a constant of rank 3.
    @Test func matMulBetweenActivationsBroadcasts() throws {
        var b = ONNXModelBuilder(opset: 13, shape: [nil, 2, 3, 4])
        b.addInput("keys", shape: [nil, 1, 4, 5])
        b.node("MatMul", ["input", "keys"], ["scores"])
        let w = Weights.random([1, 5, 2], seed: 6)
        b.initializer("w", [1, 5, 2], w.values)
        b.node("MatMul", ["scores", "w"], ["y"])
        b.output("y")
        let (q, k) = (TensorData.random([2, 2, 3, 4], seed: 1), TensorData.random([2, 1, 4, 5], seed: 2))
        let (got, engine) = try run(b, ["input": q, "keys": k])
        #expect(engine.plan.report.layers.contains { $0.kernel == "matmul_f32_strided__swift" }, "\(engine.plan.report.text)")
        #expect(engine.plan.report.hostLayers.map(\.reason) == ["MatMul with a constant operand of rank above 2"])
        var want: [Float] = []
        for n in 0..<2 {
            for h in 0..<2 {
                for i in 0..<3 {
                    var scores = [Float](repeating: 0, count: 5)
                    for j in 0..<5 { for p in 0..<4 { scores[j] += q.values[((n * 2 + h) * 3 + i) * 4 + p] * k.values[(n * 4 + p) * 5 + j] } }
                    for o in 0..<2 { want.append((0..<5).reduce(Float(0)) { $0 + scores[$1] * w.values[$1 * 2 + o] }) }
                }
            }
        }
        #expect(got.shape == [2, 2, 3, 2])
        #expect(worstTolerance(got.values, want, atol: 1e-5, rtol: 1e-5).ratio <= 1)

        var vector = ONNXModelBuilder(opset: 13, shape: [nil, 4])
        vector.initializer("v", [4], [1, 2, 3, 4])
        vector.node("MatMul", ["input", "v"], ["y"], name: "dot")
        vector.output("y")
        #expect { try vector.importNetwork() } throws: { "\($0)".contains("dot") && "\($0)".contains("rank 1") }

        var wide = ONNXModelBuilder(opset: 13, shape: [nil, 4, 4])
        wide.initializer("c", [2, 3, 4, 4], Array(repeating: 1, count: 96))
        wide.node("MatMul", ["input", "c"], ["y"], name: "wide")
        wide.output("y")
        #expect { try wide.importNetwork() } throws: { "\($0)".contains("batch axis") }
    }

    @Test func reductionsKeepOrDropAxes() throws {
        let x = TensorData.random([2, 3, 4], seed: 11)
        func expected(_ f: ([Float]) -> Float) -> [Float] {
            (0..<6).map { row in f(Array(x.values[(row * 4)..<((row + 1) * 4)])) }
        }
        let cases: [(String, [Float])] = [
            ("ReduceSum", expected { $0.reduce(0, +) }), ("ReduceMax", expected { $0.max() ?? 0 }),
            ("ReduceMin", expected { $0.min() ?? 0 }), ("ReduceMean", expected { $0.reduce(0, +) / 4 }),
        ]
        for (op, want) in cases {
            var b = ONNXModelBuilder(opset: 13, shape: [nil, 3, 4])
            if op == "ReduceSum" {
                let axes = b.ints("axes", [2])
                b.node(op, ["input", axes], ["y"], ["keepdims": .int(0)])
            } else {
                b.node(op, ["input"], ["y"], ["axes": .ints([-1]), "keepdims": .int(0)])
            }
            b.output("y")
            let (got, _) = try run(b, ["input": x])
            #expect(got.shape == [2, 3], "\(op)")
            #expect(worstTolerance(got.values, want, atol: 1e-6, rtol: 1e-6).ratio <= 1, "\(op)")
        }
        var batch = ONNXModelBuilder(opset: 13, shape: [nil, 3, 4])
        batch.node("ReduceMax", ["input"], ["y"], name: "everything")
        batch.output("y")
        #expect { try batch.importNetwork() } throws: { "\($0)".contains("everything") && "\($0)".contains("batch axis") }
    }

    @Test func erfGeluNegReciprocal() throws {
        let x = TensorData.random([3, 8], in: -4...4, seed: 12)
        let cases: [(String, [String: ONNXModelBuilder.Attribute], (Float) -> Float)] = [
            ("Erf", [:], { erff($0) }),
            ("Gelu", [:], { 0.5 * $0 * (1 + erff($0 / Float(2).squareRoot())) }),
            ("Gelu", ["approximate": .string("tanh")], { 0.5 * $0 * (1 + tanhf((2 / Float.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }),
            ("Exp", [:], { expf($0) }),
            ("Neg", [:], { -$0 }),
            ("Reciprocal", [:], { 1 / $0 }),
        ]
        for (op, attributes, f) in cases {
            var b = ONNXModelBuilder(opset: 20, shape: [nil, 8])
            b.node(op, ["input"], ["y"], attributes)
            b.output("y")
            let (got, engine) = try run(b, ["input": x])
            #expect(engine.plan.report.hostLayers.isEmpty, "\(op): \(engine.plan.report.text)")
            #expect(worstTolerance(got.values, x.values.map(f), atol: 1e-6, rtol: 1e-5).ratio <= 1, "\(op) \(attributes)")
            if case .activation = engine.plan.network.layers[0].kind {
                // CUDA runs them natively too (`activate`; `octet selftest --device cuda` compares them with the CPU's).
                #expect(CUDABackend.support(for: engine.plan.network.layers[0], in: engine.plan) == .native, "\(op)")
            }
        }
    }

    /// Einsum as MaxViT's attention writes it (`B G H I D, B G H J D -> B G H I J`), and an output transpose.
    @Test func einsumBatchedMatrixProducts() throws {
        let q = TensorData.random([2, 2, 3, 4], seed: 21), k = TensorData.random([2, 2, 5, 4], seed: 22)
        for (equation, transposed) in [("B H I D, B H J D -> B H I J", false), ("bhid,bhjd->bhji", true)] {
            var b = ONNXModelBuilder(opset: 12, shape: [nil, 2, 3, 4])
            b.addInput("keys", shape: [nil, 2, 5, 4])
            b.node("Einsum", ["input", "keys"], ["y"], ["equation": .string(equation)])
            b.output("y")
            let (got, _) = try run(b, ["input": q, "keys": k])
            var want: [Float] = []
            for n in 0..<2 {
                for h in 0..<2 {
                    for outer in 0..<(transposed ? 5 : 3) {
                        for inner in 0..<(transposed ? 3 : 5) {
                            let (i, j) = transposed ? (inner, outer) : (outer, inner)
                            want.append((0..<4).reduce(Float(0)) { $0 + q.values[((n * 2 + h) * 3 + i) * 4 + $1] * k.values[((n * 2 + h) * 5 + j) * 4 + $1] })
                        }
                    }
                }
            }
            #expect(got.shape == (transposed ? [2, 2, 5, 3] : [2, 2, 3, 5]), "\(equation)")
            #expect(worstTolerance(got.values, want, atol: 1e-5, rtol: 1e-5).ratio <= 1, "\(equation)")
        }
        var trace = ONNXModelBuilder(opset: 12, shape: [nil, 3, 3])
        trace.node("Einsum", ["input", "input"], ["y"], name: "diag", ["equation": .string("bii,bij->bj")])
        trace.output("y")
        #expect { try trace.importNetwork() } throws: { "\($0)".contains("diag") && "\($0)".contains("repeated letters") }
    }

    /// ViT's class token: a shape folded through Equal/Where (the batch stays symbolic), a constant expanded to
    /// it and concatenated with the activations, repeated for every sample of a batch of 3.
    @Test func classTokenExpandWhereEqualConcat() throws {
        var b = ONNXModelBuilder(opset: 16, shape: [nil, 2, 4])
        b.initializer("token", [1, 1, 4], [1, 2, 3, 4])
        let minusOne = b.ints("minus_one", [-1, -1, -1])
        let ones = b.ints("ones", [1, 1, 1])
        let one = b.ints("one", [1])
        let fromShape = b.ints("tail", [-1, -1])
        b.node("Shape", ["input"], ["s"], ["end": .int(1)])
        b.node("Concat", ["s", fromShape], ["wanted"], ["axis": .int(0)])
        b.node("Equal", ["wanted", minusOne], ["is_free"])
        b.node("Where", ["is_free", ones, "wanted"], ["target"])
        b.node("Expand", ["token", "target"], ["tokens"])
        b.node("Concat", ["tokens", "input"], ["joined"], ["axis": .int(1)])
        b.node("Mod", [b.ints("seven", [7]), b.ints("three", [3])], ["r"])
        b.node("Unsqueeze", ["joined", one], ["u"])
        b.node("Reshape", ["u", b.ints("back", [0, 3, 4])], ["y"])
        b.output("y")
        let x = TensorData.random([3, 2, 4], seed: 31)
        let (got, _) = try run(b, ["input": x])
        #expect(got.shape == [3, 3, 4])
        var want: [Float] = []
        for n in 0..<3 { want += [1, 2, 3, 4] + x.values[(n * 8)..<((n + 1) * 8)] }
        #expect(got.values == want)

        var runtime = ONNXModelBuilder(opset: 16, shape: [nil, 4])
        runtime.node("Equal", ["input", "input"], ["y"], name: "mask")
        runtime.output("y")
        #expect { try runtime.importNetwork() } throws: { "\($0)".contains("mask") && "\($0)".contains("known at import") }
    }

    /// Expand of an activation broadcasts it (an add of zeros).
    @Test func expandOfAnActivation() throws {
        var b = ONNXModelBuilder(opset: 13, shape: [nil, 1, 3])
        b.node("Expand", ["input", b.ints("shape", [1, 2, 3])], ["y"])
        b.output("y")
        let x = TensorData(shape: [2, 1, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(try run(b, ["input": x]).0.values == [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])

        var huge = ONNXModelBuilder(opset: 13, shape: [nil, 1, 1])
        let target = huge.ints("shape", [1, 1 << 20, 1 << 20])
        huge.node("Expand", ["input", target], ["y"], name: "blow_up")
        huge.output("y")
        #expect { try huge.importNetwork() } throws: { "\($0)".contains("blow_up") && "\($0)".contains("2^26") }
    }

    /// INT8 MatMul between activations: in every INT8 arithmetic of the conformance case (symmetric, TensorRT
    /// ranges, zero points) the layer runs in INT8, and its stored outputs equal the formula written out here —
    /// `Σ_k (q_a − z_a)(q_b − z_b)` in int32, times `(s_a·s_b)/s_y`, rounded half to even, clamped, `+ z_y`.
    @Test(arguments: [ConformanceCase.Arithmetic.int8, .int8TensorRT, .int8ZeroPoints])
    func int8MatrixMultiplyEqualsItsFormula(arithmetic: ConformanceCase.Arithmetic) throws {
        let testCase = try #require(ConformanceSuite.cases.first { $0.name.hasPrefix("matrix multiply") && $0.arithmetic == arithmetic })
        let (network, input) = try testCase.network()
        let plan = try Builder(config: ConformanceSuite.config(arithmetic), backend: CPUBackend()).makePlan(network)
        let layer = try #require(plan.network.layers.first { $0.kind == .matrixMultiply })
        #expect(layer.precision == .int8, "\(plan.report.text)")
        var values: [TensorID: TensorValue] = [:]
        _ = try QuantizedReferenceExecutor(plan: plan).run([network[network.inputs[0]].name: input]) { values[$0] = $1 }
        guard case let .quantized(aShape, a, qa)? = values[layer.inputs[0]], case let .quantized(bShape, b, qb)? = values[layer.inputs[1]],
              case let .quantized(yShape, y, qy)? = values[layer.outputs[0]]
        else { Issue.record("the MatMul's tensors are not all quantized"); return }
        let (m, k, n) = (aShape[aShape.count - 2], aShape[aShape.count - 1], bShape[bShape.count - 1])
        let heads = aShape[1]
        #expect(bShape[1] == 1 && yShape == [aShape[0], heads, m, n])
        var want: [Int32] = []
        for sample in 0..<aShape[0] {
            for head in 0..<heads {
                for i in 0..<m {
                    for j in 0..<n {
                        var acc: Int32 = 0
                        for p in 0..<k {
                            acc += (a[((sample * heads + head) * m + i) * k + p] - qa.zeroPoint) * (b[(sample * k + p) * n + j] - qb.zeroPoint)
                        }
                        let real = Float(acc) * ((qa.scale * qb.scale) / qy.scale)
                        let (lo, hi) = (qy.qmin - Float(qy.zeroPoint), qy.qmax - Float(qy.zeroPoint))
                        want.append(Int32(min(max(real, lo), hi).rounded(.toNearestOrEven)) + qy.zeroPoint)
                    }
                }
            }
        }
        #expect(y == want)
        // And the CPU engine's integers equal the reference's (the conformance check).
        let outcome = try ConformanceSuite.check(testCase, on: CPUBackend())
        #expect(outcome.passed && outcome.integerTensors > 0, "\(outcome.summary)")
    }

    /// Softmax over the last axis of a 4-D tensor (attention scores) and over axis 2 of a 3-D one.
    @Test(arguments: [([2, 3, 4, 5], -1), ([2, 4, 6], 2), ([2, 3, 4, 5], 2)])
    func softmaxOverAnyNonBatchAxis(shape: [Int], axis: Int) throws {
        var b = ONNXModelBuilder(opset: 13, shape: [nil] + shape.dropFirst().map { Optional($0) })
        b.node("Softmax", ["input"], ["y"], ["axis": .int(axis)])
        b.output("y")
        let x = TensorData.random(shape, in: -5...5, seed: 41)
        let got = try run(b, ["input": x]).0
        let a = axis < 0 ? axis + shape.count : axis
        let (length, inner) = (shape[a], shape[(a + 1)...].reduce(1, *))
        var want = x.values
        for outer in 0..<(x.count / (length * inner)) {
            for i in 0..<inner {
                let indices = (0..<length).map { (outer * length + $0) * inner + i }
                let largest = indices.map { x.values[$0] }.max() ?? 0
                let sum = indices.reduce(Float(0)) { $0 + expf(x.values[$1] - largest) }
                for index in indices { want[index] = expf(x.values[index] - largest) / sum }
            }
        }
        #expect(worstTolerance(got.values, want, atol: 1e-6, rtol: 1e-5).ratio <= 1)
    }

    /// The CPU's FP32 MatMul kernel against the reference on awkward sizes, row-major (rank 3) and NHWC (rank 4,
    /// a broadcast head axis either side).
    @Test(arguments: [
        ([3, 1, 1], [3, 1, 1]), ([2, 7, 17], [2, 17, 5]), ([1, 16, 3], [1, 3, 17]),
        ([2, 3, 5, 4], [2, 1, 4, 6]), ([2, 1, 9, 2], [2, 4, 2, 1]), ([3, 2, 1, 33], [3, 2, 33, 2]),
    ])
    func cpuMatrixMultiplyEqualsTheReference(a: [Int], b: [Int]) throws {
        var builder = ONNXModelBuilder(opset: 13, shape: [nil] + a.dropFirst().map { Optional($0) })
        builder.addInput("b", shape: [nil] + b.dropFirst().map { Optional($0) })
        builder.node("MatMul", ["input", "b"], ["y"])
        builder.output("y")
        let inputs = ["input": TensorData.random(a, seed: 51), "b": TensorData.random(b, seed: 52)]
        let (got, engine) = try run(builder, inputs)
        #expect(engine.plan.report.hostLayers.isEmpty, "\(engine.plan.report.text)")
        let want = try #require(try ReferenceExecutor(network: engine.plan.network).run(inputs)["y"])
        #expect(got.shape == want.shape)
        #expect(worstTolerance(got.values, want.values, atol: 1e-6, rtol: 1e-6).ratio <= 1, "\(a) × \(b)")
    }
}
