/*
 * Depthwise convolution (NHWC, indirection), AVX-512: dwconv_qu8_qc8w_minmax_fp32_4x64__avx512vnni and
 * dwconv_f32_minmax_4x64__avx512f in XNNPACK's spirit (both named *_avx512vnni for the ISA level).
 *
 * Register tile: PX = 4 output pixels x up to NB = 4 blocks of 16 channels (64 channels) = 16 zmm
 * accumulators. Each tap's weights are loaded (and, quantized, widened) once and used for the 4 pixels,
 * which keeps the shuffle and load ports from limiting the multiply-adds. Fewer than 4 pixels left at the end:
 * the missing pixels recompute the last valid one and are not stored. Every input read is a byte/float-masked
 * load of the channels that exist, so no pointer is read past `channels` elements.
 *
 * Quantized products are exact with vpdpwssd (int16 pairs into int32): each int32 lane holds the input
 * extended to 32 bits (zero- or sign-extended) and the weight as int16 in the LOW half with ZERO in the high
 * half, so lane = x_lo * w + x_hi * 0 = x * w.
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define PX 4
#define NB 4

OCTET_INLINE OCTET_TARGET_AVX512 void dwconv_q_tile(const size_t nb, const int input_signed, size_t npx,
                                                    size_t channels_left, size_t kernel_size,
                                                    const void* const* taps, size_t c0, const uint8_t* blocks,
                                                    size_t block_bytes, uint8_t* out, size_t out_stride,
                                                    const octet_dwconv_params* p) {
    const void* const* tp[PX];
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) tp[i] = taps + octet_min_size(i, npx - 1) * kernel_size;
    __m512i acc[PX][NB];
    __mmask16 mask[NB];
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        const __m512i bias = _mm512_loadu_si512(blocks + b * block_bytes);
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) acc[i][b] = bias;
        const size_t valid = octet_min_size(16, channels_left - 16 * b);
        mask[b] = (__mmask16)((1u << valid) - 1u);
    }
    const __m512i low_half = _mm512_set1_epi32(0xFFFF);
    for (size_t t = 0; t < kernel_size; t++) {
        const uint8_t* in[PX];
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) in[i] = (const uint8_t*)tp[i][t] + c0;
        OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
            const __m128i w8 = _mm_loadu_si128((const __m128i*)(blocks + b * block_bytes + 64 + 16 * t));
            const __m512i w = _mm512_and_si512(_mm512_cvtepi8_epi32(w8), low_half);
            OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
                const __m128i x8 = _mm_maskz_loadu_epi8(mask[b], in[i] + 16 * b);
                const __m512i x = input_signed ? _mm512_cvtepi8_epi32(x8) : _mm512_cvtepu8_epi32(x8);
                acc[i][b] = _mm512_dpwssd_epi32(acc[i][b], x, w);
            }
        }
    }
    const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max), zero = _mm512_setzero_ps();
    const __m512i voz = _mm512_set1_epi32(p->output_zero_point);
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        const __m512 multiplier = _mm512_loadu_ps(blocks + b * block_bytes + 64 + 16 * kernel_size);
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
            if (i < npx) {
                const __m512i q = octet_requant16_avx512(acc[i][b], multiplier, 0, _mm_setzero_si128(), 0,
                                                         _mm512_setzero_si512(), zero, vmin, vmax, voz);
                const __m128i bytes = octet_saturate16_avx512(q, p->output_signed);
                _mm_mask_storeu_epi8(out + i * out_stride + 16 * b, mask[b], bytes);
            }
        }
    }
}

typedef void (*dwconv_q_fn)(size_t npx, size_t channels_left, size_t kernel_size, const void* const* taps,
                            size_t c0, const uint8_t* blocks, size_t block_bytes, uint8_t* out, size_t out_stride,
                            const octet_dwconv_params* p);

#define DEFINE_Q(B, S)                                                                                           \
    static OCTET_TARGET_AVX512 void dwconv_q_##B##_##S(size_t npx, size_t channels_left, size_t kernel_size,     \
                                                       const void* const* taps, size_t c0, const uint8_t* blocks, \
                                                       size_t block_bytes, uint8_t* out, size_t out_stride,       \
                                                       const octet_dwconv_params* p) {                            \
        dwconv_q_tile(B, S, npx, channels_left, kernel_size, taps, c0, blocks, block_bytes, out, out_stride, p);  \
    }
DEFINE_Q(1, 0) DEFINE_Q(2, 0) DEFINE_Q(3, 0) DEFINE_Q(4, 0)
DEFINE_Q(1, 1) DEFINE_Q(2, 1) DEFINE_Q(3, 1) DEFINE_Q(4, 1)

static const dwconv_q_fn q_tiles[2][NB] = {
    {dwconv_q_1_0, dwconv_q_2_0, dwconv_q_3_0, dwconv_q_4_0},
    {dwconv_q_1_1, dwconv_q_2_1, dwconv_q_3_1, dwconv_q_4_1},
};

void octet_dwconv_q_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                               const void* const* indirection, const void* packed, void* output,
                               size_t output_pixel_stride, const octet_dwconv_params* p) {
    octet_check_requant_bounds(p->min, p->max, p->output_zero_point, p->output_signed);
    const size_t block_bytes = octet_dwconv_q_block_bytes(kernel_size);
    const dwconv_q_fn* tiles = q_tiles[p->input_signed ? 1 : 0];
    for (size_t px = 0; px < output_pixels; px += PX) {
        const size_t npx = octet_min_size(PX, output_pixels - px);
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = (uint8_t*)output + px * output_pixel_stride;
        for (size_t c0 = 0; c0 < channels; c0 += 16 * NB) {
            const size_t left = channels - c0;
            const size_t nb = octet_min_size(NB, (left + 15) / 16);
            tiles[nb - 1](npx, left, kernel_size, taps, c0, (const uint8_t*)packed + c0 / 16 * block_bytes,
                          block_bytes, out + c0, output_pixel_stride, p);
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
