// Reformat layers between float32 and 8-bit integers, elementwise over any layout (the layout does not change).
// Bit for bit OctetQuantization's arithmetic (NVRTC runs with --fmad=false):
//   quantize:   q = round-half-even(min(max(x / scale, lo), hi))
//   dequantize: x = (float)q * scale
//   requantize: q' = round-half-even(min(max((float)q * multiplier, lo), hi))
// Bytes hold int8 or uint8; `signed` flags say which.

// x / scale clamped to [lo, hi]; NaN (0 / 0 in a float layer before) becomes 0, as in QuantizationMath.saturateAndRound,
// where fmaxf alone would give lo.
__device__ __forceinline__ float quantize_clamped(float x, float scale, float lo, float hi) {
    const float y = __fdiv_rn(x, scale);
    return y == y ? fminf(fmaxf(y, lo), hi) : 0.0f;
}

// Four values a thread, read as one float4 and written as one word where aligned, rounded on the FP32 pipe
// (rounded_bits: exact for the clamped |y| <= 255).
extern "C" __global__ void octet_quantize_f32(
    long long count, const float* __restrict__ x, float scale, float lo, float hi, unsigned char* __restrict__ q)
{
    const long long i = 4 * ((long long)blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= count) return;
    if (i + 4 <= count && ((unsigned long long)x & 15) == 0 && ((unsigned long long)q & 3) == 0) {
        const float4 v = *(const float4*)(x + i);
        const float values[4] = {v.x, v.y, v.z, v.w};
        unsigned bits[4];
        for (int k = 0; k < 4; k++) bits[k] = rounded_bits(quantize_clamped(values[k], scale, lo, hi));
        *(unsigned*)(q + i) = pack_low_bytes(bits[0], bits[1], bits[2], bits[3]);
    } else {
        for (long long k = i; k < i + 4 && k < count; k++) q[k] = (unsigned char)__float2int_rn(quantize_clamped(x[k], scale, lo, hi));
    }
}

extern "C" __global__ void octet_dequantize(
    long long count, const unsigned char* __restrict__ q, int inputSigned, float scale, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    y[i] = __fmul_rn(__int2float_rn(byte_value(q, i, inputSigned)), scale);
}

extern "C" __global__ void octet_requantize(
    long long count, const unsigned char* __restrict__ x, int inputSigned, float multiplier, float lo, float hi,
    unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    const float v = fminf(fmaxf(__fmul_rn(__int2float_rn(byte_value(x, i, inputSigned)), multiplier), lo), hi);
    y[i] = (unsigned char)__float2int_rn(v);
}

// Any unary function in INT8: a 256-entry table indexed by the stored byte (already in byte order).
extern "C" __global__ void octet_lookup(
    long long count, const unsigned char* __restrict__ x, const unsigned char* __restrict__ table, unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    y[i] = table[x[i]];
}

// A network input arrives in logical NCHW order; the engine keeps rank-4 tensors NHWC. One thread per output
// element: reads are strided, writes coalesced.
extern "C" __global__ void octet_nchw_to_nhwc_f32(
    long long count, int C, int pixels, const float* __restrict__ x, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    const int c = (int)(i % C);
    const int pixel = (i / C) % pixels, n = i / (C * pixels);
    y[i] = x[(n * C + c) * pixels + pixel];
}

// 8-bit NHWC pixels to the network's float NHWC input, with ChannelNormalization's arithmetic in the same IEEE
// operations as the host (OctetCore/PixelBatch.swift): mode 0: (p / 255 - a[c]) / b[c] (mean, std); mode 1:
// (p - a[c]) * b[c] (offset, scale). Up to four channels; the parameters travel by value.
extern "C" __global__ void octet_pixels_to_f32(
    long long count, int C, const unsigned char* __restrict__ p, int mode, float a0, float a1, float a2, float a3,
    float b0, float b1, float b2, float b3, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    const int c = (int)(i % C);
    const float a = c == 0 ? a0 : c == 1 ? a1 : c == 2 ? a2 : a3;
    const float b = c == 0 ? b0 : c == 1 ? b1 : c == 2 ? b2 : b3;
    const float v = __uint2float_rn(p[i]);
    y[i] = mode == 0 ? __fdiv_rn(__fsub_rn(__fdiv_rn(v, 255.0f), a), b) : __fmul_rn(__fsub_rn(v, a), b);
}
