import OctetCore
import OctetRuntime

/// FP32 NumPy `matmul` of two activations in their physical layouts (row-major, or NHWC for rank 4), the leading
/// axes broadcast: `y[..., i, j] = Σ_k a[..., i, k] · b[..., k, j]`, summed over k in order. Plain Swift loops:
/// attention matrices are small next to the convolutions. Its twin is `ReferenceKernels.matrixMultiply`.
struct FloatMatrixMultiplyLayer: CPULayer {
    let kernelName = "matmul_f32_strided__swift"

    /// Element strides of each logical axis of a buffer; 0 for an axis of size 1 (broadcast), padded at the front
    /// to `rank` with zeros.
    static func strides(_ t: CPUBuffer, rank: Int) -> (shape: [Int], strides: [Int]) {
        let shape = t.layout.logicalShape(batch: t.batch)
        var strides: [Int]
        if t.layout.isNHWC {
            let (c, h, w) = (shape[1], shape[2], shape[3])
            strides = [h * w * c, 1, w * c, c]
        } else {
            strides = rowMajorStrides(shape)
        }
        strides = zip(shape, strides).map { $0 == 1 ? 0 : $1 }
        let pad = rank - shape.count
        return (Array(repeating: 1, count: pad) + shape, Array(repeating: 0, count: pad) + strides)
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let y = outputs[0]
        let rank = y.layout.sampleShape.count + 1
        let (aShape, sa) = Self.strides(inputs[0], rank: rank)
        let (_, sb) = Self.strides(inputs[1], rank: rank)
        let (yShape, sy) = Self.strides(y, rank: rank)
        let (m, k, n) = (aShape[rank - 2], aShape[rank - 1], yShape[rank - 1])
        let leading = Array(yShape.prefix(rank - 2))
        let (a, b, out) = (inputs[0].floats, inputs[1].floats, y.floats)
        let (ai, ak, bk, bj, yi, yj) = (sa[rank - 2], sa[rank - 1], sb[rank - 2], sb[rank - 1], sy[rank - 2], sy[rank - 1])
        for index in 0..<leading.reduce(1, *) {
            var (offsetA, offsetB, offsetY, rest) = (0, 0, 0, index)
            for axis in (0..<leading.count).reversed() {
                let coordinate = rest % leading[axis]
                rest /= leading[axis]
                offsetA += coordinate * sa[axis]
                offsetB += coordinate * sb[axis]
                offsetY += coordinate * sy[axis]
            }
            for i in 0..<m {
                for j in 0..<n {
                    var acc: Float = 0
                    for p in 0..<k { acc += a[offsetA + i * ai + p * ak] * b[offsetB + p * bk + j * bj] }
                    out[offsetY + i * yi + j * yj] = acc
                }
            }
        }
    }
}
