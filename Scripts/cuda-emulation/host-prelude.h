// Lets a CUDA kernel file compile as host C++ for Scripts/emulate-cuda-on-host.sh: the CUDA qualifiers vanish, __shared__
// arrays become statics (one block runs at a time), the index registers are variables the harness sets per thread,
// and the few intrinsics common.cuh uses get their IEEE host meaning. The harness (conv_f16_host.cpp, conv_wgmma_host.cpp,
// conv_pointwise_host.cpp) defines the hardware instructions the kernel wraps and the barrier behind __syncthreads.
#include <math.h>
#include <string.h>
#define OCTET_HOST_EMULATION 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
struct uint2 { unsigned x, y; } __attribute__((aligned(8)));
struct uint3 { unsigned x, y, z; };
struct uint4 { unsigned x, y, z, w; } __attribute__((aligned(16)));
struct int2 { int x, y; } __attribute__((aligned(8)));
struct float2 { float x, y; } __attribute__((aligned(8)));
struct float4 { float x, y, z, w; } __attribute__((aligned(16)));
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline int atomicAdd(int* address, int value) { return __atomic_fetch_add(address, value, __ATOMIC_RELAXED); }
extern thread_local uint3 threadIdx;
extern uint3 blockIdx, blockDim, gridDim;
inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; memcpy(&v, &f, 4); return v; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline int __float2int_rn(float v) { return (int)nearbyintf(v); }
inline float __int2float_rn(int v) { return (float)v; }
// Byte n of the result is byte (selector >> 4n) & 7 of the eight bytes y:x (x the low four).
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned selector) {
    const unsigned long long bytes = (unsigned long long)y << 32 | x;
    unsigned result = 0;
    for (int n = 0; n < 4; n++) result |= (unsigned)(bytes >> (8 * ((selector >> (4 * n)) & 7)) & 0xff) << (8 * n);
    return result;
}
unsigned short f32_to_f16_rn(float v);
void mma_f16_k16(float* c, const unsigned* a, unsigned b0, unsigned b1);
void mma_m16n8k32_int8(int* d, const unsigned* a, unsigned b0, unsigned b1, const int* c, bool signedA);
void __syncthreads();

// Runs every case through `run` (true: it passed), prints "PASSED: n of m cases" (or FAILED) and returns the exit
// status the emulation scripts report: 0 when every case passed.
#include <stdio.h>
template <class Case, unsigned long N, class Run>
int run_cases(const Case (&cases)[N], Run run) {
    int passed = 0;
    for (const Case& c : cases) passed += run(c) ? 1 : 0;
    printf("%s: %d of %d cases\n", passed == (int)N ? "PASSED" : "FAILED", passed, (int)N);
    return passed == (int)N ? 0 : 1;
}

// Runs `kernel(arguments)` as one block of `threads` std::threads, each with its own threadIdx.x, and waits for all.
#include <thread>
#include <vector>
template <class Arguments>
void run_block(unsigned threads, void (*kernel)(Arguments), const Arguments& arguments) {
    std::vector<std::thread> running;
    for (unsigned i = 0; i < threads; i++) {
        running.emplace_back([i, kernel, &arguments] {
            threadIdx = {i, 0, 0};
            kernel(arguments);
        });
    }
    for (auto& thread : running) thread.join();
}
