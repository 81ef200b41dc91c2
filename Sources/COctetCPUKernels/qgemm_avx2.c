/*
 * Quantized GEMM, AVX2 (no VNNI): gemm_qu8_qc8w_minmax_fp32_3x16c4__avx2 in XNNPACK's naming, and the same tile
 * with a float epilogue (octet_qgemm_f32out_avx2). Two inner loops, chosen per row tile from its A bytes, both
 * exact, both over the canonical packed panels (the same bytes as every other ISA).
 *
 * Exactness. AVX2 has no exact u8 x s8 dot product in general: vpmaddubsw adds two u8*s8 products into a
 * SATURATING int16 (255*127*2 > 32767), which is what costs the peers' AVX2 INT8 paths accuracy. But it is exact
 * whenever every unsigned byte v is <= 128: |v0*w0 + v1*w1| <= 2*128*128 = 32768, reached only as -32768
 * (v = 128, w = -128 twice), which int16 holds; every other pair sum lies in [-32768, 32512].
 *
 * More generally, with a shift s (0..255) per row, vpmaddubsw is exact on v = u - s whenever every byte of the row
 * lies in [s, s + 128]; u*w = v*w + s*w, so the tile adds s * sum_k W[k][n] per row and column afterwards.
 * With u = A ^ a_xor the bytes the contract sums, each row tile (MR rows x K) is scanned once (vpminub/vpmaxub, per
 * row) and takes
 *   - the BYTE path when every row's bytes span at most 128 (max - min <= 128), with per row s = a_xor where that
 *     fits (then v = u - a_xor is the stored byte itself: u <= 128 with a_xor 0, or u >= 128 with a_xor 0x80, i.e.
 *     post-ReLU int8 q >= 0 stored as u = q + 128; if every row fits, A is read in place), else s = the row's
 *     minimum, v copied to a scratch tile. Signed activations that stay within about +-64 (the mobile nets'
 *     linear bottlenecks, which the expansion 1x1s read) span <= 128 in most rows: measured on the 29 photos,
 *     60-100 % of their rows, where the scheme without per-row shifts (s = 0 or 128 only) took almost none;
 *   - the SPLIT path when some row spans more than 128 but few bytes lie above its window: with s = the row's
 *     minimum, v = u - s is split as v = lo + hi, lo = min(v, 128) and hi = v - lo (0..127). The byte path runs on
 *     lo over every k; hi is zero almost everywhere (post-ReLU uint8 activations calibrated by their maximum: on
 *     ResNet-50 and the photos 0.24 % of the bytes exceed 128, and 1.4 % of the 4-byte k-groups of a 3-row tile hold
 *     one), so the tile lists the k-groups where some row's hi is not zero and runs the byte path's step on hi for
 *     those only. Both halves are exact (lo <= 128, hi <= 127). A tile with more than a quarter of its k-groups
 *     listed (ReLU6 outputs, where 6.0 is stored as 255 often: MobileNetV2 46 %) takes the widened path instead;
 *   - otherwise the WIDENED path (both operands int16, vpmaddwd), exact for any byte. Splitting every operand
 *     densely (u = lo7 + 128*hi, or w = 16*wh + wl, each half through vpmaddubsw with int16 partial sums) was counted
 *     at 4.4-5 vector ops per 32 multiply-adds against the widened loop's 4.7, so only the sparse split is done.
 *
 * Byte path: per k-group of 4, the 4 bytes of a row broadcast (vpbroadcastd), two 32-byte weight loads (16 columns
 *   x 4 k), vpmaddubsw -> per column two int16 half-sums, vpmaddwd with ones -> one int32 per column, vpaddd:
 *   3 ops per 32 multiply-adds, OpenVINO's op count. The column sums sum_k W for the shifts are computed the same
 *   way (weights against bytes of 1) once per panel per call, only when a tile needs them; s * sums is one
 *   vpmulld per row and 8 columns after the k loop.
 * Widened path: A widened once per row tile to int16 (XOR a_xor, vpmovzxbw) in a scratch copy a16[i][k] (on the
 *   stack up to K = STACK_K, else one malloc per call), so the inner loop broadcasts the 4 int16 of a k-group with
 *   one vpbroadcastq from memory; W sign-extended with vpmovsxbw (16 bytes -> 4 columns x 4 k);
 *   vpmaddwd(a, w) holds, per column, two half-sums (k0 k1 and k2 k3) in adjacent int32 lanes, added pairwise
 *   (vphaddd + vpermq) once after the k loop. Per k-group: 4 vpmovsxbw + 3 vpbroadcastq + 12 vpmaddwd + 12 vpaddd
 *   for 192 multiply-adds.
 * Register tile: MR = 3 rows x 16 columns on both paths (8 columns where N's last panel has no more).
 *
 * Loop nest as the VNNI kernel: panels are blocked (~256 KiB of weights stay in L2) and each row tile's
 * prepared A is reused from L1/L2 for every panel of the block.
 *
 * Reads exactly K bytes per A row, the packed panels, N residual bytes per row; writes exactly N bytes (floats)
 * per C row: residual and C rows at the N edge go through a stack buffer.
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define MR 3
/* Largest K whose widened A tile (MR x K int16 = 24 KiB) lives on the stack. */
#define STACK_K 4096
/* Weight bytes per L2 block of panels. */
#define L2_BLOCK_BYTES (256u * 1024u)
/* Largest block of panels whose shift sums (16 int32 = 64 bytes a panel, 4 KiB in all) live on the stack. */
#define STACK_PANELS 64
/* Most k-groups the split path lists before the tile takes the widened path instead: a quarter of them. The split
 * tile costs the byte path's 3 vector ops per 32 multiply-adds, times 1 + the listed share, against the widened
 * loop's 4.7. */
