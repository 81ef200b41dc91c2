import OctetCore
import OctetQuantization
import OctetRuntime

// The index-map layers of gather.cu: data movement, broadcasting binary operations, softmax along any axis. The
// maps resolve on the host for the batch being encoded (`IndexMap.resolved`, the CPU walks the same) and travel
// by value in the launch arguments: nothing to upload, nothing an engine file must save.

extension KernelArguments {
    /// gather.cu's `IndexMapGeometry`, field by field: the domain, then three tensors (unused ones zero).
    mutating func append(indexMap map: ResolvedIndexMap) {
        let maximum = IndexMap.maximumRank
        func padded(_ values: [Int]) -> [Int] { values + Array(repeating: 0, count: maximum - values.count) }
        var fields = [map.sizes.count] + padded(map.sizes)
        for index in 0..<3 {
            guard index < map.tensors.count else {
                fields += Array(repeating: 0, count: 3 + 3 * maximum)
                continue
            }
            let t = map.tensors[index]
            fields += [t.affine ? 1 : 0, t.base] + padded(t.steps) + [t.shape.count] + padded(t.shape) + padded(t.physicalStrides)
        }
        for value in fields { append(Int32(value)) }
    }
}

/// Transpose, Slice, reordering Reshape and concatenation along any axis: one launch per map (per input), bytes
/// or floats; the CPU's `GatherLayer` on the device.
struct GatherKernel: CUDALayer {
    let maps: [IndexMap]
    /// Per map, nil or the requantization of an INT8 concatenation's input (`IndexMap.requantizations`).
    let requantizations: [IndexMap.Requantization?]
    var kernelName: String { "gather_indexmap\(requantizations.contains { $0 != nil } ? "_requantize" : "")__cuda" }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        for (map, requantization) in zip(maps, requantizations) {
            let x = inputs[map.sources[0].input]
            let resolved = map.resolved(batch: y.batch, tensors: [(y.layout, y.batch), (x.layout, x.batch)])
            var arguments = KernelArguments()
            arguments.append(Int64(resolved.count))
            arguments.append(indexMap: resolved)
            arguments.append(x.address)
            if let r = requantization {
                // octet_concat_channels_q's arithmetic (symmetric: zero-point layers run on the host under CUDA).
                arguments.append(x.isSigned)
                for value in [r.input.scale / r.output.scale, r.output.qmin, r.output.qmax] { arguments.append(value) }
                arguments.append(y.address)
                try encoder.launch("octet_gather_requantize_q", elements: resolved.count, arguments)
            } else {
                arguments.append(y.address)
                try encoder.launch(y.layout.elementSize == 4 ? "octet_gather_b32" : "octet_gather_b8", elements: resolved.count, arguments)
            }
        }
    }
}

/// A binary operation with NumPy broadcasting, constant operands included: float with the fused activation, or
/// INT8 with `QuantizedBinaryArithmetic` (octet_binary_q's arithmetic); the CPU's `BroadcastBinaryLayer` on the device.
struct BroadcastBinaryKernel: CUDALayer {
    let operation: ElementwiseOperation
    let map: IndexMap
    /// Nil for float.
    let arithmetic: QuantizedBinaryArithmetic?
    let activation: CUDAActivation
    var kernelName: String { "eltwise_broadcast_\(arithmetic == nil ? "f32" : "q8")_indexmap__cuda" }

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let y = outputs[0]
        let (a, b) = (inputs[map.sources[0].input], inputs[map.sources[1].input])
        let resolved = map.resolved(batch: y.batch, tensors: [(y.layout, y.batch), (a.layout, a.batch), (b.layout, b.batch)])
        var arguments = KernelArguments()
        arguments.append(Int64(resolved.count))
        arguments.append(indexMap: resolved)
        if let m = arithmetic {
            arguments.append(a.address)
            arguments.append(a.isSigned)
            arguments.append(b.address)
            arguments.append(b.isSigned)
            arguments.append(m.operation.elementwise.code)
            for value in [m.multiplierA, m.multiplierB, m.productMultiplier, m.bounds.min, m.bounds.max] { arguments.append(value) }
            arguments.append(y.address)
            try encoder.launch("octet_broadcast_q", elements: resolved.count, arguments)
        } else {
            arguments.append(a.address)
            arguments.append(b.address)
            arguments.append(operation.code)
            arguments.append(activation.code)
            arguments.append(activation.p0)
            arguments.append(activation.p1)
            arguments.append(y.address)
            try encoder.launch("octet_broadcast_f32", elements: resolved.count, arguments)
        }
    }
}

/// Softmax along any axis of a float tensor, one thread per row (`SoftmaxGeometry`); the CPU's `StridedSoftmaxLayer`
/// on the device.
struct StridedSoftmaxKernel: CUDALayer {
    let axis: Int
    let coerced2D: Bool
    let kernelName = "softmax_f32_strided__cuda"

    func encode(inputs: [DeviceTensor], outputs: [DeviceTensor], into encoder: inout CUDAEncoder) throws {
        let x = inputs[0]
        guard let g = SoftmaxGeometry(layout: x.layout, batch: x.batch, axis: axis, coerced2D: coerced2D) else {
            throw OctetError.invalidNetwork(reason: "a Softmax over several axes of an NHWC tensor has no CUDA kernel")
        }
        let maximum = IndexMap.maximumRank
        func padded(_ values: [Int]) -> [Int] { values + Array(repeating: 0, count: maximum - values.count) }
        var arguments = KernelArguments()
        arguments.append(Int64(g.rows))
        // SoftmaxStridedGeometry, field by field.
        for value in [g.rowSizes.count] + padded(g.rowSizes) + padded(g.rowStrides) + [g.length, g.stride] { arguments.append(Int32(value)) }
        arguments.append(x.address)
        arguments.append(outputs[0].address)
        try encoder.launch("octet_softmax_strided_f32", elements: g.rows, arguments)
    }
}
