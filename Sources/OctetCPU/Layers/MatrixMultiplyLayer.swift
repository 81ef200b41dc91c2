import OctetCore
import OctetQuantization
import OctetRuntime

/// Where NumPy `matmul` reads and writes in physical memory (row-major, or NHWC for rank 4), the leading axes
/// broadcast: per leading index the offsets of the three matrices, and the strides of rows and columns. Shared
/// by the float and INT8 layers, which differ only in the arithmetic of one output element.
struct MatrixMultiplyWalk {
    let m: Int, k: Int, n: Int
    /// Strides of A's rows and columns, B's rows and columns, Y's rows and columns.
    let ai: Int, ak: Int, bk: Int, bj: Int, yi: Int, yj: Int
    /// Per leading (broadcast) index: the offsets of A, B and Y.
    let offsets: [(a: Int, b: Int, y: Int)]

    init(a: CPUBuffer, b: CPUBuffer, y: CPUBuffer) {
        let rank = y.layout.sampleShape.count + 1
        let (aShape, sa) = a.layout.broadcastStrides(batch: a.batch, rank: rank)
        let (_, sb) = b.layout.broadcastStrides(batch: b.batch, rank: rank)
        let (yShape, sy) = y.layout.broadcastStrides(batch: y.batch, rank: rank)
        m = aShape[rank - 2]
        k = aShape[rank - 1]
        n = yShape[rank - 1]
        (ai, ak) = (sa[rank - 2], sa[rank - 1])
        (bk, bj) = (sb[rank - 2], sb[rank - 1])
        (yi, yj) = (sy[rank - 2], sy[rank - 1])
        let leading = Array(yShape.prefix(rank - 2))
        offsets = (0..<leading.reduce(1, *)).map { index -> (a: Int, b: Int, y: Int) in
            var (offsetA, offsetB, offsetY, rest) = (0, 0, 0, index)
            for axis in (0..<leading.count).reversed() {
                let coordinate = rest % leading[axis]
                rest /= leading[axis]
                offsetA += coordinate * sa[axis]
                offsetB += coordinate * sb[axis]
                offsetY += coordinate * sy[axis]
            }
            return (offsetA, offsetB, offsetY)
        }
    }

    /// Calls `element(offsetA, offsetB, offsetY)` for every output element — A's row start, B's column start,
    /// Y's element — threaded over output rows.
    func forEachElement(_ pool: ParallelFor, _ element: (Int, Int, Int) -> Void) {
        let rows = offsets.count * m
        pool.run(rows, granularity: max(1, 16384 / max(n * k, 1))) { range in
            for row in range {
                let (batch, i) = row.quotientAndRemainder(dividingBy: max(m, 1))
                let o = offsets[batch]
                for j in 0..<n { element(o.a + i * ai, o.b + j * bj, o.y + i * yi + j * yj) }
            }
        }
    }
}

/// FP32 NumPy `matmul` of two activations in their physical layouts: `y[..., i, j] = Σ_k a[..., i, k] · b[..., k, j]`,
/// summed over k in order. Plain Swift loops: attention matrices are small next to the convolutions. Its twin is
/// `ReferenceKernels.matrixMultiply`.
struct FloatMatrixMultiplyLayer: CPULayer {
    let kernelName = "matmul_f32_strided__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let walk = MatrixMultiplyWalk(a: inputs[0], b: inputs[1], y: outputs[0])
        let (a, b, out) = (inputs[0].floats, inputs[1].floats, outputs[0].floats)
        let (k, ak, bk) = (walk.k, walk.ak, walk.bk)
        walk.forEachElement(context.pool) { rowA, columnB, target in
            var acc: Float = 0
            for p in 0..<k { acc += a[rowA + p * ak] * b[columnB + p * bk] }
            out[target] = acc
        }
    }
}

/// INT8 NumPy `matmul` of two quantized activations (per-tensor scales on both): the int32 sum of
/// `(q_a − z_a)(q_b − z_b)` over k, then `QuantizedMatrixMultiplyArithmetic.requantize`. Exact, so equal to its
/// twin `QuantizedReferenceKernels.matrixMultiply` on every element.
struct QuantizedMatrixMultiplyLayer: CPULayer {
    let arithmetic: QuantizedMatrixMultiplyArithmetic
    var kernelName: String {
        "matmul_\(arithmetic.a.isSigned ? "s8" : "u8")\(arithmetic.b.isSigned ? "s8" : "u8")_acc32_strided__swift"
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let walk = MatrixMultiplyWalk(a: inputs[0], b: inputs[1], y: outputs[0])
        let (a, b, out) = (inputs[0].bytePointer, inputs[1].bytePointer, outputs[0].bytePointer)
        let (k, ak, bk) = (walk.k, walk.ak, walk.bk)
        let q = arithmetic
        let (qa, qb) = (q.a, q.b)
        walk.forEachElement(context.pool) { rowA, columnB, target in
            var acc: Int32 = 0
            for p in 0..<k {
                acc &+= (storedValue(a[rowA + p * ak], qa) &- qa.zeroPoint) &* (storedValue(b[columnB + p * bk], qb) &- qb.zeroPoint)
            }
            out[target] = UInt8(truncatingIfNeeded: q.requantize(acc))
        }
    }
}