#define SPLIT_LIMIT(K) ((K) / 16)

/* The float epilogue's arguments; NULL for the requantizing kernel. */
typedef struct {
    float* C;
    size_t ldc; /* elements */
    float min, max;
} f32out_args;

/* Smallest and largest of 16 unsigned bytes. */
static OCTET_TARGET_AVX2 unsigned min_epu8(__m128i x) {
    x = _mm_min_epu8(x, _mm_srli_si128(x, 8));
    return (unsigned)_mm_cvtsi128_si32(_mm_minpos_epu16(_mm_cvtepu8_epi16(x))) & 0xFF;
}

static OCTET_TARGET_AVX2 unsigned max_epu8(__m128i x) { return 255u - min_epu8(_mm_xor_si128(x, _mm_set1_epi8((char)0xFF))); }

/* How a row tile is read: widened, or bytes v = u - shift[i] per row (every v in [0, 128]); `in_place` when every
 * shift is a_xor, so that v is the stored byte (a_xor 0 or 0x80 only). */
typedef struct {
    int widened;
    int split; /* some row spans more than 128: try the split path (shift[i] = the row's minimum) */
    int in_place;
    int any_shift;    /* some shift is not 0: the tile adds shift * sum_k W */
    int common_shift; /* every row has shift[0]: one shift * sum_k W serves the tile */
    uint8_t shift[MR];
} tile_plan;

/* The shift for bytes within [lo, hi] (hi - lo <= 128): any s in [hi - 128, lo] keeps v = u - s in [0, 128];
 * a_xor if it is one of them (then v is the stored byte), else lo. */
static inline unsigned choose_shift(unsigned lo, unsigned hi, uint8_t a_xor) {
    return (a_xor <= lo && hi <= a_xor + 128u) ? a_xor : lo;
}

/* Every byte of x is within [lo, lo + 128] (lo = 0 or 128: the in-place cases), without a horizontal reduction. */
static OCTET_TARGET_AVX2 int within_window(__m128i vlo, __m128i vhi, uint8_t lo) {
    const __m128i c128 = _mm_set1_epi8((char)0x80);
    if (lo == 0) return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(vhi, c128), c128)) == 0xFFFF;
    return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(vlo, c128), c128)) == 0xFFFF;
}

/* Scans mr rows of K bytes u = a ^ a_xor (K % 4 == 0) once, per row unsigned min and max in 16-byte vectors, and
 * picks the path and the per-row shifts (see the top of the file). Cheapest answers first: the whole tile within
 * [a_xor, a_xor + 128] (post-ReLU int8 in place: two compares, as before the shifts), then one shift for the
 * tile, then one per row (horizontal reductions, about 12 cycles of latency each, only when needed). */
static OCTET_TARGET_AVX2 tile_plan plan_tile(size_t mr, size_t K, const uint8_t* a, size_t a_stride, uint8_t a_xor) {
    const __m128i vxor = _mm_set1_epi8((char)a_xor);
    tile_plan plan = {0, 0, 0, 0, 1, {0}};
    __m128i row_lo[MR], row_hi[MR];
    __m128i vlo = _mm_set1_epi8((char)0xFF), vhi = _mm_setzero_si128();
    for (size_t i = 0; i < mr; i++) {
        const uint8_t* src = a + i * a_stride;
        __m128i lo = _mm_set1_epi8((char)0xFF), hi = _mm_setzero_si128();
        size_t k = 0;
        for (; k + 16 <= K; k += 16) {
            const __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i*)(src + k)), vxor);
            lo = _mm_min_epu8(lo, x);
            hi = _mm_max_epu8(hi, x);
        }
        for (; k < K; k += 4) {
            /* One 4-byte group in every lane: the copies change neither min nor max. */
            const __m128i x = _mm_xor_si128(_mm_set1_epi32(octet_load_i32(src + k)), vxor);
            lo = _mm_min_epu8(lo, x);
            hi = _mm_max_epu8(hi, x);
        }
        row_lo[i] = lo, row_hi[i] = hi;
        vlo = _mm_min_epu8(vlo, lo);
        vhi = _mm_max_epu8(vhi, hi);
    }
    if ((a_xor == 0 || a_xor == 0x80) && within_window(vlo, vhi, a_xor)) {
        plan.in_place = 1;
        plan.any_shift = a_xor != 0;
        for (size_t i = 0; i < mr; i++) plan.shift[i] = a_xor;
        return plan;
    }
    const unsigned tile_lo = min_epu8(vlo), tile_hi = max_epu8(vhi);
    if (tile_hi - tile_lo <= 128) {
        const uint8_t s = (uint8_t)choose_shift(tile_lo, tile_hi, a_xor);
        for (size_t i = 0; i < mr; i++) plan.shift[i] = s;
    } else {
        plan.common_shift = 0;
        for (size_t i = 0; i < mr; i++) {
            const unsigned lo = min_epu8(row_lo[i]), hi = max_epu8(row_hi[i]);
            plan.split |= hi - lo > 128;
            plan.shift[i] = (uint8_t)(hi - lo > 128 ? lo : choose_shift(lo, hi, a_xor));
        }
    }
    plan.in_place = !plan.split && (a_xor == 0 || a_xor == 0x80);
    for (size_t i = 0; i < mr; i++) {
        plan.in_place &= plan.shift[i] == a_xor;
        plan.any_shift |= plan.shift[i] != 0;
    }
    return plan;
}

