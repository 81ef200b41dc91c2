import OctetCore
import OctetQuantization
import OctetReference

/// One conformance case: a small network around one layer form, in one arithmetic, built from a seed. The
/// suite runs it on a backend and on the reference executor; integer tensors must be equal, float tensors
/// within 1e-5 relative L2. A failure names the case and its seed, which rebuild it exactly.
public struct ConformanceCase: Sendable, CustomStringConvertible {
    /// How the network's tensors are quantized.
    public enum Arithmetic: String, Sendable, CaseIterable {
        /// FP32 engine.
        case fp32
        /// INT8 from dynamic ranges, non-negative tensors unsigned with scale R/255 (Octet's default).
        case int8
        /// INT8 from dynamic ranges, every tensor signed with scale R/127 (`--trt-compatible-ranges`).
        case int8TensorRT = "int8-trt"
        /// INT8 with asymmetric explicit quantizations on every tensor, as a QDQ model gives them.
        case int8ZeroPoints = "int8-zero-points"
    }

    /// What the case exercises (the layer under test and its awkward sizes).
    public let name: String
    public let arithmetic: Arithmetic
    public let seed: UInt64
    /// The batch the case runs at.
    public let batch: Int
    /// Large cases (the GPU's big tiles) take seconds in the reference: `octet selftest` runs them, `swift test` not.
    public let isLarge: Bool
    let build: @Sendable (inout NetworkMaker) throws -> Void

    public var description: String { "\(name) [\(arithmetic.rawValue), batch \(batch), seed \(seed)]" }

    /// The case's network with its ranges (or explicit quantizations) from the FP32 reference on its input.
    public func network() throws -> (network: Network, input: TensorData) {
        var maker = NetworkMaker(seed: seed)
        try build(&maker)
        let network = maker.network
        let inputTensor = network[network.inputs[0]]
        let input = NetworkMaker.random([batch] + inputTensor.shape.dropFirst(), seed: seed &+ 0x9E37)
        switch arithmetic {
        case .fp32:
            return (network, input)
        case .int8, .int8TensorRT:
            return (try Calibration.maxRanges(network, input), input)
        case .int8ZeroPoints:
            return (try Calibration.asymmetricQuantizations(network, input), input)
        }
    }
}

/// Builds a case's network with seeded weights.
public struct NetworkMaker: Sendable {
    public var network = Network(name: "conformance")
    var seed: UInt64

    init(seed: UInt64) { self.seed = seed }

    /// Uniform values in [-1, 1) from a linear congruential generator: the same everywhere, for every seed.
    static func random(_ shape: [Int], seed: UInt64) -> TensorData {
        var state = seed
        return TensorData(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        })
    }

    mutating func weights(_ shape: [Int], scale: Float = 0.5) -> Weights {
        seed &+= 1
        return Weights(shape: shape, values: Self.random(shape, seed: seed).values.map { $0 * scale })
    }

    mutating func input(channels: Int, height: Int, width: Int) -> TensorID {
        network.addInput(name: "input", shape: [1, channels, height, width])
    }

    mutating func input(features: Int) -> TensorID {
        network.addInput(name: "input", shape: [1, features])
    }

    @discardableResult
    mutating func layer(_ name: String, _ kind: LayerKind, _ inputs: [TensorID], fused: Activation? = nil) throws -> TensorID {
        let id = try network.addLayer(name: name, kind: kind, inputs: inputs, outputNames: [name])[0]
        if let fused { network.layers[network.layers.count - 1].fusedActivation = fused }
        return id
    }

    mutating func conv(
        _ x: TensorID, _ name: String, out: Int, kernel k: Int, stride: Int = 1, dilation: Int = 1, groups: Int = 1,
        pads: (Int, Int)? = nil, residual: TensorID? = nil, fused: Activation? = nil
    ) throws -> TensorID {
        let inChannels = network[x].shape[1]
        let p = pads ?? ((k / 2) * dilation, (k / 2) * dilation)
        let parameters = ConvolutionParameters(
            weights: weights([out, inChannels / groups, k, k]), bias: weights([out], scale: 0.2), strides: [stride, stride],
            dilations: [dilation, dilation], padsBegin: [p.0, p.0], padsEnd: [p.1, p.1], groups: groups)
        return try layer(name, .convolution(parameters), residual.map { [x, $0] } ?? [x], fused: fused)
    }

    mutating func fullyConnected(_ x: TensorID, _ name: String, outputs: Int, fused: Activation? = nil) throws -> TensorID {
        let inputs = network[x].shape.last ?? 1
        return try layer(name, .fullyConnected(FullyConnectedParameters(weights: weights([outputs, inputs]), bias: weights([outputs], scale: 0.2))), [x], fused: fused)
    }

    mutating func output(_ id: TensorID) { network.markOutput(id) }
}

/// Ranges and quantizations from what the FP32 reference sees on the case's input.
enum Calibration {
    /// Every tensor's max |value| (the "max" calibration).
    static func maxRanges(_ network: Network, _ input: TensorData) throws -> Network {
        var configured = network
        configured.apply(try ReferenceExecutor(network: network).calibrate([network[network.inputs[0]].name: input]).ranges)
        return configured
    }

    /// Asymmetric explicit quantizations from each tensor's minimum and maximum (widened to contain 0): uint8
    /// and int8 in turn, scale (max − min) / 255, the zero point that puts real 0 on a stored value.
    static func asymmetricQuantizations(_ network: Network, _ input: TensorData) throws -> Network {
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
}
