// INT8 depthwise convolution, NHWC, one thread per output element (pixel, channel), with Octet's requantization
// epilogue. Input int8 or uint8 (q = 0 is zero in both, so padding taps contribute nothing); weights int8
// [kh][kw][C]; acc = bias[c] + sum over taps of x * w (int32); y = clamp(acc * multiplier[c]); round half even.
extern "C" __global__ void octet_dwconv_q_nhwc(
    int N, int H, int W, int C, int OH, int OW, int KH, int KW, int strideH, int strideW, int padTop, int padLeft,
    int dilationH, int dilationW, const unsigned char* __restrict__ x, int inputSigned,
    const signed char* __restrict__ w, const int* __restrict__ bias, const float* __restrict__ multiplier,
    float lo, float hi, int outputSigned, unsigned char* __restrict__ y)
{
    const int index = blockIdx.x * blockDim.x + threadIdx.x;
    const long long total = (long long)N * OH * OW * C;
    if (index >= total) return;
    const int c = (int)(index % C);
    const int pixel = index / C;
    const int ox = (int)(pixel % OW), oy = (int)((pixel / OW) % OH), n = pixel / (OW * OH);
    int acc = bias[c];
    for (int ky = 0; ky < KH; ky++) {
        const int iy = oy * strideH - padTop + ky * dilationH;
        if (iy < 0 || iy >= H) continue;
        for (int kx = 0; kx < KW; kx++) {
            const int ix = ox * strideW - padLeft + kx * dilationW;
            if (ix < 0 || ix >= W) continue;
            const unsigned char byte = x[(((long long)n * H + iy) * W + ix) * C + c];
            const int v = inputSigned ? (int)(signed char)byte : (int)byte;
            acc += v * (int)w[(ky * KW + kx) * C + c];
        }
    }
    float r = __fmul_rn(__int2float_rn(acc), multiplier[c]);
    r = fminf(fmaxf(r, lo), hi);
    const int q = __float2int_rn(r);
    y[index] = outputSigned ? (unsigned char)(signed char)q : (unsigned char)q;
}

// The same convolution four channels at a time (C % 4 == 0): one 32-bit load of input and of weights per tap,
// four accumulators, one 32-bit store. Integer results identical to octet_dwconv_q_nhwc.
extern "C" __global__ void octet_dwconv_q_nhwc_x4(
    int N, int H, int W, int C, int OH, int OW, int KH, int KW, int strideH, int strideW, int padTop, int padLeft,
    int dilationH, int dilationW, const unsigned char* __restrict__ x, int inputSigned,
    const signed char* __restrict__ w, const int* __restrict__ bias, const float* __restrict__ multiplier,
    float lo, float hi, int outputSigned, unsigned char* __restrict__ y)
{
    const int words = C / 4;
    const int index = blockIdx.x * blockDim.x + threadIdx.x;
    const long long total = (long long)N * OH * OW * words;
    if (index >= total) return;
    const int c = (int)(index % words) * 4;
    const int pixel = index / words;
    const int ox = (int)(pixel % OW), oy = (int)((pixel / OW) % OH), n = pixel / (OW * OH);
    int acc[4] = {bias[c], bias[c + 1], bias[c + 2], bias[c + 3]};
    for (int ky = 0; ky < KH; ky++) {
        const int iy = oy * strideH - padTop + ky * dilationH;
        if (iy < 0 || iy >= H) continue;
        for (int kx = 0; kx < KW; kx++) {
            const int ix = ox * strideW - padLeft + kx * dilationW;
            if (ix < 0 || ix >= W) continue;
            const unsigned xv = *(const unsigned*)(x + (((long long)n * H + iy) * W + ix) * C + c);
            const unsigned wv = *(const unsigned*)(w + (ky * KW + kx) * C + c);
            for (int b = 0; b < 4; b++) {
                const int xb = inputSigned ? (int)(signed char)(xv >> (8 * b)) : (int)((xv >> (8 * b)) & 0xffu);
                acc[b] += xb * (int)(signed char)(wv >> (8 * b));
            }
        }
    }
    unsigned packed = 0;
    for (int b = 0; b < 4; b++) {
        const float r = fminf(fmaxf(__fmul_rn(__int2float_rn(acc[b]), multiplier[c + b]), lo), hi);
        packed |= ((unsigned)__float2int_rn(r) & 0xffu) << (8 * b);
    }
    *(unsigned*)(y + pixel * C + c) = packed;
}
