/*
 * Single-thread throughput of the GEMM kernels against the core's measured peak. Not part of the library
 * (the target excludes bench/). Build and run from the package root:
 *
 *   clang -O3 -ffp-contract=off -ISources/COctetCPUKernels/include Sources/COctetCPUKernels/[a-z]*.c \
 *         Sources/COctetCPUKernels/bench/kernel_bench.c -o /tmp/kernel_bench -lm
 *   taskset -c 1 /tmp/kernel_bench            # caches flushed before every timed run
 *   taskset -c 1 /tmp/kernel_bench --warm     # caches not flushed (data stays in L2/L3 between runs)
 *   (--quick: only the VNNI qgemm rows; --isa avx2,avxvnni: only the qgemm rows of these ISAs, every shape;
 *    --relu-a: A holds post-ReLU int8 activations, q in [0, 127], instead of full-range bytes -- the AVX2 kernel's
 *    vpmaddubsw path; without it every AVX2 row tile takes the widened vpmaddwd path; --a-window W: each row of A
 *    holds bytes u = A ^ 0x80 in a window [lo, lo + W] at a random lo, as signed activations within about +-W/2
 *    -- W <= 128 is the AVX2 kernel's shifted vpmaddubsw path; --a-outliers P: uint8 activations mostly <= 128
 *    with P per mille above (the AVX2 kernel's split path while few 4-byte groups hold one); --mobile: the 1x1
 *    convolutions of MobileNetV2 instead of ResNet-50's shapes; --shape MxNxK: that one GEMM shape alone;
 *    --indirect: ResNet-50's 3x3 convolutions through im2col + GEMM and through the indirect GEMM, AVX-512 VNNI)
 *
 * Peak: a register-only loop of independent accumulations of the row's own ISA, so throughput, not latency,
 * bounds it: 24 zmm vpdpbusd (16 lanes x 4 u8*s8 products = 64 MACs = 128 ops) for avx512vnni, ymm vpdpbusd for
 * avxvnni, and for avx2 the exact byte-path step (vpmaddubsw, vpmaddwd with ones, vpaddd: 32 MACs for three ops,
 * the bound of any exact AVX2 INT8 kernel on bytes <= 128, OpenVINO's included); 24 vfmadd231ps zmm (32 flops
 * each) for sgemm. The peak is measured again right after each row, so load from other processes on the machine
 * shows up in both numbers. Each row shows the best of 5-30 repetitions (more for small shapes).
 * M x N x K are GEMM sizes: ResNet-50 v1 at batch 1, 224x224, with M = output pixels, N = output channels,
 * K = input channels x kernel area.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "COctetCPUKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 1;
static uint32_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)(z ^ (z >> 31));
}

/* --relu-a: A bytes are int8 q in [0, 127] (post-ReLU activations) rather than any byte. */
static int relu_a;
/* --a-window W (1..255): every row's bytes u = A ^ 0x80 within [lo, lo + W], lo random per row; 0 = unused. */
static unsigned a_window;
/* --a-outliers P (per mille): A holds uint8 post-ReLU activations calibrated by their maximum, mostly below 128
 * (an exponential of mean 20), P per mille of them anywhere in 129..255 (the AVX2 kernel's split path). */
static unsigned a_outliers;

static unsigned char* flush_buffer;
static int no_flush;
static void flush_caches(void) {
    if (no_flush) return;
    const size_t size = 64u << 20;
    if (flush_buffer == NULL) flush_buffer = malloc(size);
    for (size_t i = 0; i < size; i += 64) flush_buffer[i] = (unsigned char)(flush_buffer[i] + 1);
}