/* a8[i * K + k] = (a[i * a_stride + k] ^ x) - shift[i] for i < mr, k < K (K % 4 == 0): the byte path's operand
 * when it is not A itself (no byte wraps: shift[i] is at most the row's minimum). */
static OCTET_TARGET_AVX2 void shifted_a(size_t mr, size_t K, const uint8_t* a, size_t a_stride, uint8_t x,
                                        const uint8_t shift[MR], uint8_t* a8) {
    const __m256i vxor = _mm256_set1_epi8((char)x);
    for (size_t i = 0; i < mr; i++) {
        const uint8_t* src = a + i * a_stride;
        uint8_t* dst = a8 + i * K;
        const __m256i vs = _mm256_set1_epi8((char)shift[i]);
        size_t k = 0;
        for (; k + 32 <= K; k += 32) {
            const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(src + k)), vxor);
            _mm256_storeu_si256((__m256i*)(dst + k), _mm256_sub_epi8(u, vs));
        }
        if (k + 16 <= K) {
            const __m128i u = _mm_xor_si128(_mm_loadu_si128((const __m128i*)(src + k)), _mm256_castsi256_si128(vxor));
            _mm_storeu_si128((__m128i*)(dst + k), _mm_sub_epi8(u, _mm256_castsi256_si128(vs)));
            k += 16;
        }
        for (; k < K; k += 4) {
            const __m128i u = _mm_xor_si128(_mm_cvtsi32_si128(octet_load_i32(src + k)), _mm256_castsi256_si128(vxor));
            const int32_t v = _mm_cvtsi128_si32(_mm_sub_epi8(u, _mm256_castsi256_si128(vs)));
            memcpy(dst + k, &v, 4);
        }
    }
}

/* The split path's operands (see the top of the file), v = (a[i * a_stride + k] ^ x) - shift[i]: lo[i * K + k] =
 * min(v, 128) for every k, and the k-groups of 4 where some row's hi = v - lo is not zero, in order: group j starts
 * at byte hi_k[j] and holds row i's four hi bytes in hi_words[j * MR + i]. Returns the number of groups, or
 * SIZE_MAX as soon as it exceeds `limit` (the tile then takes the widened path). */
