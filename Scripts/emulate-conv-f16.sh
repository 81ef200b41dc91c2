#!/usr/bin/env bash
# Runs the FP16 convolution kernel (Sources/OctetCUDA/Kernels/conv_f16.cu) on the host, unchanged, with the PTX ISA's
# cvt.rn.f16.f32 and mma.m16n8k16 modelled in C++ (Scripts/cuda-emulation/conv_f16_host.cpp) and 128 threads a block,
# against an exact reference: the kernel's tiling, staging and fragment index arithmetic checked without a GPU.
# Needs a clang with C++20 (the Swift toolchain's, beside swift); without one it says so and exits 0.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/Scripts/find-clang.sh"
if [ -z "$clang" ]; then
  echo "conv_f16 emulation skipped: no clang found (the Swift toolchain's clang normally sits beside swift)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kernels="$root/Sources/OctetCUDA/Kernels"
cat "$root/Scripts/cuda-emulation/host-prelude.h" "$kernels/common.cuh" "$kernels/conv_f16.cu" "$root/Scripts/cuda-emulation/conv_f16_host.cpp" > "$work/emulation.cpp"
"$clang" -x c++ -std=c++20 -O2 -pthread -fno-strict-aliasing -w "$work/emulation.cpp" -o "$work/emulation" -lstdc++ -lm
"$work/emulation"
