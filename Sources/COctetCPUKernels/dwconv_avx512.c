/*
 * Depthwise convolution (NHWC, indirection), AVX-512.
 *
 * Quantized: vpdpbusd with one useful byte in each 4-byte group. One zmm load brings 64 channels of a tap as
 * they lie in memory; vpdpbusd sums the four u8 x s8 products of each 32-bit lane, so four accumulators take
 * the four byte positions, each against a copy of the tap's weights with the other three bytes of every group
 * zeroed: accumulator j, lane i holds channel 4i + j. Nothing is widened or shuffled per input (the earlier
 * vpmovzxbd + vpdpwssd form spent one port-5 shuffle per 16 products and ran at a third of this). Exact:
 * vpdpbusd adds the products into int32 without saturating. int8 inputs are read as uint8 x ^ 0x80 = x + 128;
 * their packed bias holds the -128 * sum_t w[t][c] that undoes it. The epilogue requantizes the four
 * accumulators and shifts each lane's four results back into channel order.
 *
 * Register tile: PX = 4 output pixels x 64 channels (16 zmm accumulators), or with at most 32 channels 8 pixels,
 * two to a vector (the packed upper half repeats the lower); each tap's four weight vectors are loaded once for
 * the tile. Fewer than 4 pixels left at the end: the missing pixels recompute the last valid
 * one and are not stored. Inputs are byte-masked loads of the channels that exist, so no pointer is read past
 * `channels` bytes.
 *
 * Float: dwconv_f32_minmax_4x64__avx512f in XNNPACK's spirit, 4 pixels x up to 4 blocks of 16 channels.
 */
#include "octet_x86_requant.h"

/* Quantized weights in the dot-product layout of 64-byte vectors (dwconv_scalar.c). */
#define VB 64

#if defined(__x86_64__)

#define PX 4
#define NB 4

/* The four accumulators of one pixel (vector j lane i = channel 4i + j) -> 64 output bytes in channel order.
 * The saturating packs leave, in each 16-byte lane, channel 4m + j at byte 4j + m; vpshufb transposes that back. */
OCTET_INLINE OCTET_TARGET_AVX512 __m512i dwconv_q_output_bytes(const __m512i acc[4], const __m512 multiplier[4],
                                                               __m512 vmin, __m512 vmax, __m512i voz,
                                                               int output_signed, int saturation_clamps) {
    __m512i q[4];
    OCTET_UNROLL for (size_t j = 0; j < 4; j++) {
        q[j] = saturation_clamps ? octet_requant16_unclamped_avx512(acc[j], multiplier[j], voz)
                                 : octet_requant16_avx512(acc[j], multiplier[j], 0, _mm_setzero_si128(), 0,
                                                          _mm512_setzero_si512(), _mm512_setzero_ps(), vmin, vmax, voz);
    }
    const __m512i w01 = _mm512_packs_epi32(q[0], q[1]), w23 = _mm512_packs_epi32(q[2], q[3]);
    const __m512i b = output_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    const __m512i transpose = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    return _mm512_shuffle_epi8(b, transpose);
}

