/*
 * Quantized GEMM, AVX-512 VNNI: gemm_qu8_qc8w_minmax_fp32_6x64c4__avx512vnni in XNNPACK's naming.
 *
 * Register tile: MR = 6 rows x 4 panels (64 columns) = 24 zmm int32 accumulators, plus 4 zmm of weights and
 * one broadcast of A. Per k-group of 4: load 64 bytes of W per panel (16 columns x 4 k), broadcast the 4 A
 * bytes of each row (vpbroadcastd), and vpdpbusd (u8 A x s8 W, 4 products summed into each int32 lane). int8 A
 * (a_xor 0x80) is shifted to uint8 once per 6-row block, a block ahead of its use (octet_shifted_block): a vpxord
 * per broadcast instead (6 per 24 vpdpbusd) held every shape it was left to at 49-62 % of the vpdpbusd peak, the
 * copy at 63-94 % even for a single 64-column tile (kernel_bench, int8 A). Edges: fewer rows (1..5) and fewer
 * panels (1..3) are separate instances of the same inline tile; the
 * last panel's columns past N are computed on zero padding and dropped by masked stores.
 *
 * Epilogue per row: the octet_requantize() steps on 4 x 16 lanes, then two vpackssdw, one vpacksswb/vpackuswb
 * and one vpermd give the row's 64 bytes, stored with one byte-masked store. With small K the epilogue is most
 * of the work; where the saturation to bytes is the clamp (p->saturation_clamps, no residual) the float
 * max/min are left out.
 *
 * Loop nest: panels are blocked so one block of weights (<= ~384 KiB) stays in L2 while every 6-row tile
 * of A passes over it; within a block, a 6-row tile of A (6*K bytes) is reused from L1 for each 64 columns.
 * While a tile runs, the next tile's A rows are prefetched (a cache line per row per 16 k-groups; for shifted
 * int8 rows the copy has already brought them in).
 *
 * Reads exactly K bytes per A row, the packed panels, and N residual bytes per row (byte-masked loads);
 * writes exactly N bytes per C row (byte-masked stores). Only prefetches go past the end of A.
 *
 * The indirect form (octet_qigemm_avx512vnni, convolutions without im2col) runs the same tile with each row's K
 * bytes gathered tap by tap through a table of pointers (C bytes a tap), so the patches are never written: with
 * im2col, ResNet-50's 3x3 layers wrote and read back 9x their input (layer1: 0.062 ms of patches an image on one
 * core beside 0.35 ms of GEMM).
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define MR 6
#define NP 4

/* The epilogue of a tile whose accumulators (bias included) are done: the octet_requantize() steps on 4 x 16 lanes a
 * row, stored as the row's ncols (1..64) bytes. */
OCTET_INLINE OCTET_TARGET_AVX512 void tile_epilogue(const size_t mr, const size_t np, __m512i acc[MR][NP], size_t K,
                                                    const uint8_t* b, size_t panel_bytes, size_t ncols, uint8_t* c,
                                                    size_t c_stride, const uint8_t* res, size_t r_stride,
                                                    const octet_qgemm_params* p) {
    const __m512 vmin = _mm512_set1_ps(p->min);
    const __m512 vmax = _mm512_set1_ps(p->max);
    const __m512 vrm = _mm512_set1_ps(p->residual_multiplier);
    const __m512i vrz = _mm512_set1_epi32(p->residual_zero_point);
    const __m512i voz = _mm512_set1_epi32(p->output_zero_point);
    __m512 multiplier[NP];
    OCTET_UNROLL for (size_t j = 0; j < np; j++) multiplier[j] = _mm512_loadu_ps(b + j * panel_bytes + 64 + 16 * K);
    /* ncols (1..64) bytes of each row of this tile exist in C and the residual. */
    const __mmask64 mask = ncols >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << ncols) - 1);
    if (res == NULL && p->saturation_clamps) {
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            __m512i q[NP];
            OCTET_UNROLL for (size_t j = 0; j < NP; j++) {
                q[j] = j < np ? octet_requant16_unclamped_avx512(acc[i][j], multiplier[j], voz) : _mm512_setzero_si512();
            }
            const __m512i bytes = octet_saturate64_avx512(q[0], q[1], q[2], q[3], p->output_signed);
            _mm512_mask_storeu_epi8(c + i * c_stride, mask, bytes);
        }
        return;
    }
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        __m512i r64 = _mm512_setzero_si512();
        if (res != NULL) r64 = _mm512_maskz_loadu_epi8(mask, res + i * r_stride);
        const __m128i r16[NP] = {_mm512_castsi512_si128(r64), _mm512_extracti32x4_epi32(r64, 1),
                                 _mm512_extracti32x4_epi32(r64, 2), _mm512_extracti32x4_epi32(r64, 3)};
        __m512i q[NP];
        OCTET_UNROLL for (size_t j = 0; j < NP; j++) {
            q[j] = j < np ? octet_requant16_avx512(acc[i][j], multiplier[j], res != NULL, r16[j], p->residual_signed,
                                                   vrz, vrm, vmin, vmax, voz)
                          : _mm512_setzero_si512();
        }
        const __m512i bytes = octet_saturate64_avx512(q[0], q[1], q[2], q[3], p->output_signed);
        _mm512_mask_storeu_epi8(c + i * c_stride, mask, bytes);
    }
}

