/*
 * Depthwise convolution (NHWC, indirection), quantized, AVX-VNNI: the scheme of dwconv_avx512.c on 256-bit
 * vectors. One ymm load brings 32 channels of a tap; four VEX vpdpbusd against weight copies with three bytes of
 * each 4-byte group zeroed accumulate the four byte positions (accumulator j, lane i = channel 4i + j), exact in
 * int32; int8 inputs go as x ^ 0x80 with the packed bias for int8 input. The dot-product layout with 32-byte
 * vectors is in dwconv_scalar.c.
 *
 * Register tile: PX = 2 output pixels x 32 channels = 8 ymm accumulators, beside the tap's four weight vectors
 * (AVX2 has 16 ymm registers). A last pixel alone recomputes it and is not stored twice. A partial block (fewer
 * than 32 channels left) is read and written in pieces of 16 and 8 bytes, the rest through a stack copy, so no
 * pointer is read or written past `channels` bytes.
 */
#include "octet_x86_requant.h"

#if defined(__x86_64__)

#define PX 2
#define VB 32

/* 16 bytes (n >= 16) or the first n, zero-extended. Channel counts are mostly multiples of 8: those loads are
 * direct; other counts go through a stack copy. */
OCTET_INLINE OCTET_TARGET_AVXVNNI __m128i load_up_to_16(const uint8_t* p, size_t n) {
    if (n >= 16) return _mm_loadu_si128((const __m128i*)p);
    if (n == 8) return _mm_loadl_epi64((const __m128i*)p);
    uint8_t tmp[16] = {0};
    memcpy(tmp, p, n);
    return _mm_loadu_si128((const __m128i*)tmp);
}

OCTET_INLINE OCTET_TARGET_AVXVNNI __m256i load_channels(const uint8_t* p, size_t n) {
    if (n >= VB) return _mm256_loadu_si256((const __m256i*)p);
    const __m128i lo = load_up_to_16(p, n);
    return n > 16 ? _mm256_inserti128_si256(_mm256_castsi128_si256(lo), load_up_to_16(p + 16, n - 16), 1)
                  : _mm256_zextsi128_si256(lo);
}

OCTET_INLINE OCTET_TARGET_AVXVNNI void store_up_to_16(uint8_t* p, __m128i v, size_t n) {
    if (n >= 16) {
        _mm_storeu_si128((__m128i*)p, v);
    } else if (n == 8) {
        _mm_storel_epi64((__m128i*)p, v);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i*)tmp, v);
        memcpy(p, tmp, n);
    }
}

OCTET_INLINE OCTET_TARGET_AVXVNNI void store_channels(uint8_t* p, __m256i v, size_t n) {
    if (n >= VB) {
        _mm256_storeu_si256((__m256i*)p, v);
        return;
    }
    store_up_to_16(p, _mm256_castsi256_si128(v), n);
    if (n > 16) store_up_to_16(p + 16, _mm256_extracti128_si256(v, 1), n - 16);
}

/* The four accumulators of one pixel -> 32 output bytes in channel order (the packs leave, in each 16-byte
 * lane, channel 4m + j at byte 4j + m; vpshufb transposes that back). */
OCTET_INLINE OCTET_TARGET_AVXVNNI __m256i output_bytes(const __m256i acc[4], const uint8_t* multiplier, __m256 vmin,
                                                      __m256 vmax, __m256i voz, int output_signed, int clamp) {
    __m256i q[4];
    OCTET_UNROLL for (size_t j = 0; j < 4; j++) {
        __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[j]), _mm256_loadu_ps((const float*)(multiplier + VB * j)));
        if (clamp) y = _mm256_min_ps(_mm256_max_ps(y, vmin), vmax);
        q[j] = _mm256_add_epi32(_mm256_cvtps_epi32(y), voz);
    }
    const __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i b = output_signed ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    const __m256i transpose = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                               0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm256_shuffle_epi8(b, transpose);
}

