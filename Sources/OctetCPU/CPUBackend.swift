import COctetCPUKernels
import Dispatch
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// The CPU backend: NHWC activations, packed weights, C microkernels for AVX-512 VNNI, AVX2 and scalar
/// chosen once at run time (`OCTET_FORCE_GENERIC=1` forces scalar), and a thread pool.
///
/// Convolution, fully connected, depthwise, pooling, reformat, activation, same-shape elementwise and
/// channel concatenation run natively; the remaining layer kinds run through the reference
/// implementation on logical data (`LogicalFallbackLayer`), and the build report names them.
public struct CPUBackend: Backend {
    public let name = "cpu"

    public init() {}

    /// The instruction set the kernels use on this machine.
    public static var isa: String { String(cString: octet_cpu_isa_name(octet_cpu_isa())) }

    public func supports(_ layer: Layer, precision: DataType) -> Bool {
        precision == .float32 || precision == .int8
    }

    public func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram {
        try CPUProgram(plan: plan, threads: options.threads)
    }
}

/// A plan compiled for the CPU: one `CPULayer` per plan layer, tensor layouts and lifetimes.
final class CPUProgram: CompiledProgram, @unchecked Sendable {
    let plan: EnginePlan
    let threads: Int
    let layers: [any CPULayer]
    /// Every tensor the program touches: layout and lifetime, for the memory plan.
    let tensors: TensorPlacement

    var kernelNames: [String] { layers.map(\.kernelName) }

    init(plan: EnginePlan, threads: Int) throws {
        self.plan = plan
        self.threads = threads
        let tensors = TensorPlacement(plan: plan)
        let layouts = tensors.entries.mapValues(\.layout)
        let reference = QuantizedReferenceExecutor(plan: plan)
        self.layers = try plan.network.layers.map { try Self.makeLayer($0, plan: plan, layouts: layouts, reference: reference) }
        self.tensors = tensors
    }

    func makeState() -> any ProgramState { CPUState(program: self) }

    // MARK: Kernel choice

    static func makeLayer(
        _ layer: Layer, plan: EnginePlan, layouts: [TensorID: CPUTensorLayout], reference: QuantizedReferenceExecutor
    ) throws -> any CPULayer {
        let network = plan.network
        let (int8, inQ, outQ, inShape, outShape) = plan.signature(of: layer)
        func fallback() -> any CPULayer {
            LogicalFallbackLayer(kernelName: "reference_\(layer.kind.typeName.lowercased())_logical") { args in
                try reference.evaluate(layer, args)
            }
        }
        func physicalIsLogical(_ shape: [Int]) -> Bool { shape.count != 4 || (shape[2] == 1 && shape[3] == 1) }

        switch layer.kind {
        case .reformat:
            return ReformatLayer(input: inQ[0], output: outQ)

        case .constant:
            guard let value = plan.constantValue(layer) else { return fallback() }
            return ConstantFallback(value: value)

        case let .convolution(p):
            let channels = inShape[1]
            let isDepthwise = p.isDepthwise
            if int8 {
                guard let xq = inQ[0] else { return fallback() }
                let residualQ = layer.inputs.count > 1 ? inQ[1] : nil
                let q = QuantizedLinearParameters(
                    weights: p.weights, bias: p.bias, input: xq, output: outQ, residual: residualQ, activation: layer.fusedActivation)
                if isDepthwise, outQ != nil, layer.inputs.count == 1 { return QuantizedDepthwiseLayer(p, q) }
                if outQ == nil, p.groups != 1 { return fallback() }
                return QuantizedGEMMLayer(
                    weights: p.weights, kernel: p.kernel, strides: p.strides, dilations: p.dilations, padsBegin: p.padsBegin,
                    groups: p.groups, quantized: q, activation: layer.fusedActivation, inputChannels: channels)
            }
            let isClamp = layer.fusedActivation?.isClamp ?? true
            if isDepthwise, layer.inputs.count == 1, isClamp { return FloatDepthwiseLayer(p, activation: layer.fusedActivation) }
            return FloatGEMMLayer(
                weights: p.weights, bias: p.bias, kernel: p.kernel, strides: p.strides, dilations: p.dilations,
                padsBegin: p.padsBegin, groups: p.groups, activation: layer.fusedActivation, inputChannels: channels)

        case let .fullyConnected(p):
            guard inShape.count == 2 else { return fallback() }
            let weights = Weights(shape: [p.outputs, p.inputs, 1, 1], values: p.weights.values)
            if int8 {
                guard let xq = inQ[0] else { return fallback() }
                let q = QuantizedLinearParameters(weights: p.weights, bias: p.bias, input: xq, output: outQ, residual: nil, activation: layer.fusedActivation)
                return QuantizedGEMMLayer(
                    weights: weights, kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0], groups: 1,
                    quantized: q, activation: layer.fusedActivation, inputChannels: p.inputs)
            }
            return FloatGEMMLayer(
                weights: weights, bias: p.bias, kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0],
                groups: 1, activation: layer.fusedActivation, inputChannels: p.inputs)

