// Helpers shared by every Octet kernel. The CUDA backend compiles this file followed by all the .cu files as one
// NVRTC program (one module per device), with --fmad=false so float epilogues round as OctetQuantization does.

// +inf without math.h (NVRTC has no standard headers).
#define OCTET_INFINITY __int_as_float(0x7f800000)

// A stored 8-bit value as an integer: bytes hold int8 or uint8, `isSigned` says which.
__device__ __forceinline__ int byte_value(const unsigned char* p, long long i, int isSigned) {
    return isSigned ? (int)(signed char)p[i] : (int)p[i];
}

// FloatMath.exp (Sources/OctetCore/FloatMath.swift), step for step: Cephes' expf with the rounding to an integer done by
// adding and subtracting 1.5 * 2^23, every operation rounded on its own, so e^x is the host's bit for bit (CUDA's
// expf differs from the C library's in the last bit on some inputs, and a float feeding a quantizer must not).
__device__ __forceinline__ float octet_exp(float x) {
    if (!(x < 0x1.62e43p+6f)) return x != x ? x : OCTET_INFINITY;
    if (x < -0x1.9fe36cp+6f) return 0.0f;
    const float n = __fsub_rn(__fadd_rn(__fmul_rn(x, 0x1.715476p+0f), 0x1.8p+23f), 0x1.8p+23f);
    float r = __fsub_rn(x, __fmul_rn(n, 0x1.63p-1f));
    r = __fsub_rn(r, __fmul_rn(n, -0x1.bd0106p-13f));
    const float z = __fmul_rn(r, r);
    float p = 0x1.a0d2cep-13f;
    p = __fadd_rn(__fmul_rn(p, r), 0x1.6e879cp-10f);
    p = __fadd_rn(__fmul_rn(p, r), 0x1.111210p-7f);
    p = __fadd_rn(__fmul_rn(p, r), 0x1.555382p-5f);
    p = __fadd_rn(__fmul_rn(p, r), 0x1.555554p-3f);
    p = __fadd_rn(__fmul_rn(p, r), 0.5f);
    const float q = __fadd_rn(__fadd_rn(__fmul_rn(p, z), r), 1.0f);
    const int e = (int)n, e1 = e / 2, e2 = e - e1;
    return __fmul_rn(__fmul_rn(q, __int_as_float((e1 + 127) << 23)), __int_as_float((e2 + 127) << 23));
}

// FloatMath.pow: the exponents classifiers use as exact operations, powf for the rest.
__device__ __forceinline__ float octet_pow(float x, float y) {
    if (y == 2.0f) return __fmul_rn(x, x);
    if (y == 1.0f) return x;
    if (y == 0.5f && x > 0.0f) return sqrtf(x);
    return powf(x, y);
}

// Activation codes shared with the Swift side (CUDAActivation; a test checks each has its case): 0 none, 1 relu, 2 clip(a, b), 3 sigmoid, 4 tanh,
// 5 leaky relu(a), 6 hard sigmoid(a, b), 7 hard swish. Float layers only (INT8 folds them into bounds or tables).
__device__ __forceinline__ float activate(float v, int kind, float a, float b) {
    switch (kind) {
    case 0: return v;
    case 1: return fmaxf(v, 0.0f);
    case 2: return fminf(fmaxf(v, a), b);
    case 3: return __fdiv_rn(1.0f, __fadd_rn(1.0f, octet_exp(-v)));
    case 4: return tanhf(v);
    case 5: return v >= 0.0f ? v : a * v;
    case 6: return fmaxf(0.0f, fminf(1.0f, a * v + b));
    case 7: return v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));
    case 8: return erff(v);
    case 9: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case 10: return 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    case 11: return sqrtf(v);
    case 12: return octet_exp(v);
    default: return __int_as_float(0x7fc00000); // an unknown code is NaN, never another activation
    }
}

