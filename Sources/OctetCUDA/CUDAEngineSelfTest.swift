import Foundation
import OctetBuilder
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// Engine-level checks of the CUDA backend: small networks with random weights that use every layer kind the
/// backend has a kernel for, built by the builder in both range modes, run on the GPU and compared with the
/// fake-quant reference executor: every integer tensor exactly equal, float tensors within 1e-5 relative L2.
enum CUDAEngineSelfTest {
    static func run(log: (String) -> Void) throws -> Int {
        var failures = 0
        let every = try Fixture(name: "every layer kind", everyKind(), batch: 3)
        let large = try Fixture(name: "large convolutions", largeConvolutions(), batch: 4)
        for fixture in [every, large] {
            for trt in [false, true] { failures += try fixture.check(trtRanges: trt, backend: CUDABackend(), log: log) }
        }
        // Every tile shape, not only the ones timing picks on this GPU.
        for tile in ConvolutionTile.all {
            let backend = try CUDABackend(convolutions: .tile(tile.description))
            failures += try large.check(trtRanges: false, backend: backend, variant: "\(tile) tiles", log: log)
            if tile.anyGather { failures += try every.check(trtRanges: true, backend: backend, variant: "\(tile) tiles", log: log) }
        }
        // The dp4a convolutions of GPUs without INT8 tensor cores, run here too.
        failures += try every.check(trtRanges: false, backend: CUDABackend(convolutions: .dp4a), variant: "dp4a convolutions", log: log)
        return failures
    }

    /// A network with its ranges and input, and the reference's tensors per range mode, computed once for all the
    /// backends checked on it (the builder's plan depends on the network and the configuration only).
    private final class Fixture {
        let name: String
        let input: (name: String, data: TensorData)
        let ranged: Network
        let batch: Int
        private var expected: [Bool: [TensorID: TensorValue]] = [:]

        init(name: String, _ network: Network, batch: Int) throws {
            self.name = name
            self.batch = batch
            let inputTensor = network[network.inputs[0]]
            input = (inputTensor.name, random([batch] + inputTensor.shape.dropFirst(), seed: 11))
            var ranges = RangeCollector()
            _ = try ReferenceExecutor(network: network).run([input.name: input.data]) { id, data in ranges.observe(network[id].name, data.values) }
            var ranged = network
            ranged.apply(ranges.ranges)
            self.ranged = ranged
        }

        func check(trtRanges: Bool, backend: CUDABackend, variant: String? = nil, log: (String) -> Void) throws -> Int {
            var config = BuilderConfig()
            config.int8 = true
            config.trtCompatibleRanges = trtRanges
            let engine = try Builder(config: config, backend: backend).build(ranged)
            if expected[trtRanges] == nil {
                var values: [TensorID: TensorValue] = [:]
                _ = try QuantizedReferenceExecutor(plan: engine.plan).run([input.name: input.data]) { id, value in values[id] = value }
                expected[trtRanges] = values
            }
            let expected = self.expected[trtRanges]!
            var mismatches: [String] = [], worstFloat = 0.0, integers = 0
            let context = engine.makeContext()
            let observed = try context.execute([input.name: input.data]) { id, value in
                guard let want = expected[id] else { return }
                if case .quantized = value {
                    integers += 1
                    if value != want { mismatches.append(engine.plan.network[id].name) }
                } else {
                    worstFloat = max(worstFloat, TensorComparison.relativeL2(value.dequantized.values, want.dequantized.values))
                }
            }
            // The graph path (no observer) must give the same outputs as the step-by-step path.
            let replayed = try context.execute([input.name: input.data])
            let graphAgrees = replayed == observed
            let tactics = context.layerTactics ?? []
            let kernels = Set(engine.plan.report.layers.enumerated().map { index, layer in
                layer.kernel + ((index < tactics.count ? tactics[index] : nil).map { " [\($0)]" } ?? "")
            }).sorted().joined(separator: ", ")
            let ok = mismatches.isEmpty && worstFloat <= 1e-5 && graphAgrees
            let title = [name, variant, trtRanges ? "TensorRT ranges" : nil].compactMap { $0 }.joined(separator: ", ")
            log("engine \(title), batch \(batch): \(integers) integer tensors \(mismatches.isEmpty ? "exact" : "MISMATCH in \(mismatches.joined(separator: ", "))"), float relative L2 \(String(format: "%.2g", worstFloat)), graph replay \(graphAgrees ? "identical" : "DIFFERS") [\(kernels)]")
            return ok ? 0 : 1
        }
    }

