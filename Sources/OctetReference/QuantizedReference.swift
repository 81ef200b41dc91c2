import Foundation
import OctetCore
import OctetQuantization
import OctetRuntime

/// Plain-loop INT8 kernels: the fake-quant reference every backend must match bit for bit on integer
/// tensors. Quantized tensors are held as `[Int32]` in logical NCHW order.
public enum QuantizedReferenceKernels {
    /// INT8 NumPy `matmul` of two stored tensors: per output element the int32 sum of `(q_a − z_a)(q_b − z_b)`
    /// over k in order, then `arithmetic.requantize`.
    public static func matrixMultiply(
        _ a: [Int32], shape aShape: [Int], _ b: [Int32], shape bShape: [Int], _ arithmetic: QuantizedMatrixMultiplyArithmetic
    ) throws -> TensorValue {
        let shape = try LayerKind.matrixMultiply.outputShapes(inputs: [aShape, bShape])[0]
        let (m, k, n) = (aShape[aShape.count - 2], aShape[aShape.count - 1], bShape[bShape.count - 1])
        let (_, ia, ib) = try ReferenceKernels.broadcastIndices(Array(aShape.dropLast(2)), Array(bShape.dropLast(2)))
        let (za, zb) = (arithmetic.a.zeroPoint, arithmetic.b.zeroPoint)
        var out = [Int32](repeating: 0, count: shape.reduce(1, *))
        for batch in 0..<ia.count {
            let (baseA, baseB, baseY) = (ia[batch] * m * k, ib[batch] * k * n, batch * m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var acc: Int32 = 0
                    for p in 0..<k { acc &+= (a[baseA + i * k + p] - za) * (b[baseB + p * n + j] - zb) }
                    out[baseY + i * n + j] = arithmetic.requantize(acc)
                }
            }
        }
        return .quantized(shape: shape, values: out, arithmetic.output)
    }

    /// Integer convolution: `acc = bias + Σ q_x · q_w` over the whole window, padding read as the input zero
    /// point (real 0; `bias` has `−z_x · Σ q_w` folded in), then the shared epilogue. It is computed, equal
    /// modulo 2³², as `bias + z_x · Σ q_w + Σ (q_x − z_x) · q_w` over the in-bounds taps only, which padding
    /// would add 0 to.
    static func convolution(
        _ x: [Int32], shape: [Int], _ conv: ConvolutionParameters, _ q: QuantizedLinearParameters,
        residual: [Int32]?, activation: Activation?
    ) throws -> TensorValue {
        let windows = try ConvolutionWindows(conv, input: shape)
        let (step, perChannel, zeroPoint) = (windows.inputStep, windows.weightsPerOutputChannel, q.input.zeroPoint)
        var acc = [Int32](repeating: 0, count: windows.outputCount)
        for b in 0..<shape[0] {
            for o in 0..<conv.outputChannels {
                let weightSum = q.weights[(o * perChannel)..<((o + 1) * perChannel)].reduce(Int32(0)) { $0 &+ Int32($1) }
                let start = q.bias[o] &+ zeroPoint &* weightSum
                for index in windows.outputPlane(sample: b, outputChannel: o) { acc[index] = start }
                windows.forEachRun(sample: b, outputChannel: o) { weightIndex, input, output, count in
                    let weight = Int32(q.weights[weightIndex])
                    for t in 0..<count { acc[output + t] &+= (x[input + t * step] - zeroPoint) * weight }
                }
            }
        }
        let (oc, planeSize) = (windows.outputShape[1], windows.planes.outputPlaneSize)
        return epilogue(acc, shape: windows.outputShape, channelOf: { ($0 / planeSize) % oc }, q, residual: residual, activation: activation)
    }

    /// Integer fully connected layer over the last axis.
    static func fullyConnected(
        _ x: [Int32], shape: [Int], _ fc: FullyConnectedParameters, _ q: QuantizedLinearParameters, activation: Activation?
    ) -> TensorValue {
        let k = fc.inputs, rows = x.count / k
        var acc = [Int32](repeating: 0, count: rows * fc.outputs)
        for r in 0..<rows {
            for j in 0..<fc.outputs {
                var sum = q.bias[j]
                for i in 0..<k { sum &+= x[r * k + i] * Int32(q.weights[j * k + i]) }
                acc[r * fc.outputs + j] = sum
            }
        }
        let outShape = Array(shape.dropLast()) + [fc.outputs]
        return epilogue(acc, shape: outShape, channelOf: { $0 % fc.outputs }, q, residual: nil, activation: activation)
    }

    /// The shared epilogue: requantize to the output quantization, or write float.
    static func epilogue(
        _ acc: [Int32], shape: [Int], channelOf: (Int) -> Int, _ q: QuantizedLinearParameters, residual: [Int32]?,
        activation: Activation?
    ) -> TensorValue {
        guard let output = q.output else {
            let values = acc.indices.map { index -> Float in
                var y = Float(acc[index]) * q.multipliers[channelOf(index)]
                if let residual { y = y + Float(residual[index] - (q.residual?.zeroPoint ?? 0)) * q.residualMultiplier }
                return activation.map { ReferenceKernels.apply($0, y) } ?? y
            }
            return .float(TensorData(shape: shape, values: values))
        }
        let values = acc.indices.map { index in
            QuantizationMath.requantize(
                acc[index], multiplier: q.multipliers[channelOf(index)], residual: residual?[index],
                residualZeroPoint: q.residual?.zeroPoint ?? 0, residualMultiplier: q.residualMultiplier,
                min: q.bounds.min, max: q.bounds.max, zeroPoint: output.zeroPoint)
        }
        return .quantized(shape: shape, values: values, output)
    }

    /// Average pooling: integer window sum of `q − z_x` (padding is real 0), then
    /// `y = Float(sum) · (s_x / s_y) / divisor`, rounded relative to the output zero point, `+ z_y`.
    static func averagePooling(_ x: [Int32], shape: [Int], _ p: PoolingParameters, input: TensorQuantization, output: TensorQuantization) throws -> TensorValue {
        let outShape = try LayerKind.pooling(p).outputShapes(inputs: [shape])[0]
        let windows = SlidingWindows(p, input: shape, output: outShape)
        let (inputPlane, outputPlane, step) = (windows.inputPlaneSize, windows.outputPlaneSize, windows.inputStep)
        let divisors = windows.tapCounts(includingPadding: p.countIncludePad)
        let (multiplier, zeroPoint) = (input.scale / output.scale, input.zeroPoint)
        let (lo, hi) = output.relativeBounds
        var out = [Int32](repeating: 0, count: outShape.reduce(1, *))
        var sums = [Int32](repeating: 0, count: outputPlane)
        for plane in 0..<(shape[0] * shape[1]) {
            for index in 0..<outputPlane { sums[index] = 0 }
            windows.forEachRun { _, source, target, count in
                let start = plane * inputPlane + source
                for t in 0..<count { sums[target + t] += x[start + t * step] - zeroPoint }
            }
            for index in 0..<outputPlane {
                out[plane * outputPlane + index] = QuantizationMath.averagePoolingOutput(
                    sum: sums[index], divisor: divisors[index], multiplier: multiplier, bounds: (lo, hi), zeroPoint: output.zeroPoint)
            }
        }
        return .quantized(shape: outShape, values: out, output)
    }

    /// On `a = q_a − z_a`, `b = q_b − z_b`: Add / Sub: `y = Float(a)·(s_a/s_y) ± Float(b)·(s_b/s_y)`;
    /// Mul: `y = (Float(a)·Float(b))·(s_a·s_b/s_y)`; rounded within the relative bounds, then `+ z_y`.
    static func elementwise(
        _ a: TensorValue, _ b: TensorValue, _ op: ElementwiseOperation, output: TensorQuantization, activation: Activation?
    ) throws -> TensorValue {
        guard case let .quantized(sa, va, qa) = a, case let .quantized(sb, vb, qb) = b else {
            throw OctetError.invalidNetwork(reason: "an INT8 elementwise layer received a float input")
        }
        guard let arithmetic = QuantizedBinaryArithmetic(op, a: qa, b: qb, output: output, activation: activation) else {
            throw OctetError.invalidNetwork(reason: "\(op) has no INT8 arithmetic")
        }
        let (shape, indexA, indexB) = try ReferenceKernels.broadcastIndices(sa, sb)
        let values = zip(indexA, indexB).map { ia, ib in arithmetic.apply(va[ia], vb[ib]) }
        return .quantized(shape: shape, values: values, output)
    }

    /// Requantizes every value to `output` (`QuantizationMath.requantize(_:from:to:)`).
    static func requantize(_ values: [Int32], from input: TensorQuantization, to output: TensorQuantization) -> [Int32] {
        values.map { QuantizationMath.requantize($0, from: input, to: output) }
    }
}

