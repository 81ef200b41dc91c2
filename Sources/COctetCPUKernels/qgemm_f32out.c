/*
 * Quantized GEMM with float output: the layer that writes a network output computes in INT8 and converts its
 * accumulators to float, y = clamp((float)acc * multiplier[n], min, max), with no rounding to 8 bits. Same
 * packed-B panels and a_xor convention as octet_qgemm (the multiplier is s_x * s_w[n], the bias compensated
 * the same way, input zero point included, so acc needs no zero-point term here). C is float, row-major, ldc in elements. Scalar twin first; the VNNI kernel handles one row by
 * up to 64 columns (4 panels) at a time: these layers have few rows (the batch) and many columns.
 */
#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

void octet_qgemm_f32out_scalar(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                               float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    assert(K % 4 == 0 && a_stride >= K && ldc >= N);
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    for (size_t m = 0; m < M; m++) {
        const uint8_t* a = A + m * a_stride;
        for (size_t n0 = 0; n0 < N; n0 += 16) {
            const uint8_t* panel = (const uint8_t*)packed_B + n0 / 16 * panel_bytes;
            const int8_t* w = (const int8_t*)(panel + 64);
            const size_t nr = octet_min_size(16, N - n0);
            for (size_t j = 0; j < nr; j++) {
                int32_t acc;
                memcpy(&acc, panel + 4 * j, 4);
                for (size_t k = 0; k < K; k++) {
                    acc += (int32_t)(uint8_t)(a[k] ^ a_xor) * (int32_t)w[(k / 4 * 16 + j) * 4 + k % 4];
                }
                float multiplier;
                memcpy(&multiplier, panel + 64 + 16 * K + 4 * j, 4);
                const float y = (float)acc * multiplier;
                C[m * ldc + n0 + j] = fminf(fmaxf(y, min), max);
            }
        }
    }
}

#if defined(__x86_64__)
OCTET_TARGET_AVX512
void octet_qgemm_f32out_avx512vnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                                   const void* packed_B, float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    assert(K % 4 == 0 && a_stride >= K && ldc >= N);
    const size_t panel_bytes = octet_qgemm_panel_bytes(K);
    const size_t panels = (N + 15) / 16;
    const __m512i xor_mask = _mm512_set1_epi8((char)a_xor);
    const __m512 vmin = _mm512_set1_ps(min), vmax = _mm512_set1_ps(max);
    for (size_t m = 0; m < M; m++) {
        const uint8_t* a = A + m * a_stride;
        for (size_t p0 = 0; p0 < panels; p0 += 4) {
            const size_t count = octet_min_size(4, panels - p0);
            const uint8_t* panel[4];
            __m512i acc[4];
            for (size_t i = 0; i < 4; i++) {
                panel[i] = (const uint8_t*)packed_B + (p0 + (i < count ? i : 0)) * panel_bytes;
                acc[i] = _mm512_loadu_si512((const void*)panel[i]);
            }
            for (size_t g = 0; g < K / 4; g++) {
                int32_t quad;
                memcpy(&quad, a + 4 * g, 4);
                const __m512i x = _mm512_xor_si512(_mm512_set1_epi32(quad), xor_mask);
                for (size_t i = 0; i < 4; i++) {
                    if (i < count) {
                        const __m512i w = _mm512_loadu_si512((const void*)(panel[i] + 64 + 64 * g));
                        acc[i] = _mm512_dpbusd_epi32(acc[i], x, w);
                    }
                }
            }
            for (size_t i = 0; i < count; i++) {
                const size_t n0 = (p0 + i) * 16;
                const __m512 multiplier = _mm512_loadu_ps((const float*)(panel[i] + 64 + 16 * K));
                __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[i]), multiplier);
                y = _mm512_min_ps(_mm512_max_ps(y, vmin), vmax);
                const size_t nr = octet_min_size(16, N - n0);
                _mm512_mask_storeu_ps(C + m * ldc + n0, (__mmask16)((1u << nr) - 1u), y);
            }
        }
    }
}
#else
void octet_qgemm_f32out_avx512vnni(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride,
                                   const void* packed_B, float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    (void)M, (void)N, (void)K, (void)A, (void)a_stride, (void)packed_B, (void)C, (void)ldc, (void)min, (void)max;
    (void)a_xor;
    abort(); /* not an x86-64 build */
}
#endif

