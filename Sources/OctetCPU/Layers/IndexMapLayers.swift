import Foundation
import OctetCore
import OctetQuantization
import OctetRuntime

/// Walks a resolved index map (`ResolvedIndexMap`) over the thread pool, a row (the innermost iteration axis) at
/// a time: fills each tensor's physical offsets for the row, by steps where the tensor's map is affine and by
/// decomposing the logical index where it is not, then hands them to `body` as `offsets[tensor * length + k]`.
/// One offsets buffer per chunk of rows, none per element.
struct IndexMapWalk {
    let map: ResolvedIndexMap

    func run(_ pool: ParallelFor, _ body: (_ offsets: UnsafeMutablePointer<Int>, _ length: Int) -> Void) {
        let rank = map.sizes.count, length = map.sizes[rank - 1]
        guard length > 0 else { return }
        let rows = map.count / length, tensors = map.tensors
        let outer = Array(map.sizes.dropLast())
        pool.run(rows, granularity: max(1, 4096 / length)) { range in
            let offsets = UnsafeMutablePointer<Int>.allocate(capacity: tensors.count * length)
            // The row's coordinates, then physicalOffsets' digits (two per axis of the widest logical shape).
            let coordinates = UnsafeMutablePointer<Int>.allocate(capacity: rank + 2 * (tensors.map(\.shape.count).max() ?? 0))
            defer {
                offsets.deallocate()
                coordinates.deallocate()
            }
            for row in range {
                var rest = row
                for axis in stride(from: outer.count - 1, through: 0, by: -1) {
                    coordinates[axis] = rest % outer[axis]
                    rest /= outer[axis]
                }
                for (t, tensor) in tensors.enumerated() {
                    var start = tensor.base
                    for axis in 0..<outer.count { start += coordinates[axis] * tensor.steps[axis] }
                    let step = tensor.steps[rank - 1], line = offsets + t * length
                    if tensor.affine {
                        for k in 0..<length { line[k] = start + k * step }
                    } else {
                        tensor.physicalOffsets(from: start, step: step, count: length, into: line, digits: coordinates + rank)
                    }
                }
                body(offsets, length)
            }
        }
    }
}

/// Transpose, Slice, reordering Reshape and concatenation along any axis (`LayerForm.gather`): each map copies
/// its input's elements to where its target puts them, bytes for INT8/UINT8, 4-byte floats. Its twin is the
/// reference's logical kernel for the layer; both copy values, so the results are identical.
struct GatherLayer: CPULayer {
    let maps: [IndexMap]
    /// Per map, nil or the requantization of an INT8 concatenation's input (`IndexMap.requantizations`).
    let requantizations: [IndexMap.Requantization?]
    var kernelName: String { "gather_indexmap\(requantizations.contains { $0 != nil } ? "_requantize" : "")__swift" }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let y = outputs[0]
        for (map, requantization) in zip(maps, requantizations) {
            let x = inputs[map.sources[0].input]
            let resolved = map.resolved(batch: y.batch, tensors: [(y.layout, y.batch), (x.layout, x.batch)])
            switch y.layout.elementSize {
            case _ where requantization != nil:
                let (source, target) = (x.bytePointer, y.bytePointer)
                let (from, to) = (requantization!.input, requantization!.output)
                IndexMapWalk(map: resolved).run(context.pool) { o, n in
                    for k in 0..<n {
                        target[o[k]] = UInt8(truncatingIfNeeded: QuantizationMath.requantize(storedValue(source[o[n + k]], from), from: from, to: to))
                    }
                }
            case 4:
                let (source, target) = (x.floats, y.floats)
                IndexMapWalk(map: resolved).run(context.pool) { o, n in for k in 0..<n { target[o[k]] = source[o[n + k]] } }
            default:
                let (source, target) = (x.bytePointer, y.bytePointer)
                IndexMapWalk(map: resolved).run(context.pool) { o, n in for k in 0..<n { target[o[k]] = source[o[n + k]] } }
            }
        }
    }
}

/// A binary operation with NumPy broadcasting (`LayerForm.broadcastBinary`): float `op(a, b)` then the fused
/// activation, as `ReferenceKernels.elementwise` computes each element; or INT8 with `QuantizedBinaryArithmetic`,
/// the same-shape layer's arithmetic. Either equals the reference bit for bit.
struct BroadcastBinaryLayer: CPULayer {
    let operation: ElementwiseOperation
    let map: IndexMap
    /// The INT8 arithmetic, or nil for float tensors.
    let arithmetic: QuantizedBinaryArithmetic?
    let activation: Activation?
    var kernelName: String { "eltwise_\(operation.rawValue)_broadcast_\(arithmetic == nil ? "f32" : "q8")_indexmap__swift" }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let y = outputs[0]
        let (a, b) = (inputs[map.sources[0].input], inputs[map.sources[1].input])
        let walk = IndexMapWalk(map: map.resolved(batch: y.batch, tensors: [(y.layout, y.batch), (a.layout, a.batch), (b.layout, b.batch)]))
        let (op, activation) = (operation, self.activation)
        if let arithmetic {
            let (qa, qb) = (arithmetic.a, arithmetic.b)
            let (pa, pb, target) = (a.bytePointer, b.bytePointer, y.bytePointer)
            walk.run(context.pool) { o, n in
                for k in 0..<n {
                    let q = arithmetic.apply(storedValue(pa[o[n + k]], qa), storedValue(pb[o[2 * n + k]], qb))
                    target[o[k]] = UInt8(truncatingIfNeeded: q)
                }
            }
        } else {
            let (pa, pb, target) = (a.floats, b.floats, y.floats)
            walk.run(context.pool) { o, n in
                for k in 0..<n {
                    var r = op(pa[o[n + k]], pb[o[2 * n + k]])
                    if let activation { r = activation(r) }
                    target[o[k]] = r
                }
            }
        }
    }
}

/// Softmax of a float tensor along any axis in its physical layout (`SoftmaxGeometry`), max-subtracted, each row's
/// sums in axis order as `ReferenceKernels.softmax` computes them, so the floats are identical.
struct StridedSoftmaxLayer: CPULayer {
    let axis: Int
    let coerced2D: Bool
    let kernelName = "softmax_f32_strided__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0]
        guard let g = SoftmaxGeometry(layout: x.layout, batch: x.batch, axis: axis, coerced2D: coerced2D) else {
            throw OctetError.invalidNetwork(reason: "a Softmax over several axes of an NHWC tensor has no CPU kernel")
        }
        let (source, target) = (x.floats, outputs[0].floats)
        let (length, step) = (g.length, g.stride)
        context.pool.run(g.rows, granularity: max(1, 1024 / max(length, 1))) { range in
            for row in range {
                let base = g.rowOffset(row)
                FloatMath.softmax(source + base, target + base, length: length, stride: step)
            }
        }
    }
}