static OCTET_TARGET_AVX2 size_t split_a(size_t mr, size_t K, const uint8_t* a, size_t a_stride, uint8_t x,
                                        const uint8_t shift[MR], size_t limit, uint8_t* lo, uint32_t* hi_k,
                                        int32_t* hi_words) {
    const __m256i vxor = _mm256_set1_epi8((char)x), c128 = _mm256_set1_epi8((char)0x80);
    __m256i vs[MR];
    OCTET_UNROLL for (size_t i = 0; i < MR; i++) vs[i] = _mm256_set1_epi8((char)(i < mr ? shift[i] : 0));
    size_t count = 0;
    /* Records the groups of a chunk whose hi bytes (rows' vectors in h) are not all zero. */
#define OCTET_SPLIT_RECORD(k0, groups, h)                                                                          \
    do {                                                                                                           \
        __m256i any = h[0];                                                                                        \
        for (size_t i = 1; i < mr; i++) any = _mm256_or_si256(any, h[i]);                                          \
        unsigned nonzero = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(                                     \
                               _mm256_cmpeq_epi32(any, _mm256_setzero_si256()))) & ((1u << (groups)) - 1u);         \
        if (nonzero != 0) {                                                                                        \
            int32_t words[MR][8];                                                                                  \
            for (size_t i = 0; i < mr; i++) _mm256_storeu_si256((__m256i*)words[i], h[i]);                         \
            while (nonzero != 0) {                                                                                 \
                const unsigned g = (unsigned)__builtin_ctz(nonzero);                                               \
                nonzero &= nonzero - 1;                                                                            \
                if (count == limit) return SIZE_MAX;                                                               \
                hi_k[count] = (uint32_t)((k0) + 4 * g);                                                            \
                for (size_t i = 0; i < MR; i++) hi_words[count * MR + i] = i < mr ? words[i][g] : 0;               \
                count++;                                                                                           \
            }                                                                                                      \
        }                                                                                                          \
    } while (0)
    size_t k = 0;
    for (; k + 32 <= K; k += 32) {
        __m256i h[MR];
        for (size_t i = 0; i < mr; i++) {
            const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(a + i * a_stride + k)), vxor);
            const __m256i v = _mm256_sub_epi8(u, vs[i]);
            _mm256_storeu_si256((__m256i*)(lo + i * K + k), _mm256_min_epu8(v, c128));
            h[i] = _mm256_subs_epu8(v, c128);
        }
        OCTET_SPLIT_RECORD(k, 8, h);
    }
    for (; k < K; k += 4) {
        __m256i h[MR];
        for (size_t i = 0; i < mr; i++) {
            const __m256i u = _mm256_xor_si256(_mm256_set1_epi32(octet_load_i32(a + i * a_stride + k)), vxor);
            const __m256i v = _mm256_sub_epi8(u, vs[i]);
            const int32_t l = _mm256_cvtsi256_si32(_mm256_min_epu8(v, c128));
            memcpy(lo + i * K + k, &l, 4);
            h[i] = _mm256_subs_epu8(v, c128);
        }
        OCTET_SPLIT_RECORD(k, 1, h);
    }
#undef OCTET_SPLIT_RECORD
    return count;
}

/* a16[i * K + k] = (int16)(uint8)(a[i * a_stride + k] ^ a_xor) for i < mr, k < K (K % 4 == 0). */
static OCTET_TARGET_AVX2 void widen_a(size_t mr, size_t K, const uint8_t* a, size_t a_stride, uint8_t a_xor,
                                      int16_t* a16) {
    const __m128i vxor = _mm_set1_epi8((char)a_xor);
    for (size_t i = 0; i < mr; i++) {
        const uint8_t* src = a + i * a_stride;
        int16_t* dst = a16 + i * K;
        size_t k = 0;
        for (; k + 16 <= K; k += 16) {
            const __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i*)(src + k)), vxor);
            _mm256_storeu_si256((__m256i*)(dst + k), _mm256_cvtepu8_epi16(x));
        }
        for (; k < K; k += 4) {
            const __m128i x = _mm_xor_si128(_mm_cvtsi32_si128(octet_load_i32(src + k)), vxor);
            _mm_storel_epi64((__m128i*)(dst + k), _mm_cvtepu8_epi16(x));
        }
    }
}

/* The byte path's step for one row and one k-group: the row's 4 bytes (av, broadcast) against the 16 columns' 4
 * weights each (w0: columns 0-7, w1: 8-15; only w0 where `half`), vpmaddubsw then vpmaddwd with ones, added to the
 * row's accumulators. */
OCTET_INLINE OCTET_TARGET_AVX2 void byte_step(__m256i acc[2], const int half, __m256i av, __m256i w0, __m256i w1,
                                              __m256i ones16) {
    acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w0), ones16));
    if (!half) acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w1), ones16));
}

/* sum_k W[k][j] for the 16 columns of the panel at b (the byte path's shift back to u = v + s). Products of
 * weights with bytes of 1 through the byte path's own instructions: each pair sum is within [-256, 254]. */
static OCTET_TARGET_AVX2 void column_sums(size_t K, const uint8_t* b, int32_t sums[16]) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i s[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    const uint8_t* w = b + 64;
    for (size_t k = 0; k < K; k += 4, w += 64) {
        byte_step(s, 0, ones8, _mm256_loadu_si256((const __m256i*)w), _mm256_loadu_si256((const __m256i*)(w + 32)),
                  ones16);
    }
    _mm256_storeu_si256((__m256i*)sums, s[0]);
    _mm256_storeu_si256((__m256i*)(sums + 8), s[1]);
}

/* A row tile as a tile reads it: widened (a16 != NULL, rows of K int16) or bytes (rows of a8_stride bytes, every
 * byte <= 128) with optional per-row shifts (sums != NULL: sum_k W per column of the current panel, added
 * shift[i] times to row i). */
typedef struct {
    const int16_t* a16;
    const uint8_t* a8;
    size_t a8_stride;
    const int32_t* sums;
    int32_t shift[MR];
    int common_shift; /* shift[i] == shift[0] for every row */
    /* The split path's listed k-groups (`split_a`): hi_count of them, none on the other paths. */
    const uint32_t* hi_k;
    const int32_t* hi_words;
    size_t hi_count;
} tile_input;