#if defined(__x86_64__)
#define DP24(OP, R)                                                                                               \
    OP " %%" R "30, %%" R "31, %%" R "0\n\t" OP " %%" R "30, %%" R "31, %%" R "1\n\t" OP " %%" R "30, %%" R   \
       "31, %%" R "2\n\t" OP " %%" R "30, %%" R "31, %%" R "3\n\t" OP " %%" R "30, %%" R "31, %%" R "4\n\t" OP  \
       " %%" R "30, %%" R "31, %%" R "5\n\t" OP " %%" R "30, %%" R "31, %%" R "6\n\t" OP " %%" R "30, %%" R     \
       "31, %%" R "7\n\t" OP " %%" R "30, %%" R "31, %%" R "8\n\t" OP " %%" R "30, %%" R "31, %%" R "9\n\t" OP  \
       " %%" R "30, %%" R "31, %%" R "10\n\t" OP " %%" R "30, %%" R "31, %%" R "11\n\t" OP " %%" R "30, %%" R   \
       "31, %%" R "12\n\t" OP " %%" R "30, %%" R "31, %%" R "13\n\t" OP " %%" R "30, %%" R "31, %%" R           \
       "14\n\t" OP " %%" R "30, %%" R "31, %%" R "15\n\t" OP " %%" R "30, %%" R "31, %%" R "16\n\t" OP " %%" R  \
       "30, %%" R "31, %%" R "17\n\t" OP " %%" R "30, %%" R "31, %%" R "18\n\t" OP " %%" R "30, %%" R "31, %%" \
       R "19\n\t" OP " %%" R "30, %%" R "31, %%" R "20\n\t" OP " %%" R "30, %%" R "31, %%" R "21\n\t" OP " %%" \
       R "30, %%" R "31, %%" R "22\n\t" OP " %%" R "30, %%" R "31, %%" R "23\n\t"

#define CLOBBER_ZMM                                                                                               \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",  \
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23"

__attribute__((target("avx512f,avx512vnni"))) static double peak_vpdpbusd_zmm(long iters) {
    const double t0 = now();
    __asm__ volatile("1:\n\t" DP24("vpdpbusd", "zmm") "dec %0\n\tjnz 1b" : "+r"(iters) : : CLOBBER_ZMM, "cc");
    return now() - t0;
}

__attribute__((target("avx512f,avx512vl,avx512vnni"))) static double peak_vpdpbusd_ymm(long iters) {
    const double t0 = now();
    __asm__ volatile("1:\n\t" DP24("vpdpbusd", "ymm") "dec %0\n\tjnz 1b" : "+r"(iters) : : CLOBBER_ZMM, "cc");
    return now() - t0;
}

/* A register-only loop of one ymm step (STEP(acc, a, w), acc += products of a and w) on eight independent
 * accumulators; the asm barrier keeps the compiler from hoisting the products out of the loop. */
