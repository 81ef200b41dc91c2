import Foundation
import OctetCore

/// Plain-loop FP32 kernels: the oracle that every fast kernel is compared with. They are written to be
/// obviously correct, one output element at a time in the order of the ONNX definition. Never optimize them.
enum ReferenceKernels {
    /// NCHW convolution with groups, strides, dilations and asymmetric padding.
    ///
    /// Each output element starts at its bias and adds weight × input for its in-bounds taps in the order
    /// (input channel, ky, kx), the textbook per-output sum; `ConvolutionWindows` walks those taps a run of
    /// output columns at a time, which lets the compiler vectorize the innermost loop and keeps whole-model
    /// tests fast.
    static func convolution(_ x: TensorData, _ p: ConvolutionParameters) throws -> TensorData {
        let windows = try ConvolutionWindows(p, input: x.shape)
        let step = windows.inputStep
        var out = [Float](repeating: 0, count: windows.outputCount)
        x.values.withUnsafeBufferPointer { xs in
            p.weights.values.withUnsafeBufferPointer { ws in
                out.withUnsafeMutableBufferPointer { ys in
                    for b in 0..<x.shape[0] {
                        for o in 0..<p.outputChannels {
                            let bias = p.bias?.values[o] ?? 0
                            for index in windows.outputPlane(sample: b, outputChannel: o) { ys[index] = bias }
                            windows.forEachRun(sample: b, outputChannel: o) { weightIndex, input, output, count in
                                let weight = ws[weightIndex]
                                for t in 0..<count { ys[output + t] += weight * xs[input + t * step] }
                            }
                        }
                    }
                }
            }
        }
        return TensorData(shape: windows.outputShape, values: out)
    }

    /// `y[r, j] = Σ_k x[r, k] · W[j, k] + b[j]` over the last axis.
    static func fullyConnected(_ x: TensorData, _ p: FullyConnectedParameters) -> TensorData {
        let k = p.inputs
        let rows = x.count / k
        var out = [Float](repeating: 0, count: rows * p.outputs)
        x.values.withUnsafeBufferPointer { xs in
            p.weights.values.withUnsafeBufferPointer { ws in
                for r in 0..<rows {
                    for j in 0..<p.outputs {
                        var acc: Float = 0
                        for i in 0..<k { acc += xs[r * k + i] * ws[j * k + i] }
                        out[r * p.outputs + j] = acc + (p.bias?.values[j] ?? 0)
                    }
                }
            }
        }
        return TensorData(shape: Array(x.shape.dropLast()) + [p.outputs], values: out)
    }

    /// Max / average pooling with ONNX semantics (padding is −∞ for max; for average, excluded from the
    /// divisor unless `countIncludePad`, in which case the divisor is the window clipped to the padded input).
    static func pooling(_ x: TensorData, _ p: PoolingParameters) throws -> TensorData {
        let outShape = try LayerKind.pooling(p).outputShapes(inputs: [x.shape])[0]
        let windows = SlidingWindows(p, input: x.shape, output: outShape)
        let (inputPlane, outputPlane, step) = (windows.inputPlaneSize, windows.outputPlaneSize, windows.inputStep)
        let divisors = windows.tapCounts(includingPadding: p.countIncludePad)
        var out = [Float](repeating: 0, count: outShape.reduce(1, *))
        var maxima = [Float](repeating: 0, count: outputPlane), sums = maxima
        x.values.withUnsafeBufferPointer { xs in
            for plane in 0..<(x.shape[0] * x.shape[1]) {
                for index in 0..<outputPlane { (maxima[index], sums[index]) = (-Float.infinity, 0) }
                windows.forEachRun { _, input, output, count in
                    let start = plane * inputPlane + input
                    for t in 0..<count {
                        let v = xs[start + t * step]
                        maxima[output + t] = max(maxima[output + t], v)
                        sums[output + t] += v
                    }
                }
                for index in 0..<outputPlane {
                    let divisor = divisors[index]
                    out[plane * outputPlane + index] =
                        p.kind == .max ? maxima[index] : (divisor > 0 ? sums[index] / Float(divisor) : 0)
                }
            }
        }
        return TensorData(shape: outShape, values: out)
    }

    static func activation(_ x: TensorData, _ a: Activation) -> TensorData {
        TensorData(shape: x.shape, values: x.values.map { apply(a, $0) })
    }

