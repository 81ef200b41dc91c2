/*
 * Element-wise kernels of the quantized graph's edges, scalar: the definitions the vector versions must match byte
 * for byte.
 *
 *   octet_quantize_f32:     y[i] = low byte of round-half-even(clamp(x[i] / scale, lo, hi)) + zero_point, NaN as 0
 *                           (OctetQuantization's quantize: a true division, not a multiplication by 1/scale).
 *   octet_sum_pixels_8bit:  sums[c] += x[p * channels + c] over pixels p (int8 or uint8), for global pooling.
 */
#include "octet_internal.h"

void octet_quantize_f32_scalar(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i] / p->scale;
        if (v != v) v = 0.0f;
        v = p->lo >= v ? p->lo : v; /* Swift's max(v, lo) and min(v, hi), operand order included */
        v = p->hi < v ? p->hi : v;
        const float shifted = v + 12582912.0f; /* 1.5 * 2^23: the low mantissa bits hold the rounded integer */
        uint32_t bits;
        memcpy(&bits, &shifted, sizeof bits);
        y[i] = (uint8_t)((uint8_t)bits + (uint8_t)p->zero_point);
    }
}

void octet_sum_pixels_8bit_scalar(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed, int32_t* sums) {
    for (size_t px = 0; px < pixels; px++) {
        const uint8_t* row = x + px * channels;
        if (input_signed) {
            for (size_t c = 0; c < channels; c++) sums[c] += (int8_t)row[c];
        } else {
            for (size_t c = 0; c < channels; c++) sums[c] += row[c];
        }
    }
}
