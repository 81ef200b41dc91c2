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
    return octet_blocks16_saturation_clamps(channels, kernel_size, packed, p->min, p->max, p->output_zero_point,
                                            p->output_signed);
}

/* The dot-product layout of the VNNI kernels (dwconv_avx512.c, dwconv_avxvnni.c), for vectors of VB bytes (64 or
 * 32) holding L = VB / 4 int32 lanes, per block of VB channels (the last zero-padded); vector j lane i stands for
 * channel 4i + j of the block:
 *   int32 bias_for_uint8_input[4][L], int32 bias_for_int8_input[4][L] (the first - 128 * sum_t w),
 *   float multiplier[4][L], int8 w[kernel_size][4][VB] (vector j: byte 4i + j = w[t][4i + j], other bytes 0).
 * With at most VB / 2 channels, bytes (and lanes) of each vector's upper half repeat its lower half's, so a
 * kernel may put two pixels in one vector. */
size_t octet_dwconv_qdot_packed_size(size_t vector_bytes, size_t channels, size_t kernel_size) {
    return (channels + vector_bytes - 1) / vector_bytes * octet_dwconv_qdot_block_bytes(vector_bytes, kernel_size);
}

void octet_dwconv_qdot_pack(size_t vector_bytes, size_t channels, size_t kernel_size, const int8_t* w,
                            const int32_t* bias, const float* multiplier, void* packed) {
    const size_t vb = vector_bytes, lanes = vb / 4, block_bytes = octet_dwconv_qdot_block_bytes(vb, kernel_size);
    const size_t copies = channels <= vb / 2 ? 2 : 1;
    uint8_t* block = (uint8_t*)packed;
    memset(packed, 0, octet_dwconv_qdot_packed_size(vb, channels, kernel_size));
    for (size_t c0 = 0; c0 < channels; c0 += vb, block += block_bytes) {
        const size_t cr = octet_min_size(vb, channels - c0);
        for (size_t c = 0; c < cr; c++) {
            const size_t j = c % 4, i = c / 4;
            int32_t sum = 0;
            for (size_t t = 0; t < kernel_size; t++) {
                const int8_t wt = w[t * channels + c0 + c];
                sum += wt;
                for (size_t copy = 0; copy < copies; copy++) block[(12 + 4 * t + j) * vb + c + copy * vb / 2] = (uint8_t)wt;
            }
            const int32_t b = bias != NULL ? bias[c0 + c] : 0;
            const int32_t shifted = (int32_t)((uint32_t)b - 128u * (uint32_t)sum); /* wraps as the kernel's sums */
            for (size_t copy = 0; copy < copies; copy++) {
                const size_t lane = j * lanes + i + copy * lanes / 2;
                memcpy(block + 4 * lane, &b, 4);
                memcpy(block + 4 * vb + 4 * lane, &shifted, 4);
                memcpy(block + 8 * vb + 4 * lane, &multiplier[c0 + c], 4);
            }
        }
    }
}

int32_t octet_dwconv_qdot_saturation_clamps(size_t vector_bytes, size_t channels, size_t kernel_size,
                                            const void* packed, const octet_dwconv_params* p) {
    const size_t vb = vector_bytes, block_bytes = octet_dwconv_qdot_block_bytes(vb, kernel_size);
    const uint8_t* block = (const uint8_t*)packed;
    for (size_t c0 = 0; c0 < channels; c0 += vb, block += block_bytes) {
        for (size_t lane = 0; lane < vb; lane++) {
            const double bias_u = fabs((double)octet_load_i32(block + 4 * lane));
            const double bias_s = fabs((double)octet_load_i32(block + 4 * vb + 4 * lane));
            const double multiplier = octet_load_f32(block + 8 * vb + 4 * lane);
            if (!octet_saturation_clamps(p->min, p->max, p->output_zero_point, p->output_signed,
                                         (bias_u > bias_s ? bias_u : bias_s) + (double)kernel_size * 255.0 * 128.0,
                                         multiplier)) {
                return 0;
            }
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
