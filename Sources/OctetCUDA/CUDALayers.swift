import Foundation
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// One compiled layer of the CUDA backend: records the steps that compute its outputs from its inputs.
protocol CUDALayer: Sendable {
    /// Kernel name for the build report (e.g. `conv_igemm_v16_u8__mma_m16n8k32`; the tile is a run-time tactic).
    var kernelName: String { get }
    /// Device scratch memory the layer needs for `batch` (a rearranged copy of the input: space-to-depth or channel-padded).
    func workspaceBytes(batch: Int, inputs: [TensorLayout]) -> Int
    /// Zeroed int32 accumulators the layer needs for `batch` under any of its tactics (split-K sums), which it
    /// leaves zeroed.
    func accumulatorBytes(batch: Int) -> Int
    /// Interchangeable ways to run the layer at `batch` (same results, different speed), by name, the default
    /// first. An execution context times them when it first runs a batch size and encodes the fastest
    /// (`CUDAEncoder.tactic`), as TensorRT times tactics and cuDNN's benchmark mode algorithms. Empty: no choice.
    func tactics(batch: Int) -> [String]
    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws
}

extension CUDALayer {
    func workspaceBytes(batch: Int, inputs: [TensorLayout]) -> Int { 0 }
    func accumulatorBytes(batch: Int) -> Int { 0 }
    func tactics(batch: Int) -> [String] { [] }
}

/// Constant data uploaded once when the engine is built or loaded (packed weights, biases, multipliers, tables);
/// layers get theirs through `CUDAConstantStore`, which also saves and replays them.
final class DeviceArray: @unchecked Sendable {
    let buffer: CUDADriver.Buffer
    /// The bytes uploaded (the buffer has at least one).
    let byteCount: Int
    private let driver: CUDADriver

    init(bytes: UnsafeRawBufferPointer, driver: CUDADriver) throws {
        self.driver = driver
        byteCount = bytes.count
        buffer = try driver.allocate(bytes: max(bytes.count, 1))
        try driver.upload(bytes: bytes, to: buffer)
    }

    var address: UInt64 { buffer.address }

    /// The uploaded bytes, read back (to save them in an engine file).
    func download() throws -> [UInt8] {
        byteCount == 0 ? [] : try driver.download(buffer, count: byteCount, as: UInt8.self, initial: 0)
    }

    deinit { driver.release(buffer) }
}

/// Float activation as the kernels encode it (common.cuh: `activate`).
struct CUDAActivation: Sendable {
    var code: Int32
    var p0: Float
    var p1: Float

    init(_ activation: Activation?) {
        switch activation {
        case nil: (code, p0, p1) = (0, 0, 0)
        case .relu?: (code, p0, p1) = (1, 0, 0)
        case let .clip(a, b)?: (code, p0, p1) = (2, a, b)
        case .sigmoid?: (code, p0, p1) = (3, 0, 0)
        case .tanh?: (code, p0, p1) = (4, 0, 0)
        case let .leakyRelu(alpha)?: (code, p0, p1) = (5, alpha, 0)
        case let .hardSigmoid(alpha, beta)?: (code, p0, p1) = (6, alpha, beta)
        case .hardSwish?: (code, p0, p1) = (7, 0, 0)
        case .erf?: (code, p0, p1) = (8, 0, 0)
        case let .gelu(tanhApproximation)?: (code, p0, p1) = (tanhApproximation ? 10 : 9, 0, 0)
        case .sqrt?: (code, p0, p1) = (11, 0, 0)
        case .exp?: (code, p0, p1) = (12, 0, 0)
        }
    }
}


/// Chooses a kernel for each plan layer, mirroring the CPU backend's choices so the two agree on what runs where.
struct CUDALayerFactory {
    let plan: EnginePlan
    let library: CUDAKernelLibrary
    let tensors: TensorPlacement
    /// INT8 convolutions on tensor cores (`mma.sync`), or with `dp4a`.
    let convolutions: CUDABackend.ConvolutionPath
    /// Where every constant array comes from: computed from the plan (a build) or the engine file (a load).
    let constants: CUDAConstantStore<DeviceArray>
    var driver: CUDADriver { library.driver }
    var tensorCores: Bool { convolutions != .dp4a }
    /// A tile every convolution that can use it must use (the self-test's), else `OCTET_CUDA_CONV_TILE`.
    var pinnedTile: String? {
        if case let .tile(name) = convolutions { return name }
        return ProcessInfo.processInfo.environment["OCTET_CUDA_CONV_TILE"]
    }

