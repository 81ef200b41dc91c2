// INT8 convolution as an implicit GEMM on tensor cores (mma.sync m16n8k32, sm_80 and newer; on sm_90a also
// warpgroup MMA, wgmma, in the tiles that conv_igemm's WARPGROUP mode instantiates).
//
// GEMM view of an NHWC convolution with groups = 1: M = N*OH*OW output pixels, N = OC output channels,
// K = KH*KW*C with k = (ky*KW + kx)*C + c. The A operand (activations) is never materialised: each block gathers
// its BM x BK tile straight from the NHWC input with cp.async (VEC bytes at a time, so C must be a multiple of
// VEC; padding taps and k >= K are zero-filled). Where each k lies comes from a per-layer table (`taps`), so the
// gather divides nothing. Weights are packed [OC][Kpad] (Kpad a multiple of every BK, zeros beyond K). A block
// takes BK = 32, 64 or 128 bytes of k per step through a STAGES-deep cp.async pipeline; shared rows are padded to
// BK+16 bytes so ldmatrix is conflict-free. The bias, multipliers and
// residual tile of the block are fetched with the first stage, so the epilogue waits on no global load.
//
// Arguments (ConvArgs), the epilogue's contract and its first half (bias_offset, scaled_sum, shared with
// conv_pointwise.cu): conv_args.cu.

// The second half for one output: residual, clamp, rounding, store.
__device__ __forceinline__ void store_scaled(const ConvArgs& p, long long index, float y) {
    if (p.residual) y = __fadd_rn(y, __fmul_rn(__int2float_rn(byte_value(p.residual, index, p.residualSigned)), p.residualMultiplier));
    y = fminf(fmaxf(y, p.lo), p.hi);
    if (p.outputMode == 2) ((float*)p.y)[index] = y;
    else ((unsigned char*)p.y)[index] = (unsigned char)__float2int_rn(y);
}

__device__ __forceinline__ void store_output(const ConvArgs& p, int m, int n, int acc) {
    store_scaled(p, (long long)m * p.OC + n, __fmul_rn(__int2float_rn(acc + p.bias[n]), p.multiplier[n]));
}

// The second half for sixteen consecutive channels of one pixel (OC % 16 == 0), `residual` pointing at their
// sixteen bytes in shared memory (null: none), with the layer-wide choices taken once rather than per value.
__device__ __forceinline__ void store_scaled16(const ConvArgs& p, long long index, float (&y)[16], const unsigned char* residual) {
    if (residual) {
        const uint4 r = *(const uint4*)residual;
        const float m = p.residualMultiplier, shift = -8388608.0f * m;
        const unsigned words[4] = {r.x, r.y, r.z, r.w};
        if (p.residualSigned) {
            for (int i = 0; i < 16; i++) y[i] = add_scaled_byte<true>(y[i], words[i / 4] ^ 0x80808080u, i % 4, m, shift);
        } else {
            for (int i = 0; i < 16; i++) y[i] = add_scaled_byte<false>(y[i], words[i / 4], i % 4, m, shift);
        }
    }
    for (int i = 0; i < 16; i++) y[i] = fminf(fmaxf(y[i], p.lo), p.hi);
    if (p.outputMode == 2) {
        float4* out = (float4*)((float*)p.y + index);
        for (int i = 0; i < 4; i++) out[i] = make_float4(y[4 * i], y[4 * i + 1], y[4 * i + 2], y[4 * i + 3]);
    } else {
        unsigned words[4];
        for (int i = 0; i < 4; i++) {
            words[i] = pack_low_bytes(rounded_bits(y[4 * i]), rounded_bits(y[4 * i + 1]), rounded_bits(y[4 * i + 2]), rounded_bits(y[4 * i + 3]));
        }
        *(uint4*)((unsigned char*)p.y + index) = make_uint4(words[0], words[1], words[2], words[3]);
    }
}

// Where the epilogue stages a row's 16-byte quads of floats: quad q of row r at quad q ^ staged_swizzle(r) of the
// row (rows unpadded, BN floats). The swizzle makes both sides free of bank conflicts: a half warp's 8-byte
// accumulator writes (4 rows x 8 quads' worth) and eight threads' 16-byte reads of one quad of 8 consecutive rows.
__device__ __forceinline__ int staged_swizzle(int row) {
    return ((row & 3) << 1) | ((row >> 2) & 1);
}

// cp.async, ldmatrix and int8 mma.sync; the warpgroup tiles also run on the host (Scripts/emulate-conv-wgmma.sh), with
// the instructions below that they use modelled by Scripts/cuda-emulation/conv_wgmma_host.cpp.
#if __CUDA_ARCH__ >= 800 || defined(OCTET_HOST_EMULATION)

