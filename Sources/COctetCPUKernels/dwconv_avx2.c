/*
 * Depthwise convolution (NHWC, indirection), AVX2: dwconv_qu8_qc8w_minmax_fp32_up16__avx2 and
 * dwconv_f32_minmax_up16__fma3 in XNNPACK's naming.
 *
 * Quantized: 4 output pixels x one block of 16 channels (8 ymm accumulators), each pair of taps' weights
 * interleaved and widened once for the 4 pixels. Float: one pixel x 16 channels. The last, partial block of each pixel is read through a
 * zeroed 16-byte stack copy (quantized) or vmaskmovps (float), so no pointer is read past `channels` elements.
 *
 * Quantized products are exact with vpmaddwd on int16: taps go in pairs, the bytes of taps t and t+1 interleaved
 * (vpunpck[lh]bw) and widened, so int32 lane c = x_t[c] * w_t[c] + x_t+1[c] * w_t+1[c] (|each| <= 255 * 128). An
 * odd kernel's last tap uses lanes holding the input extended to 32 bits and the weight as int16 in the LOW half
 * with ZERO in the high half, so lane = x_lo * w + x_hi * 0 = x * w.
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define PX 4

/* 8 input bytes -> 8 int32 lanes, zero- or sign-extended. */
OCTET_INLINE OCTET_TARGET_AVX2 __m256i widen_input(__m128i x8, int input_signed) {
    return input_signed ? _mm256_cvtepi8_epi32(x8) : _mm256_cvtepu8_epi32(x8);
}

/* 8 weight bytes -> 8 int32 lanes holding the int16 weight in the low half and zero in the high half. */
OCTET_INLINE OCTET_TARGET_AVX2 __m256i widen_weight(__m128i w8) {
    return _mm256_and_si256(_mm256_cvtepi8_epi32(w8), _mm256_set1_epi32(0xFFFF));
}

/* PX = 4 output pixels x 16 channels (8 ymm accumulators); each tap's weights are widened once for the
 * 4 pixels. Missing pixels (npx < 4) recompute the last valid one and are not stored. */
