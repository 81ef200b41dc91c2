/*
 * COctetCPUKernels: the C microkernels of Octet's CPU backend.
 *
 * Kernel families, each with a plain scalar twin (the oracle), an AVX2 version and an AVX-512 version
 * (the quantized GEMMs and depthwise convolution also an AVX-VNNI version, 256-bit vpdpbusd without AVX-512):
 *
 *   octet_qgemm_*      u8 x s8 -> s32 GEMM with bias and a fused per-column requantization epilogue
 *                      (optional residual add), writing int8 or uint8.
 *   octet_sgemm_*      f32 GEMM with bias, optional residual add and a min/max clamp.
 *   octet_dwconv_q_*   NHWC depthwise convolution through an indirection buffer, int8/uint8 in, int32
 *                      accumulation, the same requantization epilogue (no residual).
 *   octet_dwconv_f32_* the same in float.
 *   octet_maxpool_8bit_* max pooling of int8/uint8 NHWC data through the same kind of indirection buffer.
 *   (and im2col, the input quantizer and global pooling sums: sections 5 and 6)
 *
 * ISA selection: octet_cpu_isa() detects, once, the best instruction set the CPU *and* the OS support
 * (CPUID leaf 7 plus XGETBV for the zmm/ymm state), honoring OCTET_FORCE_GENERIC=1 and OCTET_FORCE_ISA. The
 * un-suffixed entry points (octet_qgemm, octet_qgemm_f32out, octet_sgemm, octet_dwconv_q, octet_dwconv_f32) call
 * the selected version. Each suffixed version can also be called directly, but only if
 * octet_cpu_isa_supported() says its ISA is there (the levels are NOT nested: an AVX-512 VNNI CPU may lack
 * AVX-VNNI and the reverse); on non-x86 machines the _avx2/_avxvnni/_avx512vnni symbols exist but abort.
 *
 * Every ISA produces identical bytes for the integer kernels (and identical floats for octet_qgemm_f32out). The
 * float kernels agree within rounding (the SIMD versions use FMA).
 *
 * All kernels are reentrant and use no global state; to split work across threads, call them on
 * disjoint row ranges (offset A, C and residual by rows) or on disjoint 16-column panel ranges (offset
 * packed_B by whole panels, C and residual by 16 columns per panel).
 *
 * Sizes named *_stride are in BYTES for the quantized kernels; lda/ldc are in ELEMENTS for sgemm.
 * Packed buffers: any alignment works; 64-byte alignment is best.
 */
#ifndef COCTETCPUKERNELS_H
#define COCTETCPUKERNELS_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__clang__)
#define _Nullable
#define _Nonnull
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__clang__)
#pragma clang assume_nonnull begin
#endif

/* ---------------------------------------------------------------------------------------------------------
 * ISA detection
 * ------------------------------------------------------------------------------------------------------- */

#define OCTET_ISA_SCALAR 0
#define OCTET_ISA_AVX2 1       /* AVX2 + FMA, OS saves ymm state */
#define OCTET_ISA_AVX512VNNI 2 /* AVX-512 F/BW/VL/VNNI (and AVX2 + FMA), OS saves zmm and opmask state */
#define OCTET_ISA_AVXVNNI 3    /* AVX2 + FMA + AVX-VNNI (CPUID.(7,1):EAX[4], VEX vpdpbusd ymm), OS saves ymm */
#define OCTET_ISA_COUNT 4      /* the values above are 0 ..< OCTET_ISA_COUNT; not an order of capability */

/* The ISA the dispatching entry points use, decided once at the first call (thread-safe):
 *   OCTET_FORCE_GENERIC=1                     -> OCTET_ISA_SCALAR (takes precedence);
 *   OCTET_FORCE_ISA=scalar|avx2|avxvnni|avx512vnni -> that ISA if octet_cpu_isa_supported() says so; a name
 *                                                this CPU/OS lacks, or an unknown name, is refused with one line
 *                                                on stderr and octet_cpu_hardware_isa() is used instead;
 *   otherwise                                 -> octet_cpu_hardware_isa(). */
