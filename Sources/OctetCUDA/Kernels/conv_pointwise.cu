// INT8 1x1 convolutions over few input channels (stride 1, no padding, groups 1; K = C a multiple of 8, at most 128)
// on tensor cores without shared memory: the mobile nets' expansions (16->96, 24->144, 32->192, 96->576) and
// projections to 16 channels, ResNet-50's layer1 1x1 layers and layer2's 128->512. Same arguments (ConvArgs) and
// epilogue as conv_igemm.cu, bit for bit.
//
// Why a second kernel: with K this short a GEMM tile does almost no multiply-adds per byte it moves, and conv_igemm's
// staging of both operands and of the results through shared memory cost MobileNetV2's 16->96 layer about 25
// instructions per output (Nsight Compute, H100), four times its memory time. Here each warp keeps the weights of
// its 8·NS output channels in registers as mma B fragments for the whole kernel, loads A fragments straight from the
// NHWC input (K contiguous bytes a pixel) with 8-byte loads a step ahead of their use, starts the accumulators at
// the bias, and each lane finishes 2·NS output channels of a row, stored as 4-, 8- or 16-byte words.
//
// Two permutations make that possible, neither visible in the result (PTX fragment layouts of mma.m16n8k32 with
// 8-bit operands: A register 0 holds row g, k 4t..4t+3; 1 row g+8, same k; 2 row g, k 16+4t..; 3 row g+8, k 16+4t..
// B register 0 holds k 4t..4t+3 of column g; 1 k 16+4t..; C c0,c1 row g, columns 2t, 2t+1; c2,c3 row g+8; with
// g = lane / 4, t = lane % 4):
//   k: of k step s, lane t loads the 8 bytes at 32s + 8t of a pixel into its A registers for k 4t.. (first 4) and
//      16+4t.. (last 4), and the same 8 bytes of its column's weights into its B registers, so each product pairs
//      the same input channel. Bytes at K and beyond are zero in the weights ([OC][Kpad]) and not loaded from x.
//   n: lane t's accumulators (column 2t + e of n-tile j) are the bytes b = 2j + e of its row's output, grouped in
//      vectors of V words (V = 4, 2 or 1, the largest dividing its NS/2 words); vector v of lane t is the output
//      channels n0 + 16V·v + 4V·t .. +4V, so the four lanes of a row store 16V consecutive bytes with one access
//      each (`slab_channel`). B's column c of tile j holds the weights of the channel lane c / 2 finishes as byte
//      2j + c % 2.
// Rows (output pixels) are the GEMM's: row m reads input pixel m, with M = N·H·W.
//
// Work: block b takes slab b % slabs (8·NS output channels each; OC a multiple of 8·NS) and its warps take groups of
// 16·MB rows in turn across the grid, so the blocks that share a group of input pixels run together. Float output
// (outputMode 2) is left to conv_igemm.

// The one instruction the kernel uses beyond plain C: Scripts/emulate-conv-pointwise.sh replaces it
// (OCTET_HOST_EMULATION) with a host model of the PTX ISA's definition and runs this very kernel, 128 threads a
// block, against a direct reference: the check of the permutations above that runs without a GPU.
#if __CUDA_ARCH__ >= 800 || defined(OCTET_HOST_EMULATION)

// d = A·B + c, c given apart from d (so the accumulators can start at the bias without a copy).
template <bool SIGNED_INPUT>
__device__ __forceinline__ void mma_k32_onto(int (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1, int c0, int c1, int c2, int c3) {
#ifdef OCTET_HOST_EMULATION
    const int c[4] = {c0, c1, c2, c3};
    mma_m16n8k32_int8(d, a, b0, b1, c, SIGNED_INPUT);
#else
    if (SIGNED_INPUT) {
        asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
            : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c0), "r"(c1), "r"(c2), "r"(c3));
    } else {
        asm("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
            : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c0), "r"(c1), "r"(c2), "r"(c3));
    }
#endif
}

