import Testing
import Octet
import OctetConformance

/// The conformance suite on the CPU backend: every case (layer form × arithmetic × awkward sizes) against the
/// reference executor, integer tensors exactly equal. `octet selftest` runs the same table, large cases included,
/// on the CPU and on every CUDA kernel variant.
@Suite struct ConformanceTests {
    @Test(arguments: ConformanceSuite.cases.filter { !$0.isLarge })
    func cpuEqualsReference(_ testCase: ConformanceCase) throws {
        let outcome = try ConformanceSuite.check(testCase, on: CPUBackend())
        #expect(outcome.passed, "\(outcome.summary)")
        #expect(outcome.integerTensors > 0 || testCase.arithmetic == .fp32, "\(outcome.summary)")
        // In INT8 engines the float tensors (float layers between INT8 ones, float outputs of INT8 layers) equal the
        // reference bit for bit on the CPU: a float that feeds a quantizer must, for the integers after it to agree.
        if testCase.arithmetic != .fp32 { #expect(outcome.inexactFloats.isEmpty, "\(outcome.summary)") }
    }

    /// The table covers every native layer form on the CPU in INT8 (a new form without cases fails here).
    @Test func everyNativeFormHasCases() throws {
        var forms = Set<String>()
        for testCase in ConformanceSuite.cases where !testCase.isLarge {
            let (network, _) = try testCase.network()
            let plan = try Builder(config: ConformanceSuite.config(testCase.arithmetic), backend: CPUBackend()).makePlan(network)
            for layer in plan.network.layers { forms.insert(String(describing: plan.form(of: layer)).prefix { $0 != "(" }.description) }
        }
        for form in ["reformat", "convolution", "depthwiseConvolution", "fullyConnected", "pooling", "lookupTable", "activation",
                     "channelScale", "softmaxRows", "sameShapeBinary", "scalarBinary", "channelBroadcast", "matrixMultiply", "padding", "reduction", "channelConcatenation", "view", "gather", "broadcastBinary", "softmax",
                     "constant", "hostReference"] {
            #expect(forms.contains(form), "no conformance case plans a layer of form \(form): \(forms.sorted())")
        }
    }
}