/* mr rows x 16 columns: acc (bias not included) for the panel at b; columns 0-7 in out[i][0], 8-15 in out[i][1].
 * One function a path, so that each tile instance is compiled for one of them (`tile_accumulate` picks by a
 * compile-time flag); on its own this measured no faster, it is what lets a row tile's loop carry no path test.
 * `half` (compile-time): the panel holds at most 8 columns (N's last panel, as the mobile nets' 24- and 40-channel
 * projections have), so only columns 0-7 are computed and out[i][1] is zero. */
OCTET_INLINE OCTET_TARGET_AVX2 void tile_accumulate_bytes(const size_t mr, const int half, size_t K,
                                                          const tile_input* in, const uint8_t* b, __m256i out[MR][2]) {
    /* Columns 0-7 are the first 32 bytes of a k-group (8 columns x 4 k), 8-15 the next 32. */
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256i acc[MR][2];
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    const uint8_t* w = b + 64;
    const uint8_t* a8 = in->a8;
    const size_t stride = in->a8_stride;
    for (size_t k = 0; k < K; k += 4, w += 64) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i*)w);
        const __m256i w1 = half ? w0 : _mm256_loadu_si256((const __m256i*)(w + 32));
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            byte_step(acc[i], half, _mm256_set1_epi32(octet_load_i32(a8 + i * stride + k)), w0, w1, ones16);
        }
    }
    /* The split path's hi bytes, the same step at the listed k-groups only. */
    for (size_t j = 0; j < in->hi_count; j++) {
        const uint8_t* wg = b + 64 + 16 * (size_t)in->hi_k[j];
        const __m256i w0 = _mm256_loadu_si256((const __m256i*)wg);
        const __m256i w1 = half ? w0 : _mm256_loadu_si256((const __m256i*)(wg + 32));
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            byte_step(acc[i], half, _mm256_set1_epi32(in->hi_words[j * MR + i]), w0, w1, ones16);
        }
    }
    if (in->sums == NULL) {
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) out[i][0] = acc[i][0], out[i][1] = acc[i][1];
        return;
    }
    const __m256i sums0 = _mm256_loadu_si256((const __m256i*)in->sums);
    const __m256i sums1 = half ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i*)(in->sums + 8));
    if (in->common_shift) {
        /* 128 (post-ReLU int8 in place, the common case) is a shift; vpmulld is two uops. */
        const __m256i s = _mm256_set1_epi32(in->shift[0]);
        const __m256i c0 = in->shift[0] == 128 ? _mm256_slli_epi32(sums0, 7) : _mm256_mullo_epi32(sums0, s);
        const __m256i c1 = in->shift[0] == 128 ? _mm256_slli_epi32(sums1, 7) : _mm256_mullo_epi32(sums1, s);
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            out[i][0] = _mm256_add_epi32(acc[i][0], c0);
            out[i][1] = _mm256_add_epi32(acc[i][1], c1);
        }
        return;
    }
    /* Per-row shifts: with K <= 255 every |sum_k W| <= 255 * 128 fits int16, so the int32 lanes' low words are the
     * sums and vpmaddwd against s (high word 0) is the product: one uop instead of vpmulld's two (the mobile nets'
     * expansions take this for many tiles). */
    const int short_sums = K <= 255;
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        const __m256i s = _mm256_set1_epi32(in->shift[i]);
        const __m256i c0 = short_sums ? _mm256_madd_epi16(sums0, s) : _mm256_mullo_epi32(sums0, s);
        const __m256i c1 = short_sums ? _mm256_madd_epi16(sums1, s) : _mm256_mullo_epi32(sums1, s);
        out[i][0] = _mm256_add_epi32(acc[i][0], c0);
        out[i][1] = _mm256_add_epi32(acc[i][1], c1);
    }
}

OCTET_INLINE OCTET_TARGET_AVX2 void tile_accumulate_widened(const size_t mr, const int half, size_t K,
                                                            const tile_input* in, const uint8_t* b,
                                                            __m256i out[MR][2]) {
    /* Each 16-byte quarter of a k-group holds 4 columns: columns 0-7 are the first two. */
    const size_t quarters = half ? 2 : 4;
    const uint8_t* w = b + 64;
    const int16_t* a16 = in->a16;
    __m256i acc[MR][4];
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        OCTET_UNROLL for (size_t s = 0; s < 4; s++) acc[i][s] = _mm256_setzero_si256();
    }
    for (size_t k = 0; k < K; k += 4) {
        __m256i av[MR];
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) av[i] = _mm256_set1_epi64x(octet_load_i64(a16 + i * K + k));
        OCTET_UNROLL for (size_t s = 0; s < quarters; s++) {
            const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(w + 16 * s)));
            OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
                acc[i][s] = _mm256_add_epi32(acc[i][s], _mm256_madd_epi16(av[i], wv));
            }
        }
        w += 64;
    }
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        /* hadd(x, y) = [x01 x23 y01 y23 | x45 x67 y45 y67] = columns [0 1 4 5 | 2 3 6 7]; permute to 0..7. */
        out[i][0] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xD8);
        out[i][1] = half ? _mm256_setzero_si256()
                         : _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][2], acc[i][3]), 0xD8);
    }
}