/* The accumulators start at the panels' biases. */
OCTET_INLINE OCTET_TARGET_AVX512 void tile_start(const size_t mr, const size_t np, __m512i acc[MR][NP], const uint8_t* b,
                                                 size_t panel_bytes) {
    OCTET_UNROLL for (size_t j = 0; j < np; j++) {
        const __m512i bias = _mm512_loadu_si512(b + j * panel_bytes);
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) acc[i][j] = bias;
    }
}

/* One k-group of 4: the rows' 4 bytes at ar[i] + k against the np panels' 64 weight bytes at w. */
OCTET_INLINE OCTET_TARGET_AVX512 void tile_k_group(const size_t mr, const size_t np, __m512i acc[MR][NP],
                                                   const uint8_t* const ar[MR], size_t k, const uint8_t* w,
                                                   size_t panel_bytes) {
    __m512i wv[NP];
    OCTET_UNROLL for (size_t j = 0; j < np; j++) wv[j] = _mm512_loadu_si512(w + j * panel_bytes);
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        const __m512i av = _mm512_set1_epi32(octet_load_i32(ar[i] + k));
        OCTET_UNROLL for (size_t j = 0; j < np; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
    }
}

OCTET_INLINE OCTET_TARGET_AVX512 void qgemm_tile(const size_t mr, const size_t np, size_t K, const uint8_t* a,
                                                 size_t a_stride, const uint8_t* b, size_t panel_bytes,
                                                 size_t ncols, uint8_t* c, size_t c_stride, const uint8_t* res,
                                                 size_t r_stride, const octet_qgemm_params* p) {
    __m512i acc[MR][NP];
    tile_start(mr, np, acc, b, panel_bytes);
    const uint8_t* w = b + 64;
    const uint8_t* ar[MR];
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) ar[i] = a + i * a_stride;

    for (size_t k0 = 0; k0 < K; k0 += 64) {
        /* Each A row crosses a cache line every 16 k-groups. Prefetch the same line of the NEXT tile's rows
         * (MR rows down), so its A is in L1 when that tile starts; prefetches of addresses past the end of A
         * (the last tile) are harmless, they never fault. */
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            _mm_prefetch((const char*)((uintptr_t)ar[i] + MR * a_stride + k0), _MM_HINT_T0);
        }
        const size_t k1 = octet_min_size(K, k0 + 64);
        for (size_t k = k0; k < k1; k += 4, w += 64) tile_k_group(mr, np, acc, ar, k, w, panel_bytes);
    }
    tile_epilogue(mr, np, acc, K, b, panel_bytes, ncols, c, c_stride, res, r_stride, p);
}

/* The indirect tile (octet_qigemm_avx512vnni): row i's K = taps * C bytes are C bytes at each of
 * rows[i * taps + t]. `next` (next_mr rows of the same table layout, or none) is the next row tile's: its rows at
 * tap t are prefetched while this tile multiplies tap t, as qgemm_tile prefetches the next tile's rows. */
OCTET_INLINE OCTET_TARGET_AVX512 void qigemm_tile(const size_t mr, const size_t np, size_t taps, size_t C,
                                                  const uint8_t* const* rows, const uint8_t* const* next,
                                                  size_t next_mr, const uint8_t* b, size_t panel_bytes,
                                                  size_t ncols, uint8_t* c, size_t c_stride, const uint8_t* res,
                                                  size_t r_stride, const octet_qgemm_params* p) {
    __m512i acc[MR][NP];
    tile_start(mr, np, acc, b, panel_bytes);
    const uint8_t* w = b + 64;
    for (size_t t = 0; t < taps; t++) {
        const uint8_t* ar[MR];
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) ar[i] = rows[i * taps + t];
        for (size_t i = 0; i < next_mr; i++) {
            for (size_t c0 = 0; c0 < C; c0 += 64) _mm_prefetch((const char*)(next[i * taps + t] + c0), _MM_HINT_T0);
        }
        for (size_t k = 0; k < C; k += 4, w += 64) tile_k_group(mr, np, acc, ar, k, w, panel_bytes);
    }
    tile_epilogue(mr, np, acc, taps * C, b, panel_bytes, ncols, c, c_stride, res, r_stride, p);
}