    func makeLayer(_ layer: Layer) throws -> any CUDALayer {
        let (int8, inQ, outQ, inShape, outShape) = plan.signature(of: layer)
        let form = plan.form(of: layer)
        if let reason = CUDABackend.hostReason(layer, form: form, plan: plan) {
            return HostReferenceLayer(layer: layer, reason: reason, reference: QuantizedReferenceExecutor(plan: plan), driver: driver)
        }
        // `hostReason` has checked what each kernel needs; a kernel refusing here is a disagreement with it.
        func disagreement() -> OctetError {
            .invalidNetwork(reason: "layer '\(layer.name)': the CUDA kernel for \(form) refused a layer CUDABackend.support accepted")
        }
        /// The weights are quantized only if a constant is computed (a build), never for a load.
        func linear(_ weights: Weights, _ bias: Weights?, residual: TensorQuantization? = nil) throws -> QuantizedLinear {
            guard let xq = inQ[0] else { throw disagreement() }
            return QuantizedLinear(weights: weights, bias: bias, input: xq, output: outQ, residual: residual, activation: layer.fusedActivation)
        }
        func implicitGEMM(_ geometry: ConvolutionShape, _ q: QuantizedLinear, residual: Bool) throws -> any CUDALayer {
            guard let kernel = try ImplicitGEMMKernel(
                geometry: geometry, q, activation: layer.fusedActivation, residual: residual, tensorCores: tensorCores, pinnedTile: pinnedTile,
                device: library.device, constants: constants)
            else { throw disagreement() }
            return kernel
        }

        if layer.precision == .float16 {
            // `hostReason` has sent every other FP16 layer to the host (`float16Refusal`).
            switch layer.kind {
            case let .convolution(p):
                guard let geometry = ConvolutionShape(p, input: inShape) else { throw disagreement() }
                return try HalfConvolutionKernel(geometry: geometry, weights: p.weights, bias: p.bias, activation: layer.fusedActivation, constants: constants)
            case let .fullyConnected(p):
                return try HalfConvolutionKernel(
                    geometry: ConvolutionShape(p, input: inShape), weights: p.weights.reshaped([p.outputs, p.inputs, 1, 1]),
                    bias: p.bias, activation: layer.fusedActivation, constants: constants)
            default:
                throw disagreement()
            }
        }

        switch (form, layer.kind) {
        case (.reformat, _):
            return ReformatKernel(input: inQ[0], output: outQ)

        case (.constant, _):
            guard case let .constant(w) = layer.kind, let layout = tensors[layer.outputs[0]]?.layout else { throw disagreement() }
            return try ConstantKernel(value: try plan.constantValue(layer) ?? .float(TensorData(shape: w.shape, values: w.values)), layout: layout,
                                      batch: w.shape.first ?? 1, constants: constants)

        case let (.depthwiseConvolution, .convolution(p)) where int8:
            return try DepthwiseKernel(p, try linear(p.weights, p.bias), constants: constants)

        case let (.convolution, .convolution(p)) where int8:
            guard let geometry = ConvolutionShape(p, input: inShape) else { throw disagreement() }
            return try implicitGEMM(geometry, try linear(p.weights, p.bias, residual: layer.inputs.count > 1 ? inQ[1] : nil), residual: layer.inputs.count > 1)

        case let (.depthwiseConvolution, .convolution(p)), let (.convolution, .convolution(p)):
            guard let geometry = ConvolutionShape(p, input: inShape) else { throw disagreement() }
            return try FloatConvolutionKernel(geometry: geometry, weights: p.weights, bias: p.bias, activation: layer.fusedActivation, constants: constants)

        case let (.fullyConnected, .fullyConnected(p)):
            let geometry = ConvolutionShape(p, input: inShape)
            if int8 { return try implicitGEMM(geometry, try linear(p.weights, p.bias), residual: false) }
            let weights = p.weights.reshaped([p.outputs, p.inputs, 1, 1])
            return try FloatConvolutionKernel(geometry: geometry, weights: weights, bias: p.bias, activation: layer.fusedActivation, constants: constants)

        case let (.pooling, .pooling(p)):
            return PoolingKernel(pooling: p, input: inShape, output: outShape, inputQ: int8 ? inQ[0] : nil, outputQ: int8 ? outQ : nil)

        case let (.lookupTable, .activation(a)):
            guard let xq = inQ[0], let outQ else { throw disagreement() }
            return try LookupTableKernel(a, input: xq, output: outQ, constants: constants)

        case let (.activation, .activation(a)):
            return FloatActivationKernel(activation: CUDAActivation(a))

        case let (.channelScale, .scale(p)):
            return try FloatScaleKernel(scale: p.scale, shift: p.shift, constants: constants)

        case (.softmaxRows, _):
            return SoftmaxKernel()

        case let (.softmax(axis, coerced2D), _):
            return StridedSoftmaxKernel(axis: axis, coerced2D: coerced2D)

        case let (.gather(maps), _):
            return GatherKernel(maps: maps, requantizations: IndexMap.requantizations(maps, of: layer, in: plan))

        case (.matrixMultiply, _):
            guard int8 else { return MatrixMultiplyKernel(arithmetic: nil) }
            guard let a = inQ[0], let b = inQ[1], let outQ else { throw disagreement() }
            return MatrixMultiplyKernel(arithmetic: QuantizedMatrixMultiplyArithmetic(a: a, b: b, output: outQ, activation: layer.fusedActivation))

        case let (.padding, .pad(p)):
            return PadKernel(pad: p)

        case let (.reduction, .reduce(p)):
            return ReduceKernel(reduce: p)

        case let (.sameShapeBinary(op), _), let (.broadcastBinary(op, _), _):
            var arithmetic: QuantizedBinaryArithmetic?
            if int8 {
                guard let a = inQ[0], let b = inQ[1], let outQ,
                      let int8Arithmetic = QuantizedBinaryArithmetic(op, a: a, b: b, output: outQ, activation: layer.fusedActivation)
                else { throw disagreement() }
                arithmetic = int8Arithmetic
            }
            if case let .broadcastBinary(_, map) = form {
                return BroadcastBinaryKernel(operation: op, map: map, arithmetic: arithmetic, activation: CUDAActivation(layer.fusedActivation))
            }
            guard let arithmetic else { return FloatBinaryKernel(operation: op, activation: CUDAActivation(layer.fusedActivation)) }
            return QuantizedBinaryKernel(arithmetic: arithmetic)

        case let (.scalarBinary(op, scalar, scalarFirst), _):
            return FloatScalarBinaryKernel(operation: op, scalar: scalar, scalarFirst: scalarFirst, activation: CUDAActivation(layer.fusedActivation))

        case let (.channelBroadcast(op, vectorFirst), _):
            return FloatChannelBroadcastKernel(operation: op, vectorFirst: vectorFirst, activation: CUDAActivation(layer.fusedActivation))

        case (.channelConcatenation, _):
            guard int8 else { return ChannelConcatKernel(inputs: nil, output: nil) }
            let inputs = inQ.compactMap { $0 }
            guard let outQ, inputs.count == inQ.count else { throw disagreement() }
            return ChannelConcatKernel(inputs: inputs, output: outQ)

        case (.view, _):
            return CopyKernel()

        case (.hostReference, _), (.depthwiseConvolution, _), (.convolution, _), (.fullyConnected, _), (.pooling, _),
             (.lookupTable, _), (.activation, _), (.channelScale, _), (.padding, _), (.reduction, _):
            throw disagreement()
        }
    }
}

