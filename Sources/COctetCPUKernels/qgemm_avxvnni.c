/*
 * Quantized GEMM, AVX-VNNI: gemm_qu8_qc8w_minmax_fp32_6x16c4__avxvnni in XNNPACK's naming, and the same tile
 * with a float epilogue (octet_qgemm_f32out_avxvnni).
 *
 * AVX-VNNI (CPUID.(7,1):EAX[4]; Alder Lake, Sapphire Rapids, Zen 5 and later) is the VEX encoding of vpdpbusd on
 * ymm: u8 x s8 -> four exact products summed into each int32 lane, no saturation (the non-"s" form), without
 * needing AVX-512. It reads the canonical packed panels directly: a k-group is 16 columns x 4 bytes, i.e. two
 * ymm of 8 columns, and lane j of vpdpbusd(acc, a, w) adds sum_i a[i] * w[4j + i], column j's 4 products.
 *
 * Register tile: MR = 6 rows x 16 columns = 12 ymm accumulators (started at the bias), 2 ymm of weights and the
 * broadcast A (vpbroadcastd). Per k-group: 2 weight loads, 6 broadcasts, 12 vpdpbusd for 384 multiply-adds. int8
 * A is shifted to uint8 once per 6-row block (octet_shifted_block); the float-output tiles XOR per broadcast. Edges: 1..5 rows are separate instances of the same inline tile; columns past N are computed on
 * the panel's zero padding and not stored. Same epilogues and loop nest (L2 blocks of panels) as the AVX2 kernel.
 *
 * Reads exactly K bytes per A row, the packed panels and N residual bytes per row; writes exactly N bytes
 * (floats) per C row (16-byte stack buffers at the N edge).
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define MR 6
/* Weight bytes per L2 block of panels. */
#define L2_BLOCK_BYTES (256u * 1024u)

OCTET_INLINE OCTET_TARGET_AVXVNNI void tile_accumulate(const size_t mr, size_t K, const uint8_t* a, size_t a_stride,
                                                       uint8_t a_xor, const uint8_t* b, __m256i acc[MR][2]) {
    const __m256i bias0 = _mm256_loadu_si256((const __m256i*)b);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(b + 32));
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        acc[i][0] = bias0;
        acc[i][1] = bias1;
    }
    const __m256i vxor = _mm256_set1_epi8((char)a_xor);
    const uint8_t* w = b + 64;
    for (size_t k = 0; k < K; k += 4) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i*)w);
        const __m256i w1 = _mm256_loadu_si256((const __m256i*)(w + 32));
        w += 64;
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            const __m256i av = _mm256_xor_si256(_mm256_set1_epi32(octet_load_i32(a + i * a_stride + k)), vxor);
            acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], av, w0);
            acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], av, w1);
        }
    }
}

OCTET_INLINE OCTET_TARGET_AVXVNNI void tile_q(const size_t mr, size_t K, const uint8_t* a, size_t a_stride,
                                              const uint8_t* b, size_t ncols, uint8_t* c, size_t c_stride,
                                              const uint8_t* res, size_t r_stride, const octet_qgemm_params* p) {
    __m256i acc[MR][2];
    tile_accumulate(mr, K, a, a_stride, 0, b, acc); /* A already uint8 (shifted by the caller if it was int8) */
    const float* multiplier = (const float*)(b + 64 + 16 * K);
    const __m256 vmin = _mm256_set1_ps(p->min);
    const __m256 vmax = _mm256_set1_ps(p->max);
    const __m256 vrm = _mm256_set1_ps(p->residual_multiplier);
    const __m256i vrz = _mm256_set1_epi32(p->residual_zero_point);
    const __m256i voz = _mm256_set1_epi32(p->output_zero_point);
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        __m128i r16 = _mm_setzero_si128();
        if (res != NULL) r16 = octet_load16_partial_avx2(res + i * r_stride, ncols);
        const __m128i q = octet_requant16_avx2(acc[i][0], acc[i][1], multiplier, res != NULL, r16, p->residual_signed,
                                               vrz, vrm, vmin, vmax, voz, p->output_signed,
                                               res != NULL || !p->saturation_clamps);
        octet_store16_partial_avx2(c + i * c_stride, q, ncols);
    }
}

OCTET_INLINE OCTET_TARGET_AVXVNNI void tile_f32(const size_t mr, size_t K, const uint8_t* a, size_t a_stride,
                                                uint8_t a_xor, const uint8_t* b, size_t ncols, float* c, size_t ldc,
                                                float min, float max) {
    __m256i acc[MR][2];
    tile_accumulate(mr, K, a, a_stride, a_xor, b, acc);
    const __m256 m0 = _mm256_loadu_ps((const float*)(b + 64 + 16 * K));
    const __m256 m1 = _mm256_loadu_ps((const float*)(b + 64 + 16 * K + 32));
    const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        __m256 y0 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][0]), m0);
        __m256 y1 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][1]), m1);
        y0 = _mm256_min_ps(_mm256_max_ps(y0, vmin), vmax);
        y1 = _mm256_min_ps(_mm256_max_ps(y1, vmin), vmax);
        octet_store16_f32_partial_avx2(c + i * ldc, y0, y1, ncols);
    }
}

typedef void (*tile_q_fn)(size_t K, const uint8_t* a, size_t a_stride, const uint8_t* b, size_t ncols, uint8_t* c,
                          size_t c_stride, const uint8_t* res, size_t r_stride, const octet_qgemm_params* p);