/* octet_shift_rows_fn: rows of int8 A shifted to uint8 (x ^ 0x80) into `out` (rows of K bytes). */
static OCTET_TARGET_AVX512 void shift_rows(size_t mr, size_t K, const uint8_t* a, size_t a_stride, uint8_t* out) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (size_t i = 0; i < mr; i++) {
        for (size_t k = 0; k < K; k += 64) {
            const __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);
            _mm512_mask_storeu_epi8(out + i * K + k, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i * a_stride + k), flip));
        }
    }
}

typedef void (*tile_fn)(size_t K, const uint8_t* a, size_t a_stride, const uint8_t* b, size_t panel_bytes,
                        size_t ncols, uint8_t* c, size_t c_stride, const uint8_t* res, size_t r_stride,
                        const octet_qgemm_params* p);

/* Instances per row count R and panel count P (A is uint8 by then: given, or shifted beforehand). */
#define DEFINE_TILE(R, P)                                                                                        \
    static OCTET_TARGET_AVX512 void tile_##R##x##P(size_t K, const uint8_t* a, size_t a_stride, const uint8_t* b, \
                                                  size_t panel_bytes, size_t ncols, uint8_t* c, size_t c_stride, \
                                                  const uint8_t* res, size_t r_stride, const octet_qgemm_params* p) { \
        qgemm_tile(R, P, K, a, a_stride, b, panel_bytes, ncols, c, c_stride, res, r_stride, p);                 \
    }
#define DEFINE_TILE_ROW(R) DEFINE_TILE(R, 1) DEFINE_TILE(R, 2) DEFINE_TILE(R, 3) DEFINE_TILE(R, 4)
DEFINE_TILE_ROW(1)
DEFINE_TILE_ROW(2)
DEFINE_TILE_ROW(3)
DEFINE_TILE_ROW(4)
DEFINE_TILE_ROW(5)
DEFINE_TILE_ROW(6)

#define TILE_ROW(R) {tile_##R##x1, tile_##R##x2, tile_##R##x3, tile_##R##x4}
static const tile_fn tiles[MR][NP] = {TILE_ROW(1), TILE_ROW(2), TILE_ROW(3), TILE_ROW(4), TILE_ROW(5), TILE_ROW(6)};

typedef void (*itile_fn)(size_t taps, size_t C, const uint8_t* const* rows, const uint8_t* const* next, size_t next_mr,
                         const uint8_t* b, size_t panel_bytes, size_t ncols, uint8_t* c, size_t c_stride,
                         const uint8_t* res, size_t r_stride, const octet_qgemm_params* p);
#define DEFINE_ITILE(R, P)                                                                                        \
    static OCTET_TARGET_AVX512 void itile_##R##x##P(size_t taps, size_t C, const uint8_t* const* rows,             \
                                                   const uint8_t* const* next, size_t next_mr, const uint8_t* b,   \
                                                   size_t panel_bytes, size_t ncols, uint8_t* c, size_t c_stride,  \
                                                   const uint8_t* res, size_t r_stride, const octet_qgemm_params* p) { \
        qigemm_tile(R, P, taps, C, rows, next, next_mr, b, panel_bytes, ncols, c, c_stride, res, r_stride, p);    \
    }
#define DEFINE_ITILE_ROW(R) DEFINE_ITILE(R, 1) DEFINE_ITILE(R, 2) DEFINE_ITILE(R, 3) DEFINE_ITILE(R, 4)
DEFINE_ITILE_ROW(1)
DEFINE_ITILE_ROW(2)
DEFINE_ITILE_ROW(3)
DEFINE_ITILE_ROW(4)
DEFINE_ITILE_ROW(5)
DEFINE_ITILE_ROW(6)
#define ITILE_ROW(R) {itile_##R##x1, itile_##R##x2, itile_##R##x3, itile_##R##x4}
static const itile_fn itiles[MR][NP] = {ITILE_ROW(1), ITILE_ROW(2), ITILE_ROW(3), ITILE_ROW(4), ITILE_ROW(5), ITILE_ROW(6)};