    /// One activation on one value, as ONNX defines it (`Activation.callAsFunction`).
    static func apply(_ a: Activation, _ v: Float) -> Float { a(v) }

    static func scale(_ x: TensorData, _ p: ScaleParameters) -> TensorData {
        let channels = x.shape[1]
        let inner = x.shape.dropFirst(2).reduce(1, *)
        var out = x.values
        for index in out.indices {
            let channel = (index / inner) % channels
            out[index] = out[index] * p.scale[channel] + p.shift[channel]
        }
        return TensorData(shape: x.shape, values: out)
    }

    /// For NumPy broadcasting of two shapes: the output shape and, per output element, the element of each
    /// operand it reads.
    static func broadcastIndices(_ a: [Int], _ b: [Int]) throws -> (shape: [Int], a: [Int], b: [Int]) {
        let shape = try broadcastShapes(a, b)
        let rank = shape.count
        func broadcastStrides(_ s: [Int]) -> [Int] {
            let padded = Array(repeating: 1, count: rank - s.count) + s
            let strides = rowMajorStrides(padded)
            return zip(padded, strides).map { $0 == 1 ? 0 : $1 }
        }
        let (sa, sb) = (broadcastStrides(a), broadcastStrides(b))
        let outStrides = rowMajorStrides(shape)
        let count = shape.reduce(1, *)
        var ia = [Int](repeating: 0, count: count), ib = ia
        for index in 0..<count {
            var rest = index
            for axis in 0..<rank {
                let coordinate = rest / outStrides[axis]
                rest %= outStrides[axis]
                ia[index] += coordinate * sa[axis]
                ib[index] += coordinate * sb[axis]
            }
        }
        return (shape, ia, ib)
    }

    /// Binary operation with NumPy broadcasting.
    static func elementwise(_ a: TensorData, _ b: TensorData, _ op: ElementwiseOperation) throws -> TensorData {
        let (shape, ia, ib) = try broadcastIndices(a.shape, b.shape)
        var out = [Float](repeating: 0, count: ia.count)
        for index in out.indices { out[index] = op(a.values[ia[index]], b.values[ib[index]]) }
        return TensorData(shape: shape, values: out)
    }

