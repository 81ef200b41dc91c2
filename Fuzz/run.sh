#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs one (or all) for a given time.
#   Fuzz/run.sh HARNESS SECONDS [extra libFuzzer flags]   HARNESS: onnx ppm image rangefile calibcache npy engine request | all
#   ASAN=1 Fuzz/run.sh ...    debug build with AddressSanitizer (slower; release without it is the default)
# Corpora grow in Fuzz/corpus-work/HARNESS (seeded by Fuzz/seeds.sh); crashes go to Fuzz/findings/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
harness="${1:?usage: Fuzz/run.sh HARNESS|all SECONDS [libFuzzer flags]}"
seconds="${2:?usage: Fuzz/run.sh HARNESS|all SECONDS [libFuzzer flags]}"
shift 2

declare -A product=([onnx]=FuzzONNX [ppm]=FuzzPPM [image]=FuzzImage [rangefile]=FuzzRangeFile [calibcache]=FuzzCalibrationCache [npy]=FuzzNumPy [engine]=FuzzEngineFile [request]=FuzzInferenceRequest)
declare -A maxlen=([onnx]=65536 [ppm]=4096 [image]=16384 [rangefile]=4096 [calibcache]=4096 [npy]=4096 [engine]=65536 [request]=16384)

if [[ "${ASAN:-0}" == 1 ]]; then
    configuration=debug; sanitizers=fuzzer,address; c_sanitizers=fuzzer-no-link,address
else
    configuration=release; sanitizers=fuzzer; c_sanitizers=fuzzer-no-link
fi
# The C targets too (the image codecs' shim, the kernels), so libFuzzer sees their coverage; the system's libjpeg
# and libpng themselves stay uninstrumented.
build=(swift build --package-path "$root/Fuzz" --scratch-path "$root/.build-fuzz/$configuration" -c "$configuration"
       -Xswiftc "-sanitize=$sanitizers" -Xswiftc -parse-as-library -Xcc "-fsanitize=$c_sanitizers")

# Swift's backtracer would catch the trap first and libFuzzer would then save no crash file.
export SWIFT_BACKTRACE=enable=no
names=("$harness")
[[ "$harness" == all ]] && names=(onnx ppm image rangefile calibcache npy engine request)
[[ -d "$root/Fuzz/corpus-work" ]] || "$root/Fuzz/seeds.sh"
mkdir -p "$root/Fuzz/findings"
for name in "${names[@]}"; do
    [[ -n "${product[$name]:-}" ]] || { echo "unknown harness '$name'" >&2; exit 2; }
    "${build[@]}" --product "${product[$name]}"
    binary="$("${build[@]}" --show-bin-path)/${product[$name]}"
    echo "== $name: ${seconds}s, $binary"
    "$binary" "$root/Fuzz/corpus-work/$name" -max_total_time="$seconds" -max_len="${maxlen[$name]}" \
        -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$root/Fuzz/findings/$name-" "$@"
done
