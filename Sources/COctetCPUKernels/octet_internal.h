/*
 * Internal helpers shared by the kernel files: layout arithmetic, precondition checks, and the scalar
 * requantization that defines the bytes every ISA must reproduce.
 */
#ifndef OCTET_INTERNAL_H
#define OCTET_INTERNAL_H

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "COctetCPUKernels.h"

/* No fused multiply-add anywhere in the kernels, whatever flags a build passes: an FMA rounds once where the
 * reference epilogue rounds twice, and integer results must match it exactly. Every kernel file includes this
 * header (directly or through octet_x86_requant.h) before its code. */
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#define OCTET_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define OCTET_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
/* AVX-VNNI: the VEX-encoded (256-bit, no AVX-512) vpdpbusd of Alder Lake / Sapphire Rapids / Zen 5 and later. */
#define OCTET_TARGET_AVXVNNI __attribute__((target("avxvnni,avx2,fma")))
#endif
#define OCTET_INLINE static inline __attribute__((always_inline))
/* Fully unroll a loop over register-tile rows or panels. The tiles are inlined with constant sizes; unrolling
 * their loops lets clang keep the accumulator arrays in registers instead of spilling them to the stack. */
#define OCTET_UNROLL _Pragma("clang loop unroll(full)")

/* Bytes of one qgemm panel: int32 bias[16] + int8 w[K][16] + float multiplier[16]. */
static inline size_t octet_qgemm_panel_bytes(size_t K) { return 64 + 16 * K + 64; }
/* Floats of one sgemm panel: bias[16] + w[K][16]. */
static inline size_t octet_sgemm_panel_floats(size_t K) { return 16 + 16 * K; }
/* Bytes of one quantized depthwise block of 16 channels. */
static inline size_t octet_dwconv_q_block_bytes(size_t kernel_size) { return 64 + 16 * kernel_size + 64; }
/* The packed layouts of quantized depthwise weights: blocks of 16 channels (scalar, AVX2; COctetCPUKernels.h)
 * and the VNNI kernels' dot-product blocks of 64 (AVX-512) or 32 (AVX-VNNI) channels (dwconv_scalar.c). */
size_t octet_dwconv_q16_packed_size(size_t channels, size_t kernel_size);
void octet_dwconv_q16_pack(size_t channels, size_t kernel_size, const int8_t* w, const int32_t* bias,
                           const float* multiplier, void* packed);
int32_t octet_dwconv_q16_saturation_clamps(size_t channels, size_t kernel_size, const void* packed,
                                           const octet_dwconv_params* p);
static inline size_t octet_dwconv_qdot_block_bytes(size_t vector_bytes, size_t kernel_size) {
    return (12 + 4 * kernel_size) * vector_bytes;
}
size_t octet_dwconv_qdot_packed_size(size_t vector_bytes, size_t channels, size_t kernel_size);
void octet_dwconv_qdot_pack(size_t vector_bytes, size_t channels, size_t kernel_size, const int8_t* w,
                            const int32_t* bias, const float* multiplier, void* packed);
int32_t octet_dwconv_qdot_saturation_clamps(size_t vector_bytes, size_t channels, size_t kernel_size,
                                            const void* packed, const octet_dwconv_params* p);
/* Floats of one float depthwise block of 16 channels. */
static inline size_t octet_dwconv_f32_block_floats(size_t kernel_size) { return 16 + 16 * kernel_size; }

static inline size_t octet_min_size(size_t a, size_t b) { return a < b ? a : b; }

/* The requantization clamp bounds (relative to the output zero point) must be integral and, shifted by the
 * zero point, inside the stored type (then the final saturation to int8/uint8 never changes a value, and
 * clamping before or after rounding is the same). */
static inline void octet_check_requant_bounds(float min, float max, int32_t zero_point, int32_t output_signed) {
    (void)min;
    (void)max;
    (void)zero_point;
    (void)output_signed;
    assert(min <= max);
    assert(min == nearbyintf(min) && max == nearbyintf(max));
    assert(output_signed ? (min + zero_point >= -128.0f && max + zero_point <= 127.0f)
                         : (min + zero_point >= 0.0f && max + zero_point <= 255.0f));
}

/* Preconditions of every octet_qgemm_* (checked with assert, so in debug builds). */
static inline void octet_qgemm_check(size_t M, size_t N, size_t K, size_t a_stride, size_t c_stride,
                                     const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    (void)M, (void)N, (void)K, (void)a_stride, (void)c_stride, (void)residual, (void)r_stride;
    assert(K % 4 == 0);
    assert(K <= 65536);
    assert(M <= 1 || (a_stride >= K && c_stride >= N));
    assert(M <= 1 || residual == NULL || r_stride >= N);
    octet_check_requant_bounds(p->min, p->max, p->output_zero_point, p->output_signed);
}

/* 1 when the bounds [min, max] + zero_point are the whole int8 / uint8 range and the largest reachable
 * |accumulator| times each multiplier stays below 2^30 (see octet_qgemm_saturation_clamps). */
