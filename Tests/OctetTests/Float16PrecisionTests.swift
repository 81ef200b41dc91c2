import Foundation
import Testing
import _OctetTestSupport
@testable import OctetCUDA
import Octet

/// FP16 as a permission (TensorRT's kFP16, `--fp16`, `--best`): precision assignment on the CPU (no FP16 kernels:
/// an FP32 engine with a warning), with the CUDA backend's rule (decided without a device), and on the reference
/// backend, whose FP16 arithmetic (`Float16Reference`) is the twin of conv_f16.cu.
@Suite struct Float16PrecisionTests {
    /// The reference backend (FP16 arithmetic for convolutions and fully connected layers) answering FP16 as the CUDA
    /// backend does: a stand-in for an FP16-capable GPU that runs anywhere.
    struct CUDARuleOnReference: Backend {
        let name = "cuda-rule"
        func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport { .native }
        func float16Refusal(for layer: Layer, in network: Network) -> String? { CUDABackend.float16Refusal(for: layer) }
        func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram {
            try ReferenceBackend().compile(plan, options: options)
        }
    }

    /// conv 3x3 (groups 1) + relu → grouped conv 3x3 (groups 2) → global average pool → reshape → fully connected.
    static func network(channels c: Int = 6) throws -> Network {
        var n = Network(name: "fp16")
        let x = n.addInput(name: "input", shape: [1, 3, 9, 7])
        let conv = ConvolutionParameters(weights: Weights.random([c, 3, 3, 3], seed: 1), bias: Weights.random([c], seed: 2), padsBegin: [1, 1], padsEnd: [1, 1])
        let a = try n.addLayer(name: "conv", kind: .convolution(conv), inputs: [x], outputNames: ["conv"])[0]
        let r = try n.addLayer(name: "relu", kind: .activation(.relu), inputs: [a], outputNames: ["relu"])[0]
        let grouped = ConvolutionParameters(weights: Weights.random([c, c / 2, 3, 3], seed: 3), bias: nil, strides: [2, 2], groups: 2)
        let g = try n.addLayer(name: "grouped", kind: .convolution(grouped), inputs: [r], outputNames: ["grouped"])[0]
        let p = try n.addLayer(name: "gap", kind: .pooling(.global(.average)), inputs: [g], outputNames: ["gap"])[0]
        let f = try n.addLayer(name: "flat", kind: .reshape(sampleShape: [c]), inputs: [p], outputNames: ["flat"])[0]
        let fc = FullyConnectedParameters(weights: Weights.random([5, c], seed: 4), bias: Weights.random([5], seed: 5))
        let y = try n.addLayer(name: "fc", kind: .fullyConnected(fc), inputs: [f], outputNames: ["logits"])[0]
        n.markOutput(y)
        return n
    }

    private func entry(_ report: BuildReport, _ name: String) throws -> BuildReport.LayerEntry {
        try #require(report.layers.first { $0.name == name }, "\(report.text)")
    }

    @Test func cpuKeepsEveryLayerFP32AndWarns() throws {
        let engine = try Builder(config: BuilderConfig(fp16: true), backend: CPUBackend()).build(try Self.network())
        let report = engine.plan.report
        #expect(report.float16LayerCount == 0)
        #expect(try entry(report, "conv").precision == .float32)
        #expect(try entry(report, "conv").reason == "not FP16: the cpu backend has no FP16 kernels")
        #expect(report.text.contains("(not FP16: the cpu backend has no FP16 kernels)"))
        #expect(report.warnings == ["FP16 was permitted but no layer runs in FP16 (the cpu backend has no FP16 kernels): the engine computes in FP32"])
        #expect(report.builderOptions.contains("precision=fp16"))
        #expect(EngineSetup.precision(of: engine) == "fp32")
    }