/* The accumulators of one panel of ncols columns on the widened path or the byte path (`widened` is a compile-time
 * constant in every tile instance; a panel of at most 8 columns takes the half-width instance). */
OCTET_INLINE OCTET_TARGET_AVX2 void tile_accumulate(const size_t mr, const int widened, size_t K, const tile_input* in,
                                                    const uint8_t* b, size_t ncols, __m256i out[MR][2]) {
    if (ncols <= 8) {
        if (widened) tile_accumulate_widened(mr, 1, K, in, b, out);
        else tile_accumulate_bytes(mr, 1, K, in, b, out);
    } else {
        if (widened) tile_accumulate_widened(mr, 0, K, in, b, out);
        else tile_accumulate_bytes(mr, 0, K, in, b, out);
    }
}

/* The requantizing tiles of one row tile: mr rows of A against the panels [pb, pe) of `panels` (N columns in all),
 * C (bytes) and the residual from the row tile's first row, columns 16 * pi onwards for panel pi. One call a row
 * tile rather than a panel, so the epilogue's constants are set up once: with K = 16 a panel is about 150 vector
 * ops, and the per-call prologue, broadcasts and spills were a large part of it. `block_sums` holds sum_k W for
 * the panels from pb on (16 each), or is NULL where the tile has no shift. */
OCTET_INLINE OCTET_TARGET_AVX2 void row_tile_q(const size_t mr, const int widened, size_t K, const tile_input* in,
                                               const uint8_t* panels, size_t panel_bytes, size_t pb, size_t pe,
                                               size_t N, const int32_t* block_sums, uint8_t* c, size_t c_stride,
                                               const uint8_t* res, size_t r_stride, const octet_qgemm_params* p) {
    const __m256 vmin = _mm256_set1_ps(p->min);
    const __m256 vmax = _mm256_set1_ps(p->max);
    const __m256 vrm = _mm256_set1_ps(p->residual_multiplier);
    const __m256i vrz = _mm256_set1_epi32(p->residual_zero_point);
    const __m256i voz = _mm256_set1_epi32(p->output_zero_point);
    const int clamp = res != NULL || !p->saturation_clamps;
    tile_input panel_input = *in;
    for (size_t pi = pb; pi < pe; pi++) {
        const uint8_t* b = panels + pi * panel_bytes;
        const size_t ncols = octet_min_size(16, N - 16 * pi);
        panel_input.sums = block_sums != NULL ? block_sums + (pi - pb) * 16 : NULL;
        __m256i acc[MR][2];
        tile_accumulate(mr, widened, K, &panel_input, b, ncols, acc);
        const __m256i bias0 = _mm256_loadu_si256((const __m256i*)b);
        const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(b + 32));
        const float* multiplier = (const float*)(b + 64 + 16 * K);
        OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
            __m128i r16 = _mm_setzero_si128();
            if (res != NULL) r16 = octet_load16_partial_avx2(res + i * r_stride + 16 * pi, ncols);
            const __m128i q = octet_requant16_avx2(_mm256_add_epi32(acc[i][0], bias0), _mm256_add_epi32(acc[i][1], bias1),
                                                   multiplier, res != NULL, r16, p->residual_signed, vrz, vrm, vmin,
                                                   vmax, voz, p->output_signed, clamp);
            octet_store16_partial_avx2(c + i * c_stride + 16 * pi, q, ncols);
        }
    }
}

/* The float tile: C[m][n] = clamp((float)acc * multiplier[n], min, max), rows of ncols (1..16) floats. */
OCTET_INLINE OCTET_TARGET_AVX2 void tile_f32(const size_t mr, const int widened, size_t K, const tile_input* in,
                                             const uint8_t* b, size_t ncols, float* c, size_t ldc, float min,
                                             float max) {
    __m256i acc[MR][2];
    tile_accumulate(mr, widened, K, in, b, ncols, acc);
    const __m256i bias0 = _mm256_loadu_si256((const __m256i*)b);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(b + 32));
    const __m256 m0 = _mm256_loadu_ps((const float*)(b + 64 + 16 * K));
    const __m256 m1 = _mm256_loadu_ps((const float*)(b + 64 + 16 * K + 32));
    const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
    OCTET_UNROLL for (size_t i = 0; i < mr; i++) {
        __m256 y0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc[i][0], bias0)), m0);
        __m256 y1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc[i][1], bias1)), m1);
        y0 = _mm256_min_ps(_mm256_max_ps(y0, vmin), vmax);
        y1 = _mm256_min_ps(_mm256_max_ps(y1, vmin), vmax);
        octet_store16_f32_partial_avx2(c + i * ldc, y0, y1, ncols);
    }
}

typedef void (*tile_q_fn)(size_t K, const tile_input* in, const uint8_t* panels, size_t panel_bytes, size_t pb,
                          size_t pe, size_t N, const int32_t* block_sums, uint8_t* c, size_t c_stride,
                          const uint8_t* res, size_t r_stride, const octet_qgemm_params* p);
