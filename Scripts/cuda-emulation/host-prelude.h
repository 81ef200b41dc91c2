// Lets a CUDA kernel file compile as host C++ for Scripts/emulate-cuda-on-host.sh: the CUDA qualifiers vanish, __shared__
// arrays become statics (one block runs at a time), the index registers are variables the harness sets per thread,
// and the few intrinsics common.cuh uses get their IEEE host meaning. The harness (conv_f16_host.cpp) defines the
// hardware instructions the kernel wraps and the barrier behind __syncthreads.
#include <math.h>
#include <string.h>
#define OCTET_HOST_EMULATION 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
struct uint3 { unsigned x, y, z; };
extern thread_local uint3 threadIdx;
extern uint3 blockIdx;
inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; memcpy(&v, &f, 4); return v; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline int __float2int_rn(float v) { return (int)nearbyintf(v); }
unsigned short f32_to_f16_rn(float v);
void mma_f16_k16(float* c, const unsigned* a, unsigned b0, unsigned b1);
void __syncthreads();