template <int KSTEPS, int NS, int MB, bool SIGNED_INPUT, bool SMALL_SUMS, bool RESIDUAL, bool RESIDUAL_SIGNED>
__device__ __forceinline__ void conv_pointwise_body(const ConvArgs& p) {
    constexpr int CH = 2 * NS;    // output channels a lane finishes in a row
    constexpr int ROWS = 16 * MB; // rows a warp takes per step
    constexpr int WORDS = CH / 4; // of the output (and residual) bytes a lane handles in a row
    constexpr int V = WORDS % 4 == 0 ? 4 : WORDS % 2 == 0 ? 2 : 1; // words moved with one access
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int slabs = p.OC / (8 * NS);
    const int n0 = (blockIdx.x % slabs) * 8 * NS;
    // The output channel of byte `byte` of lane `owner`'s row (the n permutation above).
    auto slab_channel = [&](int owner, int byte) {
        const int word = byte / 4;
        return n0 + (word / V) * 16 * V + 4 * V * owner + 4 * (word % V) + byte % 4;
    };
    const int warps = blockDim.x / 32;
    const int groupStride = (gridDim.x / slabs) * warps;
    const int groups = (p.M + ROWS - 1) / ROWS;

    // The layer's constants, read before waiting on the previous kernel: B fragments, then this lane's biases
    // (folded into the accumulators' start, with the FP32-pipe conversion's offset where the sums are small) and
    // multipliers.
    unsigned b[NS][KSTEPS][2];
    for (int j = 0; j < NS; j++) {
        const int column = slab_channel(g / 2, 2 * j + g % 2);
        for (int s = 0; s < KSTEPS; s++) {
            const uint2 v = *(const uint2*)(p.w + column * p.Kpad + 32 * s + 8 * t);
            b[j][s][0] = v.x, b[j][s][1] = v.y;
        }
    }
    int start[CH];
    float scale[CH];
    for (int i = 0; i < CH; i += 2) {
        const int n = slab_channel(t, i);
        const int2 bias = *(const int2*)(p.bias + n);
        const float2 multiplier = *(const float2*)(p.multiplier + n);
        start[i] = bias_offset(p, bias.x), start[i + 1] = bias_offset(p, bias.y);
        scale[i] = multiplier.x, scale[i + 1] = multiplier.y;
    }
    const float residualShift = -8388608.0f * p.residualMultiplier;

#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
    // A fragments of a group of rows; rows beyond M and bytes beyond K are zeros.
    auto load = [&](int group, unsigned (&a)[MB][KSTEPS][4]) {
        for (int block = 0; block < MB; block++)
            for (int half = 0; half < 2; half++) {
                const int row = group * ROWS + block * 16 + half * 8 + g;
                for (int s = 0; s < KSTEPS; s++) {
                    const int k = 32 * s + 8 * t;
                    uint2 v = make_uint2(0u, 0u);
                    if (row < p.M && k < p.C) v = *(const uint2*)(p.x + row * p.C + k);
                    a[block][s][half] = v.x, a[block][s][2 + half] = v.y;
                }
            }
    };
    int group = (blockIdx.x / slabs) * warps + threadIdx.x / 32;
    unsigned a[MB][KSTEPS][4];
    if (group < groups) load(group, a);
    for (; group < groups; group += groupStride) {
        // The residual bytes of this lane's outputs, then the next group's A fragments, in flight during the math.
        unsigned residual[MB][2][WORDS];
        if (RESIDUAL) {
            for (int block = 0; block < MB; block++)
                for (int half = 0; half < 2; half++) {
                    const int row = group * ROWS + block * 16 + half * 8 + g;
                    for (int vector = 0; vector < WORDS / V; vector++) {
                        unsigned words[V];
                        if (row < p.M) load_words<V>(p.residual + row * p.OC + slab_channel(t, 4 * V * vector), words);
                        else for (int w = 0; w < V; w++) words[w] = 0;
                        for (int w = 0; w < V; w++) residual[block][half][V * vector + w] = words[w];
                    }
                }
        }
        unsigned next[MB][KSTEPS][4];
        const bool more = group + groupStride < groups;
        if (more) load(group + groupStride, next);

        int acc[MB][NS][4];
        for (int block = 0; block < MB; block++)
            for (int j = 0; j < NS; j++) {
                mma_k32_onto<SIGNED_INPUT>(acc[block][j], a[block][0], b[j][0][0], b[j][0][1], start[2 * j], start[2 * j + 1], start[2 * j], start[2 * j + 1]);
                for (int s = 1; s < KSTEPS; s++) {
                    int* d = acc[block][j];
                    mma_k32_onto<SIGNED_INPUT>(acc[block][j], a[block][s], b[j][s][0], b[j][s][1], d[0], d[1], d[2], d[3]);
                }
            }

        for (int block = 0; block < MB; block++)
            for (int half = 0; half < 2; half++) {
                const int row = group * ROWS + block * 16 + half * 8 + g;
                float y[CH];
                for (int j = 0; j < NS; j++)
                    for (int e = 0; e < 2; e++) {
                        // The accumulator already holds the bias (and the conversion's offset): no offset to add.
                        y[2 * j + e] = scaled_sum<SMALL_SUMS>(acc[block][j][2 * half + e], 0, scale[2 * j + e]);
                    }
                if (RESIDUAL) {
                    for (int i = 0; i < CH; i++) {
                        const unsigned word = residual[block][half][i / 4];
                        y[i] = add_scaled_byte<RESIDUAL_SIGNED>(y[i], RESIDUAL_SIGNED ? word ^ 0x80808080u : word, i % 4, p.residualMultiplier, residualShift);
                    }
                }
                for (int vector = 0; vector < WORDS / V; vector++) {
                    unsigned words[V];
                    for (int w = 0; w < V; w++) {
                        const float* values = y + 4 * (V * vector + w);
                        unsigned bits[4];
                        for (int i = 0; i < 4; i++) bits[i] = rounded_bits(fminf(fmaxf(values[i], p.lo), p.hi));
                        words[w] = pack_low_bytes(bits[0], bits[1], bits[2], bits[3]);
                    }
                    if (row < p.M) store_words<V>((unsigned char*)p.y + row * p.OC + slab_channel(t, 4 * V * vector), words);
                }
            }
        if (more) {
            for (int block = 0; block < MB; block++)
                for (int s = 0; s < KSTEPS; s++)
                    for (int r = 0; r < 4; r++) a[block][s][r] = next[block][s][r];
        }
    }
}