OCTET_INLINE OCTET_TARGET_AVXVNNI void dwconv_q_tile(const int input_signed, size_t npx, size_t channels_left,
                                                     size_t kernel_size, const void* const* taps, size_t c0,
                                                     const uint8_t* block, uint8_t* out, size_t out_stride,
                                                     const octet_dwconv_params* p) {
    const void* const* tp[PX];
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) tp[i] = taps + octet_min_size(i, npx - 1) * kernel_size;
    __m256i acc[PX][4];
    const uint8_t* bias = block + (input_signed ? 4 * VB : 0);
    OCTET_UNROLL for (size_t j = 0; j < 4; j++) {
        const __m256i b = _mm256_loadu_si256((const __m256i*)(bias + VB * j));
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) acc[i][j] = b;
    }
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const uint8_t* w = block + 12 * VB;
    for (size_t t = 0; t < kernel_size; t++, w += 4 * VB) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i*)w), w1 = _mm256_loadu_si256((const __m256i*)(w + VB));
        const __m256i w2 = _mm256_loadu_si256((const __m256i*)(w + 2 * VB));
        const __m256i w3 = _mm256_loadu_si256((const __m256i*)(w + 3 * VB));
        OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
            __m256i x = load_channels((const uint8_t*)tp[i][t] + c0, channels_left);
            if (input_signed) x = _mm256_xor_si256(x, flip);
            acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], x, w0);
            acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], x, w1);
            acc[i][2] = _mm256_dpbusd_avx_epi32(acc[i][2], x, w2);
            acc[i][3] = _mm256_dpbusd_avx_epi32(acc[i][3], x, w3);
        }
    }
    const __m256 vmin = _mm256_set1_ps(p->min), vmax = _mm256_set1_ps(p->max);
    const __m256i voz = _mm256_set1_epi32(p->output_zero_point);
    OCTET_UNROLL for (size_t i = 0; i < PX; i++) {
        if (i < npx) {
            const __m256i bytes =
                output_bytes(acc[i], block + 8 * VB, vmin, vmax, voz, p->output_signed, !p->saturation_clamps);
            store_channels(out + i * out_stride, bytes, channels_left);
        }
    }
}

typedef void (*dwconv_q_fn)(size_t npx, size_t channels_left, size_t kernel_size, const void* const* taps, size_t c0,
                            const uint8_t* block, uint8_t* out, size_t out_stride, const octet_dwconv_params* p);

#define DEFINE_Q(S)                                                                                              \
    static OCTET_TARGET_AVXVNNI void dwconv_q_##S(size_t npx, size_t channels_left, size_t kernel_size,          \
                                                  const void* const* taps, size_t c0, const uint8_t* block,      \
                                                  uint8_t* out, size_t out_stride, const octet_dwconv_params* p) { \
        dwconv_q_tile(S, npx, channels_left, kernel_size, taps, c0, block, out, out_stride, p);                  \
    }
DEFINE_Q(0) DEFINE_Q(1)

void octet_dwconv_q_avxvnni(size_t channels, size_t output_pixels, size_t kernel_size,
                            const void* const* indirection, const void* packed, void* output,
                            size_t output_pixel_stride, const octet_dwconv_params* p) {
    octet_check_requant_bounds(p->min, p->max, p->output_zero_point, p->output_signed);
    const size_t block_bytes = octet_dwconv_qdot_block_bytes(VB, kernel_size);
    const dwconv_q_fn tile = p->input_signed ? dwconv_q_1 : dwconv_q_0;
    for (size_t px = 0; px < output_pixels; px += PX) {
        const size_t npx = octet_min_size(PX, output_pixels - px);
        const void* const* taps = indirection + px * kernel_size;
        uint8_t* out = (uint8_t*)output + px * output_pixel_stride;
        for (size_t c0 = 0; c0 < channels; c0 += VB) {
            tile(npx, channels - c0, kernel_size, taps, c0, (const uint8_t*)packed + c0 / VB * block_bytes, out + c0,
                 output_pixel_stride, p);
        }
    }
}

#else /* !__x86_64__ */

void octet_dwconv_q_avxvnni(size_t channels, size_t output_pixels, size_t kernel_size,
                            const void* const* indirection, const void* packed, void* output,
                            size_t output_pixel_stride, const octet_dwconv_params* p) {
    (void)channels, (void)output_pixels, (void)kernel_size, (void)indirection, (void)packed, (void)output;
    (void)output_pixel_stride, (void)p;
    abort(); /* not an x86-64 build: octet_cpu_hardware_isa() never reports this level */
}

#endif