        case let .pooling(p):
            guard inShape.count == 4 else { return fallback() }
            if int8, p.kind == .average, outQ == nil { return fallback() }
            return PoolingLayer(pooling: p, input: int8 ? inQ[0] : nil, output: int8 ? (p.kind == .max ? inQ[0] : outQ) : nil)

        case let .activation(a):
            if int8, let xq = inQ[0], let outQ { return LookupTableLayer(a, input: xq, output: outQ) }
            return FloatActivationLayer(activation: a)

        case let .scale(p) where !int8 && inShape.count == 4:
            return FloatScaleLayer(scale: p.scale, shift: p.shift)

        case .softmax(let axis, _) where !int8 && inShape.count == 2 && axis == 1:
            return FloatSoftmaxLayer()

        case let .elementwise(op) where !int8 && layer.inputs.count == 2 && layer.inputs.allSatisfy({ producesBatched($0, plan) }):
            // A 4-D tensor with a per-sample channel vector [N, C, 1, 1] (squeeze-and-excitation).
            let shapes = layer.inputs.map { network[$0].shape }
            func isChannelVector(_ s: [Int], of t: [Int]) -> Bool { s.count == 4 && t.count == 4 && s[1] == t[1] && s[2] == 1 && s[3] == 1 && (t[2] > 1 || t[3] > 1) }
            if isChannelVector(shapes[1], of: shapes[0]) {
                return FloatChannelBroadcastLayer(operation: op, vectorFirst: false, activation: layer.fusedActivation)
            }
            if isChannelVector(shapes[0], of: shapes[1]) {
                return FloatChannelBroadcastLayer(operation: op, vectorFirst: true, activation: layer.fusedActivation)
            }
            if shapes[0] == shapes[1] {
                return SameShapeElementwiseLayer(operation: op, inputs: nil, output: nil, activation: layer.fusedActivation)
            }
            return fallback()

        case let .elementwise(op):
            let sameShape = layer.inputs.count == 2 && network[layer.inputs[0]].shape == network[layer.inputs[1]].shape
                && layouts[layer.inputs[0]]?.sampleShape == layouts[layer.inputs[1]]?.sampleShape
                && layer.inputs.allSatisfy { producesBatched($0, plan) }
            guard sameShape else { return fallback() }
            if int8 {
                guard let a = inQ[0], let b = inQ[1], [.add, .sub, .mul].contains(op) else { return fallback() }
                return SameShapeElementwiseLayer(operation: op, inputs: (a, b), output: outQ, activation: layer.fusedActivation)
            }
            return SameShapeElementwiseLayer(operation: op, inputs: nil, output: nil, activation: layer.fusedActivation)

