// Runs conv_igemm.cu's warpgroup-MMA tiles on the host, unchanged, so their swizzled shared-memory stores, matrix
// descriptors, per-warpgroup slices, accumulator fragments and the epilogue's staging passes are checked without a GPU
// (Scripts/emulate-conv-wgmma.sh compiles this after common.cuh, conv_args.cu and conv_igemm.cu with
// OCTET_HOST_EMULATION).
//
// A block is 2·BM std::threads (BM / 64 warpgroups); blocks run one after another. The hardware is modelled from the
// PTX ISA, written here from the specification and not from the kernel's helpers:
//   cp.async with a source size of 0 or BYTES: a copy (or zero fill) of BYTES into shared memory, done at once (the
//   commit and wait operations have nothing left to order).
//   wgmma.mma_async.sync.aligned.m64nNk32.s32.{s8,u8}.s8 d, a-desc, b-desc, 1: asynchronous, so the model records the
//   operation in the open group (wgmma.commit_group closes it) and performs it at the wgmma.wait_group N that leaves
//   fewer than N later groups in flight, reading shared memory then (a kernel that refilled a stage too early would
//   read the new bytes and fail). Each descriptor gives the start address (bits 0-13, in 16-byte
//   units), the stride between groups of eight rows (bits 32-45, 16-byte units) and the swizzle mode (bits 62-63: 1 =
//   128-byte, 2 = 64-byte, 3 = 32-byte). Row r, byte k of a K-major operand lies at the address
//   start + (r / 8)·stride + (r % 8)·W + k for a swizzle width W, and the swizzle exchanges that address's 16-byte
//   chunk index (bits 4 .. 4 + log2(W / 16)) with it XORed by bits 7 and up, taken from the whole shared-memory
//   address (so the pattern repeats every 8·W bytes from an 8·W-aligned address). Thread t of warpgroup g holds
//   D rows 16·(t / 32 % 4) + (t % 32) / 4 (+8) and columns 8j + 2·(t % 4) (+1) in d[4j .. 4j+3], as in the
//   "Register fragment for the wgmma .m64nNk32 accumulator" figure; D += A(64 x 32) · B(N x 32)ᵀ in 32-bit integers.
// The block's dynamic shared memory starts 16 bytes past a 1024-byte boundary, so the kernel's own alignment is
// exercised. Each case's outputs are compared with a direct convolution and OctetQuantization's epilogue, and the
// bytes after the output with their fill. Exit status 0 when every case passes.
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

namespace emulation {
alignas(1024) unsigned char sharedMemory[256 * 1024];
std::barrier<>* block;
struct Pending {
    int* d;
    int n;
    bool signedA;
    unsigned long long a, b;
};
thread_local std::vector<Pending> open;
thread_local std::vector<std::vector<Pending>> committed;

// Byte k of row `row` of the K-major operand `descriptor` describes, as the tensor cores read it.
int operand(unsigned long long descriptor, int row, int k, bool isSigned) {
    const unsigned start = (unsigned)(descriptor & 0x3FFF) << 4, stride = (unsigned)((descriptor >> 32) & 0x3FFF) << 4;
    const int mode = (int)(descriptor >> 62), width = mode == 1 ? 128 : mode == 2 ? 64 : 32;
    if (mode == 0) {
        printf("  unswizzled descriptor: not modelled\n");
        exit(2);
    }
    const unsigned address = start + (row / 8) * stride + (row % 8) * width + k;
    const unsigned chunkBits = (unsigned)(width / 16 - 1);
    const unsigned physical = address ^ (((address >> 7) & chunkBits) << 4);
    const unsigned char byte = sharedMemory[physical];
    return isSigned ? (int)(signed char)byte : (int)byte;
}
} // namespace emulation

unsigned char* dynamicShared = emulation::sharedMemory + 16;

unsigned shared_address(const void* p) {
    return (unsigned)((const unsigned char*)p - emulation::sharedMemory);
}

