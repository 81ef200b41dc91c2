/* pointwise_scalar.c's kernels with AVX-512: sixteen floats or channels a step, the tail under a mask. */
#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

OCTET_TARGET_AVX512 void octet_quantize_f32_avx512vnni(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p) {
    const __m512 scale = _mm512_set1_ps(p->scale), lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512i zero = _mm512_set1_epi32(p->zero_point);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 mask = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
        /* Masked-off lanes load 1.0, so the division raises nothing it would not raise scalar. */
        __m512 v = _mm512_div_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), mask, x + i), scale);
        v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_setzero_ps()); /* NaN -> 0 */
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        const __m512i bits = _mm512_add_epi32(_mm512_castps_si512(_mm512_add_ps(v, magic)), zero);
        _mm512_mask_cvtepi32_storeu_epi8(y + i, mask, bits); /* truncating: the low byte */
    }
}

OCTET_TARGET_AVX512 void octet_sum_pixels_8bit_avx512vnni(size_t pixels, size_t channels, const uint8_t* x,
                                                          int32_t input_signed, int32_t* sums) {
    for (size_t c = 0; c < channels; c += 16) {
        const __mmask16 mask = channels - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (channels - c)) - 1u);
        __m512i acc = _mm512_maskz_loadu_epi32(mask, sums + c);
        const uint8_t* column = x + c;
        if (input_signed) {
            for (size_t px = 0; px < pixels; px++, column += channels)
                acc = _mm512_add_epi32(acc, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, column)));
        } else {
            for (size_t px = 0; px < pixels; px++, column += channels)
                acc = _mm512_add_epi32(acc, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, column)));
        }
        _mm512_mask_storeu_epi32(sums + c, mask, acc);
    }
}
#else
void octet_quantize_f32_avx512vnni(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p) {
    (void)n, (void)x, (void)y, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}
void octet_sum_pixels_8bit_avx512vnni(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed, int32_t* sums) {
    (void)pixels, (void)channels, (void)x, (void)input_signed, (void)sums;
    abort();
}
#endif
