import Foundation
import Testing
import _OctetTestSupport
import Octet
import OctetConformance

/// Engine-level checks beyond the conformance suite: the comparison the real-model tests use, the scalar path
/// forced in a process of its own, and concurrent execution contexts.
@Suite struct Int8EngineTests {
    /// Every tensor both engines computed, compared: integers exactly, floats within 1e-5 relative.
    static func expectIdenticalTensors(
        _ network: Network, _ input: TensorData, trtCompatible: Bool, threads: Int = 2, explicitQuantization: Bool = false
    ) throws {
        var config = BuilderConfig(int8: true)
        config.trtCompatibleRanges = trtCompatible
        config.explicitQuantization = explicitQuantization
        let reference = try Builder(config: config, backend: ReferenceBackend()).build(network)
        let cpu = try Builder(config: config, backend: CPUBackend(), options: ExecutionOptions(threads: threads)).build(network)
        #expect(reference.plan.network == cpu.plan.network)
        var expected: [TensorID: TensorValue] = [:]
        let inputs = [network[network.inputs[0]].name: input]
        _ = try reference.makeContext().execute(inputs) { id, value in expected[id] = value }
        var compared = 0
        _ = try cpu.makeContext().execute(inputs) { id, value in
            let name = cpu.plan.network[id].name
            guard let want = expected[id] else { Issue.record("no reference value for \(name)"); return }
            switch (value, want) {
            case let (.quantized(shape, got, q), .quantized(wantShape, wantValues, wantQ)):
                #expect(shape == wantShape && q == wantQ, "\(name)")
                if let index = got.indices.first(where: { got[$0] != wantValues[$0] }) {
                    Issue.record("\(name) [\(q)] differs at element \(index) of \(shape): \(got[index]) vs \(wantValues[index])")
                }
                compared += 1
            case let (.float(got), .float(wantData)):
                #expect(got.shape == wantData.shape)
                #expect(relativeL2(got.values, wantData.values) <= 1e-5, "\(name)")
            default:
                Issue.record("\(name): one engine stored it quantized, the other float")
            }
        }
        #expect(compared > 0)
        if explicitQuantization {
            // The asymmetric quantizations reached the plan: most quantized tensors have a zero point.
            let zeroPoints = cpu.plan.quantization.values.map(\.zeroPoint)
            #expect(zeroPoints.filter { $0 != 0 }.count * 2 > zeroPoints.count, "\(zeroPoints)")
        }
    }

    /// The CPU engine with its kernels forced scalar (OCTET_FORCE_GENERIC=1 is read once per process, so in a
    /// process of its own): the self-test says the scalar kernels are in use and passes the whole conformance suite.
    @Test func scalarPathEqualsReference() throws {
        let result = try OctetBinary.run(["selftest", "--device", "cpu"], environment: ["OCTET_FORCE_GENERIC": "1"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("(kernels in use: scalar)"))
        let total = ConformanceSuite.cases.count
        #expect(result.stdout.contains("[I] conformance on cpu: \(total)/\(total) cases passed"), "\(result.stdout)")
    }

    /// Several execution contexts on one engine, each on its own thread with its own worker pool, give
    /// identical results (the engine is immutable; the contexts share nothing mutable).
    @Test func concurrentContextsAgree() throws {
        let testCase = try #require(ConformanceSuite.cases.first { $0.name.hasPrefix("concatenation of 3") && $0.arithmetic == .int8 })
        let (configured, input) = try testCase.network()
        let output = configured[configured.outputs[0]].name
        let engine = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(configured)
        let expected = try engine.makeContext().execute(["input": input])[output]
        let results = UnsafeResults(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            let context = engine.makeContext()
            var last: TensorData?
            for _ in 0..<5 { last = try? context.execute(["input": input])[output] }
            results.set(index, last)
        }
        for index in 0..<4 { #expect(results.values[index] == expected, "context \(index)") }
    }
}

/// Per-thread result slots for `concurrentContextsAgree` (each thread writes only its own slot).
final class UnsafeResults: @unchecked Sendable {
    private(set) var values: [TensorData?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: TensorData?) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }
}