typedef void (*tile_f32_fn)(size_t K, const uint8_t* a, size_t a_stride, uint8_t a_xor, const uint8_t* b,
                            size_t ncols, float* c, size_t ldc, float min, float max);

#define DEFINE_TILES(R)                                                                                           \
    static OCTET_TARGET_AVXVNNI void tile_q_##R(size_t K, const uint8_t* a, size_t a_stride, const uint8_t* b,     \
                                                size_t ncols, uint8_t* c, size_t c_stride, const uint8_t* res,      \
                                                size_t r_stride, const octet_qgemm_params* p) {                     \
        tile_q(R, K, a, a_stride, b, ncols, c, c_stride, res, r_stride, p);                                         \
    }                                                                                                               \
    static OCTET_TARGET_AVXVNNI void tile_f32_##R(size_t K, const uint8_t* a, size_t a_stride, uint8_t a_xor,      \
                                                  const uint8_t* b, size_t ncols, float* c, size_t ldc, float min,  \
                                                  float max) {                                                      \
        tile_f32(R, K, a, a_stride, a_xor, b, ncols, c, ldc, min, max);                                             \
    }
DEFINE_TILES(1)
DEFINE_TILES(2)
DEFINE_TILES(3)
DEFINE_TILES(4)
DEFINE_TILES(5)
DEFINE_TILES(6)
static const tile_q_fn tiles_q[MR] = {tile_q_1, tile_q_2, tile_q_3, tile_q_4, tile_q_5, tile_q_6};
static const tile_f32_fn tiles_f32[MR] = {tile_f32_1, tile_f32_2, tile_f32_3, tile_f32_4, tile_f32_5, tile_f32_6};

/* octet_shift_rows_fn: rows of int8 A shifted to uint8 (x ^ 0x80) into `out` (rows of K bytes). */
static OCTET_TARGET_AVXVNNI void shift_rows(size_t mr, size_t K, const uint8_t* a, size_t a_stride, uint8_t* out) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (size_t i = 0; i < mr; i++) {
        size_t k = 0;
        for (; k + 32 <= K; k += 32) {
            const __m256i x = _mm256_loadu_si256((const __m256i*)(a + i * a_stride + k));
            _mm256_storeu_si256((__m256i*)(out + i * K + k), _mm256_xor_si256(x, flip));
        }
        for (; k < K; k += 4) { /* K % 4 == 0 */
            uint32_t x;
            memcpy(&x, a + i * a_stride + k, 4);
            x ^= 0x80808080u;
            memcpy(out + i * K + k, &x, 4);
        }
    }
}

static size_t block_panels_for(size_t panel_bytes) {
    const size_t block = L2_BLOCK_BYTES / panel_bytes;
    return block < 1 ? 1 : block;
}

void octet_qgemm_avxvnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                         void* C, size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    octet_qgemm_check(M, N, K, a_stride, c_stride, residual, r_stride, p);
    if (M == 0 || N == 0) return;
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    const size_t panels = (N + 15) / 16, block_panels = block_panels_for(panel_bytes);
    uint8_t stack_rows[2 * MR * 2048];
    uint8_t* shifted = p->a_xor != 0 ? octet_shift_buffers(MR, K, stack_rows, sizeof stack_rows) : NULL;
    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            const uint8_t* a = A + m0 * a_stride;
            size_t as = a_stride;
            if (shifted != NULL) a = octet_shifted_block(shift_rows, shifted, MR, m0, M, K, A, a_stride), as = K;
            for (size_t pi = pb; pi < pe; pi++) {
                const uint8_t* res = residual != NULL ? (const uint8_t*)residual + m0 * r_stride + 16 * pi : NULL;
                tiles_q[mr - 1](K, a, as, (const uint8_t*)packed_B + pi * panel_bytes, octet_min_size(16, N - 16 * pi),
                                (uint8_t*)C + m0 * c_stride + 16 * pi, c_stride, res, r_stride, p);
            }
        }
    }
    if (shifted != NULL && shifted != stack_rows) free(shifted);
}

void octet_qgemm_f32out_avxvnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                                const void* packed_B, float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    assert(K % 4 == 0 && K <= 65536 && (M <= 1 || (a_stride >= K && ldc >= N)));
    if (M == 0 || N == 0) return;
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    const size_t panels = (N + 15) / 16, block_panels = block_panels_for(panel_bytes);
    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            for (size_t pi = pb; pi < pe; pi++) {
                tiles_f32[mr - 1](K, A + m0 * a_stride, a_stride, a_xor, (const uint8_t*)packed_B + pi * panel_bytes,
                                  octet_min_size(16, N - 16 * pi), C + m0 * ldc + 16 * pi, ldc, min, max);
            }
        }
    }
}

#else /* !__x86_64__ */

void octet_qgemm_avxvnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                         void* C, size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    (void)M, (void)N, (void)K, (void)A, (void)a_stride, (void)packed_B, (void)C, (void)c_stride;
    (void)residual, (void)r_stride, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_isa_supported() never reports this ISA */
}

void octet_qgemm_f32out_avxvnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                                const void* packed_B, float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    (void)M, (void)N, (void)K, (void)A, (void)a_stride, (void)packed_B, (void)C, (void)ldc, (void)min, (void)max;
    (void)a_xor;
    abort();
}

#endif