#ifdef OCTET_HOST_EMULATION
unsigned shared_address(const void* p);
template <int BYTES> void copy_async(unsigned destination, const void* source, bool valid);
void copy_async_commit();
template <int PENDING> void copy_async_wait();
void fence_copies_for_tensor_cores();
void wgmma_fence();
void wgmma_commit();
template <int PENDING> void wgmma_wait();
template <int N, bool SIGNED_INPUT> void wgmma_m64k32(int* d, unsigned long long a, unsigned long long b);
#else
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

__device__ __forceinline__ void copy_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}

// Waits until at most PENDING of this thread's committed copy groups are in flight.
template <int PENDING>
__device__ __forceinline__ void copy_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" :: "n"(PENDING));
}
#endif // OCTET_HOST_EMULATION

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

// Warpgroup MMA (wgmma, sm_90a): four warps multiply a 64-row slice of the A tile by the whole B tile, both
// operands read by the tensor cores straight from shared memory through descriptors, asynchronously. The tiles'
// rows (BK = 32, 64 or 128 bytes of k, unpadded) are stored with the hardware's BK-byte swizzle: the 16-byte
// chunk c of row r lands at chunk c ^ ((r * BK / 128) % (BK / 16)), which the formula below applies to a byte
// offset from a 1024-byte-aligned base (it XORs address bits 7.. into bits 4..). Reading it back the tensor cores
// undo the same XOR, and ldmatrix-style bank conflicts never arise.
template <int BK>
__device__ __forceinline__ int swizzled(int offset) {
    return offset ^ (((offset >> 7) & (BK / 16 - 1)) << 4);
}

// The shared-memory matrix descriptor of a K-major operand whose rows are BK bytes, swizzled as above, starting
// at `address` (a row group's start, plus the k offset within the row): start >> 4, leading offset 1 (unused for
// swizzled K-major operands), stride 8 * BK bytes between groups of eight rows, swizzle mode 128/64/32 bytes.
template <int BK>
__device__ __forceinline__ unsigned long long wgmma_descriptor(unsigned address) {
    constexpr unsigned long long mode = BK == 128 ? 1 : BK == 64 ? 2 : 3;
    return (unsigned long long)((address & 0x3FFFF) >> 4) | (1ull << 16) | ((unsigned long long)(8 * BK >> 4) << 32) | (mode << 62);
}

#ifndef OCTET_HOST_EMULATION
// Keeps the compiler from moving accumulator reads or writes across the asynchronous MMAs (it sees each register
// read and written here, in program order).
template <int COUNT>
__device__ __forceinline__ void wgmma_fence_operands(int* d) {
    for (int i = 0; i < COUNT; i++) asm volatile("" : "+r"(d[i])::"memory");
}

// This thread's finished copies made visible to the tensor cores, which read shared memory through the async proxy.
__device__ __forceinline__ void fence_copies_for_tensor_cores() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Orders the accumulator registers' earlier accesses before the MMAs that follow.
__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most PENDING of this warpgroup's committed MMA groups are in flight.
template <int PENDING>
__device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(PENDING) : "memory");
}

// The accumulator operands of one wgmma: "+r" for each of d[0 .. 31] or d[0 .. 63], and their names in the PTX.
#define OCTET_D8(d, i) "+r"(d[i]), "+r"(d[i + 1]), "+r"(d[i + 2]), "+r"(d[i + 3]), "+r"(d[i + 4]), "+r"(d[i + 5]), "+r"(d[i + 6]), "+r"(d[i + 7])
#define OCTET_D32(d) OCTET_D8(d, 0), OCTET_D8(d, 8), OCTET_D8(d, 16), OCTET_D8(d, 24)
#define OCTET_D64(d) OCTET_D32(d), OCTET_D8(d, 32), OCTET_D8(d, 40), OCTET_D8(d, 48), OCTET_D8(d, 56)
#define OCTET_NAMES32                                                                  \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "        \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define OCTET_NAMES64                                                                  \
    OCTET_NAMES32 ", "                                                                 \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
// D (64 x N int32) += A (64 x 32 bytes, ATYPE) x B (N x 32 bytes, s8)^T; A_NAME and B_NAME: the descriptors' operand
// names, after the accumulators.
#define OCTET_WGMMA(SHAPE, ATYPE, NAMES, A_NAME, B_NAME, OPERANDS)                                                      \
    asm volatile("wgmma.mma_async.sync.aligned." SHAPE ".s32." ATYPE ".s8 {" NAMES "}, " A_NAME ", " B_NAME ", 1;\n"    \
                 : OPERANDS : "l"(a), "l"(b))

