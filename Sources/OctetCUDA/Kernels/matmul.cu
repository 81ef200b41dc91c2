// NumPy matmul of two activations in their physical layouts (row-major, or NHWC for rank 4; see
// TensorLayout.broadcastStrides), the leading axes broadcast through stride 0, one thread per output element:
//   FP32: y[..., i, j] = sum over k, in order, of a[..., i, k] * b[..., k, j], each product rounded and then added
//         (--fmad=false), exactly as the CPU's matmul_f32_strided__swift loop does, so the floats are the CPU's bit for bit.
//   INT8: acc = sum over k of (q_a - z_a)(q_b - z_b) in int32, then acc * (s_a s_b / s_y) clamped to [lo, hi], rounded
//         half to even, + z_y (QuantizedMatrixMultiplyArithmetic), so the integers are the reference's.
// Strides and sizes are in elements (bytes for INT8). Correct, not tuned: attention matrices are small next to the
// convolutions.
#define OCTET_MATMUL_MAX_LEADING 6

struct MatmulGeometry {
    int leading;                                // leading (batch-like) axes, at most OCTET_MATMUL_MAX_LEADING
    int sizes[OCTET_MATMUL_MAX_LEADING];        // the output's size of each leading axis
    int strideA[OCTET_MATMUL_MAX_LEADING];      // each operand's stride of that axis (0: broadcast)
    int strideB[OCTET_MATMUL_MAX_LEADING];
    int strideY[OCTET_MATMUL_MAX_LEADING];
    int m, k, n;
    int ai, ak, bk, bj, yi, yj;                 // strides of the two matrix axes of a, b and y
};

// The offsets of output element `i`'s row of a, column of b, and of the element itself in y.
__device__ __forceinline__ void matmul_offsets(int i, const MatmulGeometry& g, long long* rowA, long long* columnB, long long* target) {
    int rest = i;
    const int column = rest % g.n;
    rest /= g.n;
    const int row = rest % g.m;
    rest /= g.m;
    long long offsetA = 0, offsetB = 0, offsetY = 0;
    for (int axis = g.leading - 1; axis >= 0; --axis) {
        const int coordinate = rest % g.sizes[axis];
        rest /= g.sizes[axis];
        offsetA += (long long)coordinate * g.strideA[axis];
        offsetB += (long long)coordinate * g.strideB[axis];
        offsetY += (long long)coordinate * g.strideY[axis];
    }
    *rowA = offsetA + (long long)row * g.ai;
    *columnB = offsetB + (long long)column * g.bj;
    *target = offsetY + (long long)row * g.yi + (long long)column * g.yj;
}

extern "C" __global__ void octet_matmul_f32(
    long long count, MatmulGeometry g, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    long long rowA, columnB, target;
    matmul_offsets(i, g, &rowA, &columnB, &target);
    const float* x = a + rowA;
    const float* w = b + columnB;
    float acc = 0.0f;
    for (int p = 0; p < g.k; ++p) acc = __fadd_rn(acc, __fmul_rn(x[(long long)p * g.ak], w[(long long)p * g.bk]));
    y[target] = acc;
}

// The quantizations of an INT8 matmul (QuantizedMatrixMultiplyArithmetic): signedness and zero point of each
// operand, the output's zero point, multiplier and bounds of q_y - z_y.
struct MatmulQuantization {
    int aSigned, aZero, bSigned, bZero, yZero;
    float multiplier, lo, hi;
};

extern "C" __global__ void octet_matmul_q8(
    long long count, MatmulGeometry g, MatmulQuantization q, const unsigned char* __restrict__ a,
    const unsigned char* __restrict__ b, unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    long long rowA, columnB, target;
    matmul_offsets(i, g, &rowA, &columnB, &target);
    int acc = 0;
    for (int p = 0; p < g.k; ++p) {
        acc += (byte_value(a, rowA + (long long)p * g.ak, q.aSigned) - q.aZero) * (byte_value(b, columnB + (long long)p * g.bk, q.bSigned) - q.bZero);
    }
    const float v = __fmul_rn(__int2float_rn(acc), q.multiplier);
    y[target] = (unsigned char)(__float2int_rn(fminf(fmaxf(v, q.lo), q.hi)) + q.yZero);
}
