// FP16 convolution and fully connected layers (precision FP16, TensorRT's kFP16) as an implicit GEMM on tensor cores:
// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 — half operands, FP32 accumulation — over FP32 NHWC tensors.
//
//   C[M][N] = A[M][K] · B[K][N],  M = batch·OH·OW (output pixels), N = OC, K = KH·KW·C (taps-major: k = (ky·KW + kx)·C + c)
//   A[m][k] = half(x[n][oy·sH − padTop + ky·dH][ox·sW − padLeft + kx·dW][c]), 0 outside the image or beyond K
//   B[k][o] = w[o][k]: the weights packed at build as half, [OC][Kp] with Kp = K rounded up to 32 (zeros after K)
//   y[m][o] = activation(C[m][o] + bias[o] + residual[m][o])       (FloatConvArgs' semantics, conv_f32.cu)
//
// The input is rounded to half (round to nearest even) as it is staged into shared memory, so activations stay FP32 in
// memory and every other kernel is unchanged. Fully connected layers are the 1x1 case over a 1x1 image.
//
// Tiling (correct first, barely tuned): a block of 128 threads computes a 64 (m) x 64 (n) tile in k steps of 32; warp w
// computes rows 32·(w/2) .. +32 and columns 32·(w%2) .. +32 as 2 x 4 mma tiles of 16 x 8. Shared memory holds the step
// as As[64 m][32 k] and Bs[64 n][32 k] halves, rows padded to 40 halves (80 bytes): the fragment loads below (row g,
// 32-bit word t of the row) then fall in 32 distinct banks. Every bound is tested: any M, N, K, stride, padding,
// dilation. Reads: x only inside the tensor; w only its Kp·OC halves; writes y only inside [M][OC].
//
// Fragment layout of mma.m16n8k16 with .f16 operands and .f32 accumulators (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"), with groupID g = lane >> 2 and threadID_in_group t = lane % 4; each .f16x2
// register holds the element of lower index in its low 16 bits:
//   A (16 x 16, row): a0,a1: row g,   cols 2t, 2t+1      a2,a3: row g+8, cols 2t, 2t+1
//                     a4,a5: row g,   cols 2t+8, 2t+9    a6,a7: row g+8, cols 2t+8, 2t+9   (registers {a0,a1} .. {a6,a7})
//   B (16 x 8, col):  b0,b1: rows (k) 2t, 2t+1, col g    b2,b3: rows 2t+8, 2t+9, col g     (registers {b0,b1}, {b2,b3})
//   C (16 x 8):       c0,c1: row g,   cols 2t, 2t+1      c2,c3: row g+8, cols 2t, 2t+1
// `f16_fragment_*` below state exactly this mapping; the loads and the epilogue use nothing else.

#define F16_TILE_M 64
#define F16_TILE_N 64
#define F16_TILE_K 32
#define F16_ROW 40 // halves per shared-memory row: F16_TILE_K + 8

struct HalfConvArgs {
    const float* x;
    const unsigned short* w; // [OC][Kp] IEEE half bits
    const float* bias;       // or null
    const float* residual;   // or null
    float* y;
    int N, H, W, C, OH, OW, KH, KW, strideH, strideW, padTop, padLeft, dilationH, dilationW;
    int OC, K, Kp, M;
    int activation;
    float p0, p1;
};

// Row (m or k) and column (k or n) within the 16 x 16 A tile, the 16 x 8 B tile and the 16 x 8 C tile of element
// `e` (0-7 for A, 0-3 for B and C) held by `lane`: the PTX ISA's formulas above.
__device__ __forceinline__ int f16_fragment_a_row(int lane, int e) { return (lane >> 2) + ((e & 2) ? 8 : 0); }
__device__ __forceinline__ int f16_fragment_a_col(int lane, int e) { return (lane & 3) * 2 + (e & 1) + ((e & 4) ? 8 : 0); }
__device__ __forceinline__ int f16_fragment_b_row(int lane, int e) { return (lane & 3) * 2 + (e & 1) + ((e & 2) ? 8 : 0); }
__device__ __forceinline__ int f16_fragment_b_col(int lane, int) { return lane >> 2; }
__device__ __forceinline__ int f16_fragment_c_row(int lane, int e) { return (lane >> 2) + ((e & 2) ? 8 : 0); }
__device__ __forceinline__ int f16_fragment_c_col(int lane, int e) { return (lane & 3) * 2 + (e & 1); }

// The two halves at (row, col) and (row, col + 1) of a shared-memory tile as one .f16x2 register (col even, so the
// 32-bit load is aligned; the lower column lands in the low half, as mma expects).
__device__ __forceinline__ unsigned f16_pair(const unsigned short* tile, int row, int col) {
    return *(const unsigned*)(tile + row * F16_ROW + col);
}

// The two instructions below are all the kernel uses of the hardware beyond plain C; Scripts/emulate-conv-f16.sh
// replaces them (OCTET_HOST_EMULATION) with a host model of the PTX ISA's definitions and runs this very kernel,
// 128 threads a block with real barriers, against an exact reference — the check that runs without a GPU.
#ifndef OCTET_HOST_EMULATION
// Round to nearest even, as Swift's Float16(x) (the reference twin, Float16Reference).
__device__ __forceinline__ unsigned short f32_to_f16_rn(float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;\n" : "=h"(h) : "f"(v));
    return h;
}