/// Runs an `EnginePlan` with the reference kernels: FP32 layers with `ReferenceExecutor`'s kernels, INT8
/// layers with `QuantizedReferenceKernels`. The oracle for every backend's integer tensors.
public struct QuantizedReferenceExecutor: Sendable {
    public let plan: EnginePlan

    public init(plan: EnginePlan) { self.plan = plan }

    public func run(_ inputs: [String: TensorData], observe: ((TensorID, TensorValue) -> Void)? = nil) throws -> [String: TensorData] {
        let network = plan.network
        var values: [TensorID: TensorValue] = [:]
        for id in network.inputs {
            guard let data = inputs[network[id].name] else {
                throw OctetError.invalidInput(reason: "no data for network input '\(network[id].name)'")
            }
            guard Array(data.shape.dropFirst()) == Array(network[id].shape.dropFirst()) else {
                throw OctetError.invalidInput(reason: "input '\(network[id].name)' has shape \(data.shape), the network expects [N, \(network[id].shape.dropFirst().map(String.init).joined(separator: ", "))]")
            }
            values[id] = .float(data)
            observe?(id, .float(data))
        }
        for layer in network.layers {
            let args = try layer.inputs.map { id -> TensorValue in
                guard let v = values[id] else { throw OctetError.invalidNetwork(reason: "'\(network[id].name)' is read before it is computed") }
                return v
            }
            let result = try evaluate(layer, args)
            values[layer.outputs[0]] = result
            observe?(layer.outputs[0], result)
        }
        var outputs: [String: TensorData] = [:]
        for id in network.outputs { outputs[network[id].name] = values[id]?.dequantized }
        return outputs
    }