// The layer-wide choices taken once: the FP32-pipe conversion, the residual and its signedness.
template <int KSTEPS, int NS, int MB, bool SIGNED_INPUT>
__device__ __forceinline__ void conv_pointwise(const ConvArgs& p) {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
    auto run = [&](auto smallSums) {
        constexpr bool SMALL = decltype(smallSums)::value;
        if (!p.residual) conv_pointwise_body<KSTEPS, NS, MB, SIGNED_INPUT, SMALL, false, false>(p);
        else if (p.residualSigned) conv_pointwise_body<KSTEPS, NS, MB, SIGNED_INPUT, SMALL, true, true>(p);
        else conv_pointwise_body<KSTEPS, NS, MB, SIGNED_INPUT, SMALL, true, false>(p);
    };
    if (p.smallSums) run(BoolConstant<true>());
    else run(BoolConstant<false>());
}

// Instantiations: octet_conv_pointwise_k<32·KSTEPS>_n<8·NS>_m<16·MB>_<s8|u8>, blocks of 128 threads, launch bounds
// leaving room for MINBLOCKS blocks an SM with one or two k steps, DEEP_MINBLOCKS with three or four (each lane
// then holds up to 32 more registers of weights and 32 more of A fragments). PointwiseTile in
// CUDAConvolutionLayers.swift lists them (keep the two in step); the backend times them beside conv_igemm's tiles on
// the layers they apply to.
#define OCTET_CONV_POINTWISE(K, N, M, MINBLOCKS, TYPE, SIGNED)                                                          \
    extern "C" __global__ void __launch_bounds__(128, MINBLOCKS) octet_conv_pointwise_k##K##_n##N##_m##M##_##TYPE(      \
        const ConvArgs p) {                                                                                              \
        conv_pointwise<K / 32, N / 8, M / 16, SIGNED>(p);                                                                \
    }
#define OCTET_CONV_POINTWISE_BOTH(K, N, M, MINBLOCKS)        \
    OCTET_CONV_POINTWISE(K, N, M, MINBLOCKS, s8, true)        \
    OCTET_CONV_POINTWISE(K, N, M, MINBLOCKS, u8, false)
#define OCTET_CONV_POINTWISE_ALL(N, M, MINBLOCKS, DEEP_MINBLOCKS) \
    OCTET_CONV_POINTWISE_BOTH(32, N, M, MINBLOCKS)                \
    OCTET_CONV_POINTWISE_BOTH(64, N, M, MINBLOCKS)                \
    OCTET_CONV_POINTWISE_BOTH(96, N, M, DEEP_MINBLOCKS)           \
    OCTET_CONV_POINTWISE_BOTH(128, N, M, DEEP_MINBLOCKS)
OCTET_CONV_POINTWISE_ALL(16, 32, 5, 3)
OCTET_CONV_POINTWISE_ALL(32, 32, 4, 2)
OCTET_CONV_POINTWISE_ALL(48, 32, 3, 2)
OCTET_CONV_POINTWISE_ALL(64, 16, 3, 2)

#endif // __CUDA_ARCH__ >= 800 || OCTET_HOST_EMULATION