// This warpgroup's accumulators (d[4j .. 4j+3] of warp w: rows 16w + lane/4 (+8), columns 8j + 2(lane%4) (+1), as
// mma.sync's m16n8 fragments) += A x B^T, both read from shared memory through the descriptors a and b.
template <bool SIGNED_INPUT>
__device__ __forceinline__ void wgmma_m64n64k32(int* d, unsigned long long a, unsigned long long b) {
    if (SIGNED_INPUT) OCTET_WGMMA("m64n64k32", "s8", OCTET_NAMES32, "%32", "%33", OCTET_D32(d));
    else OCTET_WGMMA("m64n64k32", "u8", OCTET_NAMES32, "%32", "%33", OCTET_D32(d));
}

template <bool SIGNED_INPUT>
__device__ __forceinline__ void wgmma_m64n128k32(int* d, unsigned long long a, unsigned long long b) {
    if (SIGNED_INPUT) OCTET_WGMMA("m64n128k32", "s8", OCTET_NAMES64, "%64", "%65", OCTET_D64(d));
    else OCTET_WGMMA("m64n128k32", "u8", OCTET_NAMES64, "%64", "%65", OCTET_D64(d));
}

template <int N, bool SIGNED_INPUT>
__device__ __forceinline__ void wgmma_m64k32(int* d, unsigned long long a, unsigned long long b) {
    static_assert(N == 64 || N == 128, "warpgroup MMA widths");
    if constexpr (N == 64) wgmma_m64n64k32<SIGNED_INPUT>(d, a, b);
    else wgmma_m64n128k32<SIGNED_INPUT>(d, a, b);
}
#else
template <int COUNT> void wgmma_fence_operands(int*) {}
#endif // OCTET_HOST_EMULATION

// How many rows of warps the epilogue stages at once: all of them where their scaled sums fit the pipeline's
// shared memory, else half as many, and so on.
constexpr int staging_warp_rows(int warpRows, int bytesPerWarpRow, int capacity) {
    return warpRows <= 1 || warpRows * bytesPerWarpRow <= capacity ? warpRows : staging_warp_rows(warpRows / 2, bytesPerWarpRow, capacity);
}

