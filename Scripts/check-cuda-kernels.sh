#!/usr/bin/env bash
# Type-checks the CUDA kernels (common.cuh followed by every .cu, as CUDAKernelLibrary hands them to NVRTC) with the
# Swift toolchain's clang in CUDA device mode, on a machine without CUDA: syntax, types, overloads and template
# instantiations, so a typo in a kernel is caught before a GPU run (where one compile error takes every kernel down).
# The prelude declares the few CUDA builtins and intrinsics the kernels use; NVRTC's own checks (and inline PTX) are
# only verified on the GPU by `octet selftest --device cuda`.
#   Scripts/check-cuda-kernels.sh [sm_90]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
arch=${1:-sm_90}
# The Swift toolchain's clang (beside `swift`), else any clang on PATH; without one the check is skipped, saying so.
source "$root/Scripts/find-clang.sh"
if [ -z "$clang" ]; then
  echo "CUDA kernel type-check skipped: no clang found (the Swift toolchain's clang normally sits beside swift)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kernels="$root/Sources/OctetCUDA/Kernels"
{ cat "$kernels/common.cuh"; for f in $(cd "$kernels" && ls *.cu | sort); do echo "// ---- $f"; cat "$kernels/$f"; done; } > "$work/octet_kernels.cu"
"$clang" -x cuda --cuda-gpu-arch="$arch" --cuda-device-only -nocudainc -nocudalib -fsyntax-only -ferror-limit=0 \
  -include "$root/Scripts/cuda-syntax/nvrtc-prelude.h" "$work/octet_kernels.cu"
echo "CUDA kernels type-check for $arch"