extension CUDABackend {
    /// Why a planned layer runs on the host under CUDA, or nil when a CUDA kernel runs it: the shared form's
    /// reason, or what the CUDA kernels lack beyond it. Decided without a device, so it can be tested anywhere.
    static func hostReason(_ layer: Layer, form: LayerForm, plan: EnginePlan) -> String? {
        if let reason = form.hostReason { return reason }
        // An FP16 layer this backend has no FP16 kernel for (a plan built for another backend): the host reference has
        // the FP16 arithmetic.
        if layer.precision == .float16, let reason = float16Refusal(for: layer) { return reason }
        let rank = plan.network[layer.outputs[0]].shape.count
        switch form {
        case .matrixMultiply where rank - 2 > MatrixMultiplyKernel.maximumLeadingAxes:
            return "MatMul with more than \(MatrixMultiplyKernel.maximumLeadingAxes) leading axes has no CUDA kernel"
        case .padding where rank > PadKernel.maximumRank, .reduction where rank > PadKernel.maximumRank:
            return "\(layer.kind.typeName) of a rank-\(rank) tensor (above \(PadKernel.maximumRank)) has no CUDA kernel"
        default: break
        }
        let (int8, inQ, outQ, inShape, _) = plan.signature(of: layer)
        // Any layer that reads or writes a zero-point tensor, whatever its precision: a dequantize reformat too.
        if (inQ + [outQ]).contains(where: { ($0?.zeroPoint ?? 0) != 0 }) {
            return "asymmetric INT8 (a non-zero zero point, as in onnxruntime's QDQ models) has no CUDA kernels yet"
        }
        guard int8 else { return nil }
        switch form {
        case .convolution(grouped: true):
            return "a grouped INT8 convolution has no CUDA kernel"
        case .convolution, .fullyConnected:
            if outQ == nil, let activation = layer.fusedActivation, !activation.isClamp {
                return "an INT8 GEMM with float output cannot fuse \(activation.name) on CUDA"
            }
            if inShape.count == 4, max(inShape[2], inShape[3]) >= ImplicitGEMMKernel.maximumSide {
                return "an input of \(inShape[2])x\(inShape[3]) is beyond the CUDA convolution's \(ImplicitGEMMKernel.maximumSide) pixels a side"
            }
            // A fully connected layer's rows per sample are its pixel column (`ConvolutionShape(_:input:)`).
            if case let .fullyConnected(p) = layer.kind {
                let rows = ConvolutionShape(p, input: inShape).height
                if rows >= ImplicitGEMMKernel.maximumSide { return "\(rows) rows a sample are beyond the CUDA GEMM's \(ImplicitGEMMKernel.maximumSide)" }
            }
            return nil
        case .reformat, .constant, .depthwiseConvolution, .pooling, .lookupTable, .activation, .channelScale, .softmaxRows,
             .sameShapeBinary, .scalarBinary, .channelBroadcast, .matrixMultiply, .channelConcatenation, .view,
             .hostReference, .padding, .reduction, .gather, .broadcastBinary, .softmax:
            return nil
        }
    }

