import Foundation
import Testing
import _OctetTestSupport
import Octet

/// The CPU engine in FP32 against the FP32 reference executor, on layers that run natively along the
/// channel axis: unfolded BatchNorm (Scale), a squeeze-and-excitation gate (per-sample channel broadcast),
/// and Softmax; tolerance 1e-5 relative L2, and the build report names no fallback kernel.
@Suite struct FloatEngineTests {
    @Test(arguments: [5, 16, 33])
    func channelLayersMatchTheReference(_ channels: Int) throws {
        var n = Network(name: "se")
        let x = n.addInput(name: "input", shape: [1, channels, 7, 6])
        let scaled = try n.addLayer(name: "bn", kind: .scale(ScaleParameters(scale: Weights.random([channels], seed: 1).values, shift: Weights.random([channels], seed: 2).values)), inputs: [x], outputNames: ["bn"])[0]
        let pooled = try n.addLayer(name: "squeeze", kind: .pooling(.global(.average)), inputs: [scaled], outputNames: ["squeeze"])[0]
        let gate = try n.addLayer(name: "gate", kind: .activation(.sigmoid), inputs: [pooled], outputNames: ["gate"])[0]
        let excited = try n.addLayer(name: "excite", kind: .elementwise(.mul), inputs: [scaled, gate], outputNames: ["excite"])[0]
        let reversed = try n.addLayer(name: "excite2", kind: .elementwise(.add), inputs: [gate, excited], outputNames: ["excite2"])[0]
        let gap = try n.addLayer(name: "gap", kind: .pooling(.global(.average)), inputs: [reversed], outputNames: ["gap"])[0]
        let flat = try n.addLayer(name: "flat", kind: .reshape(sampleShape: [channels]), inputs: [gap], outputNames: ["flat"])[0]
        let probabilities = try n.addLayer(name: "softmax", kind: .softmax(axis: 1, coerced2D: false), inputs: [flat], outputNames: ["prob"])[0]
        n.markOutput(probabilities)
        let input = TensorData.random([3, channels, 7, 6], seed: UInt64(channels))
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(n)
        #expect(!engine.plan.report.layers.contains { $0.kernel.hasPrefix("reference") }, "\(engine.plan.report.text)")
        let got = try #require(try engine.makeContext().execute(["input": input])["prob"])
        let want = try #require(try ReferenceExecutor(network: n).run(["input": input])["prob"])
        #expect(got.shape == want.shape)
        #expect(relativeL2(got.values, want.values) < 1e-5)
    }
}
