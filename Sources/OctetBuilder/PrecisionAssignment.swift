import OctetCore
import OctetQuantization
import OctetRuntime

/// Decides each layer's precision and each tensor's storage type, and inserts reformat layers where a
/// tensor's type differs from what a reader needs.
///
/// Rules (ARCHITECTURE.md, "Semantics"): a layer runs INT8 when INT8 is enabled (or the user asked for it), its
/// kind has INT8 arithmetic, and its tensors have dynamic ranges; otherwise FP32, with the reason kept for the
/// report. Where it then runs (a backend kernel or the host reference) is the backend's answer
/// (`Builder.askBackend`), not this pass's. Constant tensors without a range get max|value|. A tensor with an explicit quantization
/// (a QDQ model's QuantizeLinear) is quantized exactly so, zero point included; any other is symmetric,
/// from its dynamic range. Data-movement layers and max pooling pass their input's quantization (zero
/// point included) through; network outputs are FP32 (a convolution or fully connected layer that produces
/// one computes in INT8 and writes float).
///
/// FP16 (`config.fp16`, TensorRT's kFP16) is a permission: after the INT8 decisions, every other layer the backend can
/// compute with FP16 operands (`Backend.float16Refusal`) gets precision `.float16`; its tensors stay FP32 in memory
/// (the kernel rounds its input to half as it stages it and reads weights packed as half), so no reformat is needed
/// and every other kernel is unchanged. The rest stay FP32 with the backend's reason in the report.
struct PrecisionAssignment {
    let config: BuilderConfig
    var network: Network
    var report: BuildReport
    var quantization: [TensorID: TensorQuantization] = [:]
    /// Why a layer is not INT8, by layer name.
    var reasons: [String: String] = [:]
    /// Why a layer FP16 was permitted for stays FP32, by layer name.
    var float16Reasons: [String: String] = [:]
    /// Layers the user pinned to FP32 (`--layer-precision NAME:fp32`), which FP16 does not touch either.
    var pinnedToFloat32: Set<String> = []
    /// Answers which layers can compute in FP16.
    let backend: any Backend

    init(config: BuilderConfig, network: Network, report: BuildReport, backend: any Backend) {
        self.config = config
        self.network = network
        self.report = report
        self.backend = backend
    }

    mutating func run() throws -> EnginePlan {
        giveConstantsRanges()
        let nonNegative = nonNegativeTensors()
        try choosePrecisions()
        let floatOnly = tensorsThatMustBeFloat()
        let readAsFloat = config.explicitQuantization ? [] : tensorsReadOnlyAsFloat()

        // Storage type of every layer output, in order.
        for index in network.layers.indices {
            let layer = network.layers[index]
            for out in layer.outputs { network[out].dataType = .float32 }
            guard layer.precision == .int8 else { continue }
            let out = layer.outputs[0]
            if layer.kind.isDataMovement || Self.isMaxPooling(layer.kind) {
                // Pass a quantized input's quantization through (the layer computes nothing); on a float
                // input, or toward a float network output, the layer moves floats.
                if let q = quantization[layer.inputs[0]], !floatOnly.contains(out) {
                    network[out].dataType = q.dataType
                    quantization[out] = q
                    network[out].takeRange(of: network[layer.inputs[0]])
                } else {
                    network.layers[index].precision = .float32
                    reasons[layer.name] = "its input is float"
                }
                continue
            }
            if floatOnly.contains(out) || readAsFloat.contains(out) && layer.outputType(0) != .int8 && Self.writesFloatNatively(layer),
               Self.writesFloat(layer.kind) { continue }
            guard let q = rangeQuantization(out, nonNegative) else { continue }
            network[out].dataType = q.dataType
            quantization[out] = q
        }
        try checkRequestedOutputTypes(floatOnly)
        if config.fp16 { permitFloat16() }
        insertReformats(nonNegative)
        fillReport()
        return EnginePlan(network: network, quantization: quantization, report: report)
    }

    // MARK: Ranges and signedness