__device__ __forceinline__ void mma_f16_k16(float* c, const unsigned* a, unsigned b0, unsigned b1) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}
#endif // OCTET_HOST_EMULATION

extern "C" __global__ void __launch_bounds__(128) octet_conv_f16_igemm_64x64x32_w32x32__mma_m16n8k16(const HalfConvArgs p)
{
    __shared__ __align__(16) unsigned short As[F16_TILE_M * F16_ROW];
    __shared__ __align__(16) unsigned short Bs[F16_TILE_N * F16_ROW];
    // Per tile row m: the offset of its image in x, and the top-left input pixel of its window (iy0 = −2^30 for
    // rows beyond M, which every bounds test then rejects).
    __shared__ int rowImage[F16_TILE_M], rowY[F16_TILE_M], rowX[F16_TILE_M];

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int m0 = blockIdx.x * F16_TILE_M, n0 = blockIdx.y * F16_TILE_N;
    if (tid < F16_TILE_M) {
        const int m = m0 + tid;
        if (m < p.M) {
            const int ox = m % p.OW, oy = (m / p.OW) % p.OH, n = m / (p.OW * p.OH);
            rowImage[tid] = n * p.H * p.W * p.C;
            rowY[tid] = oy * p.strideH - p.padTop;
            rowX[tid] = ox * p.strideW - p.padLeft;
        } else {
            rowImage[tid] = 0;
            rowY[tid] = -(1 << 30);
            rowX[tid] = 0;
        }
    }
    __syncthreads();

    // Staging: thread tid fills column kk = tid % 32 of rows tid / 32 + 4·i (i < 16) of both tiles, so a warp reads
    // 32 consecutive k — consecutive channels of one tap in x, consecutive halves of one weight row. The next step's
    // values are loaded into registers while the tensor cores work on this one (a register prefetch, one stage).
    const int kk = tid & 31, firstRow = tid >> 5;
    const int warpM = (warp >> 1) * 32, warpN = (warp & 1) * 32;
    unsigned short aNext[F16_TILE_M / 4], bNext[F16_TILE_N / 4];
    auto load = [&](int k0) {
        const int k = k0 + kk;
        const int tap = k / p.C, c = k - tap * p.C, ky = tap / p.KW, kx = tap - ky * p.KW;
        const int dy = ky * p.dilationH, dx = kx * p.dilationW;
        #pragma unroll
        for (int i = 0; i < F16_TILE_M / 4; i++) {
            const int r = firstRow + 4 * i;
            float v = 0.0f;
            const int iy = rowY[r] + dy, ix = rowX[r] + dx;
            if (k < p.K && iy >= 0 && iy < p.H && ix >= 0 && ix < p.W) v = p.x[rowImage[r] + (iy * p.W + ix) * p.C + c];
            aNext[i] = f32_to_f16_rn(v);
        }
        #pragma unroll
        for (int i = 0; i < F16_TILE_N / 4; i++) {
            const int o = n0 + firstRow + 4 * i;
            bNext[i] = o < p.OC ? p.w[o * p.Kp + k] : (unsigned short)0; // k < Kp: rows are padded with zeros
        }
    };
    float acc[2][4][4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    load(0);
    for (int k0 = 0; k0 < p.K; k0 += F16_TILE_K) {
        #pragma unroll
        for (int i = 0; i < F16_TILE_M / 4; i++) As[(firstRow + 4 * i) * F16_ROW + kk] = aNext[i];
        #pragma unroll
        for (int i = 0; i < F16_TILE_N / 4; i++) Bs[(firstRow + 4 * i) * F16_ROW + kk] = bNext[i];
        __syncthreads();
        if (k0 + F16_TILE_K < p.K) load(k0 + F16_TILE_K);
        for (int ks = 0; ks < F16_TILE_K; ks += 16) {
            unsigned a[2][4], b[4][2];
            for (int i = 0; i < 2; i++) {
                const unsigned short* tile = As + (warpM + 16 * i) * F16_ROW + ks;
                // Registers {a0,a1}, {a2,a3}, {a4,a5}, {a6,a7}: elements 0, 2, 4, 6 and their odd neighbours.
                for (int r = 0; r < 4; r++) a[i][r] = f16_pair(tile, f16_fragment_a_row(lane, 2 * r), f16_fragment_a_col(lane, 2 * r));
            }
            for (int j = 0; j < 4; j++) {
                // B[k][n] = Bs[n][k]: {b0,b1} and {b2,b3} are consecutive k of column n.
                const unsigned short* tile = Bs + (warpN + 8 * j) * F16_ROW + ks;
                for (int r = 0; r < 2; r++) b[j][r] = f16_pair(tile, f16_fragment_b_col(lane, 2 * r), f16_fragment_b_row(lane, 2 * r));
            }
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 4; j++) mma_f16_k16(acc[i][j], a[i], b[j][0], b[j][1]);
        }
        __syncthreads();
    }

    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            for (int e = 0; e < 4; e++) {
                const int m = m0 + warpM + 16 * i + f16_fragment_c_row(lane, e);
                const int o = n0 + warpN + 8 * j + f16_fragment_c_col(lane, e);
                if (m >= p.M || o >= p.OC) continue;
                const int index = m * p.OC + o;
                float sum = acc[i][j][e];
                if (p.bias) sum += p.bias[o];
                if (p.residual) sum += p.residual[index];
                p.y[index] = activate(sum, p.activation, p.p0, p.p1);
            }
        }
    }
}
