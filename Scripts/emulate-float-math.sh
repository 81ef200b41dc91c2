#!/usr/bin/env bash
# Compiles common.cuh's float functions (octet_exp, octet_pow, activate) as host C++ with the emulation prelude and
# prints their results on a fixed set of inputs (Scripts/cuda-emulation/float_math_host.cpp); FloatMathTests checks
# them against FloatMath.swift bit for bit. Without contraction (NVRTC runs with --fmad=false), so the host computes
# what the GPU does. Needs a clang (the Swift toolchain's, beside swift); without one it says so and exits 0.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/Scripts/find-clang.sh"
if [ -z "$clang" ]; then
  echo "float math emulation skipped: no clang found (the Swift toolchain's clang normally sits beside swift)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kernels="$root/Sources/OctetCUDA/Kernels"
cat "$root/Scripts/cuda-emulation/host-prelude.h" "$kernels/common.cuh" "$root/Scripts/cuda-emulation/float_math_host.cpp" > "$work/float_math.cpp"
"$clang" -x c++ -std=c++20 -O2 -ffp-contract=off -fno-strict-aliasing -w "$work/float_math.cpp" -o "$work/float_math" -lstdc++ -lm
"$work/float_math"