OCTET_INLINE OCTET_TARGET_AVX2 void dwconv_q_tile(const int input_signed, size_t npx, size_t valid,
                                                  size_t kernel_size, const void* const* taps, size_t c0,
                                                  const uint8_t* block, uint8_t* out, size_t out_stride,
                                                  const octet_dwconv_params* p) {
    const void* const* tp[PX];
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) tp[i] = taps + octet_min_size(i, npx - 1) * kernel_size;
    __m256i acc[PX][2];
    const __m256i bias0 = _mm256_loadu_si256((const __m256i*)block);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(block + 32));
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
        acc[i][0] = bias0;
        acc[i][1] = bias1;
    }
    const uint8_t* w = block + 64;
    size_t t = 0;
    /* Taps in pairs: lane c of vpmaddwd gets (x_t[c], x_t+1[c]) and (w_t[c], w_t+1[c]) as int16, so one
     * vpmaddwd adds two taps' exact products (8 channels x 2 taps instead of 8 x 1). */
    for (; t + 2 <= kernel_size; t += 2) {
        const __m128i wa = _mm_loadu_si128((const __m128i*)(w + 16 * t));
        const __m128i wb = _mm_loadu_si128((const __m128i*)(w + 16 * t + 16));
        const __m256i w0 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(wa, wb)); /* channels 0-7 */
        const __m256i w1 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(wa, wb)); /* channels 8-15 */
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
            const uint8_t* ina = (const uint8_t*)tp[i][t] + c0;
            const uint8_t* inb = (const uint8_t*)tp[i][t + 1] + c0;
            __m128i xa, xb;
            if (valid == 16) {
                xa = _mm_loadu_si128((const __m128i*)ina);
                xb = _mm_loadu_si128((const __m128i*)inb);
            } else {
                xa = octet_load16_partial_avx2(ina, valid);
                xb = octet_load16_partial_avx2(inb, valid);
            }
            const __m128i lo = _mm_unpacklo_epi8(xa, xb), hi = _mm_unpackhi_epi8(xa, xb);
            const __m256i x0 = input_signed ? _mm256_cvtepi8_epi16(lo) : _mm256_cvtepu8_epi16(lo);
            const __m256i x1 = input_signed ? _mm256_cvtepi8_epi16(hi) : _mm256_cvtepu8_epi16(hi);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x0, w0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x1, w1));
        }
    }
    /* The last tap of an odd kernel: the input extended to 32 bits against the weight in the low int16. */
    for (; t < kernel_size; t++) {
        const __m256i w0 = widen_weight(_mm_loadl_epi64((const __m128i*)(w + 16 * t)));
        const __m256i w1 = widen_weight(_mm_loadl_epi64((const __m128i*)(w + 16 * t + 8)));
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
            const uint8_t* in = (const uint8_t*)tp[i][t] + c0;
            __m128i lo, hi;
            if (valid == 16) {
                lo = _mm_loadl_epi64((const __m128i*)in);
                hi = _mm_loadl_epi64((const __m128i*)(in + 8));
            } else {
                const __m128i x8 = octet_load16_partial_avx2(in, valid);
                lo = x8;
                hi = _mm_unpackhi_epi64(x8, x8);
            }
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(widen_input(lo, input_signed), w0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(widen_input(hi, input_signed), w1));
        }
    }
    const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
    const __m256i voz = _mm256_set1_epi32(p->output_zero_point);
    const float* multiplier = (const float*)(block + 64 + 16 * kernel_size);
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
        if (i < npx) {
            const __m128i q = octet_requant16_avx2(acc[i][0], acc[i][1], multiplier, 0, _mm_setzero_si128(), 0,
                                                   _mm256_setzero_si256(), _mm256_setzero_ps(), vmin, vmax, voz,
                                                   p->output_signed, !p->saturation_clamps);
            octet_store16_partial_avx2(out + i * out_stride, q, valid);
        }
    }
}

static OCTET_TARGET_AVX2 void dwconv_q_u8(size_t npx, size_t valid, size_t kernel_size, const void* const* taps,
                                          size_t c0, const uint8_t* block, uint8_t* out, size_t out_stride,
                                          const octet_dwconv_params* p) {
    dwconv_q_tile(0, npx, valid, kernel_size, taps, c0, block, out, out_stride, p);
}

static OCTET_TARGET_AVX2 void dwconv_q_s8(size_t npx, size_t valid, size_t kernel_size, const void* const* taps,
                                          size_t c0, const uint8_t* block, uint8_t* out, size_t out_stride,
                                          const octet_dwconv_params* p) {
    dwconv_q_tile(1, npx, valid, kernel_size, taps, c0, block, out, out_stride, p);
}

void octet_dwconv_q_avx2(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                         const void* packed, void* output, size_t output_pixel_stride,
                         const octet_dwconv_params* p) {
    octet_check_requant_bounds(p->min, p->max, p->output_zero_point, p->output_signed);
    const size_t block_bytes = octet_dwconv_q_block_bytes(kernel_size);
    for (size_t px = 0; px < output_pixels; px += PX) {
        const size_t npx = octet_min_size(PX, output_pixels - px);
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = (uint8_t*)output + px * output_pixel_stride;
        for (size_t c0 = 0; c0 < channels; c0 += 16) {
            const size_t valid = octet_min_size(16, channels - c0);
            const uint8_t* block = (const uint8_t*)packed + c0 / 16 * block_bytes;
            if (p->input_signed) {
                dwconv_q_s8(npx, valid, kernel_size, taps, c0, block, out + c0, output_pixel_stride, p);
            } else {
                dwconv_q_u8(npx, valid, kernel_size, taps, c0, block, out + c0, output_pixel_stride, p);
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