static inline int32_t octet_saturation_clamps(float min, float max, int32_t zero_point, int32_t output_signed,
                                              double largest_accumulator, double multiplier) {
    const float lo = output_signed ? -128.0f : 0.0f, hi = output_signed ? 127.0f : 255.0f;
    if (min + (float)zero_point != lo || max + (float)zero_point != hi) return 0;
    return largest_accumulator * fabs(multiplier) < 1073741824.0;
}

/* int8 A shifted to uint8 (x ^ 0x80) a row block ahead, for the VNNI GEMMs (u8 x s8 products), whose tiles would
 * otherwise XOR every broadcast in every column tile. `shift` writes `rows` rows of K bytes, packed. */
typedef void (*octet_shift_rows_fn)(size_t rows, size_t K, const uint8_t* a, size_t a_stride, uint8_t* out);

/* Two blocks of block_rows x K bytes: `stack` when they fit in stack_bytes, else the heap (free when != stack). */
static inline uint8_t* octet_shift_buffers(size_t block_rows, size_t K, uint8_t* stack, size_t stack_bytes) {
    if (2 * block_rows * K <= stack_bytes) return stack;
    uint8_t* heap = (uint8_t*)malloc(2 * block_rows * K);
    if (heap == NULL) abort(); /* out of memory */
    return heap;
}

/* The shifted rows of the block starting at row m0 (a multiple of block_rows, visited in order from 0). Block 0
 * is shifted on the first call; every call shifts the NEXT block into the other buffer before returning this
 * one, so the rows a tile loads were stored a whole block earlier: store forwarding cannot serve loads from
 * masked stores still in flight (shifting just before use made the stem's GEMM 25 % slower). */
static inline const uint8_t* octet_shifted_block(octet_shift_rows_fn shift, uint8_t* buffers, size_t block_rows,
                                                 size_t m0, size_t M, size_t K, const uint8_t* A, size_t a_stride) {
    uint8_t* current = buffers + (m0 / block_rows % 2) * block_rows * K;
    if (m0 == 0) shift(octet_min_size(block_rows, M), K, A, a_stride, current);
    const size_t next = m0 + block_rows;
    if (next < M) {
        shift(octet_min_size(block_rows, M - next), K, A + next * a_stride, a_stride,
              buffers + (next / block_rows % 2) * block_rows * K);
    }
    return current;
}

/* Preconditions of every octet_sgemm_*. */
static inline void octet_sgemm_check(size_t M, size_t N, size_t K, size_t lda, size_t ldc) {
    (void)M, (void)N, (void)K, (void)lda, (void)ldc;
    assert(M <= 1 || (lda >= K && ldc >= N));
}

/*
 * The requantization every ISA reproduces bit for bit (FP_CONTRACT OFF above: the residual term is
 * a separate multiply and add, never an FMA), with r the residual relative to its zero point:
 *     y = (float)acc * multiplier;  y = y + (float)r * residual_multiplier;  y = clamp(y, min, max);
 *     q = round-half-even(y) + zero_point.
 */
static inline int32_t octet_requantize(int32_t acc, float multiplier, int has_residual, int32_t r,
                                       float residual_multiplier, float min, float max, int32_t zero_point) {
    float y = (float)acc * multiplier;
    if (has_residual) {
        float z = (float)r * residual_multiplier;
        y = y + z;
    }
    y = fminf(fmaxf(y, min), max);
    return (int32_t)nearbyintf(y) + zero_point;
}

/* The stored byte: q saturated to int8 (output_signed) or uint8. */
static inline uint8_t octet_saturate_byte(int32_t q, int32_t output_signed) {
    if (output_signed) return (uint8_t)(int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

static inline int32_t octet_load_i32(const void* p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int64_t octet_load_i64(const void* p) {
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float octet_load_f32(const void* p) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* octet_saturation_clamps over the 16-column blocks shared by the qgemm panels and the scalar/AVX2 depthwise
 * blocks (int32 bias[16], 16 * k weight bytes, float multiplier[16]: octet_qgemm_panel_bytes), k products per
 * accumulator. */
static inline int32_t octet_blocks16_saturation_clamps(size_t columns, size_t k, const void* packed, float min, float max,
                                                       int32_t zero_point, int32_t output_signed) {
    const size_t block_bytes = octet_qgemm_panel_bytes(k);
    for (size_t n = 0; n < columns; n++) {
        const uint8_t* block = (const uint8_t*)packed + n / 16 * block_bytes;
        const double bias = fabs((double)octet_load_i32(block + 4 * (n % 16)));
        const double multiplier = octet_load_f32(block + 64 + 16 * k + 4 * (n % 16));
        if (!octet_saturation_clamps(min, max, zero_point, output_signed, bias + (double)k * 255.0 * 128.0, multiplier)) {
            return 0;
        }
    }
    return 1;
}

#endif /* OCTET_INTERNAL_H */