    /// Evaluates one layer of the plan on its input values (used by backends for layers they run logically).
    public func evaluate(_ layer: Layer, _ args: [TensorValue]) throws -> TensorValue {
        if layer.kind.hasLeftOutWeights { throw OctetError.weightsLeftOut(layer: layer.name) }
        let network = plan.network
        let out = layer.outputs[0]
        let outQ = plan.quantization[out]
        if layer.kind == .reformat {
            switch (args[0], outQ) {
            case let (.float(x), q?): return .quantized(shape: x.shape, values: x.values.map { QuantizationMath.quantize($0, q) }, q)
            case let (.quantized(shape, v, q), nil): return .float(TensorData(shape: shape, values: v.map { QuantizationMath.dequantize($0, q) }))
            case let (.quantized(shape, v, qi), qo?): return .quantized(shape: shape, values: QuantizedReferenceKernels.requantize(v, from: qi, to: qo), qo)
            case let (.float(x), nil): return .float(x)
            }
        }
        if layer.precision == .float16, let y = try Float16Reference.evaluate(layer, args.map(\.dequantized)) { return .float(y) }
        guard layer.precision == .int8 else {
            var results = try ReferenceExecutor.evaluate(layer.kind, args.map(\.dequantized))
            if let activation = layer.fusedActivation { results = results.map { ReferenceKernels.activation($0, activation) } }
            return .float(results[0])
        }
        func quantizedInput(_ i: Int) throws -> (shape: [Int], values: [Int32], q: TensorQuantization) {
            guard case let .quantized(shape, v, q) = args[i] else {
                throw OctetError.invalidNetwork(reason: "INT8 layer '\(layer.name)' received float input '\(network[layer.inputs[i]].name)'")
            }
            return (shape, v, q)
        }
        func requireOutput() throws -> TensorQuantization {
            guard let outQ else { throw OctetError.invalidNetwork(reason: "INT8 layer '\(layer.name)' has no output quantization") }
            return outQ
        }
        switch layer.kind {
        case let .constant(w):
            let q = try requireOutput()
            return .quantized(shape: w.shape, values: w.values.map { QuantizationMath.quantize($0, q) }, q)
        case let .convolution(p):
            let x = try quantizedInput(0)
            let residual = args.count == 2 ? try quantizedInput(1) : nil
            let params = QuantizedLinearParameters(weights: p.weights, bias: p.bias, input: x.q, output: outQ, residual: residual?.q, activation: layer.fusedActivation)
            return try QuantizedReferenceKernels.convolution(x.values, shape: x.shape, p, params, residual: residual?.values, activation: layer.fusedActivation)
        case let .fullyConnected(p):
            let x = try quantizedInput(0)
            let params = QuantizedLinearParameters(weights: p.weights, bias: p.bias, input: x.q, output: outQ, residual: nil, activation: layer.fusedActivation)
            return QuantizedReferenceKernels.fullyConnected(x.values, shape: x.shape, p, params, activation: layer.fusedActivation)
        case let .pooling(p) where p.kind == .average:
            let x = try quantizedInput(0)
            return try QuantizedReferenceKernels.averagePooling(x.values, shape: x.shape, p, input: x.q, output: try requireOutput())
        case let .elementwise(op):
            return try QuantizedReferenceKernels.elementwise(args[0], args[1], op, output: try requireOutput(), activation: layer.fusedActivation)
        case let .concatenation(axis):
            let q = try requireOutput()
            let parts = try args.indices.map { i -> TensorData in
                let x = try quantizedInput(i)
                return TensorData(shape: x.shape, values: QuantizedReferenceKernels.requantize(x.values, from: x.q, to: q).map(Float.init))
            }
            let joined = ReferenceKernels.concatenation(parts, axis: axis)
            return .quantized(shape: joined.shape, values: joined.values.map { Int32($0) }, q)
        case let .activation(a):
            let x = try quantizedInput(0)
            let q = try requireOutput()
            let table = QuantizationMath.lookupTable(input: x.q, output: q) { ReferenceKernels.apply(a, $0) }
            let offset = Int32(x.q.qmin)
            return .quantized(shape: x.shape, values: x.values.map { table[Int($0 - offset)] }, q)
        case .matrixMultiply:
            let (a, b) = (try quantizedInput(0), try quantizedInput(1))
            let arithmetic = QuantizedMatrixMultiplyArithmetic(a: a.q, b: b.q, output: try requireOutput(), activation: layer.fusedActivation)
            return try QuantizedReferenceKernels.matrixMultiply(a.values, shape: a.shape, b.values, shape: b.shape, arithmetic)
        case .scale, .softmax, .pad, .reduce, .reformat:
            throw OctetError.invalidNetwork(reason: "INT8 layer '\(layer.name)': \(layer.kind.typeName) has no INT8 arithmetic")
        case .pooling, .reshape, .transpose, .slice, .identity:
            // Data movement and max pooling: the same element moves, so run the float kernel on the exactly
            // representable integer values and keep the input's quantization.
            let x = try quantizedInput(0)
            let moved = try ReferenceExecutor.evaluate(layer.kind, [TensorData(shape: x.shape, values: x.values.map(Float.init))])[0]
            return .quantized(shape: moved.shape, values: moved.values.map { Int32($0) }, outQ ?? x.q)
        }
    }
}