typedef void (*tile_f32_fn)(size_t K, const tile_input* in, const uint8_t* b, size_t ncols, float* c, size_t ldc,
                            float min, float max);

/* One tile function per row count R and path W (0 bytes, 1 widened). */
#define DEFINE_TILES(R, W)                                                                                        \
    static OCTET_TARGET_AVX2 void tile_q_##R##_##W(size_t K, const tile_input* in, const uint8_t* panels,          \
                                                   size_t panel_bytes, size_t pb, size_t pe, size_t N,              \
                                                   const int32_t* block_sums, uint8_t* c, size_t c_stride,          \
                                                   const uint8_t* res, size_t r_stride, const octet_qgemm_params* p) { \
        row_tile_q(R, W, K, in, panels, panel_bytes, pb, pe, N, block_sums, c, c_stride, res, r_stride, p);         \
    }                                                                                                               \
    static OCTET_TARGET_AVX2 void tile_f32_##R##_##W(size_t K, const tile_input* in, const uint8_t* b,             \
                                                     size_t ncols, float* c, size_t ldc, float min, float max) {    \
        tile_f32(R, W, K, in, b, ncols, c, ldc, min, max);                                                          \
    }
DEFINE_TILES(1, 0)
DEFINE_TILES(2, 0)
DEFINE_TILES(3, 0)
DEFINE_TILES(1, 1)
DEFINE_TILES(2, 1)
DEFINE_TILES(3, 1)
static const tile_q_fn tiles_q[2][MR] = {{tile_q_1_0, tile_q_2_0, tile_q_3_0}, {tile_q_1_1, tile_q_2_1, tile_q_3_1}};
static const tile_f32_fn tiles_f32[2][MR] = {{tile_f32_1_0, tile_f32_2_0, tile_f32_3_0},
                                             {tile_f32_1_1, tile_f32_2_1, tile_f32_3_1}};

/* Scratch of one call: the widened or shifted A of a row tile, and the shift sums of the current block of panels
 * (computed on first need). On the stack up to STACK_K / STACK_PANELS, else on the heap. */
typedef struct {
    int16_t stack_a16[MR * STACK_K] __attribute__((aligned(64)));
    int32_t stack_sums[STACK_PANELS * 16];
    /* The split path's listed k-groups, at most SPLIT_LIMIT(K) of them. */
    uint32_t stack_hi_k[SPLIT_LIMIT(STACK_K)];
    int32_t stack_hi_words[MR * SPLIT_LIMIT(STACK_K)];
    int16_t* a16;
    uint32_t* hi_k;
    int32_t* hi_words;
    int32_t* sums;
    size_t sums_capacity; /* panels */
    size_t sums_block;    /* first panel of the block whose sums are in `sums`; SIZE_MAX = none yet */
} scratch;

