/*
 * Depthwise convolution (NHWC, indirection), scalar: the packers that define the packed layouts and the
 * plain-loop oracles. See COctetCPUKernels.h for the contract.
 */
#include "octet_internal.h"

size_t octet_dwconv_q16_packed_size(size_t channels, size_t kernel_size) {
    return (channels + 15) / 16 * octet_dwconv_q_block_bytes(kernel_size);
}

void octet_dwconv_q16_pack(size_t channels, size_t kernel_size, const int8_t* w, const int32_t* bias,
                           const float* multiplier, void* packed) {
    uint8_t* out = (uint8_t*)packed;
    for (size_t c0 = 0; c0 < channels; c0 += 16) {
        const size_t cr = octet_min_size(16, channels - c0);
        int32_t b[16] = {0};
        float s[16] = {0};
        for (size_t j = 0; j < cr; j++) {
            b[j] = bias != NULL ? bias[c0 + j] : 0;
            s[j] = multiplier[c0 + j];
        }
        memcpy(out, b, sizeof b);
        out += sizeof b;
        for (size_t t = 0; t < kernel_size; t++) {
            for (size_t j = 0; j < 16; j++) *out++ = j < cr ? (uint8_t)w[t * channels + c0 + j] : 0;
        }
        memcpy(out, s, sizeof s);
        out += sizeof s;
    }
}

int32_t octet_dwconv_q16_saturation_clamps(size_t channels, size_t kernel_size, const void* packed,
                                           const octet_dwconv_params* p) {
    const size_t block_bytes = octet_dwconv_q_block_bytes(kernel_size);
    for (size_t c = 0; c < channels; c++) {
        const uint8_t* block = (const uint8_t*)packed + c / 16 * block_bytes;
        const double bias = fabs((double)octet_load_i32(block + 4 * (c % 16)));
        const double multiplier = octet_load_f32(block + 64 + 16 * kernel_size + 4 * (c % 16));
        if (!octet_saturation_clamps(p->min, p->max, p->output_zero_point, p->output_signed,
                                     bias + (double)kernel_size * 255.0 * 128.0, multiplier)) {
            return 0;
        }
    }
    return 1;
}

size_t octet_dwconv_f32_packed_size(size_t channels, size_t kernel_size) {
    return (channels + 15) / 16 * octet_dwconv_f32_block_floats(kernel_size) * sizeof(float);
}

void octet_dwconv_f32_pack(size_t channels, size_t kernel_size, const float* w, const float* bias, float* packed) {
    float* out = packed;
    for (size_t c0 = 0; c0 < channels; c0 += 16) {
        const size_t cr = octet_min_size(16, channels - c0);
        for (size_t j = 0; j < 16; j++) *out++ = j < cr && bias != NULL ? bias[c0 + j] : 0.0f;
        for (size_t t = 0; t < kernel_size; t++) {
            for (size_t j = 0; j < 16; j++) *out++ = j < cr ? w[t * channels + c0 + j] : 0.0f;
        }
    }
}

void octet_dwconv_q_scalar(size_t channels, size_t output_pixels, size_t kernel_size,
                           const void* const* indirection, const void* packed, void* output,
                           size_t output_pixel_stride, const octet_dwconv_params* p) {
    octet_check_requant_bounds(p->min, p->max, p->output_zero_point, p->output_signed);
    const size_t block_bytes = octet_dwconv_q_block_bytes(kernel_size);
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = (uint8_t*)output + px * output_pixel_stride;
        for (size_t c = 0; c < channels; c++) {
            const uint8_t* block = (const uint8_t*)packed + c / 16 * block_bytes;
            const size_t j = c % 16;
            int32_t acc = octet_load_i32(block + 4 * j);
            for (size_t t = 0; t < kernel_size; t++) {
                const uint8_t x = ((const uint8_t*)taps[t])[c];
                const int32_t xi = p->input_signed ? (int32_t)(int8_t)x : (int32_t)x;
                acc += xi * (int32_t)(int8_t)block[64 + 16 * t + j];
            }
            const float multiplier = octet_load_f32(block + 64 + 16 * kernel_size + 4 * j);
            const int32_t q = octet_requantize(acc, multiplier, 0, 0, 0.0f, p->min, p->max, p->output_zero_point);
            out[c] = octet_saturate_byte(q, p->output_signed);
        }
    }
}

void octet_dwconv_f32_scalar(size_t channels, size_t output_pixels, size_t kernel_size,
                             const void* const* indirection, const float* packed, float* output,
                             size_t output_pixel_stride, float min, float max) {
    const size_t block_floats = octet_dwconv_f32_block_floats(kernel_size);
    for (size_t px = 0; px < output_pixels; px++) {
        const void* const* taps = indirection + px * kernel_size;
        float* out = (float*)((uint8_t*)output + px * output_pixel_stride);
        for (size_t c = 0; c < channels; c++) {
            const float* block = packed + c / 16 * block_floats;
            const size_t j = c % 16;
            float acc = block[j];
            for (size_t t = 0; t < kernel_size; t++) acc += ((const float*)taps[t])[c] * block[16 + 16 * t + j];
            out[c] = fminf(fmaxf(acc, min), max);
        }
    }
}
