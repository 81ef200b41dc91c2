// FP32 NumPy matmul of two activations in their physical layouts (row-major, or NHWC for rank 4; see
// TensorLayout.broadcastStrides), the leading axes broadcast through stride 0:
//   y[..., i, j] = sum over k, in order, of a[..., i, k] * b[..., k, j]
// one thread per output element, each product rounded and then added (--fmad=false), exactly as the CPU's
// matmul_f32_strided__swift loop does, so the floats are the CPU's bit for bit. Strides and sizes are in elements.
// Correct, not tuned: attention matrices are small next to the convolutions.
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

extern "C" __global__ void octet_matmul_f32(
    long long count, MatmulGeometry g, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
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
    const float* x = a + offsetA + (long long)row * g.ai;
    const float* w = b + offsetB + (long long)column * g.bj;
    float acc = 0.0f;
    for (int p = 0; p < g.k; ++p) acc = __fadd_rn(acc, __fmul_rn(x[(long long)p * g.ak], w[(long long)p * g.bk]));
    y[offsetY + (long long)row * g.yi + (long long)column * g.yj] = acc;
}
