// Runs conv_f16.cu's kernel on the host, unchanged, so its tiling, staging and fragment index arithmetic are checked
// without a GPU (Scripts/emulate-conv-f16.sh compiles this after common.cuh and conv_f16.cu with OCTET_HOST_EMULATION).
//
// A block is 128 std::threads; __syncthreads is a barrier of the 128, __shared__ arrays are statics (blocks run one
// after another). The two hardware instructions are modelled from the PTX ISA's definitions, written here from the
// specification and not from the kernel's helpers:
//   cvt.rn.f16.f32    round to nearest even (_Float16)
//   mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: the 32 lanes of a warp meet; A (16x16) and B (16x8) are
//   rebuilt from every lane's registers with "Matrix Fragments for mma.m16n8k16 with floating point type"
//   (groupID = lane >> 2, threadID_in_group = lane % 4; A: row groupID for a0,a1,a4,a5 else groupID + 8, col
//   threadID_in_group·2 + (i & 1), + 8 for i ≥ 4; B: row threadID_in_group·2 + (i & 1), + 8 for i ≥ 2, col groupID;
//   C: row groupID for c0,c1 else groupID + 8, col threadID_in_group·2 + (i & 1)); the low 16 bits of a register
//   hold the element of lower index; each lane then adds its four C elements' dot products in FP32.
// Each case's output is compared with an exact sum (double) of the half-rounded products, within the self-test's
// accumulation-order bound. Exit status 0 when every case passes.
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

static unsigned short f16_bits(float v) {
    _Float16 h = (_Float16)v;
    unsigned short bits;
    std::memcpy(&bits, &h, 2);
    return bits;
}

static float f16_value(unsigned short bits) {
    _Float16 h;
    std::memcpy(&h, &bits, 2);
    return (float)h;
}

unsigned short f32_to_f16_rn(float v) { return f16_bits(v); }

namespace emulation {
std::barrier<>* block = nullptr;
std::barrier<>* warps[4];
unsigned aRegisters[4][32][4], bRegisters[4][32][2];
} // namespace emulation

void __syncthreads() { emulation::block->arrive_and_wait(); }

void mma_f16_k16(float* c, const unsigned* a, unsigned b0, unsigned b1) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int r = 0; r < 4; r++) emulation::aRegisters[warp][lane][r] = a[r];
    emulation::bRegisters[warp][lane][0] = b0;
    emulation::bRegisters[warp][lane][1] = b1;
    emulation::warps[warp]->arrive_and_wait();
    float A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        const int group = l >> 2, inGroup = l % 4;
        for (int i = 0; i < 8; i++) {
            const unsigned reg = emulation::aRegisters[warp][l][i / 2];
            const int row = (i < 2 || (i >= 4 && i < 6)) ? group : group + 8;
            const int col = inGroup * 2 + (i & 1) + (i >= 4 ? 8 : 0);
            A[row][col] = f16_value((unsigned short)((i & 1) ? reg >> 16 : reg & 0xffff));
        }
        for (int i = 0; i < 4; i++) {
            const unsigned reg = emulation::bRegisters[warp][l][i / 2];
            const int row = inGroup * 2 + (i & 1) + (i >= 2 ? 8 : 0);
            B[row][group] = f16_value((unsigned short)((i & 1) ? reg >> 16 : reg & 0xffff));
        }
    }
    emulation::warps[warp]->arrive_and_wait(); // every lane has read the registers before any writes new ones
    const int group = lane >> 2, inGroup = lane % 4;
    for (int i = 0; i < 4; i++) {
        const int row = i < 2 ? group : group + 8, col = inGroup * 2 + (i & 1);
        float sum = c[i];
        for (int k = 0; k < 16; k++) sum += A[row][k] * B[k][col];
        c[i] = sum;
    }
}

// The kernel follows (common.cuh and conv_f16.cu are compiled after the prelude, then this file's main).

thread_local uint3 threadIdx;
uint3 blockIdx;

struct Case {
    int n, c, h, w, oc, kh, kw, stride, pad, dilation;
    bool residual;
    int activation; // 0 none, 1 relu, 2 clip(0, 6)
};