// Exact conversions on the FP32 and integer pipes rather than the conversion unit, which retires 16 results per
// clock per SM against 64-128 for the others and bounds the epilogue of layers with few input channels. Adding
// 1.5 * 2^23 puts an integer of magnitude below 2^22 in the mantissa (the float spacing there is 1):
// small_int_to_float(v) == (float)v exactly, and the low byte of rounded_bits(y) is round-half-even(y) modulo 256
// for |y| < 2^22 (--fmad=false keeps the additions unfused).
__device__ __forceinline__ float small_int_to_float(int v) {
    return __fsub_rn(__int_as_float(0x4B400000 + v), 12582912.0f);
}
__device__ __forceinline__ unsigned rounded_bits(float y) {
    return (unsigned)__float_as_int(__fadd_rn(y, 12582912.0f));
}

// The low bytes of four words as one word, first in the lowest byte: four rounded_bits results become four stored
// bytes with three byte permutes.
__device__ __forceinline__ unsigned pack_low_bytes(unsigned b0, unsigned b1, unsigned b2, unsigned b3) {
    return __byte_perm(__byte_perm(b0, b1, 0x0040), __byte_perm(b2, b3, 0x0040), 0x5410);
}

// WORDS (1, 2 or 4) 32-bit words moved with one vector access; the address is aligned to 4 * WORDS bytes.
template <int WORDS> struct WordVector;
template <> struct WordVector<1> { typedef unsigned Type; };
template <> struct WordVector<2> { typedef uint2 Type; };
template <> struct WordVector<4> { typedef uint4 Type; };
template <int WORDS>
__device__ __forceinline__ void load_words(const void* p, unsigned (&words)[WORDS]) {
    union { typename WordVector<WORDS>::Type vector; unsigned words[WORDS]; } u;
    u.vector = *(const typename WordVector<WORDS>::Type*)p;
    for (int i = 0; i < WORDS; i++) words[i] = u.words[i];
}
template <int WORDS>
__device__ __forceinline__ void store_words(void* p, const unsigned (&words)[WORDS]) {
    union { typename WordVector<WORDS>::Type vector; unsigned words[WORDS]; } u;
    for (int i = 0; i < WORDS; i++) u.words[i] = words[i];
    *(typename WordVector<WORDS>::Type*)p = u.vector;
}

// y + (float)b * m for byte i (0-3) of `word`, b its int8 or uint8 value, bit for bit
// __fadd_rn(y, __fmul_rn(__int2float_rn(b), m)) without the conversion unit: the byte is placed under the exponent
// of 2^23 by a byte permute, F = 2^23 + b. Unsigned: one fused multiply-add gives round(b * m) = round(F * m + shift)
// with shift = -2^23 * m, exact because 2^23 * m is. Signed bytes are flipped to b + 128 first (the caller passes
// word ^ 0x80808080) and (F - 2^23 - 128) * m rounded in two steps.
template <bool SIGNED>
__device__ __forceinline__ float add_scaled_byte(float y, unsigned word, int i, float m, float shift) {
    if (SIGNED) return __fadd_rn(y, __fmul_rn(__fsub_rn(__int_as_float(__byte_perm(word, 0x4B000000u, 0x7650 | i)), 8388736.0f), m));
    return __fadd_rn(y, __fmaf_rn(__int_as_float(__byte_perm(word, 0x4B000000u, 0x7650 | i)), m, shift));
}

// A compile-time flag passed as a value (generic lambdas instantiate per flag; NVRTC has no <type_traits>).
template <bool VALUE>
struct BoolConstant {
    static constexpr bool value = VALUE;
};

// Octet's requantization: round half to even after clamping to [lo, hi] (integral bounds), stored as a byte.
__device__ __forceinline__ unsigned char saturate_round(float y, float lo, float hi) {
    return (unsigned char)__float2int_rn(fminf(fmaxf(y, lo), hi));
}

// One thread per element of a flat range. Index arithmetic is 32-bit (64-bit division is emulated and slow);
// the CUDA backend refuses batches whose tensors reach 2^31 elements.
#define OCTET_ELEMENT_INDEX(count)                                                  \
    const int i = blockIdx.x * blockDim.x + threadIdx.x;                            \
    if (i >= (count)) return
