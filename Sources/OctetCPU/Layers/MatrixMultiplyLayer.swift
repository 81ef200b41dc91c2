import OctetCore
import OctetRuntime

/// FP32 NumPy `matmul` of two activations in their physical layouts (row-major, or NHWC for rank 4), the leading
/// axes broadcast: `y[..., i, j] = Σ_k a[..., i, k] · b[..., k, j]`, summed over k in order. Plain Swift loops:
/// attention matrices are small next to the convolutions. Its twin is `ReferenceKernels.matrixMultiply`.
struct FloatMatrixMultiplyLayer: CPULayer {
    let kernelName = "matmul_f32_strided__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let y = outputs[0]
        let rank = y.layout.sampleShape.count + 1
        let (aShape, sa) = inputs[0].layout.broadcastStrides(batch: inputs[0].batch, rank: rank)
        let (_, sb) = inputs[1].layout.broadcastStrides(batch: inputs[1].batch, rank: rank)
        let (yShape, sy) = y.layout.broadcastStrides(batch: y.batch, rank: rank)
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