    /// Constant tensors without a range get R = max|value| (DESIGN.md).
    private mutating func giveConstantsRanges() {
        for layer in network.layers {
            guard case let .constant(w) = layer.kind, network[layer.outputs[0]].dynamicRange == nil else { continue }
            let r = w.maxMagnitude
            network[layer.outputs[0]].setDynamicRange(min: -r, max: r)
        }
    }

    /// Tensors that are provably ≥ 0: outputs of Relu / Clip(min ≥ 0), fused or not, and what data movement,
    /// pooling and concatenation make of such tensors.
    private func nonNegativeTensors() -> Set<TensorID> {
        var result = Set<TensorID>()
        for layer in network.layers {
            let isNonNegative: Bool =
                if let a = layer.fusedActivation { a.isNonNegative }
                else {
                    switch layer.kind {
                    case let .activation(a): a.isNonNegative
                    case .softmax: true
                    case .reshape, .transpose, .slice, .identity, .pooling, .concatenation, .reformat:
                        layer.inputs.allSatisfy { result.contains($0) }
                    case let .constant(w): w.values.allSatisfy { $0 >= 0 }
                    case let .pad(p): layer.inputs.allSatisfy { result.contains($0) } && (p.mode != .constant || p.value >= 0)
                    case .reduce: layer.inputs.allSatisfy { result.contains($0) }
                    case .convolution, .fullyConnected, .scale, .elementwise, .matrixMultiply: false
                    }
                }
            if isNonNegative { result.formUnion(layer.outputs) }
        }
        return result
    }

    /// The quantization a tensor's own range information gives: the model's explicit quantization (QDQ,
    /// zero point included) when it has one, otherwise symmetric from the dynamic range (unsigned R/255 for a
    /// non-negative tensor unless `trtCompatibleRanges`).
    private func rangeQuantization(_ id: TensorID, _ nonNegative: Set<TensorID>) -> TensorQuantization? {
        if let explicit = network[id].explicitQuantization { return TensorQuantization(explicit) }
        return network[id].dynamicRange.map { TensorQuantization(range: $0, unsigned: nonNegative.contains(id) && !config.trtCompatibleRanges) }
    }

    // MARK: Precision

    private mutating func choosePrecisions() throws {
        var missing = Set<String>()
        let divisors = Self.divisorChains(in: network)
        for index in network.layers.indices {
            let layer = network.layers[index]
            let requested = layer.precision
            let wantsInt8 = requested == .int8 || (requested == nil && config.int8)
            if requested == .float32 { pinnedToFloat32.insert(layer.name) }
            guard wantsInt8 else {
                network.layers[index].precision = .float32
                if config.int8, requested == .float32 { reasons[layer.name] = "precision set to FP32" }
                continue
            }
            if requested == nil, let division = divisors[index] {
                network.layers[index].precision = .float32
                reasons[layer.name] = "computes the divisor of '\(division)', which stays FP32"
                continue
            }
            var reason: String?
            if !Self.hasInt8Semantics(layer, in: network) {
                reason = "\(layer.kind.typeName) has no INT8 implementation"
            } else {
                let needed = rangeTensors(layer)
                let lacking = needed.filter { network[$0].dynamicRange == nil }
                if !lacking.isEmpty {
                    let names = lacking.map { network[$0].name }
                    missing.formUnion(names)
                    reason = "no dynamic range for \(names.map { "'\($0)'" }.joined(separator: ", "))"
                }
            }
            if let reason {
                network.layers[index].precision = .float32
                reasons[layer.name] = reason
                if requested == .int8 {
                    if config.obey { throw OctetError.precisionConstraint(layer: layer.name, reason: reason) }
                    if config.preferPrecisionConstraints {
                        report.warnings.append("layer '\(layer.name)' runs in FP32 although INT8 was requested: \(reason)")
                    }
                }
            } else {
                network.layers[index].precision = .int8
            }
        }
        report.missingRanges = missing.sorted()
    }