#define OCTET_PEAK_YMM(NAME, TARGET, STEP)                                                                          \
    __attribute__((target(TARGET))) static double NAME(long iters) {                                             \
        __m256i a[8], acc[8];                                                                                    \
        const __m256i w = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);                                      \
        (void)ones;                                                                                              \
        for (int i = 0; i < 8; i++) a[i] = _mm256_set1_epi8((char)(3 + i)), acc[i] = _mm256_setzero_si256();    \
        const double t0 = now();                                                                                 \
        for (long it = 0; it < iters; it++) {                                                                    \
            for (int i = 0; i < 8; i++) acc[i] = STEP(acc[i], a[i], w);                                          \
            __asm__ volatile("" : "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]), "+x"(a[4]), "+x"(a[5]), "+x"(a[6]), \
                             "+x"(a[7]));                                                                        \
        }                                                                                                        \
        const double t = now() - t0;                                                                             \
        __m256i sum = acc[0];                                                                                    \
        for (int i = 1; i < 8; i++) sum = _mm256_add_epi32(sum, acc[i]);                                         \
        volatile int sink = _mm256_extract_epi32(sum, 0);                                                        \
        (void)sink;                                                                                              \
        return t;                                                                                                \
    }
/* AVX2's exact u8 x s8 step (the byte path of qgemm_avx2.c and OpenVINO's AVX2 INT8): vpmaddubsw, vpmaddwd with
 * ones, vpaddd for 32 multiply-adds. */
#define OCTET_BYTE_PATH_STEP(acc, a, w) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), ones))
OCTET_PEAK_YMM(peak_byte_path_ymm, "avx2", OCTET_BYTE_PATH_STEP)
/* AVX-VNNI's vpdpbusd on ymm (VEX-encoded: no AVX-512 needed). */
OCTET_PEAK_YMM(peak_vpdpbusd_avxvnni, "avx2,avxvnni", _mm256_dpbusd_avx_epi32)

/* Accumulators start at 0 and grow by 1e-6 per step: normal floats throughout (no denormal or NaN slow paths). */
__attribute__((target("avx512f"))) static double peak_fma_zmm(long iters) {
    const __m512 one = _mm512_set1_ps(1.0f), tiny = _mm512_set1_ps(1e-6f);
    const double t0 = now();
    __asm__ volatile("vmovaps %1, %%zmm30\n\tvmovaps %2, %%zmm31\n\t"
                     "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
                     "vmovaps %%zmm0, %%zmm1\n\tvmovaps %%zmm0, %%zmm2\n\tvmovaps %%zmm0, %%zmm3\n\t"
                     "vmovaps %%zmm0, %%zmm4\n\tvmovaps %%zmm0, %%zmm5\n\tvmovaps %%zmm0, %%zmm6\n\t"
                     "vmovaps %%zmm0, %%zmm7\n\tvmovaps %%zmm0, %%zmm8\n\tvmovaps %%zmm0, %%zmm9\n\t"
                     "vmovaps %%zmm0, %%zmm10\n\tvmovaps %%zmm0, %%zmm11\n\tvmovaps %%zmm0, %%zmm12\n\t"
                     "vmovaps %%zmm0, %%zmm13\n\tvmovaps %%zmm0, %%zmm14\n\tvmovaps %%zmm0, %%zmm15\n\t"
                     "vmovaps %%zmm0, %%zmm16\n\tvmovaps %%zmm0, %%zmm17\n\tvmovaps %%zmm0, %%zmm18\n\t"
                     "vmovaps %%zmm0, %%zmm19\n\tvmovaps %%zmm0, %%zmm20\n\tvmovaps %%zmm0, %%zmm21\n\t"
                     "vmovaps %%zmm0, %%zmm22\n\tvmovaps %%zmm0, %%zmm23\n\t"
                     "1:\n\t" DP24("vfmadd231ps", "zmm") "dec %0\n\tjnz 1b"
                     : "+r"(iters)
                     : "v"(one), "v"(tiny)
                     : CLOBBER_ZMM, "xmm30", "xmm31", "cc");
    return now() - t0;
}
#endif

typedef struct {
    const char* name;
    size_t M, N, K;
} shape;

static double measure_peak_int8(int32_t level);
static double measure_peak_f32(void);

static void bench_qgemm(int32_t level, octet_qgemm_fn fn, const shape* s) {
    const char* isa_name = octet_cpu_isa_name(level);
    const size_t M = s->M, N = s->N, K = s->K;
    uint8_t* A = malloc(M * K);
    int8_t* W = malloc(K * N);
    int32_t* bias = malloc(N * 4);
    float* mult = malloc(N * 4);
    uint8_t* C = malloc(M * N);
    for (size_t i = 0; i < M * K; i++) A[i] = (uint8_t)(relu_a ? rnd() % 128 : rnd());
    if (a_window > 0) {
        for (size_t m = 0; m < M; m++) {
            const unsigned lo = rnd() % (256 - a_window);
            for (size_t k = 0; k < K; k++) A[m * K + k] = (uint8_t)((lo + rnd() % (a_window + 1)) ^ 0x80);
        }
    }
    if (a_outliers > 0) {
        for (size_t i = 0; i < M * K; i++) {
            const double e = -20.0 * log((rnd() + 1.0) / 4294967297.0);
            A[i] = (uint8_t)(rnd() % 1000 < a_outliers ? 129 + rnd() % 127 : (e > 128 ? 128 : (unsigned)e));
        }
    }
    for (size_t i = 0; i < K * N; i++) W[i] = (int8_t)rnd();
    for (size_t i = 0; i < N; i++) {
        bias[i] = (int32_t)(rnd() % 1000);
        mult[i] = 1e-4f;
    }
    void* packed = aligned_alloc(64, (octet_qgemm_packed_size(N, K) + 63) / 64 * 64);
    octet_qgemm_pack(N, K, W, bias, mult, packed);
    const octet_qgemm_params p = {.min = -128, .max = 127, .residual_multiplier = 0, .output_signed = 1,
                                  .residual_signed = 0, .a_xor = a_outliers > 0 ? 0 : 0x80};
    const double ops = 2.0 * (double)M * (double)N * (double)K;
    const int reps = ops > 4e9 ? 5 : ops > 4e8 ? 10 : 30;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        flush_caches();
        const double t0 = now();
        fn(M, N, K, A, K, packed, C, N, NULL, 0, &p);
        const double t = now() - t0;
        if (t < best) best = t;
    }
    const double gops = ops / best * 1e-9;
    const double peak_gops = measure_peak_int8(level); /* right after: other load on the machine affects both alike */
    printf("| qgemm %-10s | %-24s | %5zu x %5zu x %5zu | %7.1f | %7.1f | %5.1f%% |\n", isa_name, s->name, M, N, K,
           gops, peak_gops, peak_gops > 0 ? 100.0 * gops / peak_gops : 0.0);
    free(A), free(W), free(bias), free(mult), free(C), free(packed);
}

/* --indirect: a 3x3 convolution (pad 1) over an H x H x C uint8 input with N output channels, stride S, one image,
 * as the engine runs it on AVX-512 VNNI before and after the indirect GEMM: im2col patches a block of rows at a time
 * (QuantizedGEMMLayer.runPatchBlocks' block size) then octet_qgemm_avx512vnni, against the indirection table of the
 * same rows then octet_qigemm_avx512vnni. Caches warm (the layer's input and weights fit in L2). */
static void bench_indirect(size_t H, size_t C, size_t N, size_t S) {
#if defined(__x86_64__)
    const size_t taps = 9, K = taps * C, OH = (H + 2 - 3) / S + 1, M = OH * OH;
    uint8_t* x = malloc(H * H * C);
    for (size_t i = 0; i < H * H * C; i++) x[i] = (uint8_t)(rnd() % 128);
    uint8_t* pad = calloc(C, 1);
    int8_t* w = malloc(K * N);
    for (size_t i = 0; i < K * N; i++) w[i] = (int8_t)rnd();
    int32_t* bias = calloc(N, 4);
    float* mult = malloc(4 * N);
    for (size_t i = 0; i < N; i++) mult[i] = 1e-4f;
    const size_t packed_bytes = octet_qgemm_packed_size(N, K);
    void* packed = aligned_alloc(64, (packed_bytes + 63) / 64 * 64);
    octet_qgemm_pack(N, K, w, bias, mult, packed);
    octet_qgemm_params p = {.min = 0, .max = 255, .output_signed = 0};
    p.saturation_clamps = octet_qgemm_saturation_clamps(N, K, packed, &p);
    const size_t block_bytes = packed_bytes < (128u << 10) ? (128u << 10) : packed_bytes > (1u << 20) ? (1u << 20) : packed_bytes;
    const size_t block_rows = block_bytes / K / 6 * 6 < 6 ? 6 : block_bytes / K / 6 * 6;
    uint8_t* patches = malloc(block_rows * K);
    const uint8_t** table = malloc(sizeof(void*) * block_rows * taps);
    uint8_t* out = malloc(M * N);
    double t_im2col = 1e30, t_indirect = 1e30;
    for (int rep = 0; rep < 15; rep++) {
        double t0 = now();
        for (size_t r = 0; r < M; r += block_rows) {
            const size_t rows = M - r < block_rows ? M - r : block_rows;
            octet_im2col(x, H, H, C, 0, C, 3, 3, S, S, 1, 1, 1, 1, OH, OH, r, rows, 1, K, 0, 0, patches);
            octet_qgemm_avx512vnni(rows, N, K, patches, K, packed, out + r * N, N, NULL, 0, &p);
        }
        t_im2col = fmin(t_im2col, now() - t0);
        t0 = now();
        for (size_t r = 0; r < M; r += block_rows) {
            const size_t rows = M - r < block_rows ? M - r : block_rows;
            octet_im2col_indirection(x, H, H, C, 3, 3, S, S, 1, 1, 1, 1, OH, OH, r, rows, pad, table);
            octet_qigemm_avx512vnni(rows, N, taps, C, table, packed, out + r * N, N, NULL, 0, &p);
        }
        t_indirect = fmin(t_indirect, now() - t0);
    }
    const double ops = 2.0 * (double)M * (double)N * (double)K;
    printf("| 3x3 conv %4zux%-4zux%-4zu -> %-4zu s%zu | im2col + qgemm %7.3f ms %6.1f GOPS | indirect %7.3f ms %6.1f GOPS |\n", H,
           H, C, N, S, t_im2col * 1e3, ops / t_im2col * 1e-9, t_indirect * 1e3, ops / t_indirect * 1e-9);
    free(x), free(pad), free(w), free(bias), free(mult), free(packed), free(patches), free(table), free(out);
#else
    (void)H, (void)C, (void)N, (void)S;
#endif
}

static void bench_sgemm(const char* isa_name, octet_sgemm_fn fn, const shape* s) {
    const size_t M = s->M, N = s->N, K = s->K;
    float* A = malloc(M * K * 4);
    float* W = malloc(K * N * 4);
    float* bias = malloc(N * 4);
    float* C = malloc(M * N * 4);
    for (size_t i = 0; i < M * K; i++) A[i] = (float)(rnd() % 100) * 0.01f;
    for (size_t i = 0; i < K * N; i++) W[i] = (float)(rnd() % 100) * 0.01f - 0.5f;
    for (size_t i = 0; i < N; i++) bias[i] = 0.1f;
    float* packed = aligned_alloc(64, (octet_sgemm_packed_size(N, K) + 63) / 64 * 64);
    octet_sgemm_pack(N, K, W, bias, packed);
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    const int reps = flops > 2e9 ? 5 : flops > 2e8 ? 10 : 30;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        flush_caches();
        const double t0 = now();
        fn(M, N, K, A, K, packed, C, N, NULL, 0.0f, INFINITY);
        const double t = now() - t0;
        if (t < best) best = t;
    }
    const double gflops = flops / best * 1e-9;
    const double peak_gflops = measure_peak_f32();
    printf("| sgemm %-10s | %-24s | %5zu x %5zu x %5zu | %7.1f | %7.1f | %5.1f%% |\n", isa_name, s->name, M, N, K,
           gflops, peak_gflops, peak_gflops > 0 ? 100.0 * gflops / peak_gflops : 0.0);
    free(A), free(W), free(bias), free(C), free(packed);
}

