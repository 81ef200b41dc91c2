#!/usr/bin/env bash
# Compiles CUDA kernel files as host C++ and runs them with a harness, without a GPU:
#   Scripts/emulate-cuda-on-host.sh HARNESS [KERNEL ...]      (paths relative to Scripts/cuda-emulation and
#                                                              Sources/OctetCUDA/Kernels)
# Scripts/cuda-emulation/host-prelude.h makes the CUDA qualifiers vanish and gives the intrinsics common.cuh uses
# their IEEE host meaning; then common.cuh, the kernels and the harness follow, unchanged. No contraction of a * b + c
# (NVRTC runs with --fmad=false), so the host rounds as the GPU does. Needs a clang with C++20 (the Swift toolchain's,
# beside swift); without one it says "emulation skipped" and exits 0.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
harness=$1
shift
source "$root/Scripts/find-clang.sh"
if [ -z "$clang" ]; then
  echo "$harness emulation skipped: no clang found (the Swift toolchain's clang normally sits beside swift)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kernels="$root/Sources/OctetCUDA/Kernels"
{ cat "$root/Scripts/cuda-emulation/host-prelude.h" "$kernels/common.cuh"
  for kernel in "$@"; do cat "$kernels/$kernel"; done
  cat "$root/Scripts/cuda-emulation/$harness"; } > "$work/emulation.cpp"
"$clang" -x c++ -std=c++20 -O2 -ffp-contract=off -pthread -fno-strict-aliasing -w "$work/emulation.cpp" -o "$work/emulation" -lstdc++ -lm
"$work/emulation"