    /// The layers that compute the divisor of a Div, by index, with the Div's name: the divisor's producer and, while
    /// that computes elementwise from one variable input (an activation, an operation with a constant, data
    /// movement), the producer of that input. Quantized, a divisor loses its small values: ‖k‖ of a zero key (Swin
    /// V2's padded window tokens) clamped to ε by F.normalize's `clamp_min` rounds back to 0, and 0 / 0 gives NaN where
    /// FP32 gives 0, while relative error grows as the divisor shrinks. As in TensorRT's transformer recipes, only
    /// GEMM-like inputs are quantized; a divisor chain (F.normalize's norm, LayerNorm's √(σ² + ε) when exported
    /// decomposed) stays FP32. The walk stops at a layer of another kind (a reduction, a GEMM), leaving it as it is.
    static func divisorChains(in network: Network) -> [Int: String] {
        let producers = network.producers()
        func isConstant(_ tensor: TensorID) -> Bool {
            guard let p = producers[tensor], case .constant = network.layers[p].kind else { return false }
            return true
        }
        var chains: [Int: String] = [:]
        for layer in network.layers {
            guard case .elementwise(.div) = layer.kind, layer.inputs.count == 2 else { continue }
            var tensor = layer.inputs[1]
            while let p = producers[tensor], chains[p] == nil {
                let producer = network.layers[p]
                let variable = producer.inputs.filter { !isConstant($0) }
                let elementwise: Bool
                switch producer.kind {
                case .activation, .elementwise: elementwise = variable.count == 1
                case .constant: elementwise = true
                default: elementwise = producer.kind.isDataMovement
                }
                guard elementwise else { break }
                chains[p] = layer.name
                guard variable.count == 1 else { break }
                tensor = variable[0]
            }
        }
        return chains
    }

    /// Tensors whose ranges an INT8 layer needs: its inputs (and residual), and its output unless the
    /// output inherits the input's quantization or is written as float.
    private func rangeTensors(_ layer: Layer) -> [TensorID] {
        if layer.kind.isDataMovement || Self.isMaxPooling(layer.kind) { return [layer.inputs[0]] }
        if case .constant = layer.kind { return layer.outputs }
        let out = layer.outputs[0]
        let outputNeeded = !(network.outputs.contains(out) && Self.writesFloat(layer.kind))
        return layer.inputs + (outputNeeded ? [out] : [])
    }

    /// Layer kinds whose INT8 arithmetic Octet defines (OctetQuantization, QuantizedReference).
    static func hasInt8Semantics(_ layer: Layer, in network: Network) -> Bool {
        switch layer.kind {
        case .convolution, .fullyConnected, .pooling, .concatenation, .constant, .reshape, .transpose, .slice, .identity:
            return true
        case let .elementwise(op):
            return QuantizationMath.hasInt8Arithmetic(op)
        case .activation:
            return true  // a 256-entry lookup table
        case .matrixMultiply:
            // Per-tensor scales on both inputs; the int32 accumulator bounds the inner size.
            return (network[layer.inputs[0]].shape.last ?? 0) <= QuantizedMatrixMultiplyArithmetic.maxInnerSize
        case .scale, .softmax, .pad, .reduce, .reformat:
            return false
        }
    }

    static func isMaxPooling(_ kind: LayerKind) -> Bool {
        if case let .pooling(p) = kind, p.kind == .max { true } else { false }
    }

    /// INT8 layers that can write float output directly from their accumulators.
    static func writesFloat(_ kind: LayerKind) -> Bool {
        switch kind {
        case .convolution, .fullyConnected: true
        case .constant, .pooling, .activation, .scale, .elementwise, .concatenation, .softmax, .reshape, .transpose, .slice, .pad,
             .reduce, .matrixMultiply, .identity, .reformat:
            false
        }
    }

    /// The INT8 layers whose float output every backend computes natively: fully connected layers and convolutions
    /// with one group (the GEMM kernels' float epilogue), with no fused activation or a clamp (CUDA's epilogue applies
    /// only bounds). A depthwise convolution quantizes its output even where only FP32 layers read it: with float
    /// output it would run on the host reference (ConvNeXt-T's 7×7 depthwise layers: 120 → 400 ms a photo on the CPU).
    static func writesFloatNatively(_ layer: Layer) -> Bool {
        switch layer.fusedActivation {
        case nil, .relu?, .clip?: break
        default: return false
        }
        switch layer.kind {
        case .fullyConnected: return true
        case let .convolution(p): return p.groups == 1
        default: return false
        }
    }