    /// Why the CUDA backend cannot compute `layer` with FP16 operands, or nil: convolutions with groups 1 and fully
    /// connected layers have an FP16 kernel (conv_f16.cu). Decided without a device, so it can be tested anywhere;
    /// `float16Refusal(for:in:)` adds the device's own condition (tensor cores).
    public static func float16Refusal(for layer: Layer) -> String? {
        switch layer.kind {
        case let .convolution(p): p.groups == 1 ? nil : "grouped convolution: no FP16 kernel"
        case .fullyConnected: nil
        case .constant, .pooling, .activation, .scale, .elementwise, .concatenation, .softmax, .reshape, .transpose, .slice, .pad,
             .reduce, .matrixMultiply, .identity, .reformat:
            "\(layer.kind.typeName): no FP16 kernel"
        }
    }

    /// The CUDA backend's answer for a planned layer (see `hostReason`).
    public static func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport {
        let form = plan.form(of: layer)
        if let reason = hostReason(layer, form: form, plan: plan) { return .hostReference(reason: reason) }
        return LayerSupport(form)
    }
}

// MARK: - Layers run on the host

/// A layer without a CUDA kernel: its inputs come to the host, the reference implementation computes it on
/// logical data, and the result goes back. Correct and slow; named in the build report, and it keeps the
/// context from capturing a CUDA graph.
struct HostReferenceLayer: CUDALayer, @unchecked Sendable {
    let layer: Layer
    /// Why no CUDA kernel runs it (the build report shows it).
    let reason: String
    let reference: QuantizedReferenceExecutor
    let driver: CUDADriver
    var kernelName: String { "host_reference_\(layer.kind.typeName.lowercased())_logical" }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (layer, reference, driver) = (layer, reference, driver)
        encoder.steps.append(.host { stream in
            let args = try inputs.map { try CUDAHostTransfer.download($0, driver: driver, stream: stream) }
            let result = try reference.evaluate(layer, args)
            try CUDAHostTransfer.upload(result, to: outputs[0], driver: driver, stream: stream)
        })
    }
}

// MARK: - Data movement and reformats

