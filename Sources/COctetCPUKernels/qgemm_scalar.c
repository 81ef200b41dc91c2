/*
 * Quantized GEMM, scalar: the packer that defines the packed-B layout, and the plain-loop kernel that is the
 * oracle for the SIMD versions. See COctetCPUKernels.h for the contract.
 *
 * Packing algebra (done by the caller before octet_qgemm_pack, noted here because this is where it matters):
 * with activations x = s_x (q - z_x) and, for int8 ones, a_xor = 0x80, the kernel sees u = q + 128, so
 *     sum_k (q[k] - z_x) W[k][n] = sum_k u[k] W[k][n] - (z_x + 128) * sum_k W[k][n],
 * and the caller passes bias'[n] = bias[n] - (z_x + 128) * sum_k W[k][n] (QuantizedLinearParameters folds
 * the z_x part, the CPU layer the 128). With uint8 activations a_xor = 0 and bias' = bias - z_x * sum_k W.
 * The multiplier is s_x * s_w[n] / s_y; the output zero point is added after rounding.
 */
#include "octet_internal.h"

size_t octet_qgemm_packed_size(size_t N, size_t K) {
    return (N + OCTET_QGEMM_NR - 1) / OCTET_QGEMM_NR * octet_qgemm_panel_bytes(K);
}

void octet_qgemm_pack(size_t N, size_t K, const int8_t* W_kn, const int32_t* bias, const float* multiplier,
                      void* packed) {
    assert(K % 4 == 0);
    uint8_t* out = (uint8_t*)packed;
    for (size_t n0 = 0; n0 < N; n0 += 16) {
        const size_t nr = octet_min_size(16, N - n0);
        int32_t b[16] = {0};
        float s[16] = {0};
        for (size_t j = 0; j < nr; j++) {
            b[j] = bias != NULL ? bias[n0 + j] : 0;
            s[j] = multiplier[n0 + j];
        }
        memcpy(out, b, sizeof b);
        out += sizeof b;
        for (size_t g = 0; g < K / 4; g++) {
            for (size_t j = 0; j < 16; j++) {
                for (size_t i = 0; i < 4; i++) {
                    *out++ = j < nr ? (uint8_t)W_kn[(4 * g + i) * N + n0 + j] : 0;
                }
            }
        }
        memcpy(out, s, sizeof s);
        out += sizeof s;
    }
}

int32_t octet_qgemm_saturation_clamps(size_t N, size_t K, const void* packed_B, const octet_qgemm_params* p) {
    return octet_blocks16_saturation_clamps(N, K, packed_B, p->min, p->max, p->output_zero_point, p->output_signed);
}

void octet_qgemm_scalar(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                        void* C, size_t c_stride, const void* residual, size_t r_stride,
                        const octet_qgemm_params* p) {
    octet_qgemm_check(M, N, K, a_stride, c_stride, residual, r_stride, p);
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    for (size_t m = 0; m < M; m++) {
        const uint8_t* a = A + m * a_stride;
        for (size_t n0 = 0; n0 < N; n0 += 16) {
            const uint8_t* panel = (const uint8_t*)packed_B + n0 / 16 * panel_bytes;
            const int8_t* w = (const int8_t*)(panel + 64);
            const size_t nr = octet_min_size(16, N - n0);
            for (size_t j = 0; j < nr; j++) {
                int32_t acc = octet_load_i32(panel + 4 * j);
                for (size_t k = 0; k < K; k++) {
                    const int32_t x = (uint8_t)(a[k] ^ p->a_xor);
                    acc += x * (int32_t)w[(k / 4 * 16 + j) * 4 + k % 4];
                }
                int32_t r = 0;
                if (residual != NULL) {
                    const uint8_t* rp = (const uint8_t*)residual + m * r_stride + n0 + j;
                    r = (p->residual_signed ? (int32_t)(int8_t)*rp : (int32_t)*rp) - p->residual_zero_point;
                }
                const float multiplier = octet_load_f32(panel + 64 + 16 * K + 4 * j);
                const int32_t q = octet_requantize(acc, multiplier, residual != NULL, r, p->residual_multiplier,
                                                   p->min, p->max, p->output_zero_point);
                uint8_t* c = (uint8_t*)C + m * c_stride + n0 + j;
                *c = octet_saturate_byte(q, p->output_signed);
            }
        }
    }
}
