#!/usr/bin/env bash
# Parses the CUDA kernels (common.cuh followed by every Sources/OctetCUDA/Kernels/*.cu, as NVRTC sees them) with
# clang's CUDA front end, device side only, so syntax and template errors show on a machine without a GPU or the
# CUDA toolkit. The prelude declares the few CUDA built-ins the kernels use (NVRTC provides them without headers);
# a kernel using a new one needs its declaration added here. Exits non-zero on the first file with errors.
#   bash Scripts/check-cuda-syntax.sh [clang++]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
clang=${1:-clang++}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/prelude.h" <<'PRELUDE'
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline))
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
struct uint3 { unsigned x, y, z; };
struct uint2 { unsigned x, y; };
struct uint4 { unsigned x, y, z, w; };
struct int2 { int x, y; };
struct int4 { int x, y, z, w; };
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
__device__ uint2 make_uint2(unsigned, unsigned);
__device__ uint4 make_uint4(unsigned, unsigned, unsigned, unsigned);
__device__ float4 make_float4(float, float, float, float); __device__ float2 make_float2(float, float);
__device__ int4 make_int4(int, int, int, int); __device__ int2 make_int2(int, int);
extern const __device__ uint3 threadIdx, blockIdx, blockDim, gridDim;
__device__ float __int_as_float(int); __device__ int __float_as_int(float);
__device__ float __fsub_rn(float, float); __device__ float __fadd_rn(float, float); __device__ float __fmul_rn(float, float);
__device__ float __fdiv_rn(float, float); __device__ float __fmaf_rn(float, float, float); __device__ float __frcp_rn(float);
__device__ float __fsqrt_rn(float); __device__ float __int2float_rn(int); __device__ int __float2int_rn(float);
__device__ float __uint2float_rn(unsigned);
__device__ float fminf(float, float); __device__ float fmaxf(float, float); __device__ float fabsf(float);
__device__ float expf(float); __device__ float tanhf(float); __device__ float erff(float); __device__ float sqrtf(float);
__device__ float logf(float); __device__ float powf(float, float); __device__ float floorf(float); __device__ float rintf(float);
__device__ unsigned __byte_perm(unsigned, unsigned, unsigned); __device__ int __dp4a(int, int, int);
__device__ int __dp4a(unsigned, unsigned, unsigned); __device__ unsigned __vmaxs4(unsigned, unsigned); __device__ unsigned __vmaxu4(unsigned, unsigned);
__device__ void __syncthreads(); __device__ unsigned __activemask(); __device__ unsigned __cvta_generic_to_shared(const void*);
__device__ float __shfl_xor_sync(unsigned, float, int); __device__ int __shfl_xor_sync(unsigned, int, int);
__device__ float __shfl_down_sync(unsigned, float, int); __device__ int __shfl_down_sync(unsigned, int, int);
__device__ int min(int, int); __device__ int max(int, int);
__device__ int atomicAdd(int*, int); __device__ float atomicAdd(float*, float); __device__ unsigned atomicAdd(unsigned*, unsigned);
PRELUDE
status=0
for file in "$root"/Sources/OctetCUDA/Kernels/*.cu; do
  cat "$work/prelude.h" "$root/Sources/OctetCUDA/Kernels/common.cuh" "$file" > "$work/$(basename "$file")"
  if ! "$clang" -x cuda --cuda-device-only --cuda-gpu-arch=sm_90 -nocudainc -nocudalib -fsyntax-only -w \
      "$work/$(basename "$file")" 2> "$work/errors.txt"; then
    echo "$(basename "$file"): clang reports errors (line numbers count the prelude and common.cuh):"
    head -30 "$work/errors.txt"
    status=1
  fi
done
[ $status = 0 ] && echo "CUDA kernels parse: $(ls "$root"/Sources/OctetCUDA/Kernels/*.cu | wc -l) files"
exit $status
