import Foundation
import Testing
import _OctetTestSupport
@testable import OctetCUDA
import Octet
import OctetConformance

/// One answer for what runs where: the shared `LayerForm`, each backend's `support`, the build report's host
/// layers and `obey`'s refusal of them, checked on the CPU backend and with the CUDA backend's classification
/// (decided without a device, so these tests run anywhere).
@Suite struct BackendSupportTests {
    /// The CUDA backend's answers without a GPU: compiling is refused, as on a machine without CUDA.
    struct CUDAClassification: Backend {
        let name = "cuda"
        func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport { CUDABackend.support(for: layer, in: plan) }
        func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram {
            throw OctetError.unavailable(reason: "no GPU in this test")
        }
    }

    private func plan(_ network: Network, _ config: BuilderConfig, _ backend: any Backend) throws -> EnginePlan {
        let builder = Builder(config: config, backend: backend)
        var plan = try builder.makePlan(network)
        try builder.askBackend(&plan)
        return plan
    }

    private func qdqNetwork() throws -> Network {
        let path = try ONNXImporterTests.qdqZeroPointModel().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ONNXImporter.importModel(path: path).network
    }

    private var explicitInt8: BuilderConfig {
        var config = BuilderConfig(int8: true)
        config.explicitQuantization = true
        return config
    }

    /// onnxruntime's asymmetric uint8 activations run natively on the CPU; under CUDA every layer that reads or
    /// writes a zero-point tensor is named as a host layer with the reason, and obey refuses the build.
    @Test func zeroPointLayersAreHostLayersUnderCUDAAndObeyRefusesThem() throws {
        let network = try qdqNetwork()
        let cpu = try plan(network, explicitInt8, CPUBackend())
        #expect(cpu.report.hostLayers.isEmpty, "\(cpu.report.text)")

        let cuda = try plan(network, explicitInt8, CUDAClassification())
        // Every layer that reads or writes a zero-point tensor, the float dequantize at the output included.
        let zeroPointLayers = cuda.network.layers.filter { layer in
            (layer.inputs + layer.outputs).contains { (cuda.quantization[$0]?.zeroPoint ?? 0) != 0 }
        }
        #expect(zeroPointLayers.contains { $0.kind == .reformat && $0.precision == .float32 })
        #expect(!zeroPointLayers.isEmpty)
        let hostNames = Set(cuda.report.hostLayers.map(\.name))
        #expect(hostNames == Set(zeroPointLayers.map(\.name)), "\(cuda.report.text)")
        #expect(cuda.report.hostLayers.allSatisfy { $0.reason.contains("zero point") })
        #expect(cuda.report.text.contains("(host reference: asymmetric INT8"))

        var obey = explicitInt8
        obey.obeyPrecisionConstraints = true
        #expect { try plan(network, obey, CUDAClassification()) } throws: { error in
            guard case let .precisionConstraint(layer, reason)? = error as? OctetError else { return false }
            return hostNames.contains(layer) && reason.contains("zero point")
        }
        // The CPU runs all of it natively, so obey builds.
        _ = try plan(network, obey, CPUBackend())
    }

    /// A layer no CPU kernel implements (a Transpose above the index maps' rank 6) is reported with its reason, and
    /// obey refuses it.
    @Test func cpuHostLayersAreReportedAndObeyRefusesThem() throws {
        var b = ONNXModelBuilder(shape: [nil, 2, 3, 1, 2, 1, 2])
        b.node("Transpose", ["input"], ["t"], ["perm": .ints([0, 2, 1, 3, 4, 6, 5])])
        b.node("Relu", ["t"], ["y"])
        b.output("y")
        let path = try b.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (network, _) = try ONNXImporter.importModel(path: path)
        let report = try plan(network, BuilderConfig(), CPUBackend()).report
        #expect(report.hostLayers.count == 1)
        #expect(report.hostLayers.first?.reason == "Transpose of a tensor above rank 6")
        var obey = BuilderConfig()
        obey.obeyPrecisionConstraints = true
        #expect(throws: OctetError.self) { try plan(network, obey, CPUBackend()) }
        // Built anyway (without obey), the engine equals the reference.
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network)
        #expect(engine.plan.report.layers.contains { $0.kernel.hasPrefix("reference_transpose") })
        let input = TensorData.random([2, 2, 3, 1, 2, 1, 2], seed: 9)
        let got = try #require(try engine.makeContext().execute(["input": input])["y"])
        let want = try #require(try ReferenceExecutor(network: network).run(["input": input])["y"])
        #expect(got.values == want.values)
    }

    /// MatMul between activations and fully connected layers over rank-3 and rank-4 tensors (INT8 in the INT8 modes;
    /// the Reshapes around a rank-4 one too), Pad and Reduce run natively on the CPU, and on CUDA in every mode but
    /// zero points (which CUDA refuses for every layer): none of them is a host layer in its cases.
    @Test(arguments: ConformanceSuite.cases.filter { c in
        ["matrix multiply", "pad ", "reduce ", "fully connected over", "GELU as"].contains { c.name.hasPrefix($0) }
    })
    func transformerLayersPadAndReduceAreNative(_ testCase: ConformanceCase) throws {
        func underTest(_ kind: LayerKind) -> Bool {
            switch kind {
            case .matrixMultiply, .pad, .reduce, .fullyConnected, .reshape, .activation: true
            default: false
            }
        }
        let (network, _) = try testCase.network()
        let config = ConformanceSuite.config(testCase.arithmetic)
        var backends: [any Backend] = [CPUBackend()]
        if testCase.arithmetic != .int8ZeroPoints { backends.append(CUDAClassification()) }
        for backend in backends {
            let plan = try Builder(config: config, backend: backend).makePlan(network)
            let layers = plan.network.layers.filter { underTest($0.kind) }
            #expect(!layers.isEmpty)
            if testCase.name.hasPrefix("GELU as") {
                // The five layers became one Gelu activation, an INT8 lookup table in the INT8 modes.
                #expect(plan.network.layers.filter { $0.kind == .activation(.gelu(tanhApproximation: false)) }.map(\.name) == ["half"])
                #expect(!plan.network.layers.contains { $0.kind == .activation(.erf) || $0.kind == .elementwise(.mul) })
                if testCase.arithmetic != .fp32 { #expect(plan.network.layers.first { $0.name == "half" }?.precision == .int8) }
            }
            if testCase.name.hasPrefix("fully connected over") {
                // The rank-4 one is read as rows (`FlattenFullyConnectedPass`), the rank-3 one directly.
                #expect(layers.map(\.name).filter { $0.hasPrefix("fc_channels_last") }.count == 4)
                #expect(plan.report.passLog.contains(
                    "cancel-reshape-pairs: removed the Reshapes 'fc_channels_last/unflatten' and 'fc_channels_last_2/flatten' around 'gelu'"))
                #expect(plan.report.passLog.contains { $0.hasPrefix("flatten-fully-connected: read FullyConnected 'fc_channels_last'") })
                #expect(plan.report.passLog.contains("fold-bias-add: folded the bias Add 'bias_add' into FullyConnected 'fc_tokens'"))
                // Its rows take the ranges of the tensors they reshape: none is missing one.
                #expect(plan.report.missingRanges.isEmpty, "\(plan.report.missingRanges)")
            }
            for layer in layers {
                #expect(backend.support(for: layer, in: plan) == .native, "\(backend.name): \(layer.name) \(plan.form(of: layer))")
                switch layer.kind {
                case .matrixMultiply, .fullyConnected:
                    if testCase.arithmetic != .fp32 { #expect(layer.precision == .int8, "\(layer.name)") }
                default: break
                }
            }
        }
    }

    /// Every elementwise operation has a CUDA code with a `case` in the kernels' `binary`, and every activation's
    /// code a `case` in `activate`: a forgotten case would compute NaN, never another operation.
    @Test func everyCUDACodeHasItsCaseInTheKernelSources() throws {
        func cases(in file: String, function: String) throws -> Set<Int32> {
            let source = try #require(KernelSources.files[file])
            let start = try #require(source.range(of: function))
            let body = source[start.upperBound...].prefix { $0 != "}" }
            return Set(body.split(separator: "\n").compactMap { line -> Int32? in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("case "), let colon = trimmed.firstIndex(of: ":") else { return nil }
                return Int32(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 5)..<colon])
            })
        }
        let binaryCases = try cases(in: "eltwise.cu", function: "float binary(float x, float y, int op)")
        #expect(Set(ElementwiseOperation.allCases.map(\.code)) == binaryCases)
        let quantizedCases = try cases(in: "eltwise.cu", function: "bool quantized_binary(")
        let int8Operations = ElementwiseOperation.allCases.compactMap(QuantizedBinaryArithmetic.Operation.init)
        #expect(Set(int8Operations.map(\.elementwise.code)) == quantizedCases)
        // One of each `Activation` case (and none): a new case must be added here and to `activate`.
        let activations: [Activation?] = [
            nil, .relu, .clip(min: 0, max: 6), .sigmoid, .tanh, .leakyRelu(alpha: 0.1), .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish,
            .erf, .gelu(tanhApproximation: false), .gelu(tanhApproximation: true), .sqrt, .exp,
        ]
        #expect(Set(activations.map { CUDAActivation($0).code }) == (try cases(in: "common.cuh", function: "float activate(float v, int kind, float a, float b)")))
        #expect(Set(activations.map { CUDAActivation($0).code }).count == activations.count)
    }
}

