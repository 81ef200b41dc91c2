// INT8 convolution as an implicit GEMM on tensor cores (mma.sync m16n8k32, sm_80 and newer; used on sm_90).
//
// GEMM view of an NHWC convolution with groups = 1: M = N*OH*OW output pixels, N = OC output channels,
// K = KH*KW*C with k = (ky*KW + kx)*C + c. The A operand (activations) is never materialised: each block gathers
// its BM x BK tile straight from the NHWC input with cp.async (VEC bytes at a time, so C must be a multiple of
// VEC; padding taps and k >= K are zero-filled). Weights are packed [OC][Kpad] (Kpad a multiple of BK, zeros
// beyond K). STAGES-deep cp.async pipeline; shared rows padded to BK+16 bytes so ldmatrix is conflict-free.
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
    int N, H, W, C, OH, OW, KH, KW, strideH, strideW, padTop, padLeft, dilationH, dilationW;
    int OC, K, Kpad, M;
    float lo, hi, residualMultiplier;
    int outputMode;                // 0: int8, 1: uint8, 2: float32
    int residualSigned;
    int* partial;                  // split-K: [M][OC] int32 sums, zero between layers; null otherwise
    int tilesPerSplit;             // k tiles per blockIdx.z
};

// The epilogue of one output before rounding: bias, multiplier, residual, clamp.
__device__ __forceinline__ float epilogue_value(const ConvArgs& p, int acc, int bias, float multiplier, int residual) {
    float y = __fmul_rn(__int2float_rn(acc + bias), multiplier);
    if (p.residual) y = __fadd_rn(y, __fmul_rn(__int2float_rn(residual), p.residualMultiplier));
    return fminf(fmaxf(y, p.lo), p.hi);
}

__device__ __forceinline__ void store_output(const ConvArgs& p, int m, int n, int acc) {
    const long long index = (long long)m * p.OC + n;
    const int r = p.residual ? byte_value(p.residual, index, p.residualSigned) : 0;
    const float y = epilogue_value(p, acc, p.bias[n], p.multiplier[n], r);
    if (p.outputMode == 2) ((float*)p.y)[index] = y;
    else ((unsigned char*)p.y)[index] = (unsigned char)__float2int_rn(y);
}

// Sixteen consecutive channels of one pixel, with 16-byte loads and stores (OC % 16 == 0).
__device__ __forceinline__ void store_output16(const ConvArgs& p, int m, int n, const int* acc) {
    const long long index = (long long)m * p.OC + n;
    __align__(16) int bias[16];
    __align__(16) float multiplier[16];
    __align__(16) unsigned char residual[16];
    *(int4*)&bias[0] = *(const int4*)&p.bias[n];
    *(int4*)&bias[4] = *(const int4*)&p.bias[n + 4];
    *(int4*)&bias[8] = *(const int4*)&p.bias[n + 8];
    *(int4*)&bias[12] = *(const int4*)&p.bias[n + 12];
    *(float4*)&multiplier[0] = *(const float4*)&p.multiplier[n];
    *(float4*)&multiplier[4] = *(const float4*)&p.multiplier[n + 4];
    *(float4*)&multiplier[8] = *(const float4*)&p.multiplier[n + 8];
    *(float4*)&multiplier[12] = *(const float4*)&p.multiplier[n + 12];
    if (p.residual) *(uint4*)residual = *(const uint4*)&p.residual[index];
    float y[16];
    for (int i = 0; i < 16; i++) {
        const int r = p.residualSigned ? (int)(signed char)residual[i] : (int)residual[i];
        y[i] = epilogue_value(p, acc[i], bias[i], multiplier[i], r);
    }
    if (p.outputMode == 2) {
        float4* out = (float4*)((float*)p.y + index);
        for (int i = 0; i < 4; i++) out[i] = make_float4(y[4 * i], y[4 * i + 1], y[4 * i + 2], y[4 * i + 3]);
    } else {
        __align__(16) unsigned char bytes[16];
        for (int i = 0; i < 16; i++) bytes[i] = (unsigned char)__float2int_rn(y[i]);
        *(uint4*)((unsigned char*)p.y + index) = *(const uint4*)bytes;
    }
}

