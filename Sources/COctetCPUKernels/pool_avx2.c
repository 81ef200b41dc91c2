/* pool_scalar.c's max pooling with AVX2: 32 channels a step (vpmaxub / vpmaxsb), the last partial step scalar. */
#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

OCTET_TARGET_AVX2 void octet_maxpool_8bit_avx2(size_t channels, size_t output_pixels, size_t kernel_size,
                                               const void* const* indirection, int32_t input_signed,
                                               uint8_t* output, size_t output_pixel_stride) {
    const size_t full = channels / 32 * 32;
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = output + px * output_pixel_stride;
        for (size_t c = 0; c < full; c += 32) {
            __m256i best = _mm256_loadu_si256((const __m256i*)((const uint8_t*)taps[0] + c));
            for (size_t t = 1; t < kernel_size; t++) {
                const __m256i v = _mm256_loadu_si256((const __m256i*)((const uint8_t*)taps[t] + c));
                best = input_signed ? _mm256_max_epi8(best, v) : _mm256_max_epu8(best, v);
            }
            _mm256_storeu_si256((__m256i*)(out + c), best);
        }
        if (full < channels) {
            const void* tail[kernel_size];
            for (size_t t = 0; t < kernel_size; t++) tail[t] = (const uint8_t*)taps[t] + full;
            octet_maxpool_8bit_scalar(channels - full, 1, kernel_size, tail, input_signed, out + full, 0);
        }
    }
}
#else
void octet_maxpool_8bit_avx2(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                             int32_t input_signed, uint8_t* output, size_t output_pixel_stride) {
    (void)channels, (void)output_pixels, (void)kernel_size, (void)indirection, (void)input_signed, (void)output;
    (void)output_pixel_stride;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}
#endif