/// ONNX Pow, added by the recipe of docs/adding-an-op.md: imported, run natively between two activations and with
/// a constant exponent, equal to powf.
@Suite struct PowOperatorTests {
    @Test func powBetweenActivationsAndWithAConstantExponentIsNative() throws {
        var b = ONNXModelBuilder(shape: [nil, 2, 3, 3])
        b.node("Sigmoid", ["input"], ["base"])
        b.node("Tanh", ["input"], ["exponent"])
        b.node("Pow", ["base", "exponent"], ["power"])
        b.initializer("two", [], [2])
        b.node("Pow", ["power", "two"], ["y"])
        b.output("y")
        let path = try b.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (network, _) = try ONNXImporter.importModel(path: path)
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network)
        #expect(engine.plan.report.hostLayers.isEmpty, "\(engine.plan.report.text)")
        #expect(engine.plan.report.layers.contains { $0.kernel == "eltwise_pow_f32__swift" })
        #expect(engine.plan.report.layers.contains { $0.kernel == "eltwise_pow_scalar_f32__swift" })
        // CUDA runs the scalar form natively too (its kernel is in the conformance suite `octet selftest` runs there).
        let scalarPow = try #require(engine.plan.network.layers.first { engine.plan.form(of: $0) == .scalarBinary(.pow, scalar: 2, scalarFirst: false) })
        #expect(CUDABackend.support(for: scalarPow, in: engine.plan) == .native)
        let input = TensorData.random([2, 2, 3, 3], seed: 4)
        let got = try #require(try engine.makeContext().execute(["input": input])["y"])
        let want = input.values.map { x -> Float in
            let p = powf(1 / (1 + expf(-x)), tanhf(x))
            return p * p
        }
        #expect(worstTolerance(got.values, want, atol: 1e-6, rtol: 1e-5).ratio <= 1)
    }
}