void octet_qgemm_f32out(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B,
                        float* C, size_t ldc, float min, float max, uint8_t a_xor) {
    typedef void (*f32out_fn)(size_t, size_t, size_t, const uint8_t*, size_t, const void*, float*, size_t, float,
                              float, uint8_t);
    /* Indexed by OCTET_ISA_*: scalar, avx2, avx512vnni, avxvnni. */
    static const f32out_fn table[] = {octet_qgemm_f32out_scalar, octet_qgemm_f32out_avx2,
                                      octet_qgemm_f32out_avx512vnni, octet_qgemm_f32out_avxvnni};
    table[octet_cpu_isa()](M, N, K, A, a_stride, packed_B, C, ldc, min, max, a_xor);
}

/* ---- im2col ---------------------------------------------------------------------------------------------- */

/* Where row r of a convolution's patch matrix (an output pixel over the whole batch) lies: image n, output row oy,
 * column ox; walked along rather than divided for every row. */
typedef struct {
    size_t n, oy, ox, out_height, out_width;
} patch_row;

static inline patch_row patch_row_at(size_t row, size_t out_height, size_t out_width) {
    const size_t pixels = out_height * out_width;
    return (patch_row){row / pixels, row % pixels / out_width, row % out_width, out_height, out_width};
}

static inline void patch_row_next(patch_row* at) {
    if (++at->ox == at->out_width) {
        at->ox = 0;
        if (++at->oy == at->out_height) at->oy = 0, at->n++;
    }
}

/* n bytes from s to d with at most four word moves (overlapping where n is not a word multiple): the taps of
 * one kernel row are a few dozen bytes, where a memcpy call or a byte loop costs more than the copy. */
static inline void copy_short(uint8_t* d, const uint8_t* s, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8), memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8), memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4), memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4), memcpy(d + n - 4, &b, 4);
    } else if (n > 16 && n <= 32) {
        uint64_t a[4];
        memcpy(a, s, 16), memcpy(a + 2, s + n - 16, 16);
        memcpy(d, a, 16), memcpy(d + n - 16, a + 2, 16);
    } else {
        memcpy(d, s, n);
    }
}

