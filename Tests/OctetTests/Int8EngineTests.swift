import Foundation
import Testing
import _OctetTestSupport
import Octet

/// The CPU engine's integer tensors equal the fake-quant reference executor's exactly, layer by layer, on
/// networks covering every INT8 layer kind with awkward sizes, in both range modes.
@Suite struct Int8EngineTests {
    /// Ranges from what the FP32 reference sees on the given input (the "max" calibration).
    static func calibrated(_ network: Network, _ input: TensorData) throws -> Network {
        var collector = RangeCollector()
        _ = try ReferenceExecutor(network: network).run([network[network.inputs[0]].name: input]) { id, data in
            collector.observe(network[id].name, data.values)
        }
        var configured = network
        configured.apply(collector.ranges)
        return configured
    }

    /// Asymmetric explicit quantizations, as a QDQ model gives them, from the FP32 reference's minimum and
    /// maximum of every tensor (widened to contain 0): uint8 and int8 in turn, scale (max − min) / 255, and the
    /// zero point that puts real 0 on a stored value. Few of them come out 0.
    static func asymmetricallyQuantized(_ network: Network, _ input: TensorData) throws -> Network {
        var extremes: [TensorID: (Float, Float)] = [:]
        _ = try ReferenceExecutor(network: network).run([network[network.inputs[0]].name: input]) { id, data in
            extremes[id] = (min(data.values.min() ?? 0, 0), max(data.values.max() ?? 0, 0))
        }
        var configured = network
        for (index, (id, (lo, hi))) in extremes.sorted(by: { $0.key < $1.key }).enumerated() {
            let unsigned = index % 2 == 0
            let scale = max(hi - lo, 1e-6) / 255
            let zero = min(max(Int32((-lo / scale).rounded()), 0), 255) - (unsigned ? 0 : 128)
            configured[id].setExplicitQuantization(ExplicitQuantization(dataType: unsigned ? .uint8 : .int8, scale: scale, zeroPoint: zero))
        }
        return configured
    }

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