int32_t octet_cpu_isa(void);

/* The fastest ISA this CPU and OS support, ignoring the environment: avx512vnni, else avxvnni, else avx2,
 * else scalar. */
int32_t octet_cpu_hardware_isa(void);

/* 1 when this CPU and OS can run the kernels of `isa` (always for OCTET_ISA_SCALAR), else 0. */
int32_t octet_cpu_isa_supported(int32_t isa);

/* A short name for an ISA: "scalar", "avx2", "avxvnni", "avx512vnni" ("unknown" otherwise). */
const char* octet_cpu_isa_name(int32_t isa);

/* ---------------------------------------------------------------------------------------------------------
 * 1. Quantized GEMM: u8 x s8 -> s32, fused requantization
 *
 *   acc[m][n] = bias[n] + sum_{k<K} (A[m][k] ^ a_xor) * W[k][n]        (exact int32)
 *   y = (float)acc * multiplier[n]                                        (round-to-nearest-even convert)
 *   if residual: y = y + (float)(r - residual_zero_point) * residual_multiplier
 *                                                                         (r = residual[m][n], s8 or u8;
 *                                                                          a separate multiply then add, no FMA)
 *   y = fminf(fmaxf(y, min), max)                                         (bounds relative to the zero point)
 *   q = (int32) nearbyint(y) + output_zero_point                          (round half to even)
 *   C[m][n] = q saturated to int8 (output_signed) or uint8                (a no-op given the bounds below)
 *
 * a_xor = 0x80 turns int8 activations q into uint8 q + 128 for vpdpbusd. The input zero point z_x is not the
 * kernel's business either: with u = (q ^ a_xor), sum_k (q - z_x) W = sum_k u W - (z_x + c) sum_k W, c = 128
 * if a_xor else 0, and the packer's caller folds -(z_x + c) * sum_k W[k][n] into bias[n]. Padding (im2col)
 * must hold the stored byte of z_x, so that it contributes real 0. a_xor = 0 for uint8 activations.
 *
 * Packed B: ceil(N/16) panels of NR = 16 columns, contiguous, the same for every ISA (AVX2 included: its
 * kernel widens the k-groups of 4 as they are, see qgemm_avx2.c). Panel p holds
 * columns 16p..16p+15 (zero-padded past N):
 *     int32 bias[16]                       64 bytes
 *     int8  w[K/4][16][4]                  16*K bytes: w[g][j][i] = W[4g+i][16p+j]
 *     float multiplier[16]                 64 bytes
 * so a panel is 128 + 16*K bytes (a multiple of 64).
 *
 * Preconditions (asserted): K % 4 == 0 (callers zero-pad A columns and W rows); K <= 65536 (no int32
 * overflow); a_stride >= K, c_stride >= N, r_stride >= N; min <= max, both integral, and
 * [min + output_zero_point, max + output_zero_point] within the output type's range ([-128,127] or [0,255]).
 * Reads exactly M rows of K bytes of A and of N residual bytes, and writes exactly M rows of N bytes of C
 * (bytes between rows are untouched).
 * ------------------------------------------------------------------------------------------------------- */

#define OCTET_QGEMM_NR 16

typedef struct {
    float min, max;               /* clamp bounds of q - output_zero_point, integral */
    float residual_multiplier;    /* scale_residual / scale_out */
    int32_t output_signed;        /* 1: C is int8; 0: C is uint8 */
    int32_t residual_signed;      /* 1: residual is int8; 0: uint8 */
    uint8_t a_xor;                /* 0x00 (A is uint8) or 0x80 (A is int8, shifted to uint8 by the kernel) */
    int32_t output_zero_point;    /* added to the rounded result; 0 for symmetric quantization */
    int32_t residual_zero_point;  /* subtracted from the residual before its multiply */
    int32_t saturation_clamps;    /* 0, or octet_qgemm_saturation_clamps(): then, without a residual, kernels may
                                     skip the clamp to [min, max] and leave it to the saturation to bytes */
} octet_qgemm_params;

