import COctetCPUKernels
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
/// summed over k in order. Plain Swift loops (the INT8 layer below uses the SIMD GEMM where it can). Its twin is
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
///
/// Where B is int8 with zero point 0 (attention's K and V), each matrix of the batch goes through the SIMD GEMM
/// (`octet_qgemm`, whose epilogue is `requantize`): B packed as the weights with `−(z_a + c)·Σ_k B[k][j]` as the
/// bias, A's rows copied contiguous and padded to a multiple of 4. Otherwise plain Swift loops.
struct QuantizedMatrixMultiplyLayer: CPULayer {
    let arithmetic: QuantizedMatrixMultiplyArithmetic
    /// B's stored bytes are the int8 values the GEMM multiplies by.
    private var usesGEMM: Bool { arithmetic.b.isSigned && arithmetic.b.zeroPoint == 0 }
    var kernelName: String {
        "matmul_\(arithmetic.a.isSigned ? "s8" : "u8")\(arithmetic.b.isSigned ? "s8" : "u8")_acc32_\(usesGEMM ? "qgemm__\(CPUBackend.isa)" : "strided__swift")"
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let walk = MatrixMultiplyWalk(a: inputs[0], b: inputs[1], y: outputs[0])
        if usesGEMM {
            runGEMM(walk, a: inputs[0].bytePointer, b: inputs[1].bytePointer, y: outputs[0].bytePointer, context: context)
            return
        }
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

    /// Each matrix of the batch on one thread: A's rows and B gathered from their strides, B packed, one GEMM,
    /// the rows scattered to Y's strides.
    private func runGEMM(_ walk: MatrixMultiplyWalk, a: UnsafeMutablePointer<UInt8>, b: UnsafeMutablePointer<UInt8>, y: UnsafeMutablePointer<UInt8>, context: CPURunContext) {
        let (m, k, n) = (walk.m, walk.k, walk.n)
        guard m > 0, n > 0 else { return }
        let paddedK = (k + 3) / 4 * 4
        let q = arithmetic
        let xor: UInt8 = q.a.isSigned ? 0x80 : 0
        // Σ (a − z_a)·w = Σ (a ^ xor)·w − (z_a + c)·Σ w, c = 128 when the kernel shifts int8 A to uint8.
        let shift = q.a.zeroPoint + (q.a.isSigned ? 128 : 0)
        var parameters = octet_qgemm_params(
            min: q.bounds.min, max: q.bounds.max, residual_multiplier: 0, output_signed: q.output.isSigned ? 1 : 0, residual_signed: 0,
            a_xor: xor, output_zero_point: q.output.zeroPoint, residual_zero_point: 0, saturation_clamps: 0)
        let multipliers = [Float](repeating: q.multiplier, count: n)
        let packedBytes = octet_qgemm_packed_size(n, paddedK)
        let (aBytes, wBytes, cBytes) = (m * paddedK, paddedK * n, m * n)
        context.pool.run(walk.offsets.count) { range in
            let work = UnsafeMutableRawPointer.allocate(byteCount: packedBytes + aBytes + wBytes + cBytes + 4 * n, alignment: 64)
            defer { work.deallocate() }
            let packed = work
            let rowsA = (work + packedBytes).assumingMemoryBound(to: UInt8.self)
            let weights = (work + packedBytes + aBytes).assumingMemoryBound(to: Int8.self)
            let rowsC = (work + packedBytes + aBytes + wBytes).assumingMemoryBound(to: UInt8.self)
            let bias = (work + packedBytes + aBytes + wBytes + cBytes).assumingMemoryBound(to: Int32.self)
            weights.update(repeating: 0, count: wBytes)
            rowsA.update(repeating: 0, count: aBytes)
            for index in range {
                let o = walk.offsets[index]
                for j in 0..<n { bias[j] = 0 }
                for p in 0..<k {
                    for j in 0..<n {
                        let w = Int8(bitPattern: b[o.b + p * walk.bk + j * walk.bj])
                        weights[p * n + j] = w
                        bias[j] &+= Int32(w)
                    }
                }
                for j in 0..<n { bias[j] = 0 &- shift &* bias[j] }
                multipliers.withUnsafeBufferPointer { octet_qgemm_pack(n, paddedK, weights, bias, $0.baseAddress!, packed) }
                for i in 0..<m {
                    for p in 0..<k { rowsA[i * paddedK + p] = a[o.a + i * walk.ai + p * walk.ak] }
                }
                octet_qgemm(m, n, paddedK, rowsA, paddedK, packed, rowsC, n, nil, 0, &parameters)
                for i in 0..<m {
                    for j in 0..<n { y[o.y + i * walk.yi + j * walk.yj] = rowsC[i * n + j] }
                }
            }
        }
    }
}