struct CopyKernel: CUDALayer {
    let kernelName = "copy__cuda"

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        encoder.copy(to: outputs[0], from: inputs[0])
    }
}

/// A constant's bytes in its physical layout, uploaded once and copied into the arena each run.
struct ConstantKernel: CUDALayer {
    let data: DeviceArray
    let kernelName = "constant__cuda"

    init(value: @autoclosure () throws -> TensorValue, layout: TensorLayout, batch: Int, constants: CUDAConstantStore<DeviceArray>) throws {
        data = try constants.array("the constant's bytes", count: layout.bytesPerSample * batch, of: UInt8.self) {
            let host = UnsafeMutableRawPointer.allocate(byteCount: max(layout.bytesPerSample * batch, 1), alignment: 64)
            defer { host.deallocate() }
            let tensor = HostTensor(base: host, layout: layout, batch: batch)
            tensor.store(try value())
            return Array(UnsafeBufferPointer(start: host.assumingMemoryBound(to: UInt8.self), count: tensor.bytes))
        }
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        encoder.steps.append(.copy(destination: outputs[0].address, source: data.address, bytes: outputs[0].bytes))
    }
}

/// Quantize (float → int8/uint8), dequantize, requantize, or a float copy; the layout does not change.
struct ReformatKernel: CUDALayer {
    let input: TensorQuantization?
    let output: TensorQuantization?

    /// octet_quantize_f32 (reformat.cu) converts this many consecutive values a thread.
    static let quantizeValuesPerThread = 4

    var kernelName: String {
        switch (input, output) {
        case (nil, let q?): "quantize_f32_to_\(q.isSigned ? "s8" : "u8")__cuda"
        case (let q?, nil): "dequantize_\(q.isSigned ? "s8" : "u8")_to_f32__cuda"
        case (let a?, let b?): "requantize_\(a.isSigned ? "s8" : "u8")_to_\(b.isSigned ? "s8" : "u8")__cuda"
        case (nil, nil): "copy__cuda"
        }
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, y) = (inputs[0], outputs[0])
        let count = Int64(y.count)
        switch (input, output) {
        case (nil, let q?):
            try encoder.launch("octet_quantize_f32", elements: (y.count + Self.quantizeValuesPerThread - 1) / Self.quantizeValuesPerThread, [count, x.address, q.scale, q.qmin, q.qmax, y.address])
        case (let q?, nil):
            try encoder.launch("octet_dequantize", elements: y.count, [count, x.address, x.isSigned, q.scale, y.address])
        case (let a?, let b?):
            try encoder.launch("octet_requantize", elements: y.count, [count, x.address, x.isSigned, a.scale / b.scale, b.qmin, b.qmax, y.address])
        case (nil, nil):
            encoder.copy(to: y, from: x)
        }
    }
}

/// Channel concatenation: each input written into its channel range (INT8 inputs requantized to the output).
struct ChannelConcatKernel: CUDALayer {
    /// Input quantizations for INT8, nil for float.
    let inputs: [TensorQuantization]?
    let output: TensorQuantization?
    var kernelName: String { inputs == nil ? "concat_channels_f32__cuda" : "concat_channels_q__cuda" }

    func encode(inputs xs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        var offset: Int32 = 0
        for (index, x) in xs.enumerated() {
            let pixels = Int64(x.pixels), cin = Int32(x.layout.channels), cout = Int32(y.layout.channels)
            if let inputs, let output {
                let m = inputs[index].scale / output.scale
                try encoder.launch("octet_concat_channels_q", elements: x.count, [pixels, cin, cout, offset, x.address, x.isSigned, m, output.qmin, output.qmax, y.address])
            } else {
                try encoder.launch("octet_concat_channels_f32", elements: x.count, [pixels, cin, cout, offset, x.address, y.address])
            }
            offset += cin
        }
    }
}

// MARK: - Elementwise

struct LookupTableKernel: CUDALayer {
    let table: DeviceArray
    let kernelName = "lookup_table_q__cuda"