/* 1 when the clamp of the epilogue is the saturation to the output type: [min, max] + output_zero_point is the
 * type's whole range and no reachable |acc * multiplier| (|bias| + K * 255 * 128 for any A) comes near 2^31, so
 * rounding unclamped cannot overflow and saturating the rounded value gives the clamped one's bytes. Reads the
 * bias and multipliers of the packed panels, so an engine loaded already packed can ask too. */
int32_t octet_qgemm_saturation_clamps(size_t N, size_t K, const void* packed_B, const octet_qgemm_params* p);

/* Bytes of the packed B for an N x K weight matrix: ceil(N/16) * (128 + 16*K). */
size_t octet_qgemm_packed_size(size_t N, size_t K);

/* The canonical packer. W_kn is K x N row-major int8 (K % 4 == 0); bias may be NULL (zeros);
 * multiplier has N entries. Writes octet_qgemm_packed_size(N, K) bytes. */
void octet_qgemm_pack(size_t N, size_t K, const int8_t* W_kn, const int32_t* _Nullable bias,
                      const float* multiplier, void* packed);

typedef void (*octet_qgemm_fn)(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                               const void* packed_B, void* C, size_t c_stride,
                               const void* _Nullable residual, size_t r_stride,
                               const octet_qgemm_params* p);

/* Strides in bytes. residual may be NULL (then r_stride is ignored). */
void octet_qgemm(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                 void* C, size_t c_stride, const void* _Nullable residual, size_t r_stride,
                 const octet_qgemm_params* p);
/* Plain loops; the oracle. */
void octet_qgemm_scalar(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                        void* C, size_t c_stride, const void* _Nullable residual, size_t r_stride,
                        const octet_qgemm_params* p);
/* 3 rows x 16 columns, exact, the inner loop chosen per row tile from its bytes u = A ^ a_xor: when every u <= 128,
 * or every u >= 128 (post-ReLU int8), vpmaddubsw on u or u - 128 (no pair sum can saturate; 128 * sum_k W added
 * back), else A widened to int16 and vpmaddwd (see qgemm_avx2.c). */
void octet_qgemm_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                      void* C, size_t c_stride, const void* _Nullable residual, size_t r_stride,
                      const octet_qgemm_params* p);
/* 6 rows x 16 columns of VEX vpdpbusd ymm accumulators (12 ymm): exact u8 x s8 -> s32, 4 products a lane. */
void octet_qgemm_avxvnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                         void* C, size_t c_stride, const void* _Nullable residual, size_t r_stride,
                         const octet_qgemm_params* p);
/* 6 rows x 64 columns of vpdpbusd accumulators (24 zmm). */
void octet_qgemm_avx512vnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                            const void* packed_B, void* C, size_t c_stride, const void* _Nullable residual,
                            size_t r_stride, const octet_qgemm_params* p);
/* Indirect GEMM, a convolution without im2col (AVX-512 VNNI only; the same tile as octet_qgemm_avx512vnni): row m
 * of A is the C bytes at rows[m * taps + t] for t = 0..taps-1 in turn (a window's taps, tap-major as im2col's
 * columns; padding taps point at C bytes of the pad byte: octet_im2col_indirection), so K = taps * C and packed_B
 * is octet_qgemm_pack's for that K. A is uint8 (p->a_xor == 0) and C % 4 == 0; otherwise as octet_qgemm. */
void octet_qigemm_avx512vnni(size_t M, size_t N, size_t taps, size_t C, const uint8_t* _Nonnull const* _Nonnull rows,
                             const void* packed_B, void* out, size_t c_stride, const void* _Nullable residual,
                             size_t r_stride, const octet_qgemm_params* p);

/* ---------------------------------------------------------------------------------------------------------
 * 2. FP32 GEMM
 *
 *   C[m][n] = clamp(bias[n] + sum_k A[m][k] * W[k][n] (+ residual[m][n]), min, max)
 *
 * Packed B: ceil(N/16) panels of 16 columns, contiguous: float bias[16], then float w[K][16]
 * (w[k][j] = W[k][16p+j], zero-padded past N); a panel is 16 + 16*K floats.
 * lda and ldc are in elements; the residual (may be NULL) uses ldc as its row stride.
 * Use min = -INFINITY, max = INFINITY for no clamp.
 * ------------------------------------------------------------------------------------------------------- */

