/*
 * Max pooling of 8-bit NHWC data through an indirection buffer, scalar: the plain loop every ISA's kernel equals.
 * See COctetCPUKernels.h.
 */
#include "octet_internal.h"

void octet_maxpool_8bit_scalar(size_t channels, size_t output_pixels, size_t kernel_size,
                               const void* const* indirection, int32_t input_signed, uint8_t* output,
                               size_t output_pixel_stride) {
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = output + px * output_pixel_stride;
        for (size_t c = 0; c < channels; c++) {
            uint8_t best = ((const uint8_t*)taps[0])[c];
            for (size_t t = 1; t < kernel_size; t++) {
                const uint8_t v = ((const uint8_t*)taps[t])[c];
                const int greater = input_signed ? (int8_t)v > (int8_t)best : v > best;
                if (greater) best = v;
            }
            out[c] = best;
        }
    }
}