/// The reference executor as a backend: supports every layer in every precision Octet defines. Useful to
/// build engines whose every tensor is computed by the oracle, and as the null backend of builder tests.
public struct ReferenceBackend: Backend {
    public let name = "reference"

    public init() {}

    /// The reference implementation is this backend's native code.
    public func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport { .native }

    /// Convolutions (any groups) and fully connected layers have FP16 arithmetic (`Float16Reference`).
    public func float16Refusal(for layer: Layer, in network: Network) -> String? {
        switch layer.kind {
        case .convolution, .fullyConnected: nil
        default: "\(layer.kind.typeName) has no FP16 arithmetic"
        }
    }

    public func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram {
        ReferenceProgram(executor: QuantizedReferenceExecutor(plan: plan))
    }
}

struct ReferenceProgram: CompiledProgram {
    let executor: QuantizedReferenceExecutor
    var kernelNames: [String] { executor.plan.network.layers.map { _ in "reference" } }
    func makeState() -> any ProgramState { ReferenceState(executor: executor) }
}

final class ReferenceState: ProgramState {
    let executor: QuantizedReferenceExecutor
    init(executor: QuantizedReferenceExecutor) { self.executor = executor }
    func execute(_ inputs: [String: TensorData], observe: ((TensorID, TensorValue) -> Void)?) throws -> [String: TensorData] {
        try executor.run(inputs, observe: observe)
    }
}
