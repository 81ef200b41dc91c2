/* pool_scalar.c's max pooling with AVX-512: 64 channels a step (vpmaxub / vpmaxsb), the tail under a byte mask. */
#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

OCTET_TARGET_AVX512 void octet_maxpool_8bit_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                                                       const void* const* indirection, int32_t input_signed,
                                                       uint8_t* output, size_t output_pixel_stride) {
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = output + px * output_pixel_stride;
        for (size_t c = 0; c < channels; c += 64) {
            const __mmask64 mask = channels - c >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (channels - c)) - 1);
            __m512i best = _mm512_maskz_loadu_epi8(mask, (const uint8_t*)taps[0] + c);
            for (size_t t = 1; t < kernel_size; t++) {
                const __m512i v = _mm512_maskz_loadu_epi8(mask, (const uint8_t*)taps[t] + c);
                best = input_signed ? _mm512_max_epi8(best, v) : _mm512_max_epu8(best, v);
            }
            _mm512_mask_storeu_epi8(out + c, mask, best);
        }
    }
}
#else
void octet_maxpool_8bit_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                                   const void* const* indirection, int32_t input_signed, uint8_t* output,
                                   size_t output_pixel_stride) {
    (void)channels, (void)output_pixels, (void)kernel_size, (void)indirection, (void)input_signed, (void)output;
    (void)output_pixel_stride;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}
#endif