// Shared memory of one block: the pipeline's STAGES x (BM + BN) rows, then the block's BN biases and
// multipliers, then (layers with a residual) its BM rows of BN residual bytes, each padded by 16 bytes so that
// eight consecutive rows' 16-byte reads meet no bank conflict. The host sizes it the same way
// (ConvolutionTile.sharedBytes). WARPGROUP: the MMAs are wgmma (WM = 16, WN = BN: warp w holds rows 16w..16w+15
// of the tile, so the epilogue below serves both), the pipeline's rows are unpadded and swizzled, and the block's
// shared memory starts at the next 1024-byte boundary (the host allows 1024 bytes more); LAG (0 or 1) stages' MMAs
// may still run when the next stage's are issued, at the price of copying LAG stages less far ahead.
template <int BM, int BN, int BK, int WM, int WN, int VEC, int STAGES, bool SIGNED_INPUT, bool WARPGROUP = false, int LAG = 0>
__device__ __forceinline__ void conv_igemm(const ConvArgs& p) {
    static_assert(LAG == 0 || (WARPGROUP && LAG == 1 && STAGES >= 3), "only warpgroup tiles leave MMAs in flight");
    static_assert(!WARPGROUP || (WM == 16 && WN == BN && BM % 64 == 0), "warpgroup tiles: 64-row slices of four 16-row warps");
    constexpr int ROW = WARPGROUP ? BK : BK + 16; // bytes per shared-memory row
    constexpr int WARPS_N = BN / WN;
    constexpr int THREADS = (BM / WM) * WARPS_N * 32;
    constexpr int MT = WM / 16, NT = WN / 8;
    constexpr int A_PER_ROW = BK / VEC;               // chunks of VEC bytes per tile row
    constexpr int A_ITERS = BM * A_PER_ROW / THREADS; // chunks each thread copies per stage
    constexpr int A_ROW_STEP = THREADS / A_PER_ROW;
    constexpr int B_ITERS = BN * (BK / 16) / THREADS;
    constexpr int B_ROW_STEP = THREADS / (BK / 16);
    constexpr int PIPELINE_BYTES = STAGES * (BM + BN) * ROW;
    static_assert(A_ITERS >= 1 && B_ITERS >= 1 && NT % 2 == 0, "tile shape");

#ifdef OCTET_HOST_EMULATION
    extern unsigned char* dynamicShared; // the harness's, 1024-byte aligned, one block at a time
#else
    extern __shared__ __align__(16) unsigned char dynamicShared[];
#endif
    unsigned char* shared = dynamicShared;
    if constexpr (WARPGROUP) shared += (1024 - (shared_address(dynamicShared) & 1023)) & 1023;
    unsigned char* sA = shared;
    unsigned char* sB = shared + STAGES * BM * ROW;
    int* sBias = (int*)(shared + PIPELINE_BYTES);
    float* sMultiplier = (float*)(sBias + BN);
    unsigned char* sResidual = (unsigned char*)(sMultiplier + BN);

#if __CUDA_ARCH__ >= 900
    // Programmatic dependent launch (the host launches these kernels so): the next kernel's blocks may start
    // once all of this one's have, taking the SMs this one's last wave frees and setting up, and wait below.
    asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int warpM = warp / WARPS_N, warpN = warp % WARPS_N;
    // Blocks walk the output tiles with N fastest, so the blocks that share a tile row of A run together and
    // read it from DRAM once.
    const int nTiles = (p.OC + BN - 1) / BN;
    const int m0 = (blockIdx.x / nTiles) * BM, n0 = (blockIdx.x % nTiles) * BN;
    // Split-K blocks leave the epilogue to octet_conv_split_epilogue; the 16-channel epilogue reads its operands
    // from shared memory.
    const bool vectorized = p.OC % 16 == 0 && p.partial == nullptr;

    // The output pixels this thread gathers for, fixed across k steps: the window's top-left corner (iy0, ix0) and
    // its element offset. Rows beyond M get a corner no tap can bring inside the image.
    const int aColumn = (tid % A_PER_ROW) * VEC;
    const int aRow0 = tid / A_PER_ROW;
    // Divisions by the output size only for the first row where the rows A_ROW_STEP apart can be counted along
    // (at most one carry each when OW >= A_ROW_STEP): for short-K layers they were a tenth of the instructions.
    int corner[A_ITERS], iy0[A_ITERS], ix0[A_ITERS];
    {
        const bool counted = p.OW >= A_ROW_STEP;
        int ox = 0, oy = 0, image = 0;
        for (int i = 0; i < A_ITERS; i++) {
            const int m = m0 + aRow0 + i * A_ROW_STEP;
            if (i == 0 || !counted) {
                ox = m % p.OW, oy = (m / p.OW) % p.OH, image = m / (p.OW * p.OH);
            } else if ((ox += A_ROW_STEP) >= p.OW) {
                ox -= p.OW;
                if (++oy == p.OH) oy = 0, image++;
            }
            iy0[i] = m < p.M ? oy * p.strideH - p.padTop : -0x40000000;
            ix0[i] = ox * p.strideW - p.padLeft;
            corner[i] = m < p.M ? ((image * p.H + iy0[i]) * p.W + ix0[i]) * p.C : 0;
        }
    }
    const int bColumn = (tid % (BK / 16)) * 16;
    const int bRow0 = tid / (BK / 16);

    const int tileBegin = blockIdx.z * p.tilesPerSplit;
    const int tiles = min((p.K + BK - 1) / BK - tileBegin, p.tilesPerSplit);
    // A 1x1 convolution without padding reads each row's pixel whole: k is the channel, and a row is in bounds
    // exactly when it is an output pixel (iy0 >= 0), so the gather needs neither the tap table nor bounds tests.
    const bool pointwise = p.KH == 1 && p.KW == 1 && p.padTop == 0 && p.padLeft == 0;
    // Where byte `column` of row `row` of a stage's tile lies in shared memory.
    auto at = [](unsigned char* tile, int row, int column) {
        if constexpr (WARPGROUP) return shared_address(tile + swizzled<BK>(row * ROW + column));
        else return shared_address(tile + row * ROW + column);
    };
    auto load = [&](int stage, int localTile) {
        const int tile = tileBegin + localTile;
        const int k = tile * BK + aColumn;
        unsigned char* a = sA + stage * BM * ROW;
        if (pointwise) {
            const bool inK = k < p.K;
            for (int i = 0; i < A_ITERS; i++) {
                const bool valid = inK && iy0[i] >= 0;
                copy_async<VEC>(at(a, aRow0 + i * A_ROW_STEP, aColumn), p.x + (valid ? corner[i] + k : 0), valid);
            }
        } else {
            const int2 tap = p.taps[k / 4];
            const int dy = tap.y >> 16, dx = tap.y & 0xffff;
            for (int i = 0; i < A_ITERS; i++) {
                const bool valid = (unsigned)(iy0[i] + dy) < (unsigned)p.H && (unsigned)(ix0[i] + dx) < (unsigned)p.W;
                copy_async<VEC>(at(a, aRow0 + i * A_ROW_STEP, aColumn), p.x + (valid ? corner[i] + tap.x : 0), valid);
            }
        }
        unsigned char* b = sB + stage * BN * ROW;
        for (int i = 0; i < B_ITERS; i++) {
            const int n = n0 + bRow0 + i * B_ROW_STEP;
            const bool valid = n < p.OC;
            copy_async<16>(at(b, bRow0 + i * B_ROW_STEP, bColumn), p.w + (valid ? n * p.Kpad + tile * BK + bColumn : 0), valid);
        }
    };

#if __CUDA_ARCH__ >= 900
    // Everything above read only this layer's constants; from here on, memory the previous kernels write or read
    // (their completion and memory are awaited; a no-op for an ordinary launch).
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
    // The epilogue's operands join the first stage's copy group.
    if (vectorized) {
        for (int v = tid; v < BN / 2; v += THREADS) {
            const int chunk = v % (BN / 4), n = n0 + chunk * 4;
            const bool valid = n < p.OC, isBias = v < BN / 4;
            const void* source = isBias ? (const void*)(p.bias + (valid ? n : 0)) : (const void*)(p.multiplier + (valid ? n : 0));
            copy_async<16>(shared_address(isBias ? (void*)(sBias + chunk * 4) : (void*)(sMultiplier + chunk * 4)), source, valid);
        }
        if (p.residual) {
            for (int v = tid; v < BM * (BN / 16); v += THREADS) {
                const int row = v / (BN / 16), column = (v % (BN / 16)) * 16;
                const int m = m0 + row, n = n0 + column;
                const bool valid = m < p.M && n < p.OC;
                copy_async<16>(shared_address(sResidual + row * (BN + 16) + column), p.residual + (valid ? m * p.OC + n : 0), valid);
            }
        }
    }

    int acc[MT][NT][4];
    for (int i = 0; i < MT; i++)
        for (int j = 0; j < NT; j++)
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0;

    // Stages copied ahead of the one being multiplied.
    constexpr int AHEAD = STAGES - 1 - LAG;
    for (int s = 0; s < AHEAD; s++) {
        if (s < tiles) load(s, s);
        copy_async_commit();
    }
    if constexpr (WARPGROUP) {
        // Each warpgroup multiplies its 64 rows of the stage by the stage's B tile while the threads issue the
        // copies of a later stage, into the stage that the MMAs of LAG + 1 iterations ago read: every warpgroup
        // waited for those before the barrier this iteration passed.
        int* d = &acc[0][0][0];
        const int group = warp / 4;
        for (int tile = 0; tile < tiles; tile++) {
            copy_async_wait<AHEAD - 1>();
            fence_copies_for_tensor_cores();
            __syncthreads();
            const unsigned a = shared_address(sA + (tile % STAGES) * BM * ROW + group * 64 * ROW);
            const unsigned b = shared_address(sB + (tile % STAGES) * BN * ROW);
            wgmma_fence_operands<NT * 4>(d);
            wgmma_fence();
            for (int kk = 0; kk < BK; kk += 32) wgmma_m64k32<BN, SIGNED_INPUT>(d, wgmma_descriptor<BK>(a + kk), wgmma_descriptor<BK>(b + kk));
            wgmma_commit();
            const int next = tile + AHEAD;
            if (next < tiles) load(next % STAGES, next);
            copy_async_commit();
            wgmma_wait<LAG>();
        }
        wgmma_wait<0>();
        wgmma_fence_operands<NT * 4>(d);
    } else for (int tile = 0; tile < tiles; tile++) {
        copy_async_wait<AHEAD - 1>();
        __syncthreads();
        const int next = tile + AHEAD;
        if (next < tiles) load(next % STAGES, next);
        copy_async_commit();

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
    copy_async_wait<0>();
    const int g = lane / 4, t = lane % 4;

    if (p.partial) {
        // Split K: add this block's share of the sums; octet_conv_split_epilogue finishes the layer.
        for (int i = 0; i < MT; i++)
            for (int j = 0; j < NT; j++)
                for (int r = 0; r < 4; r++) {
                    const int m = m0 + warpM * WM + i * 16 + g + (r >= 2 ? 8 : 0);
                    const int n = n0 + warpN * WN + j * 8 + 2 * t + (r & 1);
                    if (m < p.M && n < p.OC) atomicAdd(&p.partial[m * p.OC + n], acc[i][j][r]);
                }
        return;
    }

    // The accumulators leave the registers through shared memory (the pipeline's, now free) as scaled sums, one
    // row of warps at a time (warpgroup tiles: as many as fit), so that each thread finishes sixteen consecutive
    // channels of a pixel with 16-byte loads and stores; eight consecutive threads take one 16-channel quad of
    // eight consecutive rows. Every accumulator of a thread lies in a row r with r % 8 == g and every item it
    // finishes in one with r % 8 == tid % 8, so each side needs one swizzle, computed once.
    constexpr int PASS_WARPS = WARPGROUP ? staging_warp_rows(BM / WM, WM * BN * 4, PIPELINE_BYTES) : 1;
    constexpr int PASS_ROWS = PASS_WARPS * WM;
    constexpr int CHUNKS = BN / 16;                        // 16-channel chunks per row
    constexpr int ITEM_ROWS = THREADS / CHUNKS;            // rows between one thread's items
    constexpr int ITEMS = (PASS_ROWS + ITEM_ROWS - 1) / ITEM_ROWS;
    static_assert(PASS_ROWS * BN * 4 <= PIPELINE_BYTES && PASS_ROWS % 8 == 0 && THREADS % (8 * CHUNKS) == 0, "staging layout");
    float* staged = (float*)shared;
    const int itemChunk = (tid / 8) % CHUNKS, itemRow = (tid / (8 * CHUNKS)) * 8 + tid % 8, itemN = n0 + itemChunk * 16;
    int readQuad[4];
    for (int q = 0; q < 4; q++) readQuad[q] = (itemChunk * 4 + q) ^ staged_swizzle(tid % 8);
    for (int pass = 0; pass < BM / PASS_ROWS; pass++) {
        __syncthreads();
        if (warpM / PASS_WARPS == pass) {
            // This thread's two columns of each n-tile: their biases and multipliers, and where they are staged,
            // taken one n-tile at a time so that few registers are live beside the accumulators.
            float* rowBase = staged + ((warpM % PASS_WARPS) * WM + g) * BN + 2 * (t & 1);
            auto stage = [&](auto smallSums) {
                for (int j = 0; j < NT; j++) {
                    const int column = warpN * WN + j * 8 + 2 * t, n = n0 + column;
                    int2 bias;
                    float2 scale;
                    if (vectorized) {
                        bias = *(const int2*)&sBias[column];
                        scale = *(const float2*)&sMultiplier[column];
                    } else {
                        bias = make_int2(n < p.OC ? p.bias[n] : 0, n + 1 < p.OC ? p.bias[n + 1] : 0);
                        scale = make_float2(n < p.OC ? p.multiplier[n] : 0.0f, n + 1 < p.OC ? p.multiplier[n + 1] : 0.0f);
                    }
                    const int2 offset = make_int2(bias_offset(p, bias.x), bias_offset(p, bias.y));
                    float* quad = rowBase + ((column >> 2) ^ staged_swizzle(g)) * 4;
                    for (int i = 0; i < MT; i++)
                        for (int half = 0; half < 2; half++)
                            *(float2*)(quad + (i * 16 + half * 8) * BN) = make_float2(
                                scaled_sum<decltype(smallSums)::value>(acc[i][j][2 * half], offset.x, scale.x),
                                scaled_sum<decltype(smallSums)::value>(acc[i][j][2 * half + 1], offset.y, scale.y));
                }
            };
            if (p.smallSums) stage(BoolConstant<true>());
            else stage(BoolConstant<false>());
        }
        __syncthreads();
        for (int item = 0; item < ITEMS; item++) {
            const int row = itemRow + item * ITEM_ROWS;
            const int m = m0 + pass * PASS_ROWS + row;
            if ((ITEMS * ITEM_ROWS > PASS_ROWS && row >= PASS_ROWS) || m >= p.M || itemN >= p.OC) continue;
            float y[16];
            for (int q = 0; q < 4; q++) {
                const float4 value = *(const float4*)&staged[row * BN + readQuad[q] * 4];
                y[4 * q] = value.x, y[4 * q + 1] = value.y, y[4 * q + 2] = value.z, y[4 * q + 3] = value.w;
            }
            const long long index = (long long)m * p.OC + itemN;
            if (vectorized) {
                const unsigned char* residual = p.residual ? sResidual + (pass * PASS_ROWS + row) * (BN + 16) + itemChunk * 16 : nullptr;
                store_scaled16(p, index, y, residual);
            } else {
                for (int i = 0; i < 16 && itemN + i < p.OC; i++) store_scaled(p, index + i, y[i]);
            }
        }
    }
}

// Instantiations: octet_conv_igemm_<BM>x<BN>x<BK>_w<WM>x<WN>_s<STAGES>_v<gather bytes>_<s8|u8>. The CUDA backend
// times the tiles on each layer when it first runs a batch size and keeps the fastest (ConvolutionTile in
// CUDAConvolutionLayers.swift lists them; keep the two in step). These are the ones that won on some layer of
// ResNet-50, MobileNetV2 or EfficientNet-Lite0 at batch 1 or 256 on the H200 (others tried and dropped: 128x64x64
// with 32x32 warps and three stages, 128x128x64 with four stages, 256x128x64, 128x256x64, 128x128x128 with 64x32
// warps). The launch bounds cap registers so that MINBLOCKS
// blocks fit on an SM: on the H200, ResNet-50 at batch 256 ran in 13.1 ms with them and 16.3 ms with the
// compiler's own choice (156-164 registers, one block per SM).
#define OCTET_CONV_IGEMM(BM, BN, BK, WM, WN, STAGES, MINBLOCKS, VEC, TYPE, SIGNED)                                      \
    extern "C" __global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32, MINBLOCKS)                                  \
        octet_conv_igemm_##BM##x##BN##x##BK##_w##WM##x##WN##_s##STAGES##_v##VEC##_##TYPE(const ConvArgs p) {            \
        conv_igemm<BM, BN, BK, WM, WN, VEC, STAGES, SIGNED>(p);                                                          \
    }