    @Test func cudaRuleGivesFP16ToConvolutionsWithGroupsOneAndFullyConnected() throws {
        let plan = try Builder(config: BuilderConfig(fp16: true), backend: CUDARuleOnReference()).makePlan(try Self.network())
        let report = plan.report
        #expect(try entry(report, "conv").precision == .float16)  // relu fused into it
        #expect(try entry(report, "conv").reason == nil)
        #expect(try entry(report, "fc").precision == .float16)
        #expect(try entry(report, "grouped").precision == .float32)
        #expect(try entry(report, "grouped").reason == "not FP16: grouped convolution: no FP16 kernel")
        #expect(try entry(report, "gap").reason == "not FP16: GlobalPooling: no FP16 kernel")
        #expect(report.warnings.isEmpty)
        #expect(report.text.contains("in FP16):"))
        // Activations stay FP32 in memory: no reformat layer, every tensor float32.
        #expect(!plan.network.layers.contains { $0.kind == .reformat })
        #expect(plan.network.tensors.allSatisfy { $0.dataType == .float32 })
    }

    @Test func pinnedFP32LayersStayFP32() throws {
        var network = try Self.network()
        network.layers[0].precision = .float32
        let report = try Builder(config: BuilderConfig(fp16: true), backend: CUDARuleOnReference()).makePlan(network).report
        #expect(try entry(report, "conv").precision == .float32)
        #expect(try entry(report, "conv").reason == "not FP16: precision set to FP32")
        #expect(try entry(report, "fc").precision == .float16)
    }

    /// `--best`: INT8 where ranges exist, FP16 for the float layers the backend can, each reason labelled.
    @Test func bestGivesInt8FirstThenFP16() throws {
        var network = try Self.network()
        for name in ["input", "conv", "relu"] { _ = network.setDynamicRange(name, min: -4, max: 4) }
        let report = try Builder(config: BuilderConfig(int8: true, fp16: true), backend: CUDARuleOnReference()).makePlan(network).report
        #expect(try entry(report, "conv").precision == .int8)
        #expect(try entry(report, "fc").precision == .float16)
        #expect(try entry(report, "fc").reason?.hasPrefix("not INT8: no dynamic range") == true)
        let grouped = try entry(report, "grouped")
        #expect(grouped.precision == .float32)
        #expect(grouped.reason?.contains("not INT8: ") == true && grouped.reason?.contains("; not FP16: grouped convolution: no FP16 kernel") == true)
        #expect(report.builderOptions.contains("precision=best"))
    }

    /// The FP16 plan on the reference backend (the FP16 arithmetic of the CUDA kernel) against FP32: close, not equal.
    @Test func float16ReferenceIsCloseToFP32() throws {
        let network = try Self.network(channels: 8)
        let input = TensorData.random([3, 3, 9, 7], seed: 7)
        let fp16 = try Builder(config: BuilderConfig(fp16: true), backend: CUDARuleOnReference()).build(network)
        let got = try #require(try fp16.makeContext().execute(["input": input])["logits"])
        let want = try #require(try ReferenceExecutor(network: network).run(["input": input])["logits"])
        let error = relativeL2(got.values, want.values)
        #expect(error > 0 && error < 2e-3, "relative L2 \(error)")
    }

    /// The twin's arithmetic: operands rounded to half, products exact, the sum in Double; and Σ|x·w| + |bias|.
    @Test(arguments: [(1, 1), (5, 3), (17, 9)])
    func float16ReferenceRoundsOperandsAndSumsExactly(_ inputs: Int, _ outputs: Int) throws {
        let x = TensorData.random([2, inputs], in: -3...3, seed: UInt64(inputs))
        let p = FullyConnectedParameters(weights: Weights.random([outputs, inputs], seed: 11), bias: Weights.random([outputs], seed: 12))
        let (y, magnitude) = Float16Reference.fullyConnected(x, p)
        for r in 0..<2 {
            for j in 0..<outputs {
                var sum = Double(p.bias?.values[j] ?? 0), size = abs(sum)
                for i in 0..<inputs {
                    let product = Double(Float16(x.values[r * inputs + i])) * Double(Float16(p.weights.values[j * inputs + i]))
                    sum += product
                    size += abs(product)
                }
                #expect(y.values[r * outputs + j] == Float(sum))
                #expect(magnitude[r * outputs + j] == size)
            }
        }
        // A 1x1 convolution over a 1x1 image is the same layer.
        let conv = ConvolutionParameters(weights: Weights(shape: [outputs, inputs, 1, 1], values: p.weights.values), bias: p.bias)
        let (z, _) = try Float16Reference.convolution(TensorData(shape: [2, inputs, 1, 1], values: x.values), conv)
        #expect(z.values == y.values)
    }