/* Bytes of the packed B: ceil(N/16) * (16 + 16*K) * 4. */
size_t octet_sgemm_packed_size(size_t N, size_t K);

/* W_kn is K x N row-major; bias may be NULL (zeros). */
void octet_sgemm_pack(size_t N, size_t K, const float* W_kn, const float* _Nullable bias, float* packed);

typedef void (*octet_sgemm_fn)(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B,
                               float* C, size_t ldc, const float* _Nullable residual, float min, float max);

void octet_sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B, float* C,
                 size_t ldc, const float* _Nullable residual, float min, float max);
void octet_sgemm_scalar(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B,
                        float* C, size_t ldc, const float* _Nullable residual, float min, float max);
/* 6 rows x 16 columns of ymm FMA accumulators. */
void octet_sgemm_avx2(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B,
                      float* C, size_t ldc, const float* _Nullable residual, float min, float max);
/* 8 rows x 48 columns of zmm FMA accumulators (needs only AVX-512F; named for the ISA level). */
void octet_sgemm_avx512vnni(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B,
                            float* C, size_t ldc, const float* _Nullable residual, float min, float max);

/* ---------------------------------------------------------------------------------------------------------
 * 3. Depthwise convolution, NHWC, through an indirection buffer
 *
 * indirection[px * kernel_size + t] points at the `channels` contiguous input elements of the input pixel
 * that tap t of output pixel px reads (a buffer holding the input zero point -- or 0.0f -- for padding
 * taps). Kernels read exactly `channels` elements through each pointer. Output pixel px is written at
 * (char*)output + px * output_pixel_stride (bytes), `channels` elements.
 *
 * Quantized:  acc[c] = bias[c] + sum_t in[t][c] * w[t][c]   (in: int8 if input_signed else uint8; exact int32)
 *             then the qgemm epilogue without residual (multiplier per channel, clamp to [min, max], round
 *             half even, + output_zero_point). The input zero point z_x is the caller's: padding taps point
 *             at z_x and the bias holds -z_x * sum_t w[t][c].
 *   packed: the layout is the ISA's (engine files record the ISA they were packed for). Scalar and AVX2: per
 *   block of 16 channels (the last zero-padded), int32 bias[16], int8 w[kernel_size][16], float
 *   multiplier[16]: 128 + 16*kernel_size bytes per block. AVX-512 VNNI and AVX-VNNI: blocks of 64 or 32 channels
 *   interleaved for vpdpbusd, (12 + 4*kernel_size) * 64 or * 32 bytes each (dwconv_scalar.c).
 * Float:      out[c] = clamp(bias[c] + sum_t in[t][c] * w[t][c], min, max)
 *   packed, per block of 16 channels: float bias[16], float w[kernel_size][16]: 16 + 16*kernel_size floats.
 * ------------------------------------------------------------------------------------------------------- */

typedef struct {
    float min, max;             /* integral; [min, max] + output_zero_point inside the output type's range */
    int32_t input_signed;       /* 1: inputs are int8; 0: uint8 */
    int32_t output_signed;      /* 1: outputs are int8; 0: uint8 */
    int32_t output_zero_point;  /* added to the rounded result; 0 for symmetric quantization */
    int32_t saturation_clamps;  /* 0, or octet_dwconv_q_saturation_clamps(): then kernels may skip the clamp */
} octet_dwconv_params;

/* As octet_qgemm_saturation_clamps, from weights packed for the kernels of octet_cpu_isa() (the _for form: of
 * `isa`). */
int32_t octet_dwconv_q_saturation_clamps(size_t channels, size_t kernel_size, const void* packed,
                                         const octet_dwconv_params* p);
int32_t octet_dwconv_q_saturation_clamps_for(int32_t isa, size_t channels, size_t kernel_size, const void* packed,
                                             const octet_dwconv_params* p);