template <int BYTES>
void copy_async(unsigned destination, const void* source, bool valid) {
    if (valid) memcpy(emulation::sharedMemory + destination, source, BYTES);
    else memset(emulation::sharedMemory + destination, 0, BYTES);
}
void copy_async_commit() {}
template <int PENDING>
void copy_async_wait() {}
void fence_copies_for_tensor_cores() {}
void wgmma_fence() {}
void wgmma_commit() {
    emulation::committed.push_back(emulation::open);
    emulation::open.clear();
}

template <int N, bool SIGNED_INPUT>
void wgmma_m64k32(int* d, unsigned long long a, unsigned long long b) {
    emulation::open.push_back({d, N, SIGNED_INPUT, a, b});
}

template <int PENDING>
void wgmma_wait() {
    const int warp = (int)(threadIdx.x / 32) % 4, lane = (int)threadIdx.x % 32;
    auto& groups = emulation::committed;
    const size_t finished = groups.size() > (size_t)PENDING ? groups.size() - PENDING : 0;
    for (size_t group = 0; group < finished; group++) for (const auto& op : groups[group]) {
        for (int j = 0; j < op.n / 8; j++) {
            for (int r = 0; r < 4; r++) {
                const int row = 16 * warp + lane / 4 + (r >= 2 ? 8 : 0), column = 8 * j + 2 * (lane % 4) + (r & 1);
                int sum = 0;
                for (int k = 0; k < 32; k++) sum += emulation::operand(op.a, row, k, op.signedA) * emulation::operand(op.b, column, k, true);
                op.d[4 * j + r] += sum;
            }
        }
    }
    groups.erase(groups.begin(), groups.begin() + (std::ptrdiff_t)finished);
}

void __syncthreads() { emulation::block->arrive_and_wait(); }

thread_local uint3 threadIdx;
uint3 blockIdx, blockDim, gridDim;

using Kernel = void (*)(const ConvArgs);

