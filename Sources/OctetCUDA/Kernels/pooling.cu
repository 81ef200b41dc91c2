// Max and average pooling over NHWC data, one thread per output element (pixel, channel); global pooling is the
// window that covers the whole image. Window semantics as ONNX and Octet's reference: padding never wins a max;
// the average divides by the valid taps, or with countIncludePad by the window clipped to the padded input.

struct PoolArgs {
    const void* x;
    void* y;
    int N, H, W, C, OH, OW, KH, KW, strideH, strideW, padTop, padLeft, padBottom, padRight, dilationH, dilationW;
    int isAverage, countIncludePad;
    int mode;          // 0: int8 data, 1: uint8 data, 2: float32 data
    float multiplier;  // INT8 average pooling: s_x / s_y
    float lo, hi;      // INT8 average pooling: output bounds
};

extern "C" __global__ void octet_pool_nhwc(const PoolArgs p)
{
    const int index = blockIdx.x * blockDim.x + threadIdx.x;
    const long long total = (long long)p.N * p.OH * p.OW * p.C;
    if (index >= total) return;
    const int c = (int)(index % p.C);
    const int pixel = index / p.C;
    const int ox = (int)(pixel % p.OW), oy = (int)((pixel / p.OW) % p.OH), n = pixel / (p.OW * p.OH);
    const long long image = (long long)n * p.H * p.W;
    int valid = 0, padded = 0, isum = 0, imax = -2147483647;
    float fsum = 0.0f, fmax = -OCTET_INFINITY;
    for (int ky = 0; ky < p.KH; ky++) {
        const int iy = oy * p.strideH - p.padTop + ky * p.dilationH;
        for (int kx = 0; kx < p.KW; kx++) {
            const int ix = ox * p.strideW - p.padLeft + kx * p.dilationW;
            if (iy < p.H + p.padBottom && ix < p.W + p.padRight) padded++;
            if (iy < 0 || iy >= p.H || ix < 0 || ix >= p.W) continue;
            const long long at = (image + (long long)iy * p.W + ix) * p.C + c;
            valid++;
            if (p.mode == 2) {
                const float v = ((const float*)p.x)[at];
                fsum += v;
                fmax = fmaxf(fmax, v);
            } else {
                const unsigned char byte = ((const unsigned char*)p.x)[at];
                const int v = p.mode == 0 ? (int)(signed char)byte : (int)byte;
                isum += v;
                imax = max(imax, v);
            }
        }
    }
    const int divisor = p.countIncludePad ? padded : valid;
    if (p.mode == 2) {
        ((float*)p.y)[index] = p.isAverage ? (divisor > 0 ? fsum / (float)divisor : 0.0f) : fmax;
    } else if (!p.isAverage) {
        ((unsigned char*)p.y)[index] = (unsigned char)imax;
    } else {
        // Octet's INT8 average: y = (float)sum * (s_x / s_y) / divisor, two roundings.
        const float y = __fdiv_rn(__fmul_rn(__int2float_rn(isum), p.multiplier), __int2float_rn(max(divisor, 1)));
        ((unsigned char*)p.y)[index] = saturate_round(y, p.lo, p.hi);
    }
}

// INT8 max pooling VECTOR bytes of channels at a time (C % VECTOR == 0): one 4- or 16-byte load per tap, compared
// bytewise with the SIMD video instructions. Same window semantics as octet_pool_nhwc.
template <typename VECTOR>
__device__ __forceinline__ void maxpool_q_nhwc(const PoolArgs& p) {
    constexpr int WORDS = sizeof(VECTOR) / 4;
    const int vectors = p.C / (4 * WORDS);
    const int index = blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= p.N * p.OH * p.OW * vectors) return;
    const int vector = index % vectors;
    const int pixel = index / vectors;
    const int ox = pixel % p.OW, oy = (pixel / p.OW) % p.OH, n = pixel / (p.OW * p.OH);
    const VECTOR* x = (const VECTOR*)p.x + n * p.H * p.W * vectors + vector;
    const unsigned floor = p.mode == 0 ? 0x80808080u : 0u;
    __align__(16) unsigned best[WORDS];
    for (int w = 0; w < WORDS; w++) best[w] = floor;
    for (int ky = 0; ky < p.KH; ky++) {
        const int iy = oy * p.strideH - p.padTop + ky * p.dilationH;
        if (iy < 0 || iy >= p.H) continue;
        for (int kx = 0; kx < p.KW; kx++) {
            const int ix = ox * p.strideW - p.padLeft + kx * p.dilationW;
            if (ix < 0 || ix >= p.W) continue;
            const VECTOR v = x[(iy * p.W + ix) * vectors];
            const unsigned* words = (const unsigned*)&v;
            for (int w = 0; w < WORDS; w++) best[w] = p.mode == 0 ? __vmaxs4(best[w], words[w]) : __vmaxu4(best[w], words[w]);
        }
    }
    ((VECTOR*)p.y)[index] = *(const VECTOR*)best;
}

extern "C" __global__ void octet_maxpool_q_nhwc_x4(const PoolArgs p) { maxpool_q_nhwc<unsigned>(p); }
extern "C" __global__ void octet_maxpool_q_nhwc_x16(const PoolArgs p) { maxpool_q_nhwc<uint4>(p); }