#if __CUDA_ARCH__ >= 800 // cp.async, ldmatrix and int8 mma.sync


__device__ __forceinline__ unsigned shared_address(const void* p) {
    return (unsigned)__cvta_generic_to_shared(p);
}

template <int BYTES>
__device__ __forceinline__ void copy_async(unsigned destination, const void* source, bool valid) {
    const int size = valid ? BYTES : 0; // 0: zero-fill the destination
    if (BYTES == 16) {
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(destination), "l"(source), "r"(size));
    } else {
        asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" :: "r"(destination), "l"(source), "n"(BYTES), "r"(size));
    }
}

__device__ __forceinline__ void ldmatrix_x4(unsigned address, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(address));
}

template <bool SIGNED_INPUT>
__device__ __forceinline__ void mma_k32(int* c, const unsigned* a, unsigned b0, unsigned b1) {
    if (SIGNED_INPUT) {
        asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

constexpr int BK = 64;
constexpr int ROW = BK + 16; // bytes per shared-memory row

template <int BM, int BN, int WM, int WN, int VEC, int STAGES, bool SIGNED_INPUT>
__device__ __forceinline__ void conv_igemm(const ConvArgs& p) {
    constexpr int WARPS_N = BN / WN;
    constexpr int THREADS = (BM / WM) * WARPS_N * 32;
    constexpr int MT = WM / 16, NT = WN / 8;
    constexpr int A_PER_ROW = BK / VEC;               // chunks of VEC bytes per tile row
    constexpr int A_ITERS = BM * A_PER_ROW / THREADS; // chunks each thread copies per stage
    constexpr int A_ROW_STEP = THREADS / A_PER_ROW;
    constexpr int B_ITERS = BN * (BK / 16) / THREADS;
    constexpr int B_ROW_STEP = THREADS / (BK / 16);
    static_assert(A_ITERS >= 1 && B_ITERS >= 1 && NT % 2 == 0, "tile shape");

    extern __shared__ __align__(16) unsigned char shared[];
    unsigned char* sA = shared;
    unsigned char* sB = shared + STAGES * BM * ROW;

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int warpM = warp / WARPS_N, warpN = warp % WARPS_N;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;

    // The output pixels this thread gathers for: fixed across k tiles.
    const int aColumn = (tid % A_PER_ROW) * VEC;
    const int aRow0 = tid / A_PER_ROW;
    long long imageBase[A_ITERS];
    int iy0[A_ITERS], ix0[A_ITERS];
    bool rowValid[A_ITERS];
    for (int i = 0; i < A_ITERS; i++) {
        const int m = m0 + aRow0 + i * A_ROW_STEP;
        rowValid[i] = m < p.M;
        const int mm = rowValid[i] ? m : 0;
        const int ox = mm % p.OW, oy = (mm / p.OW) % p.OH, image = mm / (p.OW * p.OH);
        imageBase[i] = (long long)image * p.H * p.W * p.C;
        iy0[i] = oy * p.strideH - p.padTop;
        ix0[i] = ox * p.strideW - p.padLeft;
    }
    const int bColumn = (tid % (BK / 16)) * 16;
    const int bRow0 = tid / (BK / 16);

    const int tileBegin = blockIdx.z * p.tilesPerSplit;
    const int tiles = min(p.Kpad / BK - tileBegin, p.tilesPerSplit);
    auto load = [&](int stage, int localTile) {
        const int tile = tileBegin + localTile;
        const int k = tile * BK + aColumn;
        const int tap = k / p.C, c = k - tap * p.C;
        const int ky = tap / p.KW, kx = tap - ky * p.KW;
        const bool kValid = k < p.K;
        unsigned char* a = sA + stage * BM * ROW;
        for (int i = 0; i < A_ITERS; i++) {
            const int iy = iy0[i] + ky * p.dilationH, ix = ix0[i] + kx * p.dilationW;
            const bool valid = kValid && rowValid[i] && iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            const unsigned char* source = valid ? p.x + imageBase[i] + ((long long)iy * p.W + ix) * p.C + c : p.x;
            copy_async<VEC>(shared_address(a + (aRow0 + i * A_ROW_STEP) * ROW + aColumn), source, valid);
        }
        unsigned char* b = sB + stage * BN * ROW;
        for (int i = 0; i < B_ITERS; i++) {
            const int n = n0 + bRow0 + i * B_ROW_STEP;
            const bool valid = n < p.OC;
            const signed char* source = valid ? p.w + (long long)n * p.Kpad + tile * BK + bColumn : p.w;
            copy_async<16>(shared_address(b + (bRow0 + i * B_ROW_STEP) * ROW + bColumn), source, valid);
        }
    };

    int acc[MT][NT][4];
    for (int i = 0; i < MT; i++)
        for (int j = 0; j < NT; j++)
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0;

    for (int s = 0; s < STAGES - 1; s++) {
        if (s < tiles) load(s, s);
        asm volatile("cp.async.commit_group;\n" ::);
    }
    for (int tile = 0; tile < tiles; tile++) {
        asm volatile("cp.async.wait_group %0;\n" :: "n"(STAGES - 2));
        __syncthreads();
        const int next = tile + STAGES - 1;
        if (next < tiles) load(next % STAGES, next);
        asm volatile("cp.async.commit_group;\n" ::);

        const unsigned char* a = sA + (tile % STAGES) * BM * ROW;
        const unsigned char* b = sB + (tile % STAGES) * BN * ROW;
        for (int kk = 0; kk < BK; kk += 32) {
            unsigned af[MT][4], bf[NT][2];
            for (int i = 0; i < MT; i++) {
                // Matrices: rows 0-7 / 8-15 of the m16 tile, bytes 0-15 / 16-31 of the k32 slice.
                const int matrix = lane / 8;
                const int row = warpM * WM + i * 16 + (lane % 8) + (matrix & 1) * 8;
                const int column = kk + (matrix >> 1) * 16;
                ldmatrix_x4(shared_address(a + row * ROW + column), af[i][0], af[i][1], af[i][2], af[i][3]);
            }
            for (int j = 0; j < NT; j += 2) {
                // Matrices: n-tile j bytes 0-15 / 16-31, n-tile j+1 bytes 0-15 / 16-31.
                const int matrix = lane / 8;
                const int row = warpN * WN + j * 8 + (lane % 8) + (matrix >> 1) * 8;
                const int column = kk + (matrix & 1) * 16;
                ldmatrix_x4(shared_address(b + row * ROW + column), bf[j][0], bf[j][1], bf[j + 1][0], bf[j + 1][1]);
            }
            for (int i = 0; i < MT; i++)
                for (int j = 0; j < NT; j++) mma_k32<SIGNED_INPUT>(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
    }
    asm volatile("cp.async.wait_group 0;\n" ::);
    const int g = lane / 4, t = lane % 4;

    if (p.partial) {
        // Split K: add this block's share of the sums; octet_conv_split_epilogue finishes the layer.
        for (int i = 0; i < MT; i++)
            for (int j = 0; j < NT; j++)
                for (int r = 0; r < 4; r++) {
                    const int m = m0 + warpM * WM + i * 16 + g + (r >= 2 ? 8 : 0);
                    const int n = n0 + warpN * WN + j * 8 + 2 * t + (r & 1);
                    if (m < p.M && n < p.OC) atomicAdd(&p.partial[(long long)m * p.OC + n], acc[i][j][r]);
                }
        return;
    }

    // The accumulators go through shared memory (now free), half the tile's rows at a time, so that each thread
    // finishes sixteen consecutive channels of a pixel with 16-byte loads and stores.
    constexpr int PASS_ROWS = WM;                  // one row of warps per pass
    constexpr int STAGE_ROW = BN + 8;              // ints per staged row (padding against bank conflicts)
    static_assert(PASS_ROWS * STAGE_ROW * 4 <= STAGES * (BM + BN) * ROW, "staging fits in the pipeline's memory");
    int* staged = (int*)shared;
    const bool vectorized = p.OC % 16 == 0;
    for (int pass = 0; pass < BM / WM; pass++) {
        __syncthreads();
        if (warpM == pass) {
            for (int i = 0; i < MT; i++)
                for (int j = 0; j < NT; j++)
                    for (int r = 0; r < 4; r++)
                        staged[(i * 16 + g + (r >= 2 ? 8 : 0)) * STAGE_ROW + warpN * WN + j * 8 + 2 * t + (r & 1)] = acc[i][j][r];
        }
        __syncthreads();
        for (int v = tid; v < PASS_ROWS * (BN / 16); v += THREADS) {
            const int row = v / (BN / 16), column = (v % (BN / 16)) * 16;
            const int m = m0 + pass * PASS_ROWS + row, n = n0 + column;
            if (m >= p.M || n >= p.OC) continue;
            const int* sums = staged + row * STAGE_ROW + column;
            if (vectorized) {
                store_output16(p, m, n, sums);
            } else {
                for (int i = 0; i < 16 && n + i < p.OC; i++) store_output(p, m, n + i, sums[i]);
            }
        }
    }
}

// Instantiations: <tile>_<input chunk bytes>_<s8|u8>. Large tiles for big GEMMs, 128x64 for layers of at most
// 64 channels, 64x64 when larger tiles would leave SMs idle (batch 1, late layers). The launch bounds ask for
// 2, 3 and 4 resident blocks per SM (at most 128 registers a thread): measured on the H200 with ResNet-50 at batch
// 256, 13.1 ms against 16.3 ms with the compiler's own choice (156-164 registers, one block per SM).
#define OCTET_CONV_IGEMM(NAME, BM, BN, WM, WN, VEC, SIGNED, MINBLOCKS)                                           \
    extern "C" __global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32, MINBLOCKS) NAME(const ConvArgs p) { \
        conv_igemm<BM, BN, WM, WN, VEC, 3, SIGNED>(p);                                                             \
    }
#define OCTET_CONV_IGEMM_TILE(TILE, BM, BN, WM, WN, MINBLOCKS, SUFFIX)                                             \
    OCTET_CONV_IGEMM(octet_conv_igemm_##TILE##_v16_s8##SUFFIX, BM, BN, WM, WN, 16, true, MINBLOCKS)                 \
    OCTET_CONV_IGEMM(octet_conv_igemm_##TILE##_v16_u8##SUFFIX, BM, BN, WM, WN, 16, false, MINBLOCKS)                \
    OCTET_CONV_IGEMM(octet_conv_igemm_##TILE##_v8_s8##SUFFIX, BM, BN, WM, WN, 8, true, MINBLOCKS)                   \
    OCTET_CONV_IGEMM(octet_conv_igemm_##TILE##_v8_u8##SUFFIX, BM, BN, WM, WN, 8, false, MINBLOCKS)                  \
    OCTET_CONV_IGEMM(octet_conv_igemm_##TILE##_v4_s8##SUFFIX, BM, BN, WM, WN, 4, true, MINBLOCKS)                   \
    OCTET_CONV_IGEMM(octet_conv_igemm_##TILE##_v4_u8##SUFFIX, BM, BN, WM, WN, 4, false, MINBLOCKS)
OCTET_CONV_IGEMM_TILE(128x128, 128, 128, 64, 32, 2, )
OCTET_CONV_IGEMM_TILE(128x64, 128, 64, 64, 32, 3, )
OCTET_CONV_IGEMM_TILE(64x64, 64, 64, 32, 32, 4, )

// The end of a split-K convolution: the epilogue on the summed accumulators, which it sets back to zero for the
// next layer that uses the workspace.
extern "C" __global__ void octet_conv_split_epilogue(const ConvArgs p)
{
    OCTET_ELEMENT_INDEX((long long)p.M * p.OC);
    const int acc = p.partial[i];
    p.partial[i] = 0;
    store_output(p, (int)(i / p.OC), (int)(i % p.OC), acc);
}

#endif // __CUDA_ARCH__ >= 800

// The same convolution for GPUs without int8 tensor cores (sm_61 to sm_75; also run on newer ones by the
// selftest): one thread per output, dp4a over four channels at a time (C % 4 == 0, the im2col path otherwise),
// padding taps skipped, the same epilogue. Weights in the same [OC][Kpad] packing.
template <bool SIGNED_INPUT>
__device__ __forceinline__ void conv_dp4a(const ConvArgs& p) {
    OCTET_ELEMENT_INDEX((long long)p.M * p.OC);
    const int n = i % p.OC, m = i / p.OC;
    const int ox = m % p.OW, oy = (m / p.OW) % p.OH, image = m / (p.OW * p.OH);
    const int words = p.C / 4;
    const unsigned char* x = p.x + (long long)image * p.H * p.W * p.C;
    const int* w = (const int*)(p.w + (long long)n * p.Kpad);
    int acc = 0;
    for (int ky = 0; ky < p.KH; ky++) {
        const int iy = oy * p.strideH - p.padTop + ky * p.dilationH;
        if (iy < 0 || iy >= p.H) continue;
        for (int kx = 0; kx < p.KW; kx++) {
            const int ix = ox * p.strideW - p.padLeft + kx * p.dilationW;
            if (ix < 0 || ix >= p.W) continue;
            const unsigned* a = (const unsigned*)(x + (iy * p.W + ix) * p.C);
            const int* b = w + (ky * p.KW + kx) * words;
            for (int k = 0; k < words; k++) {
                if (SIGNED_INPUT) asm("dp4a.s32.s32 %0, %1, %2, %0;" : "+r"(acc) : "r"(a[k]), "r"(b[k]));
                else asm("dp4a.u32.s32 %0, %1, %2, %0;" : "+r"(acc) : "r"(a[k]), "r"(b[k]));
            }
        }
    }
    store_output(p, m, n, acc);
}

extern "C" __global__ void octet_conv_dp4a_s8(const ConvArgs p) { conv_dp4a<true>(p); }
extern "C" __global__ void octet_conv_dp4a_u8(const ConvArgs p) { conv_dp4a<false>(p); }

// im2col for convolutions whose channel count is not a multiple of 4 (the 3-channel stem): writes the [M][Kpad]
// matrix (zeros for padding taps and k >= K), which the GEMM then reads as a 1x1 convolution over Kpad channels.
// One thread per 16 bytes of a row (Kpad % 16 == 0), one 16-byte store; `taps` gives each k its (ky, kx, c) as
// ky << 24 | kx << 16 | c (0xffffffff beyond K), so the loop divides nothing.
extern "C" __global__ void octet_im2col_nhwc(
    int N, int H, int W, int C, int OH, int OW, int KH, int KW, int strideH, int strideW, int padTop, int padLeft,
    int dilationH, int dilationW, int K, int Kpad, const unsigned* __restrict__ taps, const unsigned char* __restrict__ x,
    unsigned char* __restrict__ columns)
{
    const int chunks = Kpad / 16;
    const int index = blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= N * OH * OW * chunks) return;
    const int chunk = index % chunks, m = index / chunks;
    const int ox = m % OW, oy = (m / OW) % OH, n = m / (OW * OH);
    const int iy0 = oy * strideH - padTop, ix0 = ox * strideW - padLeft;
    const unsigned char* image = x + (long long)n * H * W * C;
    __align__(16) unsigned char bytes[16];
    for (int b = 0; b < 16; b++) {
        const unsigned tap = taps[chunk * 16 + b];
        const int iy = iy0 + (int)(tap >> 24) * dilationH, ix = ix0 + (int)((tap >> 16) & 0xffu) * dilationW;
        const bool valid = tap != 0xffffffffu && iy >= 0 && iy < H && ix >= 0 && ix < W;
        bytes[b] = valid ? image[(iy * W + ix) * C + (int)(tap & 0xffffu)] : 0;
    }
    ((uint4*)columns)[index] = *(const uint4*)bytes;
}