    /// Concatenation along `axis`; an input of batch 1 (a constant) is repeated for every sample.
    static func concatenation(_ xs: [TensorData], axis: Int) -> TensorData {
        var shape = xs[0].shape
        shape[0] = xs.map { $0.shape[0] }.max() ?? 1
        shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let outer = shape[..<axis].reduce(1, *)
        let perSample = shape[1..<axis].reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for x in xs {
                let block = x.shape[axis...].reduce(1, *)
                let source = x.shape[0] == shape[0] ? o : o % perSample
                out.append(contentsOf: x.values[source * block..<(source + 1) * block])
            }
        }
        return TensorData(shape: shape, values: out)
    }

    /// Softmax over `axis` (or, when `coerced2D`, over all axes from `axis` on), max-subtracted.
    static func softmax(_ x: TensorData, axis: Int, coerced2D: Bool) -> TensorData {
        let outer = x.shape[..<axis].reduce(1, *)
        let length = coerced2D ? x.shape[axis...].reduce(1, *) : x.shape[axis]
        let inner = coerced2D ? 1 : x.shape[(axis + 1)...].reduce(1, *)
        var out = x.values
        out.withUnsafeMutableBufferPointer { target in
            x.values.withUnsafeBufferPointer { source in
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * length * inner + i
                        FloatMath.softmax(source.baseAddress! + base, target.baseAddress! + base, length: length, stride: inner)
                    }
                }
            }
        }
        return TensorData(shape: x.shape, values: out)
    }

    static func transpose(_ x: TensorData, permutation: [Int]) -> TensorData {
        let shape = permutation.map { x.shape[$0] }
        let inStrides = x.strides
        let outStrides = rowMajorStrides(shape)
        var out = [Float](repeating: 0, count: x.count)
        for index in 0..<x.count {
            var (source, rest) = (0, index)
            for axis in 0..<shape.count {
                source += (rest / outStrides[axis]) * inStrides[permutation[axis]]
                rest %= outStrides[axis]
            }
            out[index] = x.values[source]
        }
        return TensorData(shape: shape, values: out)
    }

    static func slice(_ x: TensorData, _ p: SliceParameters) throws -> TensorData {
        var p = p
        p.starts[0] = 0
        p.ends[0] = x.shape[0]
        p.steps[0] = 1
        let shape = try LayerKind.slice(p).outputShapes(inputs: [x.shape])[0]
        let inStrides = x.strides
        let outStrides = rowMajorStrides(shape)
        let count = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        for index in 0..<count {
            var (source, rest) = (0, index)
            for axis in 0..<shape.count {
                let coordinate = rest / outStrides[axis]
                rest %= outStrides[axis]
                source += (p.starts[axis] + coordinate * p.steps[axis]) * inStrides[axis]
            }
            out[index] = x.values[source]
        }
        return TensorData(shape: shape, values: out)
    }

    /// ONNX Pad: each output element reads the input at its coordinate minus the leading pad, or, outside the
    /// input, the constant (constant), the mirrored element (reflect: -1 reads 1) or the nearest one (edge).
    static func pad(_ x: TensorData, _ p: PadParameters) throws -> TensorData {
        let shape = try LayerKind.pad(p).outputShapes(inputs: [x.shape])[0]
        let inStrides = x.strides
        let outStrides = rowMajorStrides(shape)
        var out = [Float](repeating: p.value, count: shape.reduce(1, *))
        outer: for index in out.indices {
            var (source, rest) = (0, index)
            for axis in 0..<shape.count {
                var c = rest / outStrides[axis] - p.padsBegin[axis]
                rest %= outStrides[axis]
                let dim = x.shape[axis]
                if c < 0 || c >= dim {
                    switch p.mode {
                    case .constant: continue outer
                    case .edge: c = min(max(c, 0), dim - 1)
                    case .reflect: c = c < 0 ? -c : 2 * (dim - 1) - c
                    }
                }
                source += c * inStrides[axis]
            }
            out[index] = x.values[source]
        }
        return TensorData(shape: shape, values: out)
    }

    /// Mean, sum, max or min over `p.axes`, which stay as size 1; sums accumulate in input order.
    static func reduce(_ x: TensorData, _ p: ReduceParameters) throws -> TensorData {
        let shape = try LayerKind.reduce(p).outputShapes(inputs: [x.shape])[0]
        let outStrides = rowMajorStrides(shape)
        let inStrides = x.strides
        let initial: Float = switch p.operation {
        case .mean, .sum: 0
        case .max: -.infinity
        case .min: .infinity
        }
        var out = [Float](repeating: initial, count: shape.reduce(1, *))
        for index in 0..<x.count {
            var (target, rest) = (0, index)
            for axis in 0..<shape.count {
                let coordinate = rest / inStrides[axis]
                rest %= inStrides[axis]
                if shape[axis] != 1 { target += coordinate * outStrides[axis] }
            }
            let v = x.values[index]
            switch p.operation {
            case .mean, .sum: out[target] += v
            case .max: out[target] = max(out[target], v)
            case .min: out[target] = min(out[target], v)
            }
        }
        if p.operation == .mean {
            let count = Float(x.count / max(out.count, 1))
            for i in out.indices { out[i] /= count }
        }
        return TensorData(shape: shape, values: out)
    }

    /// NumPy `matmul`: `y[..., i, j] = Σ_k a[..., i, k] · b[..., k, j]`, the leading axes broadcast.
    static func matrixMultiply(_ a: TensorData, _ b: TensorData) throws -> TensorData {
        let shape = try LayerKind.matrixMultiply.outputShapes(inputs: [a.shape, b.shape])[0]
        let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        let batchShape = Array(shape.dropLast(2))
        let (_, ia, ib) = try broadcastIndices(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        a.values.withUnsafeBufferPointer { av in
            b.values.withUnsafeBufferPointer { bv in
                for batch in 0..<batchShape.reduce(1, *) {
                    let (baseA, baseB, baseY) = (ia[batch] * m * k, ib[batch] * k * n, batch * m * n)
                    for i in 0..<m {
                        for j in 0..<n {
                            var acc: Float = 0
                            for p in 0..<k { acc += av[baseA + i * k + p] * bv[baseB + p * n + j] }
                            out[baseY + i * n + j] = acc
                        }
                    }
                }
            }
        }
        return TensorData(shape: shape, values: out)
    }
}