    /// A small network with every INT8 layer kind: convolutions 1×1/3×3/5×5/7×7, strided, dilated, grouped,
    /// depthwise, a residual add with Relu, Clip, max and average pooling, concatenation, a Sigmoid (lookup
    /// table), global pooling and a fully connected layer writing the float output.
    static func zoo(channels c: Int, size: Int) throws -> Network {
        var n = Network(name: "zoo")
        var seed: UInt64 = 1
        func conv(_ x: TensorID, _ out: Int, _ k: Int, stride: Int = 1, dilation: Int = 1, groups: Int = 1, pad: Int? = nil, _ name: String) throws -> TensorID {
            let inC = n[x].shape[1]
            seed += 2
            let p = pad ?? (k / 2) * dilation
            let params = ConvolutionParameters(
                weights: .random([out, inC / groups, k, k], in: -0.5...0.5, seed: seed), bias: .random([out], in: -0.2...0.2, seed: seed + 1),
                strides: [stride, stride], dilations: [dilation, dilation], padsBegin: [p, p], padsEnd: [p, p], groups: groups)
            return try n.addLayer(name: name, kind: .convolution(params), inputs: [x], outputNames: [name])[0]
        }
        func act(_ x: TensorID, _ a: Activation, _ name: String) throws -> TensorID {
            try n.addLayer(name: name, kind: .activation(a), inputs: [x], outputNames: [name])[0]
        }
        let input = n.addInput(name: "input", shape: [1, 3, size, size])
        var x = try act(try conv(input, c, 7, stride: 2, "stem"), .relu, "stem_relu")
        let a = try act(try conv(x, c + 3, 1, "pw"), .clip(min: 0, max: 6), "pw_clip")
        let d = try act(try conv(a, c + 3, 3, groups: c + 3, "dw"), .clip(min: 0, max: 6), "dw_clip")
        let dilated = try conv(d, c, 3, dilation: 2, "dilated")
        let grouped = try conv(x, c, 3, groups: c % 2 == 0 ? 2 : 1, "grouped")
        x = try act(try n.addLayer(name: "add", kind: .elementwise(.add), inputs: [dilated, grouped], outputNames: ["add"])[0], .relu, "add_relu")
        let five = try conv(x, 5, 5, stride: 2, pad: 2, "five")
        let pooled = try n.addLayer(name: "maxpool", kind: .pooling(PoolingParameters(kind: .max, kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])), inputs: [x], outputNames: ["maxpool"])[0]
        let avg = try n.addLayer(name: "avgpool", kind: .pooling(PoolingParameters(kind: .average, kernel: [2, 2], strides: [1, 1], padsBegin: [0, 0], padsEnd: [1, 1], countIncludePad: false)), inputs: [pooled], outputNames: ["avgpool"])[0]
        let cat = try n.addLayer(name: "concat", kind: .concatenation(axis: 1), inputs: [five, avg], outputNames: ["concat"])[0]
        let ceil = try n.addLayer(name: "ceilpool", kind: .pooling(PoolingParameters(kind: .max, kernel: [2, 2], strides: [2, 2], ceilMode: true)), inputs: [cat], outputNames: ["ceilpool"])[0]
        let sig = try act(ceil, .sigmoid, "sigmoid")
        let gap = try n.addLayer(name: "gap", kind: .pooling(.global(.average)), inputs: [sig], outputNames: ["gap"])[0]
        let flat = try n.addLayer(name: "flatten", kind: .reshape(sampleShape: [n[gap].shape[1]]), inputs: [gap], outputNames: ["flatten"])[0]
        let fc = try n.addLayer(
            name: "fc", kind: .fullyConnected(FullyConnectedParameters(weights: .random([10, n[flat].shape[1]], seed: 99), bias: .random([10], seed: 98))),
            inputs: [flat], outputNames: ["logits"])[0]
        n.markOutput(fc)
        return n
    }

    @Test(arguments: [(5, 17), (16, 20), (12, 9)], [false, true])
    func cpuEqualsReferenceOnEveryLayerKind(_ shape: (Int, Int), _ trtCompatible: Bool) throws {
        let network = try Self.zoo(channels: shape.0, size: shape.1)
        let input = TensorData.random([2, 3, shape.1, shape.1], seed: 7)
        let configured = try Self.calibrated(network, input)
        try Self.expectIdenticalTensors(configured, input, trtCompatible: trtCompatible)
    }

    /// Zero points everywhere (explicitly quantized, as a QDQ model): conv padding, depthwise, residual add,
    /// pooling, concat, lookup table, float and quantized network outputs, on 1 and 2 threads.
    @Test(arguments: [(5, 17, 1), (16, 20, 2), (12, 9, 2)], [false, true])
    func cpuEqualsReferenceWithZeroPoints(_ shape: (Int, Int, Int), _ quantizedOutput: Bool) throws {
        let network = try Self.zoo(channels: shape.0, size: shape.1)
        let input = TensorData.random([2, 3, shape.1, shape.1], seed: 17)
        let configured = try Self.asymmetricallyQuantized(network, input)
        try Self.expectIdenticalTensors(configured, input, trtCompatible: false, threads: shape.2, explicitQuantization: quantizedOutput)
    }

    @Test func scalarPathEqualsReference() throws {
        // One thread, and the report names the ISA in use; OCTET_FORCE_GENERIC is covered by the kernel tests.
        let network = try Self.zoo(channels: 8, size: 13)
        let input = TensorData.random([1, 3, 13, 13], seed: 11)
        try Self.expectIdenticalTensors(try Self.calibrated(network, input), input, trtCompatible: false, threads: 1)
    }

    /// Several execution contexts on one engine, each on its own thread with its own worker pool, give
    /// identical results (the engine is immutable; the contexts share nothing mutable).
    @Test func concurrentContextsAgree() throws {
        let network = try Self.zoo(channels: 12, size: 21)
        let input = TensorData.random([3, 3, 21, 21], seed: 21)
        let configured = try Self.calibrated(network, input)
        let engine = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(configured)
        let expected = try engine.makeContext().execute(["input": input])["logits"]
        let results = UnsafeResults(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            let context = engine.makeContext()
            var last: TensorData?
            for _ in 0..<5 { last = try? context.execute(["input": input])["logits"] }
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
