// Declarations of the CUDA builtins and intrinsics the kernels use, for Scripts/check-cuda-kernels.sh: clang checks
// the kernels in CUDA device mode without the CUDA headers (-nocudainc). Signatures as in the CUDA math API.
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };
extern const __device__ uint3 threadIdx; extern const __device__ uint3 blockIdx; extern const __device__ dim3 blockDim; extern const __device__ dim3 gridDim;
#define __align__(n) __attribute__((aligned(n)))
struct float2 { float x, y; }; struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct int2 { int x, y; }; struct uint2 { unsigned x, y; }; struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
struct int4 { int x, y, z, w; }; struct char4 { signed char x, y, z, w; }; struct uchar4 { unsigned char x, y, z, w; };
__device__ float2 make_float2(float, float); __device__ float4 make_float4(float, float, float, float);
__device__ int2 make_int2(int, int); __device__ uint4 make_uint4(unsigned, unsigned, unsigned, unsigned);
__device__ unsigned __byte_perm(unsigned, unsigned, unsigned); __device__ unsigned long long __cvta_generic_to_shared(const void*);
__device__ float __fadd_rn(float, float); __device__ float __fdiv_rn(float, float); __device__ float __fmul_rn(float, float); __device__ float __fsub_rn(float, float);
__device__ int __float2int_rn(float); __device__ float __int2float_rn(int); __device__ float __uint2float_rn(unsigned); __device__ float __int_as_float(int); __device__ int __float_as_int(float);
__device__ int __shfl_xor_sync(unsigned, int, int, int = 32); __device__ float __shfl_xor_sync(unsigned, float, int, int = 32);
__device__ float __shfl_sync(unsigned, float, int, int = 32);
__device__ unsigned __vmaxs4(unsigned, unsigned); __device__ int __dp4a(int, int, int); __device__ int __dp4a(unsigned, unsigned, unsigned);
__device__ float erff(float); __device__ float expf(float); __device__ float fmaxf(float, float); __device__ float fminf(float, float); __device__ float powf(float, float);
__device__ float sqrtf(float); __device__ float tanhf(float); __device__ float fabsf(float); __device__ float floorf(float); __device__ float logf(float);
__device__ int max(int, int); __device__ int min(int, int); __device__ float max(float, float); __device__ float min(float, float);
__device__ long long max(long long, long long); __device__ long long min(long long, long long);
__device__ void __syncthreads(); __device__ float __frcp_rn(float); __device__ float __expf(float);
__device__ float __fmaf_rn(float, float, float); __device__ int atomicAdd(int*, int); __device__ float atomicAdd(float*, float);
__device__ float __fmaf_rz(float, float, float);
__device__ uint2 make_uint2(unsigned, unsigned); __device__ unsigned __vmaxu4(unsigned, unsigned);