/* Pixels of the tile: PX of 64 channels, or, with at most 32 channels, 2 * PX paired two to a vector. */
OCTET_INLINE OCTET_TARGET_AVX512 void dwconv_q_tile(const int input_signed, const int paired, size_t npx,
                                                    size_t channels_left, size_t kernel_size,
                                                    const void* const* taps, size_t c0, const uint8_t* block,
                                                    uint8_t* out, size_t out_stride, const octet_dwconv_params* p) {
    const size_t pixels = paired ? 2 * PX : PX;
    const void* const* tp[2 * PX];
    OCTET_UNROLL for (size_t i = 0; i < pixels; i++) tp[i] = taps + octet_min_size(i, npx - 1) * kernel_size;
    const __mmask64 mask = channels_left >= VB ? ~(__mmask64)0 : (((__mmask64)1 << channels_left) - 1);
    const __mmask32 half = (__mmask32)mask;
    __m512i acc[PX][4];
    const uint8_t* bias = block + (input_signed ? 4 * VB : 0);
    OCTET_UNROLL for (size_t j = 0; j < 4; j++) {
        const __m512i b = _mm512_loadu_si512(bias + VB * j);
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) acc[i][j] = b;
    }
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const uint8_t* w = block + 12 * VB;
    for (size_t t = 0; t < kernel_size; t++, w += 4 * VB) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + VB);
        const __m512i w2 = _mm512_loadu_si512(w + 2 * VB), w3 = _mm512_loadu_si512(w + 3 * VB);
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
            __m512i x;
            if (paired) {
                const __m256i lo = _mm256_maskz_loadu_epi8(half, (const uint8_t*)tp[2 * i][t] + c0);
                const __m256i hi = _mm256_maskz_loadu_epi8(half, (const uint8_t*)tp[2 * i + 1][t] + c0);
                x = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
            } else {
                x = _mm512_maskz_loadu_epi8(mask, (const uint8_t*)tp[i][t] + c0);
            }
            if (input_signed) x = _mm512_xor_si512(x, flip);
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, w0);
            acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, w1);
            acc[i][2] = _mm512_dpbusd_epi32(acc[i][2], x, w2);
            acc[i][3] = _mm512_dpbusd_epi32(acc[i][3], x, w3);
        }
    }
    const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max);
    const __m512i voz = _mm512_set1_epi32(p->output_zero_point);
    __m512 multiplier[4];
    OCTET_UNROLL for (size_t j = 0; j < 4; j++) multiplier[j] = _mm512_loadu_ps(block + 8 * VB + VB * j);
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
        if (paired ? 2 * i < npx : i < npx) {
            const __m512i bytes = dwconv_q_output_bytes(acc[i], multiplier, vmin, vmax, voz, p->output_signed,
                                                         p->saturation_clamps);
            if (paired) {
                _mm256_mask_storeu_epi8(out + 2 * i * out_stride, half, _mm512_castsi512_si256(bytes));
                if (2 * i + 1 < npx) {
                    _mm256_mask_storeu_epi8(out + (2 * i + 1) * out_stride, half, _mm512_extracti64x4_epi64(bytes, 1));
                }
            } else {
                _mm512_mask_storeu_epi8(out + i * out_stride, mask, bytes);
            }
        }
    }
}

typedef void (*dwconv_q_fn)(size_t npx, size_t channels_left, size_t kernel_size, const void* const* taps, size_t c0,
                            const uint8_t* block, uint8_t* out, size_t out_stride, const octet_dwconv_params* p);

#define DEFINE_Q(S, P)                                                                                        \
    static OCTET_TARGET_AVX512 void dwconv_q_##S##P(size_t npx, size_t channels_left, size_t kernel_size,     \
                                                    const void* const* taps, size_t c0, const uint8_t* block, \
                                                    uint8_t* out, size_t out_stride,                          \
                                                    const octet_dwconv_params* p) {                           \
        dwconv_q_tile(S, P, npx, channels_left, kernel_size, taps, c0, block, out, out_stride, p);            \
    }
DEFINE_Q(0, 0) DEFINE_Q(1, 0) DEFINE_Q(0, 1) DEFINE_Q(1, 1)

void octet_dwconv_q_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                               const void* const* indirection, const void* packed, void* output,
                               size_t output_pixel_stride, const octet_dwconv_params* p) {
    octet_check_requant_bounds(p->min, p->max, p->output_zero_point, p->output_signed);
    const size_t block_bytes = octet_dwconv_qdot_block_bytes(VB, kernel_size);
    const int paired = channels <= VB / 2; /* where the packer repeated each vector's lower half (dwconv_scalar.c) */
    static const dwconv_q_fn tiles[2][2] = {{dwconv_q_00, dwconv_q_10}, {dwconv_q_01, dwconv_q_11}};
    const dwconv_q_fn tile = tiles[paired][p->input_signed ? 1 : 0];
    const size_t step = paired ? 2 * PX : PX;
    for (size_t px = 0; px < output_pixels; px += step) {
        const size_t npx = octet_min_size(step, output_pixels - px);
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = (uint8_t*)output + px * output_pixel_stride;
        for (size_t c0 = 0; c0 < channels; c0 += VB) {
            tile(npx, channels - c0, kernel_size, taps, c0, (const uint8_t*)packed + c0 / VB * block_bytes, out + c0,
                 output_pixel_stride, p);
        }
    }
}