    /// A CUDA FP16 plan compiled on the CPU (as `compare --versus cpu` does) runs its FP16 layers on the host
    /// reference, named in the report: never silently in FP32.
    @Test func cpuRunsAForeignFP16LayerOnTheReference() throws {
        let plan = try Builder(config: BuilderConfig(fp16: true), backend: CUDARuleOnReference()).makePlan(try Self.network())
        let conv = try #require(plan.network.layers.first { $0.name == "conv" })
        #expect(CPUBackend().support(for: conv, in: plan) == .hostReference(reason: "the cpu backend has no FP16 kernels"))
        // So does CUDA with an FP16 layer it has no FP16 kernel for (the reference backend gives grouped ones FP16).
        let foreign = try Builder(config: BuilderConfig(fp16: true), backend: ReferenceBackend()).makePlan(try Self.network())
        let grouped = try #require(foreign.network.layers.first { $0.name == "grouped" })
        #expect(grouped.precision == .float16)
        #expect(CUDABackend.support(for: grouped, in: foreign) == .hostReference(reason: "grouped convolution: no FP16 kernel"))
        #expect(CUDABackend.support(for: conv, in: plan) == .native)
    }

    // MARK: Command line

    private var fixtures: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }

    /// `--fp16` on the CPU builds and runs an FP32 engine and says so: a warning, the engine named FP32, the report's reasons.
    @Test func fp16OnTheCPURunsFP32AndWarns() throws {
        let result = try OctetBinary.run([
            "run", "--device", "cpu", "--fp16", "--verbose", "--model", fixtures.appendingPathComponent("caffe2_style_resnet.onnx").path,
            "--load-inputs", fixtures.appendingPathComponent("caffe2_style_resnet_input.npy").path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[W] FP16 was permitted but no layer runs in FP16 (the cpu backend has no FP16 kernels): the engine computes in FP32"))
        #expect(result.stdout.contains("Building and running a FP32 CPU inference engine"))
        #expect(result.stdout.contains("(not FP16: the cpu backend has no FP16 kernels)"))
    }

    /// `--best` needs ranges (INT8 comes first); FP16 options shape a build, so they do not go with --load-engine.
    @Test func bestWithoutRangesAndFP16WithALoadedEngineAreErrors() throws {
        let model = fixtures.appendingPathComponent("caffe2_style_resnet.onnx").path
        let best = try OctetBinary.run(["inspect", "--device", "cpu", "--best", "--model", model])
        #expect(best.status == 1)
        #expect(best.stderr.contains("INT8 was requested but no layer can run in INT8: give dynamic ranges with --ranges"), "\(best.stderr)")
        for option in ["--fp16", "--best"] {
            let loaded = try OctetBinary.run(["run", option, "--load-engine", "missing.engine"])
            #expect(loaded.status != 0)
            #expect(loaded.stderr.contains("\(option) shapes a build, and --load-engine runs an engine already built"), "\(loaded.stderr)")
        }
        let precision = try OctetBinary.run(["inspect", "--precision", "fp8", "--model", model])
        #expect(precision.stderr.contains("--precision must be int8, fp32, mixed, fp16 or best, not 'fp8'"), "\(precision.stderr)")
    }

    // MARK: The CUDA kernel without a GPU

    /// conv_f16.cu's kernel, unchanged, run on the host with the PTX ISA's cvt and mma.m16n8k16 modelled independently
    /// (Scripts/emulate-conv-f16.sh): every self-test shape within the accumulation-order bound.
    @Test func float16KernelEmulatedOnTheHostMatchesTheExactSum() throws {
        guard let result = try OctetBinary.runEmulation("emulate-conv-f16.sh") else { return }
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("PASSED: 8 of 8 cases"), "\(result.stdout)")
    }
}