void octet_im2col(const void* input, size_t height, size_t width, size_t channels, size_t channel_offset,
                  size_t group_channels, size_t kernel_h, size_t kernel_w, size_t stride_h, size_t stride_w,
                  size_t dilation_h, size_t dilation_w, ptrdiff_t pad_top, ptrdiff_t pad_left, size_t out_height,
                  size_t out_width, size_t first_row, size_t rows, size_t element_size, size_t row_length,
                  uint8_t pad_byte, uint8_t flip, void* destination) {
    assert(element_size == 1 || (pad_byte == 0 && flip == 0));
    const size_t copy = group_channels * element_size, pixel_bytes = channels * element_size;
    const size_t row_bytes = row_length * element_size;
    /* A kernel row whose taps all lie inside the input is one contiguous run of the input when the taps are
     * adjacent pixels and a tap takes whole pixels (no groups). */
    const int runs = dilation_w == 1 && copy == pixel_bytes;
    const size_t run_bytes = kernel_w * copy;
    const uint8_t* in = (const uint8_t*)input + channel_offset * element_size;
    patch_row at = patch_row_at(first_row, out_height, out_width);
    for (size_t r = 0; r < rows; r++, patch_row_next(&at)) {
        const size_t n = at.n;
        const ptrdiff_t iy0 = (ptrdiff_t)(at.oy * stride_h) - pad_top;
        const ptrdiff_t ix0 = (ptrdiff_t)(at.ox * stride_w) - pad_left;
        const int row_inside = runs && ix0 >= 0 && ix0 + (ptrdiff_t)kernel_w <= (ptrdiff_t)width;
        uint8_t* out = (uint8_t*)destination + r * row_bytes;
        if (row_inside && iy0 >= 0 && iy0 + (ptrdiff_t)((kernel_h - 1) * dilation_h) < (ptrdiff_t)height) {
            /* The whole window inside the image (most rows): one run a kernel row, no tests between them (the
             * 3-channel 7x7 stem's patches 0.31 -> 0.27 ms an image on one core). */
            const uint8_t* run = in + ((n * height + (size_t)iy0) * width + (size_t)ix0) * pixel_bytes;
            const size_t line_step = dilation_h * width * pixel_bytes;
            for (size_t ky = 0; ky < kernel_h; ky++, run += line_step, out += run_bytes) copy_short(out, run, run_bytes);
        } else {
            for (size_t ky = 0; ky < kernel_h; ky++) {
                const ptrdiff_t iy = iy0 + (ptrdiff_t)(ky * dilation_h);
                if (iy < 0 || iy >= (ptrdiff_t)height) {
                    memset(out, pad_byte, run_bytes);
                    out += run_bytes;
                    continue;
                }
                const uint8_t* line = in + (n * height + (size_t)iy) * width * pixel_bytes;
                if (row_inside) {
                    copy_short(out, line + (size_t)ix0 * pixel_bytes, run_bytes);
                    out += run_bytes;
                    continue;
                }
                for (size_t kx = 0; kx < kernel_w; kx++) {
                    const ptrdiff_t ix = ix0 + (ptrdiff_t)(kx * dilation_w);
                    if (ix < 0 || ix >= (ptrdiff_t)width) {
                        memset(out, pad_byte, copy);
                    } else {
                        copy_short(out, line + (size_t)ix * pixel_bytes, copy);
                    }
                    out += copy;
                }
            }
        }
        const size_t written = kernel_h * run_bytes;
        if (written < row_bytes) memset(out, 0, row_bytes - written);
    }
    if (flip) {
        /* One pass over the rows just written (still in L1/L2), a word at a time: cheaper than XORing each short
         * tap run as it is copied (measured: the 3-channel stem's patches 154 us that way, 114 + this pass). */
        const uint64_t flip64 = 0x0101010101010101ull * flip;
        uint8_t* bytes = (uint8_t*)destination;
        const size_t total = rows * row_bytes, words = total / 8;
        for (size_t i = 0; i < words; i++) {
            uint64_t w;
            memcpy(&w, bytes + 8 * i, 8);
            w ^= flip64;
            memcpy(bytes + 8 * i, &w, 8);
        }
        for (size_t i = 8 * words; i < total; i++) bytes[i] ^= flip;
    }
}

void octet_im2col_indirection(const uint8_t* input, size_t height, size_t width, size_t channels, size_t kernel_h,
                              size_t kernel_w, size_t stride_h, size_t stride_w, size_t dilation_h, size_t dilation_w,
                              ptrdiff_t pad_top, ptrdiff_t pad_left, size_t out_height, size_t out_width,
                              size_t first_row, size_t rows, const uint8_t* pad, const uint8_t** table) {
    patch_row at = patch_row_at(first_row, out_height, out_width);
    for (size_t r = 0; r < rows; r++, patch_row_next(&at)) {
        const ptrdiff_t iy0 = (ptrdiff_t)(at.oy * stride_h) - pad_top, ix0 = (ptrdiff_t)(at.ox * stride_w) - pad_left;
        const uint8_t* image = input + at.n * height * width * channels;
        for (size_t ky = 0; ky < kernel_h; ky++) {
            const ptrdiff_t iy = iy0 + (ptrdiff_t)(ky * dilation_h);
            for (size_t kx = 0; kx < kernel_w; kx++) {
                const ptrdiff_t ix = ix0 + (ptrdiff_t)(kx * dilation_w);
                const int inside = iy >= 0 && iy < (ptrdiff_t)height && ix >= 0 && ix < (ptrdiff_t)width;
                *table++ = inside ? image + ((size_t)iy * width + (size_t)ix) * channels : pad;
            }
        }
    }
}
