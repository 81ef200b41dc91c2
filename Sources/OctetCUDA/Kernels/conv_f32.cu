// FP32 convolution for layers that stay in float: direct, NHWC, any groups, one thread per output element, with
// the bias, an optional residual added before the activation (Octet's fused Conv + Add), and the activation.
// Fully connected layers are the 1x1 case with H = W = 1. Weights are [OC][KH][KW][C/groups].

struct FloatConvArgs {
    const float* x;
    const float* w;
    const float* bias;     // or null
    const float* residual; // or null
    float* y;
    int N, H, W, C, OH, OW, KH, KW, strideH, strideW, padTop, padLeft, dilationH, dilationW, OC, groups;
    int activation;
    float p0, p1;
};

extern "C" __global__ void octet_conv_f32_direct(const FloatConvArgs p)
{
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long total = (long long)p.N * p.OH * p.OW * p.OC;
    if (index >= total) return;
    const int o = (int)(index % p.OC);
    const long long pixel = index / p.OC;
    const int ox = (int)(pixel % p.OW), oy = (int)((pixel / p.OW) % p.OH), n = (int)(pixel / ((long long)p.OW * p.OH));
    const int cpg = p.C / p.groups, g = o / (p.OC / p.groups);
    float sum = p.bias ? p.bias[o] : 0.0f;
    for (int ky = 0; ky < p.KH; ky++) {
        const int iy = oy * p.strideH - p.padTop + ky * p.dilationH;
        if (iy < 0 || iy >= p.H) continue;
        for (int kx = 0; kx < p.KW; kx++) {
            const int ix = ox * p.strideW - p.padLeft + kx * p.dilationW;
            if (ix < 0 || ix >= p.W) continue;
            const float* in = p.x + (((long long)n * p.H + iy) * p.W + ix) * p.C + g * cpg;
            const float* wt = p.w + (((long long)o * p.KH + ky) * p.KW + kx) * cpg;
            for (int c = 0; c < cpg; c++) sum += in[c] * wt[c];
        }
    }
    if (p.residual) sum += p.residual[index];
    p.y[index] = activate(sum, p.activation, p.p0, p.p1);
}
