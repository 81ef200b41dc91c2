// Runs conv_pointwise.cu's kernels on the host, unchanged, so their k and n permutations, fragment index arithmetic,
// row tails and grid-stride walk are checked without a GPU (Scripts/emulate-conv-pointwise.sh compiles this after
// common.cuh, conv_args.cu and conv_pointwise.cu with OCTET_HOST_EMULATION).
//
// A block is 128 std::threads; blocks run one after another. The one hardware instruction is modelled from the PTX
// ISA's definition, written here from the specification and not from the kernel's helpers:
//   mma.sync.aligned.m16n8k32.row.col.s32.{s8,u8}.s8.s32: the 32 lanes of a warp meet; A (16x32) and B (32x8) are
//   rebuilt from every lane's registers with "Matrix Fragments for mma.m16n8k32" for 8-bit types (groupID =
//   lane >> 2, threadID_in_group = lane % 4; each register holds four elements, the lowest index in the lowest
//   byte): A element a_i (i = 0..15) at row groupID for i < 4 or 8 <= i < 12, else groupID + 8, column
//   threadID_in_group * 4 + (i & 3), + 16 for i >= 8; B element b_i (i = 0..7) at row threadID_in_group * 4 +
//   (i & 3), + 16 for i >= 4, column groupID; C and D element i (0..3) at row groupID for i < 2, else groupID + 8,
//   column threadID_in_group * 2 + (i & 1). D = A·B + C in 32-bit integers.
// Each case's bytes are compared with a direct reference (the sum, then OctetQuantization's epilogue), and the
// bytes after the output with their fill (no write beyond it). Exit status 0 when every case passes.
#include <barrier>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

namespace emulation {
std::barrier<>* warps[4];
unsigned aRegisters[4][32][4], bRegisters[4][32][2];
} // namespace emulation

void mma_m16n8k32_int8(int* d, const unsigned* a, unsigned b0, unsigned b1, const int* c, bool signedA) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int r = 0; r < 4; r++) emulation::aRegisters[warp][lane][r] = a[r];
    emulation::bRegisters[warp][lane][0] = b0;
    emulation::bRegisters[warp][lane][1] = b1;
    emulation::warps[warp]->arrive_and_wait();
    int A[16][32], B[32][8];
    for (int l = 0; l < 32; l++) {
        const int group = l >> 2, inGroup = l % 4;
        for (int i = 0; i < 16; i++) {
            const unsigned byte = (emulation::aRegisters[warp][l][i / 4] >> (8 * (i % 4))) & 0xff;
            const int row = (i < 4 || (i >= 8 && i < 12)) ? group : group + 8;
            const int col = inGroup * 4 + (i & 3) + (i >= 8 ? 16 : 0);
            A[row][col] = signedA ? (int)(signed char)byte : (int)byte;
        }
        for (int i = 0; i < 8; i++) {
            const unsigned byte = (emulation::bRegisters[warp][l][i / 4] >> (8 * (i % 4))) & 0xff;
            B[inGroup * 4 + (i & 3) + (i >= 4 ? 16 : 0)][group] = (int)(signed char)byte;
        }
    }
    emulation::warps[warp]->arrive_and_wait(); // every lane has read the registers before any writes new ones
    const int group = lane >> 2, inGroup = lane % 4;
    for (int i = 0; i < 4; i++) {
        const int row = i < 2 ? group : group + 8, col = inGroup * 2 + (i & 1);
        int sum = c[i];
        for (int k = 0; k < 32; k++) sum += A[row][k] * B[k][col];
        d[i] = sum;
    }
}

thread_local uint3 threadIdx;
uint3 blockIdx, blockDim, gridDim;

using Kernel = void (*)(const ConvArgs);

// The instantiated kernel for a reduction of up to `kBytes`, `columns` output channels a warp, int8 or uint8 input.
static Kernel kernel(int kBytes, int columns, bool signedInput) {
#define OCTET_PICK(K, N, M)                                                                          \
    if (kBytes == K && columns == N) return signedInput ? octet_conv_pointwise_k##K##_n##N##_m##M##_s8 \
                                                        : octet_conv_pointwise_k##K##_n##N##_m##M##_u8;
    OCTET_PICK(32, 16, 32) OCTET_PICK(32, 32, 32) OCTET_PICK(32, 48, 32) OCTET_PICK(32, 64, 16)
    OCTET_PICK(64, 16, 32) OCTET_PICK(64, 32, 32) OCTET_PICK(64, 48, 32) OCTET_PICK(64, 64, 16)
    OCTET_PICK(96, 16, 32) OCTET_PICK(96, 32, 32) OCTET_PICK(96, 48, 32) OCTET_PICK(96, 64, 16)
    OCTET_PICK(128, 16, 32) OCTET_PICK(128, 32, 32) OCTET_PICK(128, 48, 32) OCTET_PICK(128, 64, 16)
#undef OCTET_PICK
    return nullptr;
}

struct Case {
    int m, k, oc, columns, chunks;
    bool signedInput;
    int residual;   // 0 none, 1 uint8, 2 int8
    int outputMode; // 0 int8, 1 uint8
    bool smallSums;
};