#ifndef OCTET_HOST_EMULATION
// Tiles for inputs whose channels are a multiple of 16 (16-byte gathers).
#define OCTET_CONV_IGEMM_WIDE(BM, BN, BK, WM, WN, STAGES, MINBLOCKS)            \
    OCTET_CONV_IGEMM(BM, BN, BK, WM, WN, STAGES, MINBLOCKS, 16, s8, true)       \
    OCTET_CONV_IGEMM(BM, BN, BK, WM, WN, STAGES, MINBLOCKS, 16, u8, false)
// Tiles for every input (also 8- and 4-byte gathers).
#define OCTET_CONV_IGEMM_ANY(BM, BN, BK, WM, WN, STAGES, MINBLOCKS)             \
    OCTET_CONV_IGEMM_WIDE(BM, BN, BK, WM, WN, STAGES, MINBLOCKS)                \
    OCTET_CONV_IGEMM(BM, BN, BK, WM, WN, STAGES, MINBLOCKS, 8, s8, true)        \
    OCTET_CONV_IGEMM(BM, BN, BK, WM, WN, STAGES, MINBLOCKS, 8, u8, false)       \
    OCTET_CONV_IGEMM(BM, BN, BK, WM, WN, STAGES, MINBLOCKS, 4, s8, true)        \
    OCTET_CONV_IGEMM(BM, BN, BK, WM, WN, STAGES, MINBLOCKS, 4, u8, false)
