import COctetCPUKernels
import Foundation
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// The CPU kernel-versus-reference checks of `octet selftest`: every SIMD path this machine has against the
/// scalar kernels on random inputs of awkward sizes (integer outputs exactly equal), then a small INT8 network
/// on the CPU engine against the fake-quant reference executor.
public enum CPUSelfTest {
    /// - Returns: the number of failed checks.
    public static func run(log: (String) -> Void) throws -> Int {
        let hardware = octet_cpu_hardware_isa()
        log("CPU: \(String(cString: octet_cpu_isa_name(hardware))) (kernels in use: \(String(cString: octet_cpu_isa_name(octet_cpu_isa()))))")
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        let paths: [(String, octet_qgemm_fn)] = [("scalar", octet_qgemm_scalar)]
            + (octet_cpu_isa_supported(OCTET_ISA_AVX2) != 0 ? [("avx2", octet_qgemm_avx2)] : [])
            + (octet_cpu_isa_supported(OCTET_ISA_AVXVNNI) != 0 ? [("avxvnni", octet_qgemm_avxvnni)] : [])
            + (octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI) != 0 ? [("avx512vnni", octet_qgemm_avx512vnni)] : [])
        for (m, n, k) in [(1, 1, 4), (5, 17, 60), (7, 33, 116), (9, 65, 124), (17, 64, 576)] {
            for xor: UInt8 in [0, 0x80] {
                let a = (0..<(m * k)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let w = (0..<(k * n)).map { _ in Int8.random(in: -127...127, using: &generator) }
                let bias = (0..<n).map { _ in Int32.random(in: -9000...9000, using: &generator) }
                let mult = (0..<n).map { _ in Float.random(in: 1e-4...4e-3, using: &generator) }
                var packed = [UInt8](repeating: 0, count: octet_qgemm_packed_size(n, k))
                packed.withUnsafeMutableBytes { octet_qgemm_pack(n, k, w, bias, mult, $0.baseAddress!) }
                var p = octet_qgemm_params()
                (p.min, p.max, p.output_signed, p.a_xor) = (-128, 127, 1, xor)
                let outputs = paths.map { _, kernel -> [UInt8] in
                    var c = [UInt8](repeating: 0xAA, count: m * n)
                    packed.withUnsafeBytes { kernel(m, n, k, a, k, $0.baseAddress!, &c, n, nil, 0, &p) }
                    return c
                }
                for (index, (name, _)) in paths.enumerated().dropFirst() where outputs[index] != outputs[0] {
                    log("qgemm \(name) M=\(m) N=\(n) K=\(k) a_xor=\(xor): MISMATCH against scalar")
                    failures += 1
                }
            }
        }
        log("qgemm: \(paths.map(\.0).joined(separator: ", ")) checked on 10 shapes")
        failures += try networkCheck(log: log)
        return failures
    }

    /// A small network with every INT8 layer kind the CPU runs natively, built with random weights.
    private static func networkCheck(log: (String) -> Void) throws -> Int {
        var n = Network(name: "selftest")
        var seed: UInt64 = 7
        func weights(_ shape: [Int]) -> Weights {
            Weights(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int(seed >> 40) % 2001 - 1000) / 2000
            })
        }
        let x = n.addInput(name: "input", shape: [1, 3, 19, 19])
        var t = try n.addLayer(name: "stem", kind: .convolution(ConvolutionParameters(weights: weights([12, 3, 3, 3]), bias: weights([12]), strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])), inputs: [x], outputNames: ["stem"])[0]
        n.layers[n.layers.count - 1].fusedActivation = .relu
        t = try n.addLayer(name: "dw", kind: .convolution(ConvolutionParameters(weights: weights([12, 1, 3, 3]), bias: weights([12]), padsBegin: [1, 1], padsEnd: [1, 1], groups: 12)), inputs: [t], outputNames: ["dw"])[0]
        n.layers[n.layers.count - 1].fusedActivation = .clip(min: 0, max: 6)
        t = try n.addLayer(name: "pool", kind: .pooling(.global(.average)), inputs: [t], outputNames: ["pool"])[0]
        t = try n.addLayer(name: "flat", kind: .reshape(sampleShape: [12]), inputs: [t], outputNames: ["flat"])[0]
        t = try n.addLayer(name: "fc", kind: .fullyConnected(FullyConnectedParameters(weights: weights([10, 12]), bias: weights([10]))), inputs: [t], outputNames: ["logits"])[0]
        n.markOutput(t)
        let input = TensorData(shape: [2, 3, 19, 19], values: (0..<(2 * 3 * 19 * 19)).map { Float(($0 * 7919) % 255) / 127.5 - 1 })
        var ranges = RangeCollector()
        _ = try ReferenceExecutor(network: n).run(["input": input]) { id, data in ranges.observe(n[id].name, data.values) }
        n.apply(ranges.ranges)
        var failures = 0
        for plan in try planVariants(n) {
            let reference = QuantizedReferenceExecutor(plan: plan)
            var expected: [TensorID: TensorValue] = [:]
            _ = try reference.run(["input": input]) { id, value in expected[id] = value }
            let program = try CPUBackend().compile(plan, options: ExecutionOptions(threads: 2))
            var mismatches: [String] = []
            _ = try program.makeState().execute(["input": input]) { id, value in
                guard case .quantized = value else { return }
                if expected[id] != value { mismatches.append(plan.network[id].name) }
            }
            for name in mismatches { log("network tensor \(name): MISMATCH against the reference") }
            failures += mismatches.count
        }
        log("INT8 network (conv, depthwise, global pooling, fully connected; both range modes): \(failures == 0 ? "every integer tensor exact" : "\(failures) mismatches")")
        return failures
    }

    /// Plans built by hand for both range modes (the builder lives in a module above this one).
    private static func planVariants(_ network: Network) throws -> [EnginePlan] {
        try [false, true].map { trt in
            var net = network
            var quantization: [TensorID: TensorQuantization] = [:]
            let nonNegative: Set<String> = ["stem", "dw", "pool", "flat"]
            for index in net.layers.indices { net.layers[index].precision = .int8 }
            for id in net.layers.flatMap(\.outputs) where net[id].name != "logits" {
                guard let r = net[id].dynamicRange else { throw OctetError.invalidNetwork(reason: "selftest: no range for \(net[id].name)") }
                let q = TensorQuantization(range: r, unsigned: nonNegative.contains(net[id].name) && !trt)
                net[id].dataType = q.dataType
                quantization[id] = q
            }
            if let pool = net.tensorID(named: "pool"), let flat = net.tensorID(named: "flat") { quantization[flat] = quantization[pool] }
            // Quantize the input with a reformat layer in front.
            let input = net.inputs[0]
            var q = Tensor(name: "input__quantized", shape: net[input].shape)
            q.setDynamicRange(min: -1, max: 1)
            q.dataType = .int8
            let qid = net.addTensor(q)
            quantization[qid] = TensorQuantization(range: 1, unsigned: false)
            net.layers[0].inputs = [qid]
            var reformat = Layer(name: "input__quantized", kind: .reformat, inputs: [input], outputs: [qid])
            reformat.precision = .int8
            net.layers.insert(reformat, at: 0)
            return EnginePlan(network: net, quantization: quantization, report: BuildReport())
        }
    }
}