    /// Network outputs, and tensors that only reach one through data movement, stay float.
    private func tensorsThatMustBeFloat() -> Set<TensorID> {
        var result = Set(network.outputs.filter { !(config.explicitQuantization && network[$0].dynamicRange != nil) })
        for layer in network.layers {
            for (o, out) in layer.outputs.enumerated() where layer.outputType(o) == .float32 { result.insert(out) }
        }
        let consumers = network.consumers()
        for layer in network.layers.reversed() where layer.kind.isDataMovement {
            if result.contains(layer.outputs[0]), consumers[layer.inputs[0]]?.count == 1 { result.insert(layer.inputs[0]) }
        }
        return result
    }

    /// Tensors that only FP32 layers read, directly or through data movement. An INT8 convolution or fully connected
    /// layer writing one keeps its float result rather than quantizing it for a reformat to dequantize at once: one
    /// rounding less and one layer less (a Linear read by Swin V2's post-norm LayerNorm, the residual branches ViT's FP32
    /// sums read, logits before a Softmax). TensorRT's explicitly quantized networks do the same, quantizing GEMM inputs
    /// only. Not in explicit-quantization builds, where the model's Q/DQ nodes say what is quantized, nor where an
    /// INT8 output type was requested.
    private func tensorsReadOnlyAsFloat() -> Set<TensorID> {
        let consumers = network.consumers()
        var result = Set<TensorID>()
        for layer in network.layers.reversed() {
            for out in layer.outputs {
                guard let readers = consumers[out], !readers.isEmpty else { continue }
                let onlyFloat = readers.allSatisfy { index in
                    let reader = network.layers[index]
                    if reader.kind.isDataMovement || Self.isMaxPooling(reader.kind) { return reader.outputs.allSatisfy(result.contains) }
                    return reader.precision == .float32
                }
                if onlyFloat { result.insert(out) }
            }
        }
        return result
    }

    /// An INT8 output type (TensorRT's `setOutputType`) holds when the layer runs INT8 and its output has a
    /// range; otherwise `obey` refuses the build and the other modes warn: a request is never silently dropped.
    private mutating func checkRequestedOutputTypes(_ floatOnly: Set<TensorID>) throws {
        for layer in network.layers {
            for (o, out) in layer.outputs.enumerated() where layer.outputType(o) == .int8 && !network[out].dataType.isQuantized {
                let why =
                    if layer.precision != .int8 { "the layer runs in FP32 (\(reasons[layer.name] ?? "its precision is FP32"))" }
                    else if floatOnly.contains(out) { "'\(network[out].name)' is or feeds a network output, and those are float32" }
                    else { "'\(network[out].name)' has no dynamic range" }
                let reason = "INT8 output was requested but it writes float32: \(why)"
                if config.obey { throw OctetError.precisionConstraint(layer: layer.name, reason: reason) }
                report.warnings.append("layer '\(layer.name)': \(reason)")
            }
        }
    }

    // MARK: FP16

    /// Gives FP16 compute to every float layer the backend computes in FP16, and records why each other one stays
    /// FP32. Tensor types do not change: FP16 layers read and write FP32 tensors. A build in which FP16 was permitted
    /// and no layer got it warns, naming the reason, so `--fp16` on a backend without FP16 kernels is never silent.
    private mutating func permitFloat16() {
        for index in network.layers.indices where network.layers[index].precision == .float32 {
            let layer = network.layers[index]
            if layer.kind == .reformat { continue }
            if pinnedToFloat32.contains(layer.name) {
                float16Reasons[layer.name] = "precision set to FP32"
            } else if let refusal = backend.float16Refusal(for: layer, in: network) {
                float16Reasons[layer.name] = refusal
            } else {
                network.layers[index].precision = .float16
            }
        }
        // Nothing to say when every layer runs in INT8 (--best with ranges for all of them).
        guard !float16Reasons.isEmpty, !network.layers.contains(where: { $0.precision == .float16 }) else { return }
        let counts = float16Reasons.values.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        let common = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
        let rest = config.int8 ? "the layers that are not INT8 run in FP32" : "the engine computes in FP32"
        report.warnings.append("FP16 was permitted but no layer runs in FP16\(common.map { " (\($0))" } ?? ""): \(rest)")
    }