OCTET_CONV_IGEMM_ANY(128, 128, 64, 64, 32, 3, 2)
OCTET_CONV_IGEMM_ANY(128, 64, 64, 64, 32, 3, 3)
OCTET_CONV_IGEMM_ANY(64, 64, 64, 32, 32, 3, 4)
OCTET_CONV_IGEMM_WIDE(128, 64, 64, 64, 32, 4, 3)
OCTET_CONV_IGEMM_WIDE(128, 64, 64, 64, 32, 2, 4)
OCTET_CONV_IGEMM_WIDE(64, 64, 64, 32, 32, 2, 6)
OCTET_CONV_IGEMM_WIDE(128, 64, 64, 32, 32, 2, 3)
OCTET_CONV_IGEMM_WIDE(128, 128, 64, 64, 64, 3, 2)
OCTET_CONV_IGEMM_WIDE(256, 64, 64, 64, 32, 3, 2)
OCTET_CONV_IGEMM_WIDE(128, 128, 128, 64, 64, 2, 2)
OCTET_CONV_IGEMM_WIDE(128, 64, 128, 64, 32, 3, 2)
OCTET_CONV_IGEMM_WIDE(256, 64, 128, 64, 32, 2, 2)
// 32-byte k steps for short reductions (K <= 96: the mobile nets' 16- and 24-channel 1x1 layers), where a 64-byte
// step pads most of every tile with zeros; 48-byte shared rows keep ldmatrix conflict-free.
OCTET_CONV_IGEMM_ANY(128, 64, 32, 64, 32, 4, 3)
OCTET_CONV_IGEMM_ANY(128, 128, 32, 64, 32, 4, 2)
#endif // OCTET_HOST_EMULATION

