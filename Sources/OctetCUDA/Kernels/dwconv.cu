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

// The vector kernels' epilogue: 4 * WORDS sums of one pixel requantized (multiplier, clamp, round half even) and
// stored as one 4- or 8-byte word.
template <int WORDS>
__device__ __forceinline__ void dwconv_store(
    const int* acc, int c, const float* __restrict__ multiplier, float lo, float hi, int smallSums, unsigned char* out)
{
    unsigned packed[WORDS];
    for (int q = 0; q < WORDS; q++) {
        unsigned bits[4];
        for (int b = 0; b < 4; b++) {
            const int sum = acc[4 * q + b];
            const float value = smallSums ? small_int_to_float(sum) : __int2float_rn(sum);
            bits[b] = rounded_bits(fminf(fmaxf(__fmul_rn(value, multiplier[c + 4 * q + b]), lo), hi));
        }
        packed[q] = pack_low_bytes(bits[0], bits[1], bits[2], bits[3]);
    }
    store_words<WORDS>(out, packed);
}

// 4 * WORDS bytes of one pixel (or zeros outside the image), unpacked to integers.
template <int WORDS>
__device__ __forceinline__ void dwconv_load(const unsigned char* p, bool inside, int isSigned, int* values) {
    unsigned words[WORDS];
    if (!inside) {
        for (int q = 0; q < WORDS; q++) words[q] = 0;
    } else if (WORDS == 2) {
        const uint2 v = *(const uint2*)p;
        words[0] = v.x, words[WORDS - 1] = v.y;
    } else {
        words[0] = *(const unsigned*)p;
    }
    for (int b = 0; b < 4 * WORDS; b++) {
        const unsigned v = words[b / 4] >> (8 * (b % 4));
        values[b] = isSigned ? (int)(signed char)v : (int)(v & 0xffu);
    }
}

// The same convolution 4 * WORDS channels at a time (C % (4 * WORDS) == 0): one 4- or 8-byte load of input and
// of weights per tap, 32-bit index arithmetic (the backend keeps tensors below 2^31 elements), and the epilogue's
// conversions on the FP32 pipe where exact (common.cuh: small_int_to_float, rounded_bits; `smallSums` says
// the host proved every |acc| < 2^22). Integer results identical to octet_dwconv_q_nhwc.
template <int WORDS>
__device__ __forceinline__ void dwconv_q_nhwc_vector(
    int N, int H, int W, int C, int OH, int OW, int KH, int KW, int strideH, int strideW, int padTop, int padLeft,
    int dilationH, int dilationW, const unsigned char* __restrict__ x, int inputSigned,
    const signed char* __restrict__ w, const int* __restrict__ bias, const float* __restrict__ multiplier,
    float lo, float hi, int smallSums, unsigned char* __restrict__ y)
{
    constexpr int LANES = 4 * WORDS;
    const int groups = C / LANES;
    const int index = blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= N * OH * OW * groups) return;
    const int c = (index % groups) * LANES;
    const int pixel = index / groups;
    const int ox = pixel % OW, oy = (pixel / OW) % OH, n = pixel / (OW * OH);
    const int iy0 = oy * strideH - padTop, ix0 = ox * strideW - padLeft;
    const unsigned char* image = x + n * H * W * C + c;
    int acc[LANES];
    for (int b = 0; b < LANES; b++) acc[b] = bias[c + b];
    for (int ky = 0; ky < KH; ky++) {
        const int iy = iy0 + ky * dilationH;
        if ((unsigned)iy >= (unsigned)H) continue;
        for (int kx = 0; kx < KW; kx++) {
            const int ix = ix0 + kx * dilationW;
            if ((unsigned)ix >= (unsigned)W) continue;
            unsigned xv[WORDS], wv[WORDS];
            if (WORDS == 2) {
                const uint2 xs = *(const uint2*)(image + (iy * W + ix) * C), ws = *(const uint2*)(w + (ky * KW + kx) * C + c);
                xv[0] = xs.x, xv[WORDS - 1] = xs.y, wv[0] = ws.x, wv[WORDS - 1] = ws.y;
            } else {
                xv[0] = *(const unsigned*)(image + (iy * W + ix) * C);
                wv[0] = *(const unsigned*)(w + (ky * KW + kx) * C + c);
            }
            for (int b = 0; b < LANES; b++) {
                const unsigned xw = xv[b / 4] >> (8 * (b % 4));
                const int xb = inputSigned ? (int)(signed char)xw : (int)(xw & 0xffu);
                acc[b] += xb * (int)(signed char)(wv[b / 4] >> (8 * (b % 4)));
            }
        }
    }
    dwconv_store<WORDS>(acc, c, multiplier, lo, hi, smallSums, y + pixel * C + c);
}

#define OCTET_DWCONV_VECTOR(NAME, WORDS)                                                                               \
    extern "C" __global__ void NAME(                                                                                   \
        int N, int H, int W, int C, int OH, int OW, int KH, int KW, int strideH, int strideW, int padTop, int padLeft, \
        int dilationH, int dilationW, const unsigned char* __restrict__ x, int inputSigned,                            \
        const signed char* __restrict__ w, const int* __restrict__ bias, const float* __restrict__ multiplier,         \
        float lo, float hi, int smallSums, unsigned char* __restrict__ y) {                                             \
        dwconv_q_nhwc_vector<WORDS>(N, H, W, C, OH, OW, KH, KW, strideH, strideW, padTop, padLeft, dilationH,          \
                                    dilationW, x, inputSigned, w, bias, multiplier, lo, hi, smallSums, y);             \
    }
