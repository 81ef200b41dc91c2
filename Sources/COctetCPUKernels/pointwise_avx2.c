/* pointwise_scalar.c's kernels with AVX2: eight floats or eight channels a step, the rest scalar. */
#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

OCTET_TARGET_AVX2 void octet_quantize_f32_avx2(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p) {
    const __m256 scale = _mm256_set1_ps(p->scale), lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    const __m256i zero = _mm256_set1_epi32(p->zero_point);
    /* Byte 0 of each 32-bit lane to the lane's first four bytes. */
    const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                               0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), scale);
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN -> +0 */
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        const __m256i bits = _mm256_add_epi32(_mm256_castps_si256(_mm256_add_ps(v, magic)), zero);
        const __m256i packed = _mm256_shuffle_epi8(bits, low_bytes);
        const uint32_t first = (uint32_t)_mm256_extract_epi32(packed, 0), second = (uint32_t)_mm256_extract_epi32(packed, 4);
        memcpy(y + i, &first, 4);
        memcpy(y + i + 4, &second, 4);
    }
    octet_quantize_f32_scalar(n - i, x + i, y + i, p);
}

OCTET_TARGET_AVX2 void octet_sum_pixels_8bit_avx2(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed,
                                                  int32_t* sums) {
    size_t c = 0;
    for (; c + 8 <= channels; c += 8) {
        __m256i acc = _mm256_loadu_si256((const __m256i*)(sums + c));
        const uint8_t* column = x + c;
        if (input_signed) {
            for (size_t px = 0; px < pixels; px++, column += channels)
                acc = _mm256_add_epi32(acc, _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)column)));
        } else {
            for (size_t px = 0; px < pixels; px++, column += channels)
                acc = _mm256_add_epi32(acc, _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)column)));
        }
        _mm256_storeu_si256((__m256i*)(sums + c), acc);
    }
    if (c < channels) {
        for (size_t px = 0; px < pixels; px++) {
            const uint8_t* row = x + px * channels;
            for (size_t k = c; k < channels; k++) sums[k] += input_signed ? (int8_t)row[k] : row[k];
        }
    }
}
#else
void octet_quantize_f32_avx2(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p) {
    (void)n, (void)x, (void)y, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}
void octet_sum_pixels_8bit_avx2(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed, int32_t* sums) {
    (void)pixels, (void)channels, (void)x, (void)input_signed, (void)sums;
    abort();
}
#endif