/* Bytes of the packed weights for the kernels of octet_cpu_isa() (the _for forms: of `isa`). */
size_t octet_dwconv_q_packed_size(size_t channels, size_t kernel_size);
size_t octet_dwconv_q_packed_size_for(int32_t isa, size_t channels, size_t kernel_size);
/* w is [kernel_size][channels] int8 (tap-major, i.e. HWC with one input channel per group);
 * bias may be NULL (zeros); multiplier has `channels` entries. */
void octet_dwconv_q_pack(size_t channels, size_t kernel_size, const int8_t* w, const int32_t* _Nullable bias,
                         const float* multiplier, void* packed);
void octet_dwconv_q_pack_for(int32_t isa, size_t channels, size_t kernel_size, const int8_t* w,
                             const int32_t* _Nullable bias, const float* multiplier, void* packed);

/* Bytes: ceil(channels/16) * (16 + 16*kernel_size) * 4. */
size_t octet_dwconv_f32_packed_size(size_t channels, size_t kernel_size);
/* w is [kernel_size][channels] float; bias may be NULL (zeros). */
void octet_dwconv_f32_pack(size_t channels, size_t kernel_size, const float* w, const float* _Nullable bias,
                           float* packed);

typedef void (*octet_dwconv_q_fn)(size_t channels, size_t output_pixels, size_t kernel_size,
                                  const void* _Nonnull const* _Nonnull indirection, const void* packed,
                                  void* output, size_t output_pixel_stride, const octet_dwconv_params* p);
typedef void (*octet_dwconv_f32_fn)(size_t channels, size_t output_pixels, size_t kernel_size,
                                    const void* _Nonnull const* _Nonnull indirection, const float* packed,
                                    float* output, size_t output_pixel_stride, float min, float max);

void octet_dwconv_q(size_t channels, size_t output_pixels, size_t kernel_size,
                    const void* _Nonnull const* _Nonnull indirection, const void* packed, void* output,
                    size_t output_pixel_stride, const octet_dwconv_params* p);
void octet_dwconv_q_scalar(size_t channels, size_t output_pixels, size_t kernel_size,
                           const void* _Nonnull const* _Nonnull indirection, const void* packed, void* output,
                           size_t output_pixel_stride, const octet_dwconv_params* p);
/* 4 output pixels x 16 channels (8 ymm accumulators) at a time; vpmaddwd (exact, see dwconv_avx2.c). */
void octet_dwconv_q_avx2(size_t channels, size_t output_pixels, size_t kernel_size,
                         const void* _Nonnull const* _Nonnull indirection, const void* packed, void* output,
                         size_t output_pixel_stride, const octet_dwconv_params* p);
/* 2 output pixels x 32 channels (8 ymm accumulators) at a time; VEX vpdpbusd, one byte a group (exact, as
 * dwconv_avx512.c). */
void octet_dwconv_q_avxvnni(size_t channels, size_t output_pixels, size_t kernel_size,
                            const void* _Nonnull const* _Nonnull indirection, const void* packed, void* output,
                            size_t output_pixel_stride, const octet_dwconv_params* p);
/* 4 output pixels x 64 channels (16 zmm accumulators) at a time; vpdpbusd, one byte a group (exact, see
 * dwconv_avx512.c). */
void octet_dwconv_q_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                               const void* _Nonnull const* _Nonnull indirection, const void* packed, void* output,
                               size_t output_pixel_stride, const octet_dwconv_params* p);

/* output_pixel_stride is in BYTES here too. */
void octet_dwconv_f32(size_t channels, size_t output_pixels, size_t kernel_size,
                      const void* _Nonnull const* _Nonnull indirection, const float* packed, float* output,
                      size_t output_pixel_stride, float min, float max);
void octet_dwconv_f32_scalar(size_t channels, size_t output_pixels, size_t kernel_size,
                             const void* _Nonnull const* _Nonnull indirection, const float* packed, float* output,
                             size_t output_pixel_stride, float min, float max);
void octet_dwconv_f32_avx2(size_t channels, size_t output_pixels, size_t kernel_size,
                           const void* _Nonnull const* _Nonnull indirection, const float* packed, float* output,
                           size_t output_pixel_stride, float min, float max);