// Runs one case through the kernel and compares it with the exact sum. Returns whether it passed.
static bool run(const Case& t, std::mt19937& random) {
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    const int oh = (t.h + 2 * t.pad - t.dilation * (t.kh - 1) - 1) / t.stride + 1;
    const int ow = (t.w + 2 * t.pad - t.dilation * (t.kw - 1) - 1) / t.stride + 1;
    const int K = t.kh * t.kw * t.c, Kp = (K + 31) / 32 * 32, M = t.n * oh * ow;
    std::vector<float> x((size_t)t.n * t.h * t.w * t.c), w((size_t)t.oc * K), bias(t.oc), residual((size_t)M * t.oc), y((size_t)M * t.oc, NAN);
    for (auto& v : x) v = 2 * unit(random);
    for (auto& v : w) v = unit(random); // [OC][KH][KW][C], the packed order
    for (auto& v : bias) v = unit(random);
    for (auto& v : residual) v = unit(random);
    std::vector<unsigned short> packed((size_t)t.oc * Kp, 0);
    for (int o = 0; o < t.oc; o++)
        for (int k = 0; k < K; k++) packed[(size_t)o * Kp + k] = f16_bits(w[(size_t)o * K + k]);
    HalfConvArgs p{x.data(), packed.data(), bias.data(), t.residual ? residual.data() : nullptr, y.data(),
                   t.n, t.h, t.w, t.c, oh, ow, t.kh, t.kw, t.stride, t.stride, t.pad, t.pad, t.dilation, t.dilation,
                   t.oc, K, Kp, M, t.activation, 0.0f, 6.0f};
    const unsigned gridX = (M + 63) / 64, gridY = (t.oc + 63) / 64;
    for (unsigned by = 0; by < gridY; by++) {
        for (unsigned bx = 0; bx < gridX; bx++) {
            blockIdx = {bx, by, 0};
            std::barrier<> block(128);
            std::barrier<> w0(32), w1(32), w2(32), w3(32);
            emulation::block = &block;
            emulation::warps[0] = &w0; emulation::warps[1] = &w1; emulation::warps[2] = &w2; emulation::warps[3] = &w3;
            run_block(128, octet_conv_f16_igemm_64x64x32_w32x32__mma_m16n8k16, p);
        }
    }
    const double gamma = 2.0 * (K + 2) * ldexp(1.0, -23);
    int beyond = 0, first = -1;
    double worst = 0, worstError = 0, worstBound = 0;
    for (int m = 0; m < M; m++) {
        const int ox = m % ow, oy = (m / ow) % oh, b = m / (ow * oh);
        for (int o = 0; o < t.oc; o++) {
            double sum = bias[o], size = fabs(sum);
            for (int ky = 0; ky < t.kh; ky++) {
                const int iy = oy * t.stride - t.pad + ky * t.dilation;
                if (iy < 0 || iy >= t.h) continue;
                for (int kx = 0; kx < t.kw; kx++) {
                    const int ix = ox * t.stride - t.pad + kx * t.dilation;
                    if (ix < 0 || ix >= t.w) continue;
                    for (int c = 0; c < t.c; c++) {
                        const double product = (double)f16_value(f16_bits(x[(((size_t)b * t.h + iy) * t.w + ix) * t.c + c]))
                            * f16_value(f16_bits(w[(size_t)o * K + (ky * t.kw + kx) * t.c + c]));
                        sum += product;
                        size += fabs(product);
                    }
                }
            }
            const size_t index = (size_t)m * t.oc + o;
            float want = (float)sum;
            if (t.residual) { want += residual[index]; size += fabs(residual[index]); }
            if (t.activation == 1) want = fmaxf(want, 0.0f);
            if (t.activation == 2) want = fminf(fmaxf(want, 0.0f), 6.0f);
            const double bound = gamma * size + ldexp(fabs(want), -22) + 1e-30;
            const double error = fabs((double)y[index] - want);
            if (!(error <= bound)) {
                if (first < 0) first = (int)index;
                beyond++;
            }
            if (error / bound > worst || error != error) { worst = error / bound; worstError = error; worstBound = bound; }
        }
    }
    printf("conv_f16 emulated N=%d C=%d %dx%d -> OC=%d %dx%d stride %d pad %d dilation %d%s%s: K=%d, largest error %.3g where the bound is %.3g (%.2f of it)",
           t.n, t.c, t.h, t.w, t.oc, t.kh, t.kw, t.stride, t.pad, t.dilation, t.residual ? " +residual" : "",
           t.activation == 1 ? " relu" : t.activation == 2 ? " clip" : "", K, worstError, worstBound, worst);
    if (first < 0) {
        printf(": within bound\n");
        return true;
    }
    printf(": BEYOND BOUND at %d of %d outputs, first (m=%d, o=%d): got %.8g\n", beyond, M * t.oc, first / t.oc, first % t.oc, y[first]);
    return false;
}

int main() {
    // The self-test's shapes (CUDASelfTest.halfConvolutionCases), smaller where only the time would grow.
    const Case cases[] = {
        {1, 3, 17, 19, 5, 3, 3, 2, 1, 1, false, 1},
        {3, 13, 9, 11, 70, 3, 3, 1, 2, 2, true, 0},
        {3, 64, 7, 7, 64, 1, 1, 1, 0, 1, false, 0},
        {3, 37, 1, 1, 11, 1, 1, 1, 0, 1, false, 0},
        {1, 1000, 1, 1, 129, 1, 1, 1, 0, 1, false, 2},
        {2, 33, 10, 10, 129, 5, 5, 2, 2, 1, true, 1},
        {3, 1, 5, 6, 1, 2, 2, 1, 0, 1, false, 0},
        {1, 256, 3, 5, 67, 1, 3, 1, 0, 1, false, 0},
    };
    std::mt19937 random(19);
    return run_cases(cases, [&](const Case& t) { return run(t, random); });
}
