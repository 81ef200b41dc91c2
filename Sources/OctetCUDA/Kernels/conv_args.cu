// The arguments of the INT8 convolution kernels (conv_igemm.cu's tiles, conv_pointwise.cu's 1x1 kernel, the dp4a
// kernel), filled by ImplicitGEMMKernel.encode in CUDAConvolutionLayers.swift, the epilogue all of them apply, and
// its first half as code.
// In a file of its own, compiled before them, so Scripts/emulate-conv-pointwise.sh can run conv_pointwise.cu on the
// host without the tiles' hardware-only code.
//
// Epilogue, bit for bit OctetQuantization's (NVRTC runs with --fmad=false; __fmul_rn etc. keep the order):
//   y = (float)(acc + bias[n]) * multiplier[n]  [+ (float)residual * residualMultiplier]
//   int8/uint8 output: q = round-half-even(min(max(y, lo), hi))
//   float output:      y = min(max(y, lo), hi)   (lo/hi = -inf/+inf, or the fused Relu/Clip bounds)
// Fully connected layers are the 1x1 case with H = W = 1.

struct ConvArgs {
    const unsigned char* x;        // NHWC input, int8 or uint8
    const signed char* w;          // [OC][Kpad]
    const int* bias;               // [OC], in the accumulator's scale
    const float* multiplier;       // [OC]
    const unsigned char* residual; // NHWC like the output, or null
    void* y;                       // NHWC output
    const int2* taps;              // per 4 bytes of k: {element offset from the window's corner, dy << 16 | dx};
                                   // dy = 0x7fff beyond K, so the bounds test rejects it
    int N, H, W, C, OH, OW, KH, KW, strideH, strideW, padTop, padLeft, dilationH, dilationW;
    int OC, K, Kpad, M;
    float lo, hi, residualMultiplier;
    int outputMode;                // 0: int8, 1: uint8, 2: float32
    int residualSigned;
    int* partial;                  // split-K: [M][OC] int32 sums, zero between layers; null otherwise
    int tilesPerSplit;             // k tiles per blockIdx.z
    int smallSums;                 // every |acc + bias| < 2^22, whatever the input (the host proves it from the weights)
};

// The epilogue in two halves. The first, applied as the accumulators leave the registers: the sum with the bias,
// as a float, times the multiplier. Where the host proved |acc + bias| < 2^22 the conversion runs on the FP32 pipe
// (small_int_to_float), its integer add folded into the bias: `offset` is bias_offset(p, bias).
__device__ __forceinline__ int bias_offset(const ConvArgs& p, int bias) {
    return p.smallSums ? bias + 0x4B400000 : bias;
}
template <bool SMALL_SUMS>
__device__ __forceinline__ float scaled_sum(int acc, int offset, float multiplier) {
    const int sum = acc + offset;
    return __fmul_rn(SMALL_SUMS ? __fsub_rn(__int_as_float(sum), 12582912.0f) : __int2float_rn(sum), multiplier);
}