/* The INT8 peak of the ISA a kernel uses, GOPS (2 per multiply-add), best of 3 short runs of register-only loops:
 * zmm vpdpbusd for avx512vnni, ymm vpdpbusd for avxvnni, the exact byte-path triple for avx2 (its products are
 * twice as dear as a vpdpbusd's, so a vpdpbusd peak would understate an AVX2 kernel's efficiency); 0 for the rest
 * or where the CPU lacks the ISA. */
static double measure_peak_int8(int32_t level) {
#if defined(__x86_64__)
    if (level <= OCTET_ISA_SCALAR || !octet_cpu_isa_supported(level)) return 0;
    const long iters = 2000000;
    /* Multiply-adds an iteration: 24 zmm vpdpbusd of 64, or 8 ymm steps of 32. */
    const double macs = level == OCTET_ISA_AVX512VNNI ? 24.0 * 64 : 8.0 * 32;
    double t = 1e30;
    for (int i = 0; i < 3; i++) {
        t = fmin(t, level == OCTET_ISA_AVX512VNNI ? peak_vpdpbusd_zmm(iters)
                    : level == OCTET_ISA_AVXVNNI  ? peak_vpdpbusd_avxvnni(iters)
                                                  : peak_byte_path_ymm(iters));
    }
    return 2.0 * macs * (double)iters / t * 1e-9;
#else
    (void)level;
    return 0;
#endif
}

