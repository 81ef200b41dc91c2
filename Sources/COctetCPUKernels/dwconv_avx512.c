/*
 * Depthwise convolution (NHWC, indirection), AVX-512: dwconv_qu8_qc8w_minmax_fp32_up64__avx512vnni and
 * dwconv_f32_minmax_up64__avx512f in XNNPACK's naming (both named *_avx512vnni for the ISA level).
 *
 * Per output pixel, channels go in groups of up to 4 blocks of 16 (64 channels, 4 zmm accumulators, each
 * block's taps a separate dependency chain); every tap's input is read with a byte/float-masked load so no
 * pointer is read past `channels` elements.
 *
 * Quantized products are exact with vpdpwssd (int16 pairs into int32): each int32 lane holds the input in
 * its low 16 bits and ZERO in its high 16 bits (uint8 zero-extended, or int8 sign-extended to 16 bits then
 * zero-extended), and the weight sign-extended to 32 bits, so lane = x * w + 0 * (high half of w) = x * w.
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define NB 4

OCTET_INLINE OCTET_TARGET_AVX512 void dwconv_q_group(const size_t nb, const int input_signed, size_t channels_left,
                                                     size_t kernel_size, const void* const* taps, size_t c0,
                                                     const uint8_t* blocks, size_t block_bytes, uint8_t* out,
                                                     const octet_dwconv_params* p) {
    __m512i acc[NB];
    __mmask16 mask[NB];
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        acc[b] = _mm512_loadu_si512(blocks + b * block_bytes);
        const size_t valid = octet_min_size(16, channels_left - 16 * b);
        mask[b] = (__mmask16)((1u << valid) - 1u);
    }
    const uint8_t* w = blocks + 64;
    for (size_t t = 0; t < kernel_size; t++) {
        const uint8_t* in = (const uint8_t*)taps[t] + c0;
        OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
            const __m128i x8 = _mm_maskz_loadu_epi8(mask[b], in + 16 * b);
            const __m512i x = input_signed ? _mm512_cvtepu16_epi32(_mm256_cvtepi8_epi16(x8)) : _mm512_cvtepu8_epi32(x8);
            const __m512i wv = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(w + b * block_bytes + 16 * t)));
            acc[b] = _mm512_dpwssd_epi32(acc[b], x, wv);
        }
    }
    const __m512 vmin = _mm512_set1_ps(p->min), vmax = _mm512_set1_ps(p->max), zero = _mm512_setzero_ps();
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        const __m512 multiplier = _mm512_loadu_ps(blocks + b * block_bytes + 64 + 16 * kernel_size);
        const __m512i q = octet_requant16_avx512(acc[b], multiplier, 0, _mm_setzero_si128(), 0, zero, vmin, vmax);
        _mm_mask_storeu_epi8(out + 16 * b, mask[b], octet_saturate16_avx512(q, p->output_signed));
    }
}

typedef void (*dwconv_q_fn)(size_t channels_left, size_t kernel_size, const void* const* taps, size_t c0,
                            const uint8_t* blocks, size_t block_bytes, uint8_t* out, const octet_dwconv_params* p);

#define DEFINE_Q(B, S)                                                                                            \
    static OCTET_TARGET_AVX512 void dwconv_q_##B##_##S(size_t channels_left, size_t kernel_size,                   \
                                                       const void* const* taps, size_t c0, const uint8_t* blocks,  \
                                                       size_t block_bytes, uint8_t* out,                           \
                                                       const octet_dwconv_params* p) {                             \
        dwconv_q_group(B, S, channels_left, kernel_size, taps, c0, blocks, block_bytes, out, p);                   \
    }
DEFINE_Q(1, 0) DEFINE_Q(2, 0) DEFINE_Q(3, 0) DEFINE_Q(4, 0)
DEFINE_Q(1, 1) DEFINE_Q(2, 1) DEFINE_Q(3, 1) DEFINE_Q(4, 1)

static const dwconv_q_fn q_groups[2][NB] = {
    {dwconv_q_1_0, dwconv_q_2_0, dwconv_q_3_0, dwconv_q_4_0},
    {dwconv_q_1_1, dwconv_q_2_1, dwconv_q_3_1, dwconv_q_4_1},
};

void octet_dwconv_q_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                               const void* const* indirection, const void* packed, void* output,
                               size_t output_pixel_stride, const octet_dwconv_params* p) {
    octet_check_requant_bounds(p->min, p->max, p->output_signed);
    const size_t block_bytes = octet_dwconv_q_block_bytes(kernel_size);
    const dwconv_q_fn* groups = q_groups[p->input_signed ? 1 : 0];
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = (uint8_t*)output + px * output_pixel_stride;
        for (size_t c0 = 0; c0 < channels; c0 += 16 * NB) {
            const size_t left = channels - c0;
            const size_t nb = octet_min_size(NB, (left + 15) / 16);
            groups[nb - 1](left, kernel_size, taps, c0, (const uint8_t*)packed + c0 / 16 * block_bytes, block_bytes,
                           out + c0, p);
        }
    }
}

OCTET_INLINE OCTET_TARGET_AVX512 void dwconv_f32_group(const size_t nb, size_t channels_left, size_t kernel_size,
                                                       const void* const* taps, size_t c0, const float* blocks,
                                                       size_t block_floats, float* out, float min, float max) {
    __m512 acc[NB];
    __mmask16 mask[NB];
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        acc[b] = _mm512_loadu_ps(blocks + b * block_floats);
        const size_t valid = octet_min_size(16, channels_left - 16 * b);
        mask[b] = (__mmask16)((1u << valid) - 1u);
    }
    const float* w = blocks + 16;
    for (size_t t = 0; t < kernel_size; t++) {
        const float* in = (const float*)taps[t] + c0;
        OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
            const __m512 x = _mm512_maskz_loadu_ps(mask[b], in + 16 * b);
            acc[b] = _mm512_fmadd_ps(x, _mm512_loadu_ps(w + b * block_floats + 16 * t), acc[b]);
        }
    }
    const __m512 vmin = _mm512_set1_ps(min), vmax = _mm512_set1_ps(max);
    OCTET_UNROLL for (size_t b = 0; b < nb; b++) {
        _mm512_mask_storeu_ps(out + 16 * b, mask[b], _mm512_min_ps(_mm512_max_ps(acc[b], vmin), vmax));
    }
}

typedef void (*dwconv_f32_fn)(size_t channels_left, size_t kernel_size, const void* const* taps, size_t c0,
                              const float* blocks, size_t block_floats, float* out, float min, float max);

#define DEFINE_F(B)                                                                                              \
    static OCTET_TARGET_AVX512 void dwconv_f32_##B(size_t channels_left, size_t kernel_size,                      \
                                                   const void* const* taps, size_t c0, const float* blocks,       \
                                                   size_t block_floats, float* out, float min, float max) {       \
        dwconv_f32_group(B, channels_left, kernel_size, taps, c0, blocks, block_floats, out, min, max);           \
    }
DEFINE_F(1) DEFINE_F(2) DEFINE_F(3) DEFINE_F(4)

static const dwconv_f32_fn f32_groups[NB] = {dwconv_f32_1, dwconv_f32_2, dwconv_f32_3, dwconv_f32_4};

void octet_dwconv_f32_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                                 const void* const* indirection, const float* packed, float* output,
                                 size_t output_pixel_stride, float min, float max) {
    const size_t block_floats = octet_dwconv_f32_block_floats(kernel_size);
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        float* out = (float*)((uint8_t*)output + px * output_pixel_stride);
        for (size_t c0 = 0; c0 < channels; c0 += 16 * NB) {
            const size_t left = channels - c0;
            const size_t nb = octet_min_size(NB, (left + 15) / 16);
            f32_groups[nb - 1](left, kernel_size, taps, c0, packed + c0 / 16 * block_floats, block_floats, out + c0,
                               min, max);
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