    // MARK: Reformats

    /// Inserts quantize / dequantize layers where a reader needs another type than the tensor has.
    private mutating func insertReformats(_ nonNegative: Set<TensorID>) {
        var converted: [TensorID: TensorID] = [:]  // float version or quantized version of a tensor
        var index = 0
        while index < network.layers.count {
            let layer = network.layers[index]
            var inserted = 0
            for (slot, input) in layer.inputs.enumerated() {
                let isQuantized = network[input].dataType.isQuantized
                let wantsQuantized = needsQuantizedInput(layer)
                guard isQuantized != wantsQuantized else { continue }
                if let existing = converted[input] {
                    network.layers[index + inserted].inputs[slot] = existing
                    continue
                }
                let suffix = wantsQuantized ? "quantized" : "dequantized"
                var tensor = Tensor(name: "\(network[input].name)__\(suffix)", shape: network[input].shape)
                if let r = network[input].dynamicRange { tensor.setDynamicRange(min: -r, max: r) }
                if wantsQuantized {
                    guard let q = rangeQuantization(input, nonNegative) else { continue }
                    tensor.dataType = q.dataType
                    let id = network.addTensor(tensor)
                    quantization[id] = q
                    converted[input] = id
                } else {
                    tensor.dataType = .float32
                    converted[input] = network.addTensor(tensor)
                }
                guard let id = converted[input] else { continue }
                var reformat = Layer(name: tensor.name, kind: .reformat, inputs: [input], outputs: [id], origin: [])
                reformat.precision = wantsQuantized ? .int8 : .float32
                network.layers.insert(reformat, at: index + inserted)
                inserted += 1
                network.layers[index + inserted].inputs[slot] = id
            }
            index += inserted + 1
        }
        // Network outputs are float: dequantize any that is not, keeping the output's name.
        for output in network.outputs where network[output].dataType.isQuantized {
            let name = network[output].name
            network[output].name = name + "__quantized"
            let id = network.addTensor(Tensor(name: name, shape: network[output].shape))
            var reformat = Layer(name: name + "__dequantize", kind: .reformat, inputs: [output], outputs: [id], origin: [])
            reformat.precision = .float32
            network.layers.append(reformat)
            network.replaceOutput(output, with: id)
        }
    }

    /// INT8 layers read quantized tensors, except data-movement layers running on float data.
    private func needsQuantizedInput(_ layer: Layer) -> Bool {
        guard layer.precision == .int8 else { return false }
        if layer.kind == .reformat { return false }
        if layer.kind.isDataMovement || Self.isMaxPooling(layer.kind) {
            return network[layer.outputs[0]].dataType.isQuantized
        }
        return true
    }

    // MARK: Report

    private mutating func fillReport() {
        report.layers = network.layers.enumerated().map { index, layer in
            func describe(_ id: TensorID) -> String { network[id].dataType.description }
            // Why the layer runs in a wider precision than the config permits, each part labelled.
            var why: [String] = []
            if config.int8, layer.precision != .int8, layer.kind != .reformat {
                why.append("not INT8: " + (reasons[layer.name] ?? "it reads or writes float tensors"))
            }
            if config.fp16, layer.precision == .float32, let reason = float16Reasons[layer.name] { why.append("not FP16: " + reason) }
            let reason = why.isEmpty ? nil : why.joined(separator: "; ")
            return BuildReport.LayerEntry(
                name: layer.name, kind: layer.kind.detail + (layer.fusedActivation.map { " + \($0.name)" } ?? ""),
                origin: layer.origin, precision: layer.precision ?? .float32,
                inputTypes: layer.inputs.map(describe), outputTypes: layer.outputs.map(describe), kernel: "-", reason: reason)
        }
    }
}