struct Tile {
    int m, n, k, stages;
    const char* kind;
    Kernel s8, u8;
};
#define OCTET_TILE(BM, BN, BK, KIND, S)                                                                 \
    Tile{BM, BN, BK, S, #KIND, octet_conv_igemm_##BM##x##BN##x##BK##_##KIND##_s##S##_v16_s8,             \
         octet_conv_igemm_##BM##x##BN##x##BK##_##KIND##_s##S##_v16_u8}
static const Tile tiles[] = {
    OCTET_TILE(128, 128, 128, wg, 3), OCTET_TILE(128, 128, 64, wg, 4), OCTET_TILE(128, 64, 128, wg, 4),
    OCTET_TILE(64, 128, 128, wg, 4),  OCTET_TILE(128, 128, 64, wgo, 4), OCTET_TILE(128, 128, 64, wgo, 5),
    OCTET_TILE(128, 64, 128, wgo, 4),
};
#undef OCTET_TILE

struct Case {
    int tile; // index into tiles
    int n, h, w, c, oc, kernel, stride, pad;
    bool signedInput;
    int residual;   // 0 none, 1 uint8, 2 int8
    int outputMode; // 0 int8, 1 uint8, 2 float32
    bool smallSums;
};

// Runs one case through its kernel and compares every output with the reference. Returns whether it passed.
static bool run(const Case& t, std::mt19937& random) {
    const Tile& tile = tiles[t.tile];
    const int oh = (t.h + 2 * t.pad - t.kernel) / t.stride + 1, ow = (t.w + 2 * t.pad - t.kernel) / t.stride + 1;
    const int m = t.n * oh * ow, k = t.kernel * t.kernel * t.c, kpad = (k + 127) / 128 * 128; // ImplicitGEMMKernel.rowAlignment
    std::uniform_int_distribution<int> byte(0, 255), weight(-127, 127), biasValue(-3000, 3000);
    std::uniform_real_distribution<float> multiplier(1e-4f, 2e-3f);
    std::vector<unsigned char> x((size_t)t.n * t.h * t.w * t.c), residual((size_t)m * t.oc);
    std::vector<signed char> w((size_t)t.oc * kpad, 0); // [OC][Kpad], k = (ky·KW + kx)·C + c
    std::vector<int> bias(t.oc);
    std::vector<float> multipliers(t.oc);
    for (auto& v : x) v = (unsigned char)byte(random);
    for (auto& v : residual) v = (unsigned char)byte(random);
    for (int o = 0; o < t.oc; o++)
        for (int i = 0; i < k; i++) w[(size_t)o * kpad + i] = (signed char)weight(random);
    for (auto& v : bias) v = biasValue(random);
    for (auto& v : multipliers) v = multiplier(random);
    // The gather table (ConvolutionShape.gatherTable): per 4 bytes of k, the element offset from the window's corner
    // and dy << 16 | dx; dy = 0x7fff beyond K.
    std::vector<int2> taps(kpad / 4);
    for (int word = 0; word < kpad / 4; word++) {
        const int kk = word * 4, tap = kk / t.c;
        if (kk >= k) {
            taps[word] = {0, 0x7fff << 16};
            continue;
        }
        const int dy = tap / t.kernel, dx = tap % t.kernel;
        taps[word] = {(dy * t.w + dx) * t.c + kk % t.c, dy << 16 | dx};
    }
    const float lo = t.outputMode == 0 ? -128.0f : t.outputMode == 1 ? 0.0f : -3.0f;
    const float hi = t.outputMode == 0 ? 100.0f : t.outputMode == 1 ? 255.0f : 40.0f;
    const float residualMultiplier = 0.37f;
    const size_t count = (size_t)m * t.oc, elementBytes = t.outputMode == 2 ? 4 : 1, guard = 256;
    std::vector<unsigned char> y(count * elementBytes + guard, 0xAB);

    ConvArgs p{};
    p.x = x.data(), p.w = w.data(), p.bias = bias.data(), p.multiplier = multipliers.data();
    p.residual = t.residual ? residual.data() : nullptr, p.y = y.data(), p.taps = taps.data();
    p.N = t.n, p.H = t.h, p.W = t.w, p.C = t.c, p.OH = oh, p.OW = ow, p.KH = t.kernel, p.KW = t.kernel;
    p.strideH = t.stride, p.strideW = t.stride, p.padTop = t.pad, p.padLeft = t.pad, p.dilationH = 1, p.dilationW = 1;
    p.OC = t.oc, p.K = k, p.Kpad = kpad, p.M = m;
    p.lo = lo, p.hi = hi, p.residualMultiplier = residualMultiplier, p.outputMode = t.outputMode;
    p.residualSigned = t.residual == 2, p.partial = nullptr, p.tilesPerSplit = 0x7fffffff, p.smallSums = t.smallSums;

    const Kernel function = t.signedInput ? tile.s8 : tile.u8;
    const unsigned threads = 2 * tile.m;
    blockDim = {threads, 1, 1};
    gridDim = {(unsigned)(((m + tile.m - 1) / tile.m) * ((t.oc + tile.n - 1) / tile.n)), 1, 1};
    memset(emulation::sharedMemory, 0x5A, sizeof emulation::sharedMemory); // stale bytes, as a GPU leaves them
    for (unsigned b = 0; b < gridDim.x; b++) {
        blockIdx = {b, 0, 0};
        std::barrier<> barrier((std::ptrdiff_t)threads);
        emulation::block = &barrier;
        run_block(threads, function, p);
    }

    int wrong = 0;
    for (int image = 0; image < t.n; image++) {
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                const int row = (image * oh + oy) * ow + ox;
                for (int o = 0; o < t.oc; o++) {
                    int acc = bias[o];
                    for (int ky = 0; ky < t.kernel; ky++) {
                        for (int kx = 0; kx < t.kernel; kx++) {
                            const int iy = oy * t.stride - t.pad + ky, ix = ox * t.stride - t.pad + kx;
                            if (iy < 0 || iy >= t.h || ix < 0 || ix >= t.w) continue;
                            for (int c = 0; c < t.c; c++) {
                                const unsigned char v = x[(((size_t)image * t.h + iy) * t.w + ix) * t.c + c];
                                acc += (t.signedInput ? (int)(signed char)v : (int)v) * (int)w[(size_t)o * kpad + (ky * t.kernel + kx) * t.c + c];
                            }
                        }
                    }
                    float value = (float)acc * multipliers[o];
                    if (t.residual) {
                        const unsigned char r = residual[(size_t)row * t.oc + o];
                        value = value + (float)(t.residual == 2 ? (int)(signed char)r : (int)r) * residualMultiplier;
                    }
                    value = fminf(fmaxf(value, lo), hi);
                    const size_t index = (size_t)row * t.oc + o;
                    bool same;
                    if (t.outputMode == 2) {
                        float got;
                        memcpy(&got, y.data() + 4 * index, 4);
                        same = __float_as_int(got) == __float_as_int(value);
                    } else {
                        same = y[index] == (unsigned char)(int)nearbyintf(value);
                    }
                    if (!same && wrong++ < 3) printf("  row %d channel %d differs\n", row, o);
                }
            }
        }
    }
    for (size_t i = count * elementBytes; i < y.size(); i++) wrong += y[i] != 0xAB;
    printf("conv_igemm %dx%dx%d_%s_s%d emulated %dx%dx%dx%d %dx%d s%d p%d -> %d, %s input, residual %s, %s output, small sums %d: %s\n",
           tile.m, tile.n, tile.k, tile.kind, tile.stages, t.n, t.h, t.w, t.c, t.kernel, t.kernel, t.stride, t.pad, t.oc,
           t.signedInput ? "int8" : "uint8", t.residual == 0 ? "none" : t.residual == 1 ? "uint8" : "int8",
           t.outputMode == 0 ? "int8" : t.outputMode == 1 ? "uint8" : "float32", t.smallSums, wrong ? "MISMATCH" : "identical");
    return wrong == 0;
}

