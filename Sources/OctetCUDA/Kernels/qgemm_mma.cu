// INT8 GEMM on tensor cores (sm_80 and newer, used on sm_90): mma.sync m16n8k32 with u8 activations and s8
// weights, int32 accumulators, and Octet's requantization epilogue. One warp per 16x8 output tile, operands read
// straight from global memory: the first, plain version that the tiled shared-memory kernels will be checked
// against.
//
// A: M x K bytes (uint8), row-major; W: N x K bytes (int8), row-major (k contiguous: the "col" B operand);
// K is a multiple of 32 (callers pad both with zeros). Fragment layout (PTX ISA, m16n8k32 .u8/.s8): with
// g = lane / 4 and t = lane % 4, a0 = A[g][4t..4t+3], a1 = A[g+8][4t..], a2 = A[g][16+4t..], a3 = A[g+8][16+4t..];
// b0 = W[g][4t..4t+3], b1 = W[g][16+4t..]; c0,c1 = C[g][2t, 2t+1], c2,c3 = C[g+8][2t, 2t+1].
#if __CUDA_ARCH__ >= 800
__device__ __forceinline__ unsigned int load_word(const unsigned char* base, int row, int rows, int K, int k) {
    return row < rows ? *reinterpret_cast<const unsigned int*>(base + (size_t)row * K + k) : 0u;
}

__device__ __forceinline__ unsigned char requantize_mma(int acc, float multiplier, float lo, float hi, int outputSigned) {
    float y = __fmul_rn(__int2float_rn(acc), multiplier);
    y = fminf(fmaxf(y, lo), hi);
    const int q = __float2int_rn(y);
    return outputSigned ? (unsigned char)(signed char)q : (unsigned char)q;
}

extern "C" __global__ void octet_qgemm_u8s8_mma(
    int M, int N, int K, const unsigned char* __restrict__ A, const unsigned char* __restrict__ W,
    const int* __restrict__ bias, const float* __restrict__ multiplier, float lo, float hi, int outputSigned,
    unsigned char* __restrict__ C)
{
    const int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    const int tilesN = (N + 7) / 8;
    const int m0 = (warp / tilesN) * 16, n0 = (warp % tilesN) * 8;
    if (m0 >= M) return;
    const int g = lane / 4, t = lane % 4;
    int c[4] = {0, 0, 0, 0};
    for (int k = 0; k < K; k += 32) {
        const unsigned int a0 = load_word(A, m0 + g, M, K, k + 4 * t);
        const unsigned int a1 = load_word(A, m0 + g + 8, M, K, k + 4 * t);
        const unsigned int a2 = load_word(A, m0 + g, M, K, k + 16 + 4 * t);
        const unsigned int a3 = load_word(A, m0 + g + 8, M, K, k + 16 + 4 * t);
        const unsigned int b0 = load_word(W, n0 + g, N, K, k + 4 * t);
        const unsigned int b1 = load_word(W, n0 + g, N, K, k + 16 + 4 * t);
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
            : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    }
    for (int i = 0; i < 4; i++) {
        const int m = m0 + g + (i >= 2 ? 8 : 0), n = n0 + 2 * t + (i & 1);
        if (m < M && n < N) C[(size_t)m * N + n] = requantize_mma(c[i] + bias[n], multiplier[n], lo, hi, outputSigned);
    }
}
#endif // __CUDA_ARCH__ >= 800
