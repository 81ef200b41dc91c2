// INT8 GEMM with Octet's fused requantization epilogue, one thread per output element, dp4a (sm_61+).
//
// C[m][n] = requant(bias[n] + sum_k A[m][k] * W[n][k]): A is uint8 (activations, already shifted to unsigned
// by the caller when signed, with the bias compensated as on the CPU), W is int8, four per 32-bit word
// (K padded to a multiple of 4). The epilogue is OctetQuantization's, bit for bit:
//   y = (float)acc * multiplier[n]; y = min(max(y, lo), hi); q = round-half-even(y)
// __fmul_rn and __int2float_rn keep NVRTC from contracting or reordering the float operations.
extern "C" __global__ void octet_qgemm_u8s8_dp4a(
    int M, int N, int K4, const unsigned int* __restrict__ A, const int* __restrict__ W,
    const int* __restrict__ bias, const float* __restrict__ multiplier, float lo, float hi, int outputSigned,
    unsigned char* __restrict__ C)
{
    const int n = blockIdx.x * blockDim.x + threadIdx.x;
    const int m = blockIdx.y;
    if (n >= N || m >= M) return;
    int acc = bias[n];
    const unsigned int* a = A + (size_t)m * K4;
    const int* w = W + (size_t)n * K4;
    for (int k = 0; k < K4; k++) {
        asm("dp4a.u32.s32 %0, %1, %2, %0;" : "+r"(acc) : "r"(a[k]), "r"(w[k]));
    }
    float y = __fmul_rn(__int2float_rn(acc), multiplier[n]);
    y = fminf(fmaxf(y, lo), hi);
    const int q = __float2int_rn(y);
    C[(size_t)m * N + n] = outputSigned ? (unsigned char)(signed char)q : (unsigned char)q;
}