int main() {
    std::mt19937 random(2026);
    // Every tile; 3x3, 5x5 and 1x1 kernels, strides 1 and 2, row counts that are not a multiple of the tile's, K with
    // bytes of the last step beyond it, output channels that are not a multiple of the tile's (and one count that is
    // not a multiple of 16: the per-element epilogue), all three output modes, residuals of both signednesses.
    const Case cases[] = {
        {0, 2, 9, 11, 32, 96, 3, 1, 1, false, 1, 1, false},
        {0, 1, 10, 15, 80, 128, 1, 1, 0, true, 0, 0, true},
        {1, 3, 7, 9, 48, 128, 5, 1, 2, false, 2, 1, false},
        {1, 1, 13, 13, 16, 40, 3, 2, 1, true, 0, 0, false},
        {1, 2, 8, 8, 64, 160, 1, 2, 0, false, 1, 2, false},
        {2, 1, 12, 17, 16, 64, 3, 1, 1, true, 2, 0, false},
        {2, 2, 6, 6, 96, 48, 1, 1, 0, false, 0, 2, true},
        {3, 1, 11, 11, 32, 256, 3, 1, 1, false, 2, 1, false},
        {3, 1, 5, 21, 16, 136, 3, 2, 1, true, 1, 1, false},
        {4, 2, 9, 11, 32, 96, 3, 1, 1, false, 1, 1, false},
        {4, 3, 7, 9, 48, 128, 5, 1, 2, true, 2, 0, false},
        {5, 1, 11, 13, 64, 192, 3, 1, 1, false, 0, 2, false},
        {5, 1, 6, 6, 16, 32, 1, 1, 0, true, 1, 1, true},
        {6, 2, 10, 10, 48, 80, 3, 2, 1, false, 2, 1, false},
    };
    return run_cases(cases, [&](const Case& t) { return run(t, random); });
}
