# Sourced by the scripts that compile kernels without CUDA: sets $clang to the Swift toolchain's clang (beside
# `swift`), else any clang on PATH, else empty.
clang=""
if command -v swift >/dev/null; then
  candidate="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
  if [ -x "$candidate" ]; then clang=$candidate; fi
fi
if [ -z "$clang" ]; then clang=$(command -v clang || true); fi