    /// The table indexed by the stored byte: entry b is the quantized result for the value b stores.
    init(_ activation: Activation, input: TensorQuantization, output: TensorQuantization, constants: CUDAConstantStore<DeviceArray>) throws {
        table = try constants.array("the lookup table", count: 256, of: UInt8.self) {
            let byQ = QuantizationMath.lookupTable(input: input, output: output) { activation($0) }
            let offset = Int(input.qmin)
            return (0..<256).map { b -> UInt8 in
                let q = input.isSigned ? Int(Int8(bitPattern: UInt8(b))) : b
                return UInt8(truncatingIfNeeded: byQ[q - offset])
            }
        }
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        try encoder.launch("octet_lookup", elements: y.count, [Int64(y.count), inputs[0].address, table.address, y.address])
    }
}

/// INT8 Add / Sub / Mul of two tensors of the same shape (`QuantizedBinaryArithmetic`; symmetric only: the
/// backend runs zero-point layers on the host).
struct QuantizedBinaryKernel: CUDALayer {
    let arithmetic: QuantizedBinaryArithmetic
    let kernelName = "eltwise_q_same_shape__cuda"

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, z, y) = (inputs[0], inputs[1], outputs[0])
        let m = arithmetic
        try encoder.launch("octet_binary_q", elements: y.count, [
            Int64(y.count), x.address, x.isSigned, z.address, z.isSigned, m.operation.elementwise.code,
            m.multiplierA, m.multiplierB, m.productMultiplier, m.bounds.min, m.bounds.max, y.address,
        ])
    }
}

struct FloatBinaryKernel: CUDALayer {
    let operation: ElementwiseOperation
    let activation: CUDAActivation
    let kernelName = "eltwise_f32_same_shape__cuda"

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        try encoder.launch("octet_binary_f32", elements: y.count, [
            Int64(y.count), inputs[0].address, inputs[1].address, operation.code, activation.code, activation.p0, activation.p1, y.address,
        ])
    }
}

/// `x op s` (or `s op x`) for a one-element constant `s` passed by value.
struct FloatScalarBinaryKernel: CUDALayer {
    let operation: ElementwiseOperation
    let scalar: Float
    let scalarFirst: Bool
    let activation: CUDAActivation
    var kernelName: String { "eltwise_\(operation.rawValue)_scalar_f32__cuda" }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, y) = (inputs[scalarFirst ? 1 : 0], outputs[0])
        try encoder.launch("octet_binary_scalar_f32", elements: y.count, [
            Int64(y.count), x.address, scalar, Int32(scalarFirst ? 1 : 0), operation.code, activation.code, activation.p0, activation.p1, y.address,
        ])
    }
}

struct FloatChannelBroadcastKernel: CUDALayer {
    let operation: ElementwiseOperation
    let vectorFirst: Bool
    let activation: CUDAActivation
    let kernelName = "eltwise_channel_broadcast_f32_nhwc__cuda"

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        let (x, v) = vectorFirst ? (inputs[1], inputs[0]) : (inputs[0], inputs[1])
        let pixels = Int32(y.layout.height * y.layout.width)
        try encoder.launch("octet_channel_broadcast_f32", elements: y.count, [
            Int64(y.count), pixels, Int32(y.layout.channels), x.address, v.address, Int32(vectorFirst ? 1 : 0),
            operation.code, activation.code, activation.p0, activation.p1, y.address,
        ])
    }
}

struct FloatActivationKernel: CUDALayer {
    let activation: CUDAActivation
    let kernelName = "activation_f32__cuda"

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        try encoder.launch("octet_activation_f32", elements: y.count, [Int64(y.count), inputs[0].address, activation.code, activation.p0, activation.p1, y.address])
    }
}

struct FloatScaleKernel: CUDALayer {
    let scale: DeviceArray
    let shift: DeviceArray
    let channels: Int32
    let kernelName = "scale_f32_nhwc__cuda"

    init(scale: [Float], shift: [Float], constants: CUDAConstantStore<DeviceArray>) throws {
        self.scale = try constants.array("the scales", count: scale.count) { scale }
        self.shift = try constants.array("the shifts", count: shift.count) { shift }
        channels = Int32(scale.count)
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        try encoder.launch("octet_scale_f32", elements: y.count, [Int64(y.count), channels, inputs[0].address, scale.address, shift.address, y.address])
    }
}

struct SoftmaxKernel: CUDALayer {
    let kernelName = "softmax_rows_f32__cuda"

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        let rows = y.batch, columns = y.count / max(rows, 1)
        // One warp per row, eight rows per block.
        try encoder.launch("octet_softmax_rows_f32", grid: (UInt32((rows + 7) / 8), 1, 1), block: (256, 1, 1), KernelArguments([
            Int32(rows), Int32(columns), inputs[0].address, y.address,
        ]))
    }
}

