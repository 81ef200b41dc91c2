/*
 * Depthwise convolution (NHWC, indirection), AVX2: dwconv_qu8_qc8w_minmax_fp32_up16__avx2 and
 * dwconv_f32_minmax_up16__fma3 in XNNPACK's naming.
 *
 * One block of 16 channels at a time (two ymm accumulators). The last, partial block of each pixel is read
 * through a zeroed 16-byte stack copy (quantized) or vmaskmovps (float), so no pointer is read past
 * `channels` elements.
 *
 * Quantized products are exact with vpmaddwd: each int32 lane holds the input in its low 16 bits and ZERO in
 * its high 16 bits, and the weight sign-extended to 32 bits, so lane = x * w + 0 * (high half of w).
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

OCTET_INLINE OCTET_TARGET_AVX2 __m256i widen_input(__m128i x8, int input_signed) {
    /* 8 bytes -> 8 int32 lanes with the value in the low 16 bits and zero above. */
    return input_signed ? _mm256_cvtepu16_epi32(_mm_cvtepi8_epi16(x8)) : _mm256_cvtepu8_epi32(x8);
}

OCTET_INLINE OCTET_TARGET_AVX2 void dwconv_q_block(const int input_signed, size_t valid, size_t kernel_size,
                                                   const void* const* taps, size_t c0, const uint8_t* block,
                                                   uint8_t* out, const octet_dwconv_params* p) {
    __m256i acc0 = _mm256_loadu_si256((const __m256i*)block);
    __m256i acc1 = _mm256_loadu_si256((const __m256i*)(block + 32));
    const uint8_t* w = block + 64;
    for (size_t t = 0; t < kernel_size; t++) {
        const uint8_t* in = (const uint8_t*)taps[t] + c0;
        const __m128i x8 = valid == 16 ? _mm_loadu_si128((const __m128i*)in) : octet_load16_partial_avx2(in, valid);
        const __m128i w8 = _mm_loadu_si128((const __m128i*)(w + 16 * t));
        const __m256i x0 = widen_input(x8, input_signed);
        const __m256i x1 = widen_input(_mm_unpackhi_epi64(x8, x8), input_signed);
        const __m256i w0 = _mm256_cvtepi8_epi32(w8);
        const __m256i w1 = _mm256_cvtepi8_epi32(_mm_unpackhi_epi64(w8, w8));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, w0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, w1));
    }
    const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
    const __m128i q = octet_requant16_avx2(acc0, acc1, (const float*)(block + 64 + 16 * kernel_size), 0,
                                           _mm_setzero_si128(), 0, _mm256_setzero_ps(), vmin, vmax,
                                           p->output_signed);
    octet_store16_partial_avx2(out, q, valid);
}

static OCTET_TARGET_AVX2 void dwconv_q_u8(size_t valid, size_t kernel_size, const void* const* taps, size_t c0,
                                          const uint8_t* block, uint8_t* out, const octet_dwconv_params* p) {
    dwconv_q_block(0, valid, kernel_size, taps, c0, block, out, p);
}

static OCTET_TARGET_AVX2 void dwconv_q_s8(size_t valid, size_t kernel_size, const void* const* taps, size_t c0,
                                          const uint8_t* block, uint8_t* out, const octet_dwconv_params* p) {
    dwconv_q_block(1, valid, kernel_size, taps, c0, block, out, p);
}

void octet_dwconv_q_avx2(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                         const void* packed, void* output, size_t output_pixel_stride,
                         const octet_dwconv_params* p) {
    octet_check_requant_bounds(p->min, p->max, p->output_signed);
    const size_t block_bytes = octet_dwconv_q_block_bytes(kernel_size);
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = (uint8_t*)output + px * output_pixel_stride;
        for (size_t c0 = 0; c0 < channels; c0 += 16) {
            const size_t valid = octet_min_size(16, channels - c0);
            const uint8_t* block = (const uint8_t*)packed + c0 / 16 * block_bytes;
            if (p->input_signed) {
                dwconv_q_s8(valid, kernel_size, taps, c0, block, out + c0, p);
            } else {
                dwconv_q_u8(valid, kernel_size, taps, c0, block, out + c0, p);
            }
        }
    }
}

OCTET_INLINE OCTET_TARGET_AVX2 __m256i lane_mask(size_t valid) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)valid), lanes);
}

static OCTET_TARGET_AVX2 void dwconv_f32_block(size_t valid, size_t kernel_size, const void* const* taps, size_t c0,
                                               const float* block, float* out, float min, float max) {
    __m256 acc0 = _mm256_loadu_ps(block), acc1 = _mm256_loadu_ps(block + 8);
    const __m256i mask0 = lane_mask(valid), mask1 = lane_mask(valid > 8 ? valid - 8 : 0);
    const float* w = block + 16;
    if (valid == 16) {
        for (size_t t = 0; t < kernel_size; t++) {
            const float* in = (const float*)taps[t] + c0;
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(in), _mm256_loadu_ps(w + 16 * t), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(in + 8), _mm256_loadu_ps(w + 16 * t + 8), acc1);
        }
    } else {
        for (size_t t = 0; t < kernel_size; t++) {
            const float* in = (const float*)taps[t] + c0;
            acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(in, mask0), _mm256_loadu_ps(w + 16 * t), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(in + 8, mask1), _mm256_loadu_ps(w + 16 * t + 8), acc1);
        }
    }
    const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
    acc0 = _mm256_min_ps(_mm256_max_ps(acc0, vmin), vmax);
    acc1 = _mm256_min_ps(_mm256_max_ps(acc1, vmin), vmax);
    if (valid == 16) {
        _mm256_storeu_ps(out, acc0);
        _mm256_storeu_ps(out + 8, acc1);
    } else {
        _mm256_maskstore_ps(out, mask0, acc0);
        _mm256_maskstore_ps(out + 8, mask1, acc1);
    }
}

void octet_dwconv_f32_avx2(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                           const float* packed, float* output, size_t output_pixel_stride, float min, float max) {
    const size_t block_floats = octet_dwconv_f32_block_floats(kernel_size);
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        float* out = (float*)((uint8_t*)output + px * output_pixel_stride);
        for (size_t c0 = 0; c0 < channels; c0 += 16) {
            dwconv_f32_block(octet_min_size(16, channels - c0), kernel_size, taps, c0, packed + c0 / 16 * block_floats,
                             out + c0, min, max);
        }
    }
}

#else /* !__x86_64__ */

void octet_dwconv_q_avx2(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                         const void* packed, void* output, size_t output_pixel_stride,
                         const octet_dwconv_params* p) {
    (void)channels, (void)output_pixels, (void)kernel_size, (void)indirection, (void)packed, (void)output;
    (void)output_pixel_stride, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

void octet_dwconv_f32_avx2(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                           const float* packed, float* output, size_t output_pixel_stride, float min, float max) {
    (void)channels, (void)output_pixels, (void)kernel_size, (void)indirection, (void)packed, (void)output;
    (void)output_pixel_stride, (void)min, (void)max;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

#endif
