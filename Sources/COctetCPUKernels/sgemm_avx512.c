/*
 * FP32 GEMM, AVX-512F: gemm_f32_minmax_8x48__avx512f in XNNPACK's naming (named octet_sgemm_avx512vnni for
 * the ISA level that selects it; it needs only AVX-512F).
 *
 * Register tile: MR = 8 rows x 3 panels (48 columns) = 24 zmm accumulators + 3 zmm of B; A is broadcast from
 * memory as the FMA's third operand. Edges: 1..7 rows and 1..2 panels are instances of the same inline tile;
 * columns past N are dropped by masked stores (and the residual is read with masked loads).
 */
#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MR 8
#define NP 3

OCTET_INLINE OCTET_TARGET_AVX512 void sgemm_tile(const size_t mr, const size_t np, size_t K, const float* a,
                                                 size_t lda, const float* b, size_t panel_floats, size_t ncols,
                                                 float* c, size_t ldc, const float* res, float min, float max) {
    __m512 acc[MR][NP];
    OCTET_UNROLL for (size_t j = 0; j < np; j++) {
        const __m512 bias = _mm512_loadu_ps(b + j * panel_floats);
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) acc[i][j] = bias;
    }
    const float* w = b + 16;
    for (size_t k = 0; k < K; k++) {
        __m512 wv[NP];
        OCTET_UNROLL for (size_t j = 0; j < np; j++) wv[j] = _mm512_loadu_ps(w + j * panel_floats);
        w += 16;
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            const __m512 av = _mm512_set1_ps(a[i * lda + k]);
            OCTET_UNROLL for (size_t j = 0; j < np; j++) acc[i][j] = _mm512_fmadd_ps(av, wv[j], acc[i][j]);
        }
    }
    const __m512 vmin = _mm512_set1_ps(min);
    const __m512 vmax = _mm512_set1_ps(max);
    OCTET_UNROLL for (size_t j = 0; j < np; j++) {
        const size_t valid = octet_min_size(16, ncols - 16 * j);
        const __mmask16 mask = (__mmask16)((1u << valid) - 1u);
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            __m512 y = acc[i][j];
            if (res != NULL) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, res + i * ldc + 16 * j));
            y = _mm512_min_ps(_mm512_max_ps(y, vmin), vmax);
            _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask, y);
        }
    }
}

typedef void (*tile_fn)(size_t K, const float* a, size_t lda, const float* b, size_t panel_floats, size_t ncols,
                        float* c, size_t ldc, const float* res, float min, float max);

#define DEFINE_TILE(R, P)                                                                                        \
    static OCTET_TARGET_AVX512 void tile_##R##x##P(size_t K, const float* a, size_t lda, const float* b,         \
                                                   size_t panel_floats, size_t ncols, float* c, size_t ldc,      \
                                                   const float* res, float min, float max) {                     \
        sgemm_tile(R, P, K, a, lda, b, panel_floats, ncols, c, ldc, res, min, max);                              \
    }
#define DEFINE_TILE_ROW(R) DEFINE_TILE(R, 1) DEFINE_TILE(R, 2) DEFINE_TILE(R, 3)
DEFINE_TILE_ROW(1)
DEFINE_TILE_ROW(2)
DEFINE_TILE_ROW(3)
DEFINE_TILE_ROW(4)
DEFINE_TILE_ROW(5)
DEFINE_TILE_ROW(6)
DEFINE_TILE_ROW(7)
DEFINE_TILE_ROW(8)

#define TILE_ROW(R) {tile_##R##x1, tile_##R##x2, tile_##R##x3}
static const tile_fn tiles[MR][NP] = {TILE_ROW(1), TILE_ROW(2), TILE_ROW(3), TILE_ROW(4),
                                      TILE_ROW(5), TILE_ROW(6), TILE_ROW(7), TILE_ROW(8)};

/* Bytes of B per L2 block of panels. */
#define L2_BLOCK_BYTES (512u * 1024u)

void octet_sgemm_avx512vnni(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B,
                            float* C, size_t ldc, const float* residual, float min, float max) {
    octet_sgemm_check(M, N, K, lda, ldc);
    if (M == 0 || N == 0) return;
    const size_t panel_floats = octet_sgemm_panel_floats(K);
    const size_t panels = (N + 15) / 16;
    size_t block_panels = L2_BLOCK_BYTES / (panel_floats * sizeof(float)) / NP * NP;
    if (block_panels < NP) block_panels = NP;

    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            for (size_t p0 = pb; p0 < pe; p0 += NP) {
                const size_t np = octet_min_size(NP, pe - p0);
                const size_t ncols = octet_min_size(16 * np, N - 16 * p0);
                tiles[mr - 1][np - 1](K, A + m0 * lda, lda, packed_B + p0 * panel_floats, panel_floats, ncols,
                                      C + m0 * ldc + 16 * p0, ldc,
                                      residual != NULL ? residual + m0 * ldc + 16 * p0 : NULL, min, max);
            }
        }
    }
}

#else /* !__x86_64__ */

void octet_sgemm_avx512vnni(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B,
                            float* C, size_t ldc, const float* residual, float min, float max) {
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)packed_B, (void)C, (void)ldc, (void)residual;
    (void)min, (void)max;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

#endif