OCTET_INLINE OCTET_TARGET_AVX512 void dwconv_f32_tile(const size_t nb, size_t npx, size_t channels_left,
                                                      size_t kernel_size, const void* const* taps, size_t c0,
                                                      const float* blocks, size_t block_floats, float* out,
                                                      size_t out_stride, float min, float max) {
    const void* const* tp[PX];
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) tp[i] = taps + octet_min_size(i, npx - 1) * kernel_size;
    __m512 acc[PX][NB];
    __mmask16 mask[NB];
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        const __m512 bias = _mm512_loadu_ps(blocks + b * block_floats);
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) acc[i][b] = bias;
        const size_t valid = octet_min_size(16, channels_left - 16 * b);
        mask[b] = (__mmask16)((1u << valid) - 1u);
    }
    for (size_t t = 0; t < kernel_size; t++) {
        const float* in[PX];
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) in[i] = (const float*)tp[i][t] + c0;
        OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
            const __m512 w = _mm512_loadu_ps(blocks + b * block_floats + 16 + 16 * t);
            OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
                acc[i][b] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[b], in[i] + 16 * b), w, acc[i][b]);
            }
        }
    }
    const __m512 vmin = _mm512_set1_ps(min), vmax = _mm512_set1_ps(max);
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
            if (i < npx) {
                const __m512 y = _mm512_min_ps(_mm512_max_ps(acc[i][b], vmin), vmax);
                _mm512_mask_storeu_ps((float*)((uint8_t*)out + i * out_stride) + 16 * b, mask[b], y);
            }
        }
    }
}

typedef void (*dwconv_f32_fn)(size_t npx, size_t channels_left, size_t kernel_size, const void* const* taps,
                              size_t c0, const float* blocks, size_t block_floats, float* out, size_t out_stride,
                              float min, float max);

#define DEFINE_F(B)                                                                                              \
    static OCTET_TARGET_AVX512 void dwconv_f32_##B(size_t npx, size_t channels_left, size_t kernel_size,          \
                                                   const void* const* taps, size_t c0, const float* blocks,       \
                                                   size_t block_floats, float* out, size_t out_stride, float min, \
                                                   float max) {                                                   \
        dwconv_f32_tile(B, npx, channels_left, kernel_size, taps, c0, blocks, block_floats, out, out_stride, min,  \
                        max);                                                                                     \
    }
DEFINE_F(1) DEFINE_F(2) DEFINE_F(3) DEFINE_F(4)

static const dwconv_f32_fn f32_tiles[NB] = {dwconv_f32_1, dwconv_f32_2, dwconv_f32_3, dwconv_f32_4};

void octet_dwconv_f32_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                                 const void* const* indirection, const float* packed, float* output,
                                 size_t output_pixel_stride, float min, float max) {
    const size_t block_floats = octet_dwconv_f32_block_floats(kernel_size);
    for (size_t px = 0; px < output_pixels; px += PX) {
        const size_t npx = octet_min_size(PX, output_pixels - px);
        const void* const* taps = indirection + px * kernel_size;
        float* out = (float*)((uint8_t*)output + px * output_pixel_stride);
        for (size_t c0 = 0; c0 < channels; c0 += 16 * NB) {
            const size_t left = channels - c0;
            const size_t nb = octet_min_size(NB, (left + 15) / 16);
            f32_tiles[nb - 1](npx, left, kernel_size, taps, c0, packed + c0 / 16 * block_floats, block_floats,
                              out + c0, output_pixel_stride, min, max);
        }
    }
}

#else /* !__x86_64__ */

void octet_dwconv_q_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                               const void* const* indirection, const void* packed, void* output,
                               size_t output_pixel_stride, const octet_dwconv_params* p) {
    (void)channels, (void)output_pixels, (void)kernel_size, (void)indirection, (void)packed, (void)output;
    (void)output_pixel_stride, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

void octet_dwconv_f32_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                                 const void* const* indirection, const float* packed, float* output,
                                 size_t output_pixel_stride, float min, float max) {
    (void)channels, (void)output_pixels, (void)kernel_size, (void)indirection, (void)packed, (void)output;
    (void)output_pixel_stride, (void)min, (void)max;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

#endif