    fileprivate static func random(_ shape: [Int], seed: UInt64) -> TensorData {
        var state = seed
        return TensorData(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        })
    }

    private struct NetworkMaker {
        var network = Network(name: "cuda-selftest")
        var seed: UInt64 = 5

        mutating func weights(_ shape: [Int], scale: Float = 0.5) -> Weights {
            let data = random(shape, seed: seed)
            seed &+= 1
            return Weights(shape: shape, values: data.values.map { $0 * scale })
        }

        mutating func conv(_ x: TensorID, _ name: String, out: Int, kernel k: Int, stride: Int = 1, groups: Int = 1) throws -> TensorID {
            let inChannels = network[x].shape[1]
            let p = ConvolutionParameters(
                weights: weights([out, inChannels / groups, k, k]), bias: weights([out]), strides: [stride, stride],
                padsBegin: [k / 2, k / 2], padsEnd: [k / 2, k / 2], groups: groups)
            return try layer(name, .convolution(p), [x])
        }

        mutating func layer(_ name: String, _ kind: LayerKind, _ inputs: [TensorID]) throws -> TensorID {
            try network.addLayer(name: name, kind: kind, inputs: inputs, outputNames: [name])[0]
        }
    }

    /// Stems over 3 channels (strided: folded space-to-depth; stride 1: padded to 4), 24 channels (8-byte gathers), depthwise, a residual add (vectorized
    /// epilogue), max and average pooling, concat, sigmoid (lookup table), INT8 multiply, 16-byte gathers, a
    /// split-K convolution (136 channels, scalar epilogue), global pooling, fully connected with float output,
    /// softmax.
    private static func everyKind() throws -> Network {
        var m = NetworkMaker()
        let x = m.network.addInput(name: "input", shape: [1, 3, 37, 37])
        var t = try m.conv(x, "stem", out: 24, kernel: 3, stride: 2)
        // The same input through a stride-1 convolution (channels padded, not folded space-to-depth), pooled to
        // the stem's size and added.
        let fine = try m.conv(x, "stem_fine", out: 24, kernel: 3)
        let finePooled = try m.layer("stem_fine_pool", .pooling(PoolingParameters(kind: .max, kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])), [fine])
        t = try m.layer("stem_sum", .elementwise(.add), [t, finePooled])
        t = try m.layer("stem_relu", .activation(.relu), [t])
        t = try m.conv(t, "c2", out: 48, kernel: 3)
        t = try m.layer("c2_clip", .activation(.clip(min: 0, max: 6)), [t])
        let dw = try m.layer("dw_relu", .activation(.relu), [try m.conv(t, "dw", out: 48, kernel: 5, groups: 48)])
        let c3 = try m.conv(dw, "c3", out: 48, kernel: 1)
        t = try m.layer("residual", .elementwise(.add), [c3, dw])
        t = try m.layer("residual_relu", .activation(.relu), [t])
        let mp = try m.layer("maxpool", .pooling(PoolingParameters(kind: .max, kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])), [t])
        let ap = try m.layer("avgpool", .pooling(PoolingParameters(kind: .average, kernel: [3, 3], strides: [1, 1], padsBegin: [1, 1], padsEnd: [1, 1])), [mp])
        t = try m.layer("concat", .concatenation(axis: 1), [mp, ap])
        let c4 = try m.conv(t, "c4", out: 64, kernel: 1)
        let gate = try m.layer("gate", .activation(.sigmoid), [c4])
        t = try m.layer("swish", .elementwise(.mul), [c4, gate])
        t = try m.conv(t, "c5", out: 136, kernel: 3, stride: 2)
        t = try m.layer("gap", .pooling(.global(.average)), [t])
        t = try m.layer("flat", .reshape(sampleShape: [136]), [t])
        t = try m.layer("fc", .fullyConnected(FullyConnectedParameters(weights: m.weights([10, 136]), bias: m.weights([10]))), [t])
        t = try m.layer("prob", .softmax(axis: 1, coerced2D: false), [t])
        m.network.markOutput(t)
        return m.network
    }

    /// Convolutions large enough for the big tiles at batch 4: 200 channels (partial tiles, 8-byte gathers into
    /// the next layer, scalar epilogue), a residual add fused into a 48-channel one (the epilogue's operands
    /// staged in shared memory), then 64 channels with float output.
    private static func largeConvolutions() throws -> Network {
        var m = NetworkMaker()
        let x = m.network.addInput(name: "input", shape: [1, 32, 66, 66])
        var t = try m.conv(x, "wide", out: 200, kernel: 3)
        t = try m.layer("wide_relu", .activation(.relu), [t])
        let narrow = try m.conv(t, "narrow", out: 48, kernel: 1)
        let side = try m.conv(x, "side", out: 48, kernel: 1)
        t = try m.layer("residual", .elementwise(.add), [narrow, side])
        t = try m.layer("residual_relu", .activation(.relu), [t])
        t = try m.conv(t, "head", out: 64, kernel: 1)
        m.network.markOutput(t)
        return m.network
    }
}
