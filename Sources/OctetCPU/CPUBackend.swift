import COctetCPUKernels
import Dispatch
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// The CPU backend: NHWC activations, packed weights, C microkernels for AVX-512 VNNI, AVX2 and scalar
/// chosen once at run time (`OCTET_FORCE_GENERIC=1` forces scalar), and a thread pool.
///
/// Every native `LayerForm` runs natively (data movement and broadcasting through index maps); the layers of
/// form `.hostReference` run through the reference implementation on logical data (`LogicalFallbackLayer`), and
/// the build report names them.
public struct CPUBackend: Backend {
    public let name = "cpu"

    public init() {}

    /// The instruction set the kernels use on this machine.
    public static var isa: String { String(cString: octet_cpu_isa_name(octet_cpu_isa())) }

    /// Every native form of `LayerForm` has a CPU kernel; the rest run on the reference implementation, as do FP16
    /// layers of a plan built for another backend (the CPU's own builds never get any: it has no FP16 kernels).
    public func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport {
        if layer.precision == .float16, let reason = float16Refusal(for: layer, in: plan.network) { return .hostReference(reason: reason) }
        return LayerSupport(plan.form(of: layer))
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
    /// Each layer's packed weight buffers, in the order the layer asked for them (what an engine file saves).
    let packedWeights: [[PackedBytes]]
    /// The instruction set the kernels were chosen and the weights packed for.
    let isa: String
    /// Every tensor the program touches: layout and lifetime, for the memory plan.
    let tensors: TensorPlacement

    var kernelNames: [String] { layers.map(\.kernelName) }

    /// Compiles `plan`, packing every layer's weights; with `saved` (an engine file's CPU section after its
    /// instruction set), takes the packed weights from there instead and checks each layer's kernel against the
    /// saved one.
    init(plan: EnginePlan, threads: Int, saved: SavedCPUState? = nil) throws {
        self.plan = plan
        self.threads = threads
        self.isa = CPUBackend.isa
        let tensors = TensorPlacement(plan: plan)
        let layouts = tensors.entries.mapValues(\.layout)
        let reference = QuantizedReferenceExecutor(plan: plan)
        if let saved {
            let count = try saved.reader.count("layers", elementSize: 16, limit: 1 << 20)
            guard count == plan.network.layers.count else {
                throw saved.reader.malformed("the CPU state has \(count) layers and the plan \(plan.network.layers.count)")
            }
        }
        var layers: [any CPULayer] = [], packedWeights: [[PackedBytes]] = []
        for layer in plan.network.layers {
            let packer = try saved.map { try WeightPacker(loading: $0, layerName: layer.name) } ?? WeightPacker(layerName: layer.name)
            let compiled = try Self.makeLayer(layer, plan: plan, layouts: layouts, reference: reference, packer: packer)
            try packer.finish(kernelName: compiled.kernelName)
            layers.append(compiled)
            packedWeights.append(packer.produced)
        }
        self.layers = layers
        self.packedWeights = packedWeights
        self.tensors = tensors
    }

    func makeState() -> any ProgramState { CPUState(program: self) }

    // MARK: Kernel choice

    static func makeLayer(
        _ layer: Layer, plan: EnginePlan, layouts: [TensorID: CPUTensorLayout], reference: QuantizedReferenceExecutor,
        packer: WeightPacker
    ) throws -> any CPULayer {
        let (int8, inQ, outQ, inShape, _) = plan.signature(of: layer)
        // The form has checked that INT8 layers have the quantizations they read and write.
        func linear(_ weights: Weights, _ bias: Weights?, residual: TensorQuantization? = nil) -> QuantizedLinear? {
            inQ[0].map { QuantizedLinear(weights: weights, bias: bias, input: $0, output: outQ, residual: residual, activation: layer.fusedActivation) }
        }
        let hostLayer = LogicalFallbackLayer(kernelName: "reference_\(layer.kind.typeName.lowercased())_logical") { args in
            try reference.evaluate(layer, args)
        }

        if layer.precision == .float16 { return hostLayer }
        let form = plan.form(of: layer)
        switch (form, layer.kind) {
        case (.hostReference, _):
            return hostLayer

        case (.reformat, _):
            return ReformatLayer(input: inQ[0], output: outQ)

        case (.constant, _):
            guard let value = try plan.constantValue(layer) else { return hostLayer }
            return ConstantFallback(value: value)

        case let (.depthwiseConvolution, .convolution(p)):
            if int8, let q = linear(p.weights, p.bias) { return try QuantizedDepthwiseLayer(p, q, packer: packer) }
            return try FloatDepthwiseLayer(p, activation: layer.fusedActivation, packer: packer)

        case let (.convolution, .convolution(p)):
            if int8, let q = linear(p.weights, p.bias, residual: layer.inputs.count > 1 ? inQ[1] : nil) {
                return try QuantizedGEMMLayer(
                    weights: p.weights, kernel: p.kernel, strides: p.strides, dilations: p.dilations, padsBegin: p.padsBegin,
                    groups: p.groups, quantized: q, activation: layer.fusedActivation, inputChannels: inShape[1], packer: packer)
            }
            return try FloatGEMMLayer(
                weights: p.weights, bias: p.bias, kernel: p.kernel, strides: p.strides, dilations: p.dilations,
                padsBegin: p.padsBegin, groups: p.groups, activation: layer.fusedActivation, inputChannels: inShape[1], packer: packer)

        case let (.fullyConnected, .fullyConnected(p)):
            let weights = p.weights.reshaped([p.outputs, p.inputs, 1, 1])
            if int8, let q = linear(p.weights, p.bias) {
                return try QuantizedGEMMLayer(
                    weights: weights, kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0], groups: 1,
                    quantized: q, activation: layer.fusedActivation, inputChannels: p.inputs, packer: packer)
            }
            return try FloatGEMMLayer(
                weights: weights, bias: p.bias, kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0],
                groups: 1, activation: layer.fusedActivation, inputChannels: p.inputs, packer: packer)

        case let (.pooling, .pooling(p)):
            return PoolingLayer(pooling: p, input: int8 ? inQ[0] : nil, output: int8 ? (p.kind == .max ? inQ[0] : outQ) : nil)

        case let (.lookupTable, .activation(a)):
            guard let xq = inQ[0], let outQ else { return hostLayer }
            return LookupTableLayer(a, input: xq, output: outQ)

        case let (.activation, .activation(a)):
            return FloatActivationLayer(activation: a)

        case let (.channelScale, .scale(p)):
            return FloatScaleLayer(scale: p.scale, shift: p.shift)

        case (.softmaxRows, _):
            return FloatSoftmaxLayer()

        case let (.softmax(axis, coerced2D), _):
            return StridedSoftmaxLayer(axis: axis, coerced2D: coerced2D)

        case let (.gather(maps), _):
            return GatherLayer(maps: maps, requantizations: IndexMap.requantizations(maps, of: layer, in: plan))

        case let (.scalarBinary(op, scalar, scalarFirst), _):
            return FloatScalarBinaryLayer(operation: op, scalar: scalar, scalarFirst: scalarFirst, activation: layer.fusedActivation)

        case let (.channelBroadcast(op, vectorFirst), _):
            return FloatChannelBroadcastLayer(operation: op, vectorFirst: vectorFirst, activation: layer.fusedActivation)

        case let (.sameShapeBinary(op), _), let (.broadcastBinary(op, _), _):
            var arithmetic: QuantizedBinaryArithmetic?
            if int8 {
                guard let a = inQ[0], let b = inQ[1], let outQ,
                      let int8Arithmetic = QuantizedBinaryArithmetic(op, a: a, b: b, output: outQ, activation: layer.fusedActivation)
                else { return hostLayer }
                arithmetic = int8Arithmetic
            }
            if case let .broadcastBinary(_, map) = form {
                return BroadcastBinaryLayer(operation: op, map: map, arithmetic: arithmetic, activation: layer.fusedActivation)
            }
            return SameShapeElementwiseLayer(operation: op, arithmetic: arithmetic, activation: layer.fusedActivation)

        case (.matrixMultiply, _):
            guard int8 else { return FloatMatrixMultiplyLayer() }
            guard let a = inQ[0], let b = inQ[1], let outQ else { return hostLayer }
            return QuantizedMatrixMultiplyLayer(arithmetic: QuantizedMatrixMultiplyArithmetic(a: a, b: b, output: outQ, activation: layer.fusedActivation))

        case let (.padding, .pad(p)):
            return FloatPadLayer(pad: p)

        case let (.reduction, .reduce(p)):
            return FloatReduceLayer(reduce: p)

        case (.channelConcatenation, _):
            return ChannelConcatLayer(inputQuantizations: int8 ? inQ : layer.inputs.map { _ in nil }, output: int8 ? outQ : nil)

        case (.view, _):
            return CopyLayer()

        case (.depthwiseConvolution, _), (.convolution, _), (.fullyConnected, _), (.pooling, _), (.lookupTable, _),
             (.activation, _), (.channelScale, _), (.padding, _), (.reduction, _):
            throw OctetError.invalidNetwork(reason: "layer '\(layer.name)': form \(plan.form(of: layer)) does not fit \(layer.kind.typeName)")
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
