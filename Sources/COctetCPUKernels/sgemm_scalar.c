/*
 * FP32 GEMM, scalar: the packer that defines the packed-B layout and the plain-loop oracle.
 * See COctetCPUKernels.h for the contract. Accumulates bias first, then k in order, then the residual.
 */
#include "octet_internal.h"

size_t octet_sgemm_packed_size(size_t N, size_t K) {
    return (N + 15) / 16 * octet_sgemm_panel_floats(K) * sizeof(float);
}

void octet_sgemm_pack(size_t N, size_t K, const float* W_kn, const float* bias, float* packed) {
    float* out = packed;
    for (size_t n0 = 0; n0 < N; n0 += 16) {
        const size_t nr = octet_min_size(16, N - n0);
        for (size_t j = 0; j < 16; j++) *out++ = j < nr && bias != NULL ? bias[n0 + j] : 0.0f;
        for (size_t k = 0; k < K; k++) {
            for (size_t j = 0; j < 16; j++) *out++ = j < nr ? W_kn[k * N + n0 + j] : 0.0f;
        }
    }
}

void octet_sgemm_scalar(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B, float* C,
                        size_t ldc, const float* residual, float min, float max) {
    octet_sgemm_check(M, N, K, lda, ldc);
    const size_t panel_floats = octet_sgemm_panel_floats(K);
    for (size_t m = 0; m < M; m++) {
        for (size_t n0 = 0; n0 < N; n0 += 16) {
            const float* panel = packed_B + n0 / 16 * panel_floats;
            const size_t nr = octet_min_size(16, N - n0);
            for (size_t j = 0; j < nr; j++) {
                float acc = panel[j];
                for (size_t k = 0; k < K; k++) acc += A[m * lda + k] * panel[16 + k * 16 + j];
                if (residual != NULL) acc += residual[m * ldc + n0 + j];
                C[m * ldc + n0 + j] = fminf(fmaxf(acc, min), max);
            }
        }
    }
}