static double measure_peak_f32(void) {
#if defined(__x86_64__)
    if (!octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI)) return 0;
    const long iters = 2000000;
    double t = 1e30;
    for (int i = 0; i < 3; i++) t = fmin(t, peak_fma_zmm(iters));
    return 24.0 * (double)iters * 32 / t * 1e-9;
#else
    return 0;
#endif
}

int main(int argc, char** argv) {
    int quick = 0, mobile = 0;
    const char* only = NULL;
    shape custom = {"custom", 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) only = argv[++i];
        if (strcmp(argv[i], "--warm") == 0) no_flush = 1;
        if (strcmp(argv[i], "--relu-a") == 0) relu_a = 1;
        if (strcmp(argv[i], "--a-window") == 0 && i + 1 < argc) a_window = (unsigned)atoi(argv[++i]) % 256;
        if (strcmp(argv[i], "--a-outliers") == 0 && i + 1 < argc) a_outliers = (unsigned)atoi(argv[++i]);
        if (strcmp(argv[i], "--mobile") == 0) mobile = 1;
        if (strcmp(argv[i], "--indirect") == 0) {
            if (!octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI)) {
                printf("--indirect: this CPU has no AVX-512 VNNI (the indirect GEMM's only ISA)\n");
                return 0;
            }
            /* ResNet-50's 3x3 convolutions at batch 1 (the strided ones by their input). */
            const size_t convs[][4] = {{56, 64, 64, 1}, {56, 128, 128, 2}, {28, 128, 128, 1}, {28, 256, 256, 2},
                                       {14, 256, 256, 1}, {14, 512, 512, 2}, {7, 512, 512, 1}};
            for (size_t c = 0; c < sizeof convs / sizeof convs[0]; c++) bench_indirect(convs[c][0], convs[c][1], convs[c][2], convs[c][3]);
            return 0;
        }
        if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc &&
            sscanf(argv[++i], "%zux%zux%zu", &custom.M, &custom.N, &custom.K) != 3) {
            fprintf(stderr, "--shape takes MxNxK, e.g. 12544x64x148\n");
            return 2;
        }
    }
    const int32_t isa = octet_cpu_hardware_isa();
    printf("hardware ISA: %s; caches %s before each timed run; qgemm A: %s", octet_cpu_isa_name(isa),
           no_flush ? "NOT flushed" : "flushed", relu_a ? "int8 in [0, 127] (post-ReLU)" : "any byte");
    if (a_window > 0) printf(", rows within a window of %u", a_window);
    if (a_outliers > 0) printf(", uint8 activations with %u per mille above 128", a_outliers);
    printf("\n");