/// NumPy `matmul` of two activations in their physical layouts (matmul.cu), leading axes broadcast, one thread per
/// output element: FP32 (the CPU's `matmul_f32_strided__swift` loop on the device, the same floats bit for bit), or
/// INT8 with per-tensor scales on both inputs when `arithmetic` is set (`QuantizedMatrixMultiplyArithmetic`, the
/// reference's integers exactly).
struct MatrixMultiplyKernel: CUDALayer {
    /// Nil for FP32.
    let arithmetic: QuantizedMatrixMultiplyArithmetic?
    var kernelName: String { arithmetic == nil ? "matmul_f32_strided__cuda" : "matmul_q8_acc32_strided__cuda" }
    /// `OCTET_MATMUL_MAX_LEADING` of matmul.cu.
    static let maximumLeadingAxes = 6

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (a, b, y) = (inputs[0], inputs[1], outputs[0])
        let rank = y.layout.sampleShape.count + 1
        let (aShape, sa) = a.layout.broadcastStrides(batch: a.batch, rank: rank)
        let (_, sb) = b.layout.broadcastStrides(batch: b.batch, rank: rank)
        let (yShape, sy) = y.layout.broadcastStrides(batch: y.batch, rank: rank)
        let leading = rank - 2
        // MatmulGeometry, field by field: the leading axes padded to the struct's six.
        func padded(_ values: [Int]) -> [Int] { Array(values.prefix(leading)) + Array(repeating: 0, count: Self.maximumLeadingAxes - leading) }
        var arguments = KernelArguments()
        arguments.append(Int64(y.count))
        for v in [leading] + padded(yShape) + padded(sa) + padded(sb) + padded(sy)
            + [aShape[rank - 2], aShape[rank - 1], yShape[rank - 1], sa[rank - 2], sa[rank - 1], sb[rank - 2], sb[rank - 1], sy[rank - 2], sy[rank - 1]] {
            arguments.append(Int32(v))
        }
        if let q = arithmetic {
            // MatmulQuantization, field by field.
            for v in [q.a.isSigned ? 1 : 0, q.a.zeroPoint, q.b.isSigned ? 1 : 0, q.b.zeroPoint, q.output.zeroPoint] as [Int32] { arguments.append(v) }
            for v in [q.multiplier, q.bounds.min, q.bounds.max] { arguments.append(v) }
        }
        arguments.append(a.address)
        arguments.append(b.address)
        arguments.append(y.address)
        try encoder.launch(arithmetic == nil ? "octet_matmul_f32" : "octet_matmul_q8", elements: y.count, arguments)
    }
}

/// Logical sizes and element strides of a tensor in its physical layout, padded to `OCTET_SHAPE_MAX_RANK` (pad_reduce.cu).
private func shapeFields(_ tensor: DeviceTensor) -> (sizes: [Int], strides: [Int]) {
    let (shape, strides) = tensor.layout.broadcastStrides(batch: tensor.batch, rank: tensor.layout.sampleShape.count + 1)
    return (paddedToMaximumRank(shape), paddedToMaximumRank(strides))
}

private func paddedToMaximumRank(_ values: [Int]) -> [Int] {
    values + Array(repeating: 0, count: max(0, PadKernel.maximumRank - values.count))
}

/// Constant, reflect or edge padding of a float tensor of rank up to `maximumRank` (pad_reduce.cu: `octet_pad_f32`).
struct PadKernel: CUDALayer {
    let pad: PadParameters
    var kernelName: String { "pad_\(pad.mode.rawValue)_f32_strided__cuda" }
    /// `OCTET_SHAPE_MAX_RANK` of pad_reduce.cu (the batch axis included), for Pad and Reduce.
    static let maximumRank = 8

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, y) = (shapeFields(inputs[0]), shapeFields(outputs[0]))
        var arguments = KernelArguments()
        arguments.append(Int64(outputs[0].count))
        // PadGeometry, field by field.
        let mode: Int = switch pad.mode {
        case .constant: 0
        case .reflect: 1
        case .edge: 2
        }
        for v in [outputs[0].layout.sampleShape.count + 1] + x.sizes + x.strides + y.sizes + y.strides + paddedToMaximumRank(pad.padsBegin) + [mode] {
            arguments.append(Int32(v))
        }
        arguments.append(pad.value)
        arguments.append(inputs[0].address)
        arguments.append(outputs[0].address)
        try encoder.launch("octet_pad_f32", elements: outputs[0].count, arguments)
    }
}