// Runs one case through its kernel and compares every output byte with the reference. Returns whether it passed.
static bool run(const Case& t, std::mt19937& random) {
    const int kpad = 128; // ImplicitGEMMKernel.rowAlignment
    std::uniform_int_distribution<int> byte(0, 255), weight(-127, 127), biasValue(-3000, 3000);
    std::uniform_real_distribution<float> multiplier(1e-3f, 2e-2f);
    std::vector<unsigned char> x((size_t)t.m * t.k), residual((size_t)t.m * t.oc);
    std::vector<signed char> w((size_t)t.oc * kpad, 0);
    std::vector<int> bias(t.oc);
    std::vector<float> multipliers(t.oc);
    for (auto& v : x) v = (unsigned char)byte(random);
    for (auto& v : residual) v = (unsigned char)byte(random);
    for (int o = 0; o < t.oc; o++)
        for (int k = 0; k < t.k; k++) w[(size_t)o * kpad + k] = (signed char)weight(random);
    for (auto& v : bias) v = biasValue(random);
    for (auto& v : multipliers) v = multiplier(random);
    const float lo = t.outputMode == 0 ? -128.0f : 0.0f, hi = t.outputMode == 0 ? 100.0f : 255.0f; // int8 with a Clip
    const float residualMultiplier = 0.37f;
    const size_t bytes = (size_t)t.m * t.oc, guard = 256;
    std::vector<unsigned char> y(bytes + guard, 0xAB);

    ConvArgs p{};
    p.x = x.data(), p.w = w.data(), p.bias = bias.data(), p.multiplier = multipliers.data();
    p.residual = t.residual ? residual.data() : nullptr, p.y = y.data();
    p.N = 1, p.H = t.m, p.W = 1, p.C = t.k, p.OH = t.m, p.OW = 1, p.KH = 1, p.KW = 1, p.strideH = 1, p.strideW = 1;
    p.dilationH = 1, p.dilationW = 1, p.OC = t.oc, p.K = t.k, p.Kpad = kpad, p.M = t.m;
    p.lo = lo, p.hi = hi, p.residualMultiplier = residualMultiplier, p.outputMode = t.outputMode;
    p.residualSigned = t.residual == 2, p.tilesPerSplit = 0x7fffffff, p.smallSums = t.smallSums;

    const Kernel function = kernel((t.k + 31) / 32 * 32, t.columns, t.signedInput);
    const unsigned slabs = t.oc / t.columns;
    blockDim = {128, 1, 1};
    gridDim = {slabs * t.chunks, 1, 1};
    for (unsigned b = 0; b < gridDim.x; b++) {
        blockIdx = {b, 0, 0};
        std::barrier<> w0(32), w1(32), w2(32), w3(32);
        emulation::warps[0] = &w0, emulation::warps[1] = &w1, emulation::warps[2] = &w2, emulation::warps[3] = &w3;
        run_block(128, function, p);
    }

    int wrong = 0;
    for (int m = 0; m < t.m; m++) {
        for (int o = 0; o < t.oc; o++) {
            int acc = bias[o];
            for (int k = 0; k < t.k; k++) {
                const unsigned char v = x[(size_t)m * t.k + k];
                acc += (t.signedInput ? (int)(signed char)v : (int)v) * (int)w[(size_t)o * kpad + k];
            }
            float value = (float)acc * multipliers[o];
            if (t.residual) {
                const unsigned char r = residual[(size_t)m * t.oc + o];
                value = value + (float)(t.residual == 2 ? (int)(signed char)r : (int)r) * residualMultiplier;
            }
            const int q = (int)nearbyintf(fminf(fmaxf(value, lo), hi));
            if (y[(size_t)m * t.oc + o] != (unsigned char)q && wrong++ < 3)
                printf("  row %d channel %d: %d, want %d\n", m, o, (int)y[(size_t)m * t.oc + o], q);
        }
    }
    for (size_t i = bytes; i < bytes + guard; i++) wrong += y[i] != 0xAB;
    printf("conv_pointwise emulated M=%d K=%d OC=%d n%d, %d row chunks, %s input, residual %s, %s output, small sums %d: %s\n",
           t.m, t.k, t.oc, t.columns, t.chunks, t.signedInput ? "int8" : "uint8",
           t.residual == 0 ? "none" : t.residual == 1 ? "uint8" : "int8", t.outputMode == 0 ? "int8" : "uint8", t.smallSums,
           wrong ? "MISMATCH" : "identical");
    return wrong == 0;
}

int main() {
    std::mt19937 random(2026);
    // Every warp shape and one to four k steps; K with bytes of the last step beyond it (8, 24, 40, 72, 104); row
    // counts that are not a multiple of a warp's rows; one row chunk (each warp walks several groups of rows) and
    // three.
    const Case cases[] = {
        {37, 16, 96, 32, 1, true, 0, 1, true},   {129, 24, 144, 48, 1, false, 1, 1, true},
        {200, 64, 64, 64, 1, false, 2, 0, true}, {45, 8, 16, 16, 1, true, 0, 0, false},
        {100, 32, 48, 16, 3, false, 0, 1, false}, {129, 40, 96, 48, 1, true, 2, 0, true},
        {77, 48, 128, 64, 2, true, 1, 1, false}, {33, 64, 32, 32, 1, false, 1, 0, true},
        {250, 24, 96, 32, 3, true, 2, 1, true},  {17, 56, 48, 48, 1, false, 0, 0, true},
        {300, 16, 64, 64, 1, false, 0, 1, true}, {65, 64, 16, 16, 2, true, 2, 1, false},
        {97, 128, 64, 32, 1, false, 1, 1, true}, {61, 72, 96, 48, 2, true, 0, 0, false},
        {150, 96, 16, 16, 1, true, 2, 1, true},  {40, 104, 128, 64, 3, false, 2, 0, true},
        {129, 128, 48, 48, 1, true, 1, 0, false}, {33, 120, 32, 16, 1, false, 0, 1, false},
    };
    return run_cases(cases, [&](const Case& t) { return run(t, random); });
}