#if defined(__x86_64__)
    if (octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI)) {
        const long iters = 20000000;
        peak_vpdpbusd_zmm(iters); /* warm up the clock */
        double tz = 1e30, ty = 1e30;
        for (int i = 0; i < 3; i++) tz = fmin(tz, peak_vpdpbusd_zmm(iters));
        for (int i = 0; i < 3; i++) ty = fmin(ty, peak_vpdpbusd_ymm(iters));
        printf("vpdpbusd: zmm %.2f/ns = %.1f GOPS, ymm %.2f/ns = %.1f GOPS; vfmadd231ps zmm: %.1f GFLOPS\n",
               24.0 * iters / tz * 1e-9, 24.0 * iters * 128 / tz * 1e-9, 24.0 * iters / ty * 1e-9,
               24.0 * iters * 64 / ty * 1e-9, measure_peak_f32());
    }
#endif
    const shape shapes[] = {
        {"res2 1x1 64->64", 3136, 64, 64},     {"res2 3x3 64->64", 3136, 64, 576},
        {"res2 1x1 64->256", 3136, 256, 64},   {"res2 1x1 256->64", 3136, 64, 256},
        {"res3 3x3 128->128", 784, 128, 1152}, {"res3 1x1 512->128", 784, 128, 512},
        {"res3 1x1 128->512", 784, 512, 128},  {"res4 3x3 256->256", 196, 256, 2304},
        {"res4 1x1 1024->256", 196, 256, 1024}, {"res4 1x1 256->1024", 196, 1024, 256},
        {"res5 3x3 512->512", 49, 512, 4608},  {"res5 1x1 2048->512", 49, 512, 2048},
        {"fc 2048->1000", 1, 1000, 2048},      {"square M3136 N256 K2304", 3136, 256, 2304},
        {"M3136 N512 K4608", 3136, 512, 4608},
    };
    /* MobileNetV2 at batch 1: expansions (read the signed linear bottleneck) and projections (read ReLU6 uint8). */
    const shape mobile_shapes[] = {
        {"mnv2 expand 16->96", 12544, 96, 16},  {"mnv2 project 96->24", 3136, 24, 96},
        {"mnv2 expand 24->144", 3136, 144, 24}, {"mnv2 project 144->24", 3136, 24, 144},
        {"mnv2 expand 32->192", 784, 192, 32},  {"mnv2 expand 64->384", 196, 384, 64},
        {"mnv2 expand 96->576", 196, 576, 96},  {"mnv2 expand 160->960", 49, 960, 160},
        {"mnv2 head 320->1280", 49, 1280, 320},
    };
    const shape* table = custom.M > 0 ? &custom : mobile ? mobile_shapes : shapes;
    const size_t nshapes = custom.M > 0 ? 1 : mobile ? sizeof mobile_shapes / sizeof mobile_shapes[0] : sizeof shapes / sizeof shapes[0];
    printf("| kernel           | shape                    |     M x     N x     K | GOPS/GF |    peak | of peak |\n");
    printf("|------------------|--------------------------|-----------------------|---------|---------|---------|\n");
    if (only != NULL) {
        const octet_qgemm_fn kernels[OCTET_ISA_COUNT] = {octet_qgemm_scalar, octet_qgemm_avx2, octet_qgemm_avx512vnni,
                                                         octet_qgemm_avxvnni};
        for (size_t i = 0; i < nshapes; i++) {
            for (int32_t level = 1; level < OCTET_ISA_COUNT; level++) {
                if (strstr(only, octet_cpu_isa_name(level)) != NULL && octet_cpu_isa_supported(level)) {
                    bench_qgemm(level, kernels[level], &table[i]);
                }
            }
        }
        return 0;
    }
    for (size_t i = 0; i < nshapes; i++) {
        if (octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI)) bench_qgemm(OCTET_ISA_AVX512VNNI, octet_qgemm_avx512vnni, &table[i]);
    }
    if (!quick) {
        for (size_t i = 0; i < nshapes; i += 3) {
            if (octet_cpu_isa_supported(OCTET_ISA_AVXVNNI)) bench_qgemm(OCTET_ISA_AVXVNNI, octet_qgemm_avxvnni, &table[i]);
            if (octet_cpu_isa_supported(OCTET_ISA_AVX2)) bench_qgemm(OCTET_ISA_AVX2, octet_qgemm_avx2, &table[i]);
        }
        const shape fshapes[] = {{"res2 3x3 64->64", 3136, 64, 576}, {"res3 3x3 128->128", 784, 128, 1152},
                                 {"res4 1x1 1024->256", 196, 256, 1024}, {"res5 3x3 512->512", 49, 512, 4608}};
        for (size_t i = 0; i < 4; i++) {
            if (octet_cpu_isa_supported(OCTET_ISA_AVX512VNNI)) bench_sgemm("avx512", octet_sgemm_avx512vnni, &fshapes[i]);
            if (octet_cpu_isa_supported(OCTET_ISA_AVX2)) bench_sgemm("avx2", octet_sgemm_avx2, &fshapes[i]);
        }
        bench_qgemm(OCTET_ISA_SCALAR, octet_qgemm_scalar, &(shape){"small", 196, 64, 256});
    }
    return 0;
}
