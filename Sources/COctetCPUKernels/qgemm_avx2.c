/*
 * Quantized GEMM, AVX2: gemm_qu8_qc8w_minmax_fp32_2x16c4__avx2 in XNNPACK's naming.
 *
 * AVX2 has no exact u8 x s8 dot product (vpmaddubsw saturates its int16 pair sums), so both operands are
 * widened to int16 and multiplied with vpmaddwd, which is exact into int32:
 *   A: the 4 bytes of a k-group, XOR a_xor, zero-extended to 4 x int16 and repeated: [a0 a1 a2 a3] x 4.
 *   W: 16 bytes (4 columns x 4 k) sign-extended to 16 x int16.
 *   vpmaddwd gives, per column, two half-sums (a0w0 + a1w1, a2w2 + a3w3) in adjacent int32 lanes; they are
 *   kept apart in the accumulators and added pairwise (vphaddd) once, after the k loop.
 * Register tile: MR = 2 rows x 16 columns (one panel) = 8 ymm accumulators + 4 ymm of widened weights.
 *
 * Reads exactly K bytes per A row; residual and C rows at the N edge go through a 16-byte stack buffer.
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define MR 2

OCTET_INLINE OCTET_TARGET_AVX2 void qgemm_tile(const size_t mr, size_t K, const uint8_t* a, size_t a_stride,
                                               const uint8_t* b, size_t ncols, uint8_t* c, size_t c_stride,
                                               const uint8_t* res, size_t r_stride, const octet_qgemm_params* p) {
    __m256i acc[MR][4];
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        OCTET_UNROLL for (size_t s = 0; s < 4; s++) acc[i][s] = _mm256_setzero_si256();
    }
    const __m128i vxor = _mm_set1_epi8((char)p->a_xor);
    const uint8_t* w = b + 64;
    for (size_t k = 0; k < K; k += 4) {
        __m256i wv[4];
        OCTET_UNROLL for (size_t s = 0; s < 4; s++) {
            wv[s] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(w + 16 * s)));
        }
        w += 64;
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            const __m128i x = _mm_xor_si128(_mm_set1_epi32(octet_load_i32(a + i * a_stride + k)), vxor);
            const __m256i av = _mm256_cvtepu8_epi16(x);
            OCTET_UNROLL for (size_t s = 0; s < 4; s++) {
                acc[i][s] = _mm256_add_epi32(acc[i][s], _mm256_madd_epi16(av, wv[s]));
            }
        }
    }

    const __m256i bias0 = _mm256_loadu_si256((const __m256i*)b);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(b + 32));
    const float* multiplier = (const float*)(b + 64 + 16 * K);
    const __m256 vmin = _mm256_set1_ps(p->min);
    const __m256 vmax = _mm256_set1_ps(p->max);
    const __m256 vrm = _mm256_set1_ps(p->residual_multiplier);
    const __m256i vrz = _mm256_set1_epi32(p->residual_zero_point);
    const __m256i voz = _mm256_set1_epi32(p->output_zero_point);
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        /* hadd(x, y) = [x01 x23 y01 y23 | x45 x67 y45 y67] = columns [0 1 4 5 | 2 3 6 7]; permute to 0..7. */
        const __m256i c0 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xD8);
        const __m256i c1 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][2], acc[i][3]), 0xD8);
        __m128i r16 = _mm_setzero_si128();
        if (res != NULL) r16 = octet_load16_partial_avx2(res + i * r_stride, ncols);
        const __m128i q = octet_requant16_avx2(_mm256_add_epi32(c0, bias0), _mm256_add_epi32(c1, bias1), multiplier,
                                               res != NULL, r16, p->residual_signed, vrz, vrm, vmin, vmax, voz,
                                               p->output_signed);
        octet_store16_partial_avx2(c + i * c_stride, q, ncols);
    }
}

static OCTET_TARGET_AVX2 void tile_1(size_t K, const uint8_t* a, size_t a_stride, const uint8_t* b, size_t ncols,
                                     uint8_t* c, size_t c_stride, const uint8_t* res, size_t r_stride,
                                     const octet_qgemm_params* p) {
    qgemm_tile(1, K, a, a_stride, b, ncols, c, c_stride, res, r_stride, p);
}

static OCTET_TARGET_AVX2 void tile_2(size_t K, const uint8_t* a, size_t a_stride, const uint8_t* b, size_t ncols,
                                     uint8_t* c, size_t c_stride, const uint8_t* res, size_t r_stride,
                                     const octet_qgemm_params* p) {
    qgemm_tile(2, K, a, a_stride, b, ncols, c, c_stride, res, r_stride, p);
}

/* Weight bytes per L2 block of panels. */
#define L2_BLOCK_BYTES (256u * 1024u)

void octet_qgemm_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                      void* C, size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    octet_qgemm_check(M, N, K, a_stride, c_stride, residual, r_stride, p);
    if (M == 0 || N == 0) return;
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    const size_t panels = (N + 15) / 16;
    size_t block_panels = L2_BLOCK_BYTES / panel_bytes;
    if (block_panels < 1) block_panels = 1;

    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            const uint8_t* a = A + m0 * a_stride;
            uint8_t* c = (uint8_t*)C + m0 * c_stride;
            const uint8_t* res = residual != NULL ? (const uint8_t*)residual + m0 * r_stride : NULL;
            for (size_t pi = pb; pi < pe; pi++) {
                const size_t ncols = octet_min_size(16, N - 16 * pi);
                const uint8_t* b = (const uint8_t*)packed_B + pi * panel_bytes;
                const uint8_t* r = res != NULL ? res + 16 * pi : NULL;
                if (mr == 2) {
                    tile_2(K, a, a_stride, b, ncols, c + 16 * pi, c_stride, r, r_stride, p);
                } else {
                    tile_1(K, a, a_stride, b, ncols, c + 16 * pi, c_stride, r, r_stride, p);
                }
            }
        }
    }
}

#else /* !__x86_64__ */

void octet_qgemm_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                      void* C, size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    (void)M, (void)N, (void)K, (void)A, (void)a_stride, (void)packed_B, (void)C, (void)c_stride;
    (void)residual, (void)r_stride, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

#endif