// Warpgroup-MMA tiles (sm_90a only: the CUDA backend compiles for it on compute capability 9.0 and offers them
// there): octet_conv_igemm_<BM>x<BN>x<BK>_<wg|wgo>_s<STAGES>_v16_<s8|u8>, BM / 64 warpgroups, 16-byte gathers.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL) || defined(OCTET_HOST_EMULATION)
#define OCTET_CONV_IGEMM_WG_TYPED(BM, BN, BK, STAGES, MINBLOCKS, NAME, LAG, TYPE, SIGNED)                              \
    extern "C" __global__ void __launch_bounds__(BM * 2, MINBLOCKS)                                                      \
        octet_conv_igemm_##BM##x##BN##x##BK##_##NAME##_s##STAGES##_v16_##TYPE(const ConvArgs p) {                      \
        conv_igemm<BM, BN, BK, 16, BN, 16, STAGES, SIGNED, true, LAG>(p);                                                \
    }
#define OCTET_CONV_IGEMM_WG(BM, BN, BK, STAGES, MINBLOCKS, NAME, LAG)                  \
    OCTET_CONV_IGEMM_WG_TYPED(BM, BN, BK, STAGES, MINBLOCKS, NAME, LAG, s8, true)      \
    OCTET_CONV_IGEMM_WG_TYPED(BM, BN, BK, STAGES, MINBLOCKS, NAME, LAG, u8, false)