        case let .concatenation(axis):
            let channelAxis = (outShape.count == 4 && axis == 1) || (outShape.count == 2 && axis == 1)
            guard channelAxis, layer.inputs.allSatisfy({ producesBatched($0, plan) }) else { return fallback() }
            return ChannelConcatLayer(inputQuantizations: int8 ? inQ : layer.inputs.map { _ in nil }, output: int8 ? outQ : nil)

        case .reshape, .identity:
            if physicalIsLogical(inShape), physicalIsLogical(outShape) { return CopyLayer() }
            return fallback()

        default:
            return fallback()
        }
    }

    /// True unless the tensor comes from a constant layer (constants are not batched).
    static func producesBatched(_ id: TensorID, _ plan: EnginePlan) -> Bool {
        !plan.network.layers.contains { layer in
            if case .constant = layer.kind { return layer.outputs.contains(id) }
            return false
        }
    }
}

/// Writes a constant's value (logical order) into its buffer.
struct ConstantFallback: CPULayer {
    let value: TensorValue
    let kernelName = "constant"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws { outputs[0].store(value) }
}

/// The buffers of one execution context: an arena planned for the last batch size seen.
final class CPUState: ProgramState {
    let program: CPUProgram
    let context: CPURunContext
    private var arena: UnsafeMutableRawPointer?
    private var plannedBatch = 0
    private var offsets: [TensorID: Int] = [:]
    /// Milliseconds spent per layer, accumulated over executions, when profiling is on.
    private var profile: [Double]?

    func enableProfiling() { profile = Array(repeating: 0, count: program.layers.count) }
    var layerMilliseconds: [Double]? { profile }

    init(program: CPUProgram) {
        self.program = program
        self.context = CPURunContext(threads: program.threads)
    }

    deinit { arena?.deallocate() }

    private func prepare(batch: Int) throws {
        guard batch != plannedBatch else { return }
        let (planned, size) = try program.tensors.arena(batch: batch)
        arena?.deallocate()
        arena = UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
        context.invalidateCache()
        offsets = planned
        plannedBatch = batch
    }

    private func buffer(_ id: TensorID, batch: Int) -> CPUBuffer {
        guard let arena, let offset = offsets[id], let t = program.tensors[id] else {
            preconditionFailure("tensor \(id) has no place in the memory plan")
        }
        return CPUBuffer(base: arena + offset, layout: t.layout, batch: t.fixedBatch ?? batch)
    }

    func execute(_ inputs: [String: TensorData], observe: ((TensorID, TensorValue) -> Void)?) throws -> [String: TensorData] {
        let network = program.plan.network
        guard let firstInput = network.inputs.first, let first = inputs[network[firstInput].name] else {
            throw OctetError.invalidInput(reason: "no data for network input '\(network.inputs.first.map { network[$0].name } ?? "?")'")
        }
        let batch = first.shape.first ?? 1
        try prepare(batch: batch)
        for id in network.inputs {
            guard let data = inputs[network[id].name] else {
                throw OctetError.invalidInput(reason: "no data for network input '\(network[id].name)'")
            }
            guard data.shape == [batch] + Array(network[id].shape.dropFirst()) else {
                throw OctetError.invalidInput(reason: "input '\(network[id].name)' has shape \(data.shape), the network expects [\(batch), \(network[id].shape.dropFirst().map(String.init).joined(separator: ", "))]")
            }
            buffer(id, batch: batch).store(.float(data))
            observe?(id, .float(data))
        }
        for (index, (layer, compiled)) in zip(network.layers, program.layers).enumerated() {
            let ins = layer.inputs.map { buffer($0, batch: batch) }
            let outs = layer.outputs.map { buffer($0, batch: batch) }
            context.currentLayer = index
            let start = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            try compiled.run(inputs: ins, outputs: outs, context: context)
            if profile != nil { profile?[index] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
            if let observe { for (id, out) in zip(layer.outputs, outs) { observe(id, out.logicalValue()) } }
        }
        var result: [String: TensorData] = [:]
        for id in network.outputs { result[network[id].name] = buffer(id, batch: batch).logicalValue().dequantized }
        return result
    }
}