void octet_dwconv_f32_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                                 const void* _Nonnull const* _Nonnull indirection, const float* packed,
                                 float* output, size_t output_pixel_stride, float min, float max);

/* ---------------------------------------------------------------------------------------------------------
 * 4. Quantized GEMM with float output (qgemm_f32out.c): the same packed panels and a_xor as octet_qgemm, with
 * C[m][n] = clamp((float)acc * multiplier[n], min, max) written as float (ldc in elements). Used by the INT8
 * layer that produces a network output (multiplier = s_x * s_w[n]; the input zero point is in the bias).
 * ------------------------------------------------------------------------------------------------------- */
void octet_qgemm_f32out(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                        float* C, size_t ldc, float min, float max, uint8_t a_xor);
void octet_qgemm_f32out_scalar(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                               const void* packed_B, float* C, size_t ldc, float min, float max, uint8_t a_xor);
/* The octet_qgemm_avx2 / _avxvnni register tiles with a float epilogue. */
void octet_qgemm_f32out_avx2(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                             float* C, size_t ldc, float min, float max, uint8_t a_xor);
void octet_qgemm_f32out_avxvnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                                const void* packed_B, float* C, size_t ldc, float min, float max, uint8_t a_xor);
void octet_qgemm_f32out_avx512vnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                                   const void* packed_B, float* C, size_t ldc, float min, float max, uint8_t a_xor);

/* ---------------------------------------------------------------------------------------------------------
 * 5. im2col over NHWC data: rows [first_row, first_row + rows) of the patch matrix (row = output pixel over the
 * whole batch; columns = kernel taps x group_channels, tap-major). Taps in the spatial padding are filled with
 * bytes of pad_byte (quantized: the stored input zero point, so they are real 0; float: 0); columns past the
 * taps, up to row_length elements, are zero. Then every byte of the rows written is XORed with `flip`: 0x80
 * turns int8 patches into the uint8 the VNNI GEMMs multiply, which then run with a_xor 0 (no XOR per broadcast;
 * the columns past the taps hold 0x80 then, against zero weights); 0 leaves them. Works on bytes: element_size 1
 * (quantized) or 4 (float, pad_byte and flip must be 0). Plain C.
 * ------------------------------------------------------------------------------------------------------- */
void octet_im2col(const void* input, size_t height, size_t width, size_t channels, size_t channel_offset,
                  size_t group_channels, size_t kernel_h, size_t kernel_w, size_t stride_h, size_t stride_w,
                  size_t dilation_h, size_t dilation_w, ptrdiff_t pad_top, ptrdiff_t pad_left, size_t out_height,
                  size_t out_width, size_t first_row, size_t rows, size_t element_size, size_t row_length,
                  uint8_t pad_byte, uint8_t flip, void* destination);
/* The indirect GEMM's table for the same rows (groups 1): for row r, kernel_h * kernel_w pointers (tap-major, as
 * im2col's columns), each to the first of the `channels` bytes of the pixel the tap reads, or to `pad` (channels
 * bytes of the pad byte) for a tap in the padding. table[r * taps + t] for r < rows. */
void octet_im2col_indirection(const uint8_t* input, size_t height, size_t width, size_t channels, size_t kernel_h,
                              size_t kernel_w, size_t stride_h, size_t stride_w, size_t dilation_h, size_t dilation_w,
                              ptrdiff_t pad_top, ptrdiff_t pad_left, size_t out_height, size_t out_width,
                              size_t first_row, size_t rows, const uint8_t* pad, const uint8_t* _Nonnull* _Nonnull table);

/* ---------------------------------------------------------------------------------------------------------
 * 6. Element-wise kernels at the quantized graph's edges (pointwise_*.c), each with a scalar twin:
 *   octet_quantize_f32:    y[i] = low byte of round-half-even(clamp(x[i] / scale, lo, hi)) + zero_point, NaN as 0
 *                          (a true division, as OctetQuantization's quantize; lo/hi relative to the zero point).
 *   octet_sum_pixels_8bit: sums[c] += x[px * channels + c] for px < pixels (int8 if input_signed, else uint8):
 *                          the sums of global average pooling over one image.
 * ------------------------------------------------------------------------------------------------------- */