// _wg: every stage's MMAs complete within its iteration; _wgo: one stage's stay in flight (overlapped).
OCTET_CONV_IGEMM_WG(128, 128, 128, 3, 2, wg, 0)
OCTET_CONV_IGEMM_WG(128, 128, 64, 4, 2, wg, 0)
OCTET_CONV_IGEMM_WG(128, 64, 128, 4, 2, wg, 0)
OCTET_CONV_IGEMM_WG(64, 128, 128, 4, 2, wg, 0)
OCTET_CONV_IGEMM_WG(128, 128, 64, 4, 2, wgo, 1)
OCTET_CONV_IGEMM_WG(128, 128, 64, 5, 2, wgo, 1)
OCTET_CONV_IGEMM_WG(128, 64, 128, 4, 2, wgo, 1)
#endif

// The end of a split-K convolution: the epilogue on the summed accumulators, which it sets back to zero for the
// next layer that uses the workspace.
extern "C" __global__ void octet_conv_split_epilogue(const ConvArgs p)
{
    OCTET_ELEMENT_INDEX((long long)p.M * p.OC);
    const int acc = p.partial[i];
    p.partial[i] = 0;
    store_output(p, (int)(i / p.OC), (int)(i % p.OC), acc);
}

#endif // __CUDA_ARCH__ >= 800 || OCTET_HOST_EMULATION

#ifndef OCTET_HOST_EMULATION

// The same convolution for GPUs without int8 tensor cores (sm_61 to sm_75; also run on newer ones by the
// selftest): one thread per output, dp4a over four channels at a time (C % 4 == 0: other inputs are padded first),
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

// Inputs whose channel count is not a multiple of 4 (the 3-channel stem) are first rearranged so that the GEMM
// gathers whole words (ConvolutionShape.folded): pixel (Y, X) of the result has FC channels (a multiple of 4),
// channel (dy * S + dx) * C + c being input channel c at (S * Y + dy - padTop, S * X + dx - padLeft); zero where
// that lies outside the image or beyond S * S * C. S = 1 (pads 0) only pads the channels; S > 1 folds space to
// depth. One thread per output pixel, counting (dy, dx, c) along rather than dividing.
extern "C" __global__ void octet_fold_input_nhwc(
    int N, int H, int W, int C, int S, int padTop, int padLeft, int FH, int FW, int FC,
    const unsigned char* __restrict__ x, unsigned* __restrict__ folded)
{
    OCTET_ELEMENT_INDEX(N * FH * FW);
    const int X = i % FW, Y = (i / FW) % FH, image = i / (FW * FH);
    unsigned* out = folded + (long long)i * (FC / 4);
    unsigned word = 0;
    int dy = 0, dx = 0, c = 0;
    for (int channel = 0; channel < FC; channel++) {
        const int iy = S * Y + dy - padTop, ix = S * X + dx - padLeft;
        if (dy < S && iy >= 0 && iy < H && ix >= 0 && ix < W) word |= (unsigned)x[((image * H + iy) * W + ix) * C + c] << (8 * (channel % 4));
        if (channel % 4 == 3) {
            out[channel / 4] = word;
            word = 0;
        }
        if (++c == C) {
            c = 0;
            if (++dx == S) dx = 0, dy++;
        }
    }
}
#endif // OCTET_HOST_EMULATION
