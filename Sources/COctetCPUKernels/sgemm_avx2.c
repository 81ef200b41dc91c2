/*
 * FP32 GEMM, AVX2 + FMA: gemm_f32_minmax_6x16__fma3 in XNNPACK's naming.
 *
 * Register tile: MR = 6 rows x 16 columns (one panel, two ymm) = 12 ymm accumulators + 2 ymm of B + one
 * broadcast of A. Columns past N are dropped with vmaskmovps (and the residual read with masked loads).
 */
#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MR 6

OCTET_INLINE OCTET_TARGET_AVX2 __m256i lane_mask(size_t valid) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)valid), lanes);
}

OCTET_INLINE OCTET_TARGET_AVX2 void sgemm_tile(const size_t mr, size_t K, const float* a, size_t lda, const float* b,
                                               size_t ncols, float* c, size_t ldc, const float* res, float min,
                                               float max) {
    __m256 acc[MR][2];
    const __m256 bias0 = _mm256_loadu_ps(b), bias1 = _mm256_loadu_ps(b + 8);
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        acc[i][0] = bias0;
        acc[i][1] = bias1;
    }
    const float* w = b + 16;
    for (size_t k = 0; k < K; k++) {
        const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
        w += 16;
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            const __m256 av = _mm256_broadcast_ss(a + i * lda + k);
            acc[i][0] = _mm256_fmadd_ps(av, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, w1, acc[i][1]);
        }
    }
    const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
    const __m256i mask0 = lane_mask(ncols), mask1 = lane_mask(ncols > 8 ? ncols - 8 : 0);
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        __m256 y0 = acc[i][0], y1 = acc[i][1];
        if (res != NULL) {
            y0 = _mm256_add_ps(y0, _mm256_maskload_ps(res + i * ldc, mask0));
            y1 = _mm256_add_ps(y1, _mm256_maskload_ps(res + i * ldc + 8, mask1));
        }
        y0 = _mm256_min_ps(_mm256_max_ps(y0, vmin), vmax);
        y1 = _mm256_min_ps(_mm256_max_ps(y1, vmin), vmax);
        if (ncols == 16) {
            _mm256_storeu_ps(c + i * ldc, y0);
            _mm256_storeu_ps(c + i * ldc + 8, y1);
        } else {
            _mm256_maskstore_ps(c + i * ldc, mask0, y0);
            _mm256_maskstore_ps(c + i * ldc + 8, mask1, y1);
        }
    }
}

typedef void (*tile_fn)(size_t K, const float* a, size_t lda, const float* b, size_t ncols, float* c, size_t ldc,
                        const float* res, float min, float max);

#define DEFINE_TILE(R)                                                                                             \
    static OCTET_TARGET_AVX2 void tile_##R(size_t K, const float* a, size_t lda, const float* b, size_t ncols,     \
                                           float* c, size_t ldc, const float* res, float min, float max) {         \
        sgemm_tile(R, K, a, lda, b, ncols, c, ldc, res, min, max);                                                 \
    }
DEFINE_TILE(1)
DEFINE_TILE(2)
DEFINE_TILE(3)
DEFINE_TILE(4)
DEFINE_TILE(5)
DEFINE_TILE(6)

static const tile_fn tiles[MR] = {tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};

/* Bytes of B per L2 block of panels. */
#define L2_BLOCK_BYTES (256u * 1024u)

void octet_sgemm_avx2(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B, float* C,
                      size_t ldc, const float* residual, float min, float max) {
    octet_sgemm_check(M, N, K, lda, ldc);
    if (M == 0 || N == 0) return;
    const size_t panel_floats = octet_sgemm_panel_floats(K);
    const size_t panels = (N + 15) / 16;
    size_t block_panels = L2_BLOCK_BYTES / (panel_floats * sizeof(float));
    if (block_panels < 1) block_panels = 1;

    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            for (size_t pi = pb; pi < pe; pi++) {
                tiles[mr - 1](K, A + m0 * lda, lda, packed_B + pi * panel_floats, octet_min_size(16, N - 16 * pi),
                              C + m0 * ldc + 16 * pi, ldc, residual != NULL ? residual + m0 * ldc + 16 * pi : NULL,
                              min, max);
            }
        }
    }
}

#else /* !__x86_64__ */

void octet_sgemm_avx2(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B, float* C,
                      size_t ldc, const float* residual, float min, float max) {
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)packed_B, (void)C, (void)ldc, (void)residual;
    (void)min, (void)max;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

#endif