OCTET_DWCONV_VECTOR(octet_dwconv_q_nhwc_x4, 1)
OCTET_DWCONV_VECTOR(octet_dwconv_q_nhwc_x8, 2)

// The same convolution with OUTS horizontally adjacent output pixels a thread (4 * WORDS channels each), for a
// horizontal kernel size KW and stride STRIDE fixed at compile time and horizontal dilation 1: each input column
// the outputs share is loaded and unpacked once and used by every output whose window covers it, and a kernel
// row's weights are unpacked once per row, about half the instructions a product of the pixel-a-thread kernel
// costs. Zeros stand in for the padding columns (q = 0 is zero for int8 and uint8 input alike, as the taps the
// other kernels skip). Integer results identical to octet_dwconv_q_nhwc.
template <int WORDS, int KW, int STRIDE, int OUTS>
__device__ __forceinline__ void dwconv_q_nhwc_row(
    int N, int H, int W, int C, int OH, int OW, int KH, int strideH, int padTop, int padLeft, int dilationH,
    const unsigned char* __restrict__ x, int inputSigned, const signed char* __restrict__ w,
    const int* __restrict__ bias, const float* __restrict__ multiplier, float lo, float hi, int smallSums,
    unsigned char* __restrict__ y)
{
    constexpr int LANES = 4 * WORDS;
    constexpr int COLUMNS = (OUTS - 1) * STRIDE + KW;
    const int groups = C / LANES, blocks = (OW + OUTS - 1) / OUTS;
    const int index = blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= N * OH * blocks * groups) return;
    const int c = (index % groups) * LANES;
    const int rest = index / groups;
    const int ox0 = (rest % blocks) * OUTS, row = rest / blocks; // row = n * OH + oy
    const int oy = row % OH, n = row / OH;
    const int iy0 = oy * strideH - padTop, ix0 = ox0 * STRIDE - padLeft;
    const unsigned char* image = x + n * H * W * C + c;
    int acc[OUTS][LANES];
    for (int b = 0; b < LANES; b++) {
        const int initial = bias[c + b];
        for (int o = 0; o < OUTS; o++) acc[o][b] = initial;
    }
    for (int ky = 0; ky < KH; ky++) {
        const int iy = iy0 + ky * dilationH;
        if ((unsigned)iy >= (unsigned)H) continue;
        int taps[KW][LANES];
        for (int kx = 0; kx < KW; kx++) dwconv_load<WORDS>((const unsigned char*)w + (ky * KW + kx) * C + c, true, 1, taps[kx]);
        const unsigned char* line = image + iy * W * C;
#pragma unroll
        for (int j = 0; j < COLUMNS; j++) {
            const int ix = ix0 + j;
            int values[LANES];
            dwconv_load<WORDS>(line + ix * C, (unsigned)ix < (unsigned)W, inputSigned, values);
#pragma unroll
            for (int o = 0; o < OUTS; o++) {
                const int kx = j - o * STRIDE;
                if (kx >= 0 && kx < KW) {
                    for (int b = 0; b < LANES; b++) acc[o][b] += values[b] * taps[kx][b];
                }
            }
        }
    }
#pragma unroll
    for (int o = 0; o < OUTS; o++) {
        if (ox0 + o < OW) dwconv_store<WORDS>(acc[o], c, multiplier, lo, hi, smallSums, y + (row * OW + ox0 + o) * C + c);
    }
}

// The row kernels take the vector kernels' arguments (kernel width, horizontal stride and dilation are those of
// the name and must match: the host checks), so one launch sequence and one self-test serve both.
#define OCTET_DWCONV_ROW(NAME, WORDS, KW, STRIDE, OUTS)                                                                \
    extern "C" __global__ void NAME(                                                                                   \
        int N, int H, int W, int C, int OH, int OW, int KH, int KWIDTH, int strideH, int strideW, int padTop,          \
        int padLeft, int dilationH, int dilationW, const unsigned char* __restrict__ x, int inputSigned,               \
        const signed char* __restrict__ w, const int* __restrict__ bias, const float* __restrict__ multiplier,         \
        float lo, float hi, int smallSums, unsigned char* __restrict__ y) {                                             \
        dwconv_q_nhwc_row<WORDS, KW, STRIDE, OUTS>(N, H, W, C, OH, OW, KH, strideH, padTop, padLeft, dilationH, x,     \
                                                    inputSigned, w, bias, multiplier, lo, hi, smallSums, y);           \
    }
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x4_k3s1_r4, 1, 3, 1, 4)
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x4_k3s2_r4, 1, 3, 2, 4)
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x4_k5s1_r4, 1, 5, 1, 4)
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x4_k5s2_r4, 1, 5, 2, 4)
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x8_k3s1_r4, 2, 3, 1, 4)
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x8_k3s2_r4, 2, 3, 2, 4)
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x8_k5s1_r4, 2, 5, 1, 4)
OCTET_DWCONV_ROW(octet_dwconv_q_nhwc_x8_k5s2_r4, 2, 5, 2, 4)
