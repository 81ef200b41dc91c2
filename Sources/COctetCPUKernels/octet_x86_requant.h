/*
 * SIMD twins of octet_requantize() for 16 lanes, shared by the GEMM and depthwise kernels.
 * Operation order is identical to the scalar definition: cvtdq2ps, mul, [residual - its zero point, cvt, mul,
 * add], max, min, cvtps2dq (round half to even), + output zero point, saturate to int8/uint8. No FMA. (The bounds precondition makes the
 * saturation a no-op; the scalar code saturates the same way, so even a violated precondition gives equal bytes.)
 */
#ifndef OCTET_X86_REQUANT_H
#define OCTET_X86_REQUANT_H

#include "octet_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define OCTET_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* AVX-512: 16 int32 accumulators -> 16 rounded int32 values plus the output zero point (not yet saturated to
 * bytes). residual16: the 16 residual bytes already loaded (masked); ignored when has_residual is 0. */
OCTET_INLINE OCTET_TARGET_AVX512 __m512i octet_requant16_avx512(__m512i acc, __m512 multiplier, int has_residual,
                                                                  __m128i residual16, int residual_signed,
                                                                  __m512i residual_zero_point,
                                                                  __m512 residual_multiplier, __m512 vmin,
                                                                  __m512 vmax, __m512i output_zero_point) {
    __m512 y = _mm512_mul_ps(_mm512_cvt_roundepi32_ps(acc, OCTET_RNE), multiplier);
    if (has_residual) {
        __m512i r = residual_signed ? _mm512_cvtepi8_epi32(residual16) : _mm512_cvtepu8_epi32(residual16);
        r = _mm512_sub_epi32(r, residual_zero_point);
        const __m512 z = _mm512_mul_ps(_mm512_cvt_roundepi32_ps(r, OCTET_RNE), residual_multiplier);
        y = _mm512_add_ps(y, z);
    }
    y = _mm512_min_ps(_mm512_max_ps(y, vmin), vmax);
    return _mm512_add_epi32(_mm512_cvt_roundps_epi32(y, OCTET_RNE), output_zero_point);
}

/* The same without the clamp, for epilogues whose saturation to bytes is the clamp (saturation_clamps). */
OCTET_INLINE OCTET_TARGET_AVX512 __m512i octet_requant16_unclamped_avx512(__m512i acc, __m512 multiplier,
                                                                            __m512i output_zero_point) {
    const __m512 y = _mm512_mul_ps(_mm512_cvt_roundepi32_ps(acc, OCTET_RNE), multiplier);
    return _mm512_add_epi32(_mm512_cvt_roundps_epi32(y, OCTET_RNE), output_zero_point);
}

/* 16 int32 -> 16 bytes, saturated to int8 or uint8. */
OCTET_INLINE OCTET_TARGET_AVX512 __m128i octet_saturate16_avx512(__m512i q, int output_signed) {
    if (output_signed) return _mm512_cvtsepi32_epi8(q);
    return _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512())); /* vpmovusdb reads unsigned */
}

/* 4 x 16 int32 (64 consecutive columns) -> 64 bytes, saturated to int8 or uint8. The in-lane packs leave the
 * 4-byte groups ordered [lane][source]; vpermd puts them back in [source][lane] order. */
OCTET_INLINE OCTET_TARGET_AVX512 __m512i octet_saturate64_avx512(__m512i q0, __m512i q1, __m512i q2, __m512i q3,
                                                                   int output_signed) {
    const __m512i w01 = _mm512_packs_epi32(q0, q1);
    const __m512i w23 = _mm512_packs_epi32(q2, q3);
    const __m512i b = output_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, b);
}

/* AVX2: 16 int32 accumulators in two ymm -> 16 bytes (rounded, + output zero point) saturated to int8 or
 * uint8. residual16 as above. */
OCTET_INLINE OCTET_TARGET_AVX2 __m128i octet_requant16_avx2(__m256i acc0, __m256i acc1, const float* multiplier,
                                                              int has_residual, __m128i residual16,
                                                              int residual_signed, __m256i residual_zero_point,
                                                              __m256 residual_multiplier, __m256 vmin,
                                                              __m256 vmax, __m256i output_zero_point,
                                                              int output_signed, int clamp) {
    __m256 y0 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc0), _mm256_loadu_ps(multiplier));
    __m256 y1 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc1), _mm256_loadu_ps(multiplier + 8));
    if (has_residual) {
        const __m128i hi = _mm_unpackhi_epi64(residual16, residual16);
        const __m256i r0 = _mm256_sub_epi32(
            residual_signed ? _mm256_cvtepi8_epi32(residual16) : _mm256_cvtepu8_epi32(residual16), residual_zero_point);
        const __m256i r1 = _mm256_sub_epi32(
            residual_signed ? _mm256_cvtepi8_epi32(hi) : _mm256_cvtepu8_epi32(hi), residual_zero_point);
        const __m256 z0 = _mm256_mul_ps(_mm256_cvtepi32_ps(r0), residual_multiplier);
        const __m256 z1 = _mm256_mul_ps(_mm256_cvtepi32_ps(r1), residual_multiplier);
        y0 = _mm256_add_ps(y0, z0);
        y1 = _mm256_add_ps(y1, z1);
    }
    if (clamp) { /* 0 only where the saturation below is the clamp (saturation_clamps, no residual) */
        y0 = _mm256_min_ps(_mm256_max_ps(y0, vmin), vmax);
        y1 = _mm256_min_ps(_mm256_max_ps(y1, vmin), vmax);
    }
    const __m256i q0 = _mm256_add_epi32(_mm256_cvtps_epi32(y0), output_zero_point);
    const __m256i q1 = _mm256_add_epi32(_mm256_cvtps_epi32(y1), output_zero_point);
    /* packs within 128-bit lanes gives [q0 0-3, q1 0-3 | q0 4-7, q1 4-7]; reorder the 64-bit quarters. */
    const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
    const __m128i lo = _mm256_castsi256_si128(w16), hi = _mm256_extracti128_si256(w16, 1);
    return output_signed ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
}

/* AVX2 has no byte-masked load/store: go through a 16-byte buffer for partial blocks. */
OCTET_INLINE OCTET_TARGET_AVX2 __m128i octet_load16_partial_avx2(const void* p, size_t n) {
    if (n >= 16) return _mm_loadu_si128((const __m128i*)p);
    uint8_t tmp[16] = {0};
    memcpy(tmp, p, n);
    return _mm_loadu_si128((const __m128i*)tmp);
}

OCTET_INLINE OCTET_TARGET_AVX2 void octet_store16_partial_avx2(void* p, __m128i v, size_t n) {
    if (n >= 16) {
        _mm_storeu_si128((__m128i*)p, v);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i*)tmp, v);
        memcpy(p, tmp, n);
    }
}

/* 16 floats (two ymm) -> the first n (1..16) floats at p, through a stack buffer when n < 16. */
OCTET_INLINE OCTET_TARGET_AVX2 void octet_store16_f32_partial_avx2(float* p, __m256 lo, __m256 hi, size_t n) {
    if (n >= 16) {
        _mm256_storeu_ps(p, lo);
        _mm256_storeu_ps(p + 8, hi);
    } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, lo);
        _mm256_storeu_ps(tmp + 8, hi);
        memcpy(p, tmp, n * sizeof(float));
    }
}

#endif /* __x86_64__ */
#endif /* OCTET_X86_REQUANT_H */