/* The loop nest of both kernels: f == NULL requantizes into C / residual with p, else writes floats per f. */
static OCTET_TARGET_AVX2 void qgemm_avx2_driver(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                                                const void* packed_B, void* C, size_t c_stride, const void* residual,
                                                size_t r_stride, const octet_qgemm_params* p, const f32out_args* f,
                                                uint8_t a_xor) {
    if (M == 0 || N == 0) return;
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    const size_t panels = (N + 15) / 16;
    size_t block_panels = L2_BLOCK_BYTES / panel_bytes;
    if (block_panels < 1) block_panels = 1;
    if (block_panels > panels) block_panels = panels;
    scratch s;
    s.a16 = s.stack_a16;
    s.hi_k = s.stack_hi_k;
    s.hi_words = s.stack_hi_words;
    if (K > STACK_K) {
        s.a16 = malloc(MR * K * sizeof(int16_t));
        s.hi_k = malloc(SPLIT_LIMIT(K) * sizeof(uint32_t));
        s.hi_words = malloc(MR * SPLIT_LIMIT(K) * sizeof(int32_t));
        if (s.a16 == NULL || s.hi_k == NULL || s.hi_words == NULL) abort();
    }
    s.sums = s.stack_sums;
    s.sums_capacity = STACK_PANELS;
    s.sums_block = SIZE_MAX;
    /* Tiles in a row whose split listed too many k-groups: a layer's activations are alike from tile to tile, so
     * after two such tiles only every 16th tries the split again (ReLU6 outputs would otherwise pay for a split
     * attempt and then the widening on every tile). */
    unsigned split_failures = 0;
    /* Post-ReLU uint8 activations with rare bytes above 128 (ResNet-50's) plan to the split path with every shift 0
     * tile after tile. Once a tile has planned so, the next ones go straight to `split_a` with shift 0, which is
     * exact for any byte (lo = min(u, 128), hi = u - lo <= 127), without `plan_tile`'s scan of the rows (about 4 %
     * of a 3x3 64->64 layer); every 16th tile plans afresh, and a split that lists too much ends the guess. */
    int guess_split = 0;

    for (size_t pb = 0; pb < panels; pb += block_panels) {
        const size_t pe = octet_min_size(panels, pb + block_panels);
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = octet_min_size(MR, M - m0);
            const uint8_t* a = A + m0 * a_stride;
            tile_plan plan = {.split = 1}; /* the guess: the split path, every shift 0 */
            if (!guess_split || (m0 / MR) % 16 == 0) {
                plan = plan_tile(mr, K, a, a_stride, a_xor);
                guess_split = plan.split && !plan.any_shift;
            }
            tile_input in = {NULL, a, a_stride, NULL, {0}, plan.common_shift, NULL, NULL, 0};
            if (plan.split && split_failures >= 2 && (m0 / MR) % 16 != 0) plan.widened = 1;
            if (plan.split && !plan.widened) {
                const size_t listed = split_a(mr, K, a, a_stride, a_xor, plan.shift, SPLIT_LIMIT(K), (uint8_t*)s.a16,
                                              s.hi_k, s.hi_words);
                split_failures = listed == SIZE_MAX ? split_failures + 1 : 0;
                if (listed == SIZE_MAX) {
                    plan.widened = 1;
                    guess_split = 0;
                } else {
                    in.a8 = (const uint8_t*)s.a16;
                    in.a8_stride = K;
                    in.hi_k = s.hi_k;
                    in.hi_words = s.hi_words;
                    in.hi_count = listed;
                }
            }
            if (plan.widened) {
                widen_a(mr, K, a, a_stride, a_xor, s.a16);
                in.a16 = s.a16;
            } else {
                /* The bytes v = u - shift[i]: A itself when every shift is a_xor (post-ReLU int8 with a_xor 0x80,
                 * or uint8 <= 128 with a_xor 0), else a copy. */
                if (!plan.in_place && !plan.split) {
                    shifted_a(mr, K, a, a_stride, a_xor, plan.shift, (uint8_t*)s.a16);
                    in.a8 = (const uint8_t*)s.a16;
                    in.a8_stride = K;
                }
                OCTET_UNROLL for (size_t i = 0; i < MR; i++) in.shift[i] = plan.shift[i];
                if (plan.any_shift && s.sums_block != pb) {
                    if (pe - pb > s.sums_capacity) {
                        s.sums = malloc(block_panels * 16 * sizeof(int32_t));
                        if (s.sums == NULL) abort();
                        s.sums_capacity = block_panels;
                    }
                    for (size_t pi = pb; pi < pe; pi++) {
                        column_sums(K, (const uint8_t*)packed_B + pi * panel_bytes, s.sums + (pi - pb) * 16);
                    }
                    s.sums_block = pb;
                }
            }
            const int use_sums = !plan.widened && plan.any_shift;
            if (f == NULL) {
                const uint8_t* res = residual != NULL ? (const uint8_t*)residual + m0 * r_stride : NULL;
                tiles_q[plan.widened][mr - 1](K, &in, (const uint8_t*)packed_B, panel_bytes, pb, pe, N,
                                              use_sums ? s.sums : NULL, (uint8_t*)C + m0 * c_stride, c_stride, res,
                                              r_stride, p);
                continue;
            }
            for (size_t pi = pb; pi < pe; pi++) {
                const size_t ncols = octet_min_size(16, N - 16 * pi);
                const uint8_t* b = (const uint8_t*)packed_B + pi * panel_bytes;
                in.sums = use_sums ? s.sums + (pi - pb) * 16 : NULL;
                tiles_f32[plan.widened][mr - 1](K, &in, b, ncols, f->C + m0 * f->ldc + 16 * pi, f->ldc, f->min, f->max);
            }
        }
    }
    if (s.a16 != s.stack_a16) free(s.a16), free(s.hi_k), free(s.hi_words);
    if (s.sums != s.stack_sums) free(s.sums);
}

void octet_qgemm_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                      void* C, size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    octet_qgemm_check(M, N, K, a_stride, c_stride, residual, r_stride, p);
    qgemm_avx2_driver(M, N, K, A, a_stride, packed_B, C, c_stride, residual, r_stride, p, NULL, p->a_xor);
}

void octet_qgemm_f32out_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                             float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    assert(K % 4 == 0 && K <= 65536 && (M <= 1 || (a_stride >= K && ldc >= N)));
    const f32out_args f = {C, ldc, min, max};
    qgemm_avx2_driver(M, N, K, A, a_stride, packed_B, NULL, 0, NULL, 0, NULL, &f, a_xor);
}

#else /* !__x86_64__ */

void octet_qgemm_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                      void* C, size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    (void)M, (void)N, (void)K, (void)A, (void)a_stride, (void)packed_B, (void)C, (void)c_stride;
    (void)residual, (void)r_stride, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_isa_supported() never reports this ISA */
}

void octet_qgemm_f32out_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                             float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    (void)M, (void)N, (void)K, (void)A, (void)a_stride, (void)packed_B, (void)C, (void)ldc, (void)min, (void)max;
    (void)a_xor;
    abort();
}

#endif