typedef struct {
    float scale, lo, hi;
    int32_t zero_point;
} octet_quantize_params;

typedef void (*octet_quantize_f32_fn)(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p);
void octet_quantize_f32(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p);
void octet_quantize_f32_scalar(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p);
void octet_quantize_f32_avx2(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p);
void octet_quantize_f32_avx512vnni(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p);

/* ---------------------------------------------------------------------------------------------------------
 * 7. Max pooling of 8-bit NHWC data through an indirection buffer laid out as the depthwise convolution's
 *    (kernel_size pointers per output pixel, each at `channels` bytes); padding taps point at a pixel of the
 *    type's minimum (0 for uint8, 0x80 for int8), so they never win:
 *      output[px * output_pixel_stride + c] = max_t taps[px][t][c]   (compared as int8 if input_signed, else uint8)
 * ------------------------------------------------------------------------------------------------------- */
typedef void (*octet_maxpool_8bit_fn)(size_t channels, size_t output_pixels, size_t kernel_size,
                                      const void* _Nonnull const* _Nonnull indirection, int32_t input_signed,
                                      uint8_t* output, size_t output_pixel_stride);
void octet_maxpool_8bit(size_t channels, size_t output_pixels, size_t kernel_size,
                        const void* _Nonnull const* _Nonnull indirection, int32_t input_signed, uint8_t* output,
                        size_t output_pixel_stride);
void octet_maxpool_8bit_scalar(size_t channels, size_t output_pixels, size_t kernel_size,
                               const void* _Nonnull const* _Nonnull indirection, int32_t input_signed,
                               uint8_t* output, size_t output_pixel_stride);
void octet_maxpool_8bit_avx2(size_t channels, size_t output_pixels, size_t kernel_size,
                             const void* _Nonnull const* _Nonnull indirection, int32_t input_signed, uint8_t* output,
                             size_t output_pixel_stride);
void octet_maxpool_8bit_avx512vnni(size_t channels, size_t output_pixels, size_t kernel_size,
                                   const void* _Nonnull const* _Nonnull indirection, int32_t input_signed,
                                   uint8_t* output, size_t output_pixel_stride);

typedef void (*octet_sum_pixels_8bit_fn)(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed,
                                         int32_t* sums);
void octet_sum_pixels_8bit(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed, int32_t* sums);
void octet_sum_pixels_8bit_scalar(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed,
                                  int32_t* sums);
void octet_sum_pixels_8bit_avx2(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed,
                                int32_t* sums);
void octet_sum_pixels_8bit_avx512vnni(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed,
                                      int32_t* sums);

#if defined(__clang__)
#pragma clang assume_nonnull end
#endif

/* ---------------------------------------------------------------------------------------------------------
 * 8. The kernel a family uses for `isa` (0 <= isa < OCTET_ISA_COUNT): what the un-suffixed entry points call with
 *    octet_cpu_isa(), and what a test of an ISA should call (the AVX-VNNI level reuses AVX2 kernels where VNNI
 *    adds nothing).
 * ------------------------------------------------------------------------------------------------------- */
octet_qgemm_fn _Nonnull octet_qgemm_kernel(int32_t isa);
octet_sgemm_fn _Nonnull octet_sgemm_kernel(int32_t isa);
octet_dwconv_q_fn _Nonnull octet_dwconv_q_kernel(int32_t isa);
octet_dwconv_f32_fn _Nonnull octet_dwconv_f32_kernel(int32_t isa);
octet_quantize_f32_fn _Nonnull octet_quantize_f32_kernel(int32_t isa);
octet_sum_pixels_8bit_fn _Nonnull octet_sum_pixels_8bit_kernel(int32_t isa);
octet_maxpool_8bit_fn _Nonnull octet_maxpool_8bit_kernel(int32_t isa);

#ifdef __cplusplus
}
#endif

#endif /* COCTETCPUKERNELS_H */
