import OctetCore
import OctetRuntime

/// Logical coordinates over physical memory (NHWC for rank 4, else row-major): the logical shape and the element
/// stride of each axis, for layers whose output shape differs from their input's (Pad, Reduce).
private struct StridedView {
    let shape: [Int]
    let strides: [Int]

    init(_ buffer: CPUBuffer) {
        (shape, strides) = buffer.layout.broadcastStrides(batch: buffer.batch, rank: buffer.layout.sampleShape.count + 1)
    }

    /// The logical coordinates of a row-major logical index.
    func coordinates(of index: Int) -> [Int] {
        var (result, rest) = (Array(repeating: 0, count: shape.count), index)
        for axis in (0..<shape.count).reversed() {
            result[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return result
    }

    func offset(_ coordinates: [Int]) -> Int { zip(coordinates, strides).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// ONNX Pad of a float tensor (constant, reflect or edge) in any rank: each output element reads the input at its
/// coordinate minus the leading pad, or outside the input the constant, the mirrored element or the nearest one.
/// Its twin is `ReferenceKernels.pad`; both copy values, so the results are identical.
struct FloatPadLayer: CPULayer {
    let pad: PadParameters
    var kernelName: String { "pad_\(pad.mode.rawValue)_f32_strided__swift" }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let (x, y) = (StridedView(inputs[0]), StridedView(outputs[0]))
        let (source, target, pad) = (inputs[0].floats, outputs[0].floats, self.pad)
        context.pool.run(outputs[0].count, granularity: 4096) { range in
            outer: for index in range {
                let c = y.coordinates(of: index)
                var from = 0
                for axis in 0..<c.count {
                    var s = c[axis] - pad.padsBegin[axis]
                    let dim = x.shape[axis]
                    if s < 0 || s >= dim {
                        switch pad.mode {
                        case .constant:
                            target[y.offset(c)] = pad.value
                            continue outer
                        case .edge: s = min(max(s, 0), dim - 1)
                        case .reflect: s = s < 0 ? -s : 2 * (dim - 1) - s
                        }
                    }
                    from += s * x.strides[axis]
                }
                target[y.offset(c)] = source[from]
            }
        }
    }
}

/// Mean, sum, max or min of a float tensor over `axes` (kept as size 1). Each output element accumulates its
/// inputs in logical order, as its twin `ReferenceKernels.reduce` does, so the float results are identical.
struct FloatReduceLayer: CPULayer {
    let reduce: ReduceParameters
    var kernelName: String { "reduce_\(reduce.operation.rawValue)_f32_strided__swift" }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let (x, y) = (StridedView(inputs[0]), StridedView(outputs[0]))
        let (source, target, operation) = (inputs[0].floats, outputs[0].floats, reduce.operation)
        // The offsets of one output's inputs relative to the first, in logical (row-major) order.
        let reducedShape = reduce.axes.map { x.shape[$0] }
        let reducedCount = reducedShape.reduce(1, *)
        let relative: [Int] = (0..<reducedCount).map { index in
            var (offset, rest) = (0, index)
            for (axis, size) in zip(reduce.axes, reducedShape).reversed() {
                offset += (rest % size) * x.strides[axis]
                rest /= size
            }
            return offset
        }
        let count = Float(max(reducedCount, 1))
        context.pool.run(outputs[0].count, granularity: max(1, 4096 / max(reducedCount, 1))) { range in
            for index in range {
                let c = y.coordinates(of: index)
                let base = x.offset(c)
                var acc: Float = switch operation {
                case .mean, .sum: 0
                case .max: -.infinity
                case .min: .infinity
                }
                switch operation {
                case .mean, .sum: for r in relative { acc += source[base + r] }
                case .max: for r in relative { acc = max(acc, source[base + r]) }
                case .min: for r in relative { acc = min(acc, source[base + r]) }
                }
                target[y.offset(c)] = operation == .mean ? acc / count : acc
            }
        }
    }
}