/// Mean, sum, max or min of a float tensor over non-batch axes (pad_reduce.cu: `octet_reduce_f32`), one thread per
/// output element accumulating in logical order.
struct ReduceKernel: CUDALayer {
    let reduce: ReduceParameters
    var kernelName: String { "reduce_\(reduce.operation.rawValue)_f32_strided__cuda" }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (xShape, xStrides) = inputs[0].layout.broadcastStrides(batch: inputs[0].batch, rank: inputs[0].layout.sampleShape.count + 1)
        let y = shapeFields(outputs[0])
        let reducedSizes = reduce.axes.map { xShape[$0] }
        let operation: Int = switch reduce.operation {
        case .mean: 0
        case .sum: 1
        case .max: 2
        case .min: 3
        }
        var arguments = KernelArguments()
        arguments.append(Int64(outputs[0].count))
        // ReduceGeometry, field by field.
        for v in [xShape.count] + y.sizes + y.strides + paddedToMaximumRank(xStrides) + [reduce.axes.count] + paddedToMaximumRank(reducedSizes)
            + paddedToMaximumRank(reduce.axes.map { xStrides[$0] }) + [reducedSizes.reduce(1, *), operation] {
            arguments.append(Int32(v))
        }
        arguments.append(inputs[0].address)
        arguments.append(outputs[0].address)
        try encoder.launch("octet_reduce_f32", elements: outputs[0].count, arguments)
    }
}

// MARK: - Pooling

struct PoolingKernel: CUDALayer {
    let pooling: PoolingParameters
    let input: [Int]
    let output: [Int]
    let inputQ: TensorQuantization?
    let outputQ: TensorQuantization?

    var kernelName: String {
        let type = inputQ.map { $0.isSigned ? "s8" : "u8" } ?? "f32"
        if let bytes = maxPoolVector { return "maxpool_\(type)_nhwc_x\(bytes)__cuda" }
        return "pool_\(pooling.kind.rawValue)\(pooling.isGlobal ? "_global" : "")_\(type)_nhwc__cuda"
    }

    /// INT8 max pooling compares 16 or 4 channels per load where the channel count allows.
    private var maxPoolVector: Int? {
        guard inputQ != nil, pooling.kind == .max else { return nil }
        return input[1] % 16 == 0 ? 16 : input[1] % 4 == 0 ? 4 : nil
    }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let (x, y) = (inputs[0], outputs[0])
        let p = pooling
        let (h, w) = (input[2], input[3])
        let kernel = p.isGlobal ? [h, w] : p.kernel, strides = p.isGlobal ? [1, 1] : p.strides
        let dilations = p.isGlobal ? [1, 1] : p.dilations
        let padsBegin = p.isGlobal ? [0, 0] : p.padsBegin, padsEnd = p.isGlobal ? [0, 0] : p.padsEnd
        var arguments = KernelArguments()
        arguments.append(x.address)
        arguments.append(y.address)
        for v in [x.batch, h, w, input[1], output[2], output[3], kernel[0], kernel[1], strides[0], strides[1],
                  padsBegin[0], padsBegin[1], padsEnd[0], padsEnd[1], dilations[0], dilations[1]] { arguments.append(Int32(v)) }
        arguments.append(Int32(p.kind == .average ? 1 : 0))
        arguments.append(Int32(p.countIncludePad ? 1 : 0))
        arguments.append(Int32(inputQ.map { $0.isSigned ? 0 : 1 } ?? 2))
        let multiplier: Float = if let inputQ, let outputQ { inputQ.scale / outputQ.scale } else { 1 }
        arguments.append(multiplier)
        arguments.append(outputQ?.qmin ?? 0)
        arguments.append(outputQ?.qmax ?? 0)
        arguments.align()
        if let bytes = maxPoolVector {
            try encoder.launch("octet_maxpool_q_nhwc_x\(bytes)", elements: y.count / bytes, arguments)
        } else {
            try encoder.launch("octet_pool_nhwc", elements: y.count, arguments)
        }
    }
}