/* Weight bytes per L2 block of panels. */
#define L2_BLOCK_BYTES (384u * 1024u)

/* Panels per L2 block: a whole number of 4-panel tiles, at least one. */
static size_t block_panels_for(size_t panel_bytes) {
    const size_t block = L2_BLOCK_BYTES / panel_bytes / NP * NP;
    return block < NP ? NP : block;
}

void octet_qgemm_avx512vnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                            void* C, size_t c_stride, const void* residual, size_t r_stride,
                            const octet_qgemm_params* p) {
    octet_qgemm_check(M, N, K, a_stride, c_stride, residual, r_stride, p);
    if (M == 0 || N == 0) return;
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    const size_t panels = (N + 15) / 16, block_panels = block_panels_for(panel_bytes);
    /* int8 A: shifted to uint8 once per 6-row block (octet_shifted_block). */
    uint8_t stack_rows[2 * MR * 2048];
    uint8_t* shifted = p->a_xor != 0 ? octet_shift_buffers(MR, K, stack_rows, sizeof stack_rows) : NULL;

    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            const uint8_t* a = A + m0 * a_stride;
            size_t as = a_stride;
            if (shifted != NULL) a = octet_shifted_block(shift_rows, shifted, MR, m0, M, K, A, a_stride), as = K;
            uint8_t* c = (uint8_t*)C + m0 * c_stride;
            const uint8_t* res = residual != NULL ? (const uint8_t*)residual + m0 * r_stride : NULL;
            for (size_t p0 = pb; p0 < pe; p0 += NP) {
                const size_t np = octet_min_size(NP, pe - p0);
                const size_t ncols = octet_min_size(16 * np, N - 16 * p0);
                tiles[mr - 1][np - 1](K, a, as, (const uint8_t*)packed_B + p0 * panel_bytes, panel_bytes,
                                      ncols, c + 16 * p0, c_stride, res != NULL ? res + 16 * p0 : NULL, r_stride, p);
            }
        }
    }
    if (shifted != NULL && shifted != stack_rows) free(shifted);
}

void octet_qigemm_avx512vnni(size_t M, size_t N, size_t taps, size_t C, const uint8_t* const* rows,
                             const void* packed_B, void* out, size_t c_stride, const void* residual, size_t r_stride,
                             const octet_qgemm_params* p) {
    const size_t K = taps * C;
    octet_qgemm_check(M, N, K, K, c_stride, residual, r_stride, p);
    assert(C % 4 == 0 && p->a_xor == 0);
    if (M == 0 || N == 0) return;
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    const size_t panels = (N + 15) / 16, block_panels = block_panels_for(panel_bytes);
    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            const size_t next_mr = m0 + MR < M ? octet_min_size(MR, M - m0 - MR) : 0;
            const uint8_t* const* tile_rows = rows + m0 * taps;
            uint8_t* c = (uint8_t*)out + m0 * c_stride;
            const uint8_t* res = residual != NULL ? (const uint8_t*)residual + m0 * r_stride : NULL;
            for (size_t p0 = pb; p0 < pe; p0 += NP) {
                const size_t np = octet_min_size(NP, pe - p0);
                const size_t ncols = octet_min_size(16 * np, N - 16 * p0);
                itiles[mr - 1][np - 1](taps, C, tile_rows, tile_rows + MR * taps, next_mr,
                                       (const uint8_t*)packed_B + p0 * panel_bytes, panel_bytes, ncols, c + 16 * p0,
                                       c_stride, res != NULL ? res + 16 * p0 : NULL, r_stride, p);
            }
        }
    }
}

#else /* !__x86_64__ */

void octet_qgemm_avx512vnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                            void* C, size_t c_stride, const void* residual, size_t r_stride,
                            const octet_qgemm_params* p) {
    (void)M, (void)N, (void)K, (void)A, (void)a_stride, (void)packed_B, (void)C, (void)c_stride;
    (void)residual, (void)r_stride, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

void octet_qigemm_avx512vnni(size_t M, size_t N, size_t taps, size_t C, const uint8_t* const* rows,
                             const void* packed_B, void* out, size_t c_stride, const void* residual, size_t r_stride,
                             const octet_qgemm_params* p) {
    (void)M, (void)N, (void)taps, (void)C, (void)rows, (void)packed_B, (void)out, (void)c_stride;
    (void)residual, (void)r_stride, (void)p;
    abort(); /* not an x86-64 build */
}

#endif
