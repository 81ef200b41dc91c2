#!/usr/bin/env bash
# Everything Octet's CUDA backend is checked and measured with on the lent H200, in one call (the machine keeps
# nothing between calls). Run from the repository root on the GPU machine, with .gpu/ carried there holding
# octet.xz or octet.gz (the static release binary, compressed), lib/ (libjpeg.so.62, libpng16.so.16), models/*.onnx[.gz] and
# images/{224,128}/*.ppm.
#   bash Benchmarks/cuda/h200_run.sh [steps...]   steps: selftest compare resnet50 bench e2e pytorch (default: all;
#   PYTORCH_COMPILE="resnet50" adds torch.compile max-autotune to the pytorch step),
#   fp16 (FP16 and --best engines against FP32, top-1 and speed; after compare and resnet50, which write the ranges),
#   tvint8 (INT8 vs FP32 top-1 of every torchvision family on the GPU),
#   ptxas (registers and spills), diagnose (Nsight Compute), heuristic (ResNet-50 without timing the convolution tiles),
#   latency (ResNet-50's batch-1 profile, every layer; after resnet50),
#   pointwise (conv_pointwise.cu on and off, alternating; after compare and resnet50, which write the ranges),
#   wgmma (the warpgroup-MMA tiles on and off, alternating; after compare and resnet50),
#   engine (issue #17: ResNet-50 INT8 batch 256 built with tactic timing, saved, loaded; needs the resnet50 step first:
#   RESNET50_COMPARE=0 bash Benchmarks/cuda/h200_run.sh resnet50 engine)
# Logs go to $OUT (or ./h200-out); a summary is printed last.
set -u
OUT=${OUT:-h200-out}
mkdir -p "$OUT" /tmp/octet-models
M=/tmp/octet-models
export OCTET_CACHE_DIR=/tmp/octet-cache
steps=${*:-selftest compare resnet50 bench e2e pytorch}
# The binary travels xz-compressed (octet.xz: with the server it no longer fits the carry limit as gzip) or gzipped.
if [ -f .gpu/octet.xz ]; then
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(".gpu/octet.xz"), open("/tmp/octet", "wb"))'
else
  gunzip -c .gpu/octet.gz > /tmp/octet
fi
chmod +x /tmp/octet
# libjpeg-turbo and libpng, which the binary links dynamically, travel in .gpu/lib (docs/cuda.md).
[ -d .gpu/lib ] && export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# EfficientNet-Lite0 is the bundled demo model, already in the tree.
cp data/int8_api/efficientnet_lite0.onnx "$M" 2>/dev/null || true
for f in .gpu/models/*; do
  case "$f" in *.gz) gunzip -c "$f" > "/tmp/octet-models/$(basename "${f%.gz}")" ;; *) cp "$f" /tmp/octet-models/ ;; esac
done
I224=.gpu/images/224
I128=.gpu/images/128
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv > "$OUT/nvidia-smi.txt" 2>&1

for step in $steps; do
  case $step in
  selftest)
    /usr/bin/time -v /tmp/octet selftest --device cuda > "$OUT/selftest.log" 2> "$OUT/selftest.err"
    summary "selftest rc=$? $(tail -1 "$OUT/selftest.log")"
    # Issue #17 and #16's CUDA checks: the engine file round trip, the float activations, MatMul, the conformance totals.
    summary "$(grep -h 'CUDA engine file round trip\|conv_f16\|FP16 vs FP32\|activation_f32\|matmul_f32\|conformance on\|MISMATCH\|BEYOND\|FAILED' "$OUT/selftest.log")"
    ;;
  compare)
    # Ranges calibrated by Octet on the GPU (FP32 engine, max method), then the INT8 engine on CUDA against the
    # same engine on the CPU over every photo.
    for spec in "efficientnet_lite0 $I224" "mobilenet_v2_1.0_224 $I224" "mobilenet_v1_0.25_128 $I128"; do
      set -- $spec
      /tmp/octet calibrate --device cuda --model $M/$1.onnx --images $2 --method max --output "$OUT/$1_ranges.txt" > "$OUT/calibrate_$1.log" 2>&1
      summary "calibrate $1 on cuda rc=$?"
      [ "${COMPARE_VERSUS_CPU:-1}" = 0 ] && continue # ranges only (for the fp16 or bench steps)
      for mode in "" "--trt-compatible-ranges"; do
        /tmp/octet compare --versus cpu --device cuda --model $M/$1.onnx --ranges "$OUT/$1_ranges.txt" --images $2 $mode > "$OUT/compare_$1$mode.log" 2>&1
        summary "compare $1 $mode rc=$? $(tail -1 "$OUT/compare_$1$mode.log")"
      done
    done
    ;;
  resnet50)
    python3 Scripts/export_torchvision.py $M --models resnet50 --opsets 13 --images $I224 > "$OUT/export_resnet50.log" 2>&1
    summary "export resnet50 rc=$?"
    /tmp/octet calibrate --device cuda --model $M/resnet50_op13.onnx --images $I224 --normalization imagenet --method max --output "$OUT/resnet50_ranges.txt" > "$OUT/calibrate_resnet50.log" 2>&1
    summary "calibrate resnet50 on cuda rc=$?"
    [ "${RESNET50_COMPARE:-1}" = 0 ] && continue # ranges only (for bench or diagnose)
    /tmp/octet compare --versus cpu --device cuda --model $M/resnet50_op13.onnx --ranges "$OUT/resnet50_ranges.txt" --images $I224 --normalization imagenet > "$OUT/compare_resnet50.log" 2>&1
    summary "compare resnet50 rc=$? $(tail -1 "$OUT/compare_resnet50.log")"
    ;;
  bench)
    for spec in "resnet50_op13 resnet50" "efficientnet_lite0 efficientnet_lite0" "mobilenet_v2_1.0_224 mobilenet_v2_1.0_224"; do
      set -- $spec
      [ -f $M/$1.onnx ] || continue
      /tmp/octet bench --device cuda --model $M/$1.onnx --ranges "$OUT/$2_ranges.txt" --batch 1,8,64,256 --iterations 50 --warmup 10 --json > "$OUT/bench_$1.json" 2> "$OUT/bench_$1.err"
      summary "bench $1 rc=$? $(python3 -c 'import json,sys; print("; ".join("b%d e2e %.3f ms compute %.3f ms = %.0f img/s" % (r["batch"], r["p50_ms"], r.get("compute_p50_ms", 0), r.get("compute_throughput_ips", 0)) for r in map(json.loads, open(sys.argv[1]))))' "$OUT/bench_$1.json")"
      for b in 1 256; do
        /tmp/octet bench --device cuda --model $M/$1.onnx --ranges "$OUT/$2_ranges.txt" --batch $b --iterations 10 --warmup 3 --profile > "$OUT/profile_$1_b$b.txt" 2>&1
      done
      summary "$(grep -A12 'per-layer' "$OUT/profile_$1_b256.txt" 2>/dev/null; grep -A8 'per layer type' "$OUT/profile_$1_b256.txt" 2>/dev/null)"
    done
    ;;
  e2e)
    # End to end as an application feeds the engine: float32 NCHW input from pageable memory on one stream, against
    # 8-bit NHWC pixels (pinned upload, normalized on the GPU) on 1 to 3 concurrent streams (needs the ranges of
    # the compare/resnet50 steps; E2E_MODES="float32:1 uint8:3" limits the modes).
    for spec in "resnet50_op13 resnet50" "efficientnet_lite0 efficientnet_lite0" "mobilenet_v2_1.0_224 mobilenet_v2_1.0_224"; do
      for mode in ${E2E_MODES:-"float32 1" "uint8 1" "uint8 2" "uint8 3"}; do
        mode=${mode/:/ } # E2E_MODES="uint8:1 uint8:3" (a colon for the space)
        set -- $spec
        [ -f $M/$1.onnx ] && [ -f "$OUT/$2_ranges.txt" ] || continue
        fmt=${mode% *}; n=${mode#* }; log="$OUT/e2e_$1_${fmt}_s$n"
        /tmp/octet bench --device cuda --model $M/$1.onnx --ranges "$OUT/$2_ranges.txt" --batch 1,256 --iterations 40 --warmup 5 --input-format $fmt --streams $n --json > "$log.json" 2> "$log.err"
        summary "e2e $1 $fmt streams=$n rc=$? $(python3 -c 'import json,sys; print("; ".join("b%d %.0f img/s e2e (p50 %.3f ms), compute p50 %.3f ms = %.0f img/s" % (r["batch"], r["throughput_ips"], r["p50_ms"], r.get("compute_p50_ms", 0), r.get("compute_throughput_ips", 0)) for r in map(json.loads, open(sys.argv[1]))))' "$log.json")"
      done
    done
    ;;
  fp16)
    # Issue #19 part 3: FP16 engines (--fp16; --best = INT8 + FP16 with the ranges the compare and resnet50 steps
    # wrote) against FP32, top-1 over the photos; then FP32 against FP16 speed at batch 1 and 256.
    #   COMPARE_VERSUS_CPU=0 RESNET50_COMPARE=0 bash Benchmarks/cuda/h200_run.sh compare resnet50 fp16
    for spec in "efficientnet_lite0 efficientnet_lite0 -" "mobilenet_v2_1.0_224 mobilenet_v2_1.0_224 -" "resnet50_op13 resnet50 imagenet"; do
      set -- $spec
      [ -f $M/$1.onnx ] || continue
      norm=""; [ "$3" != "-" ] && norm="--normalization $3"
      /tmp/octet compare --device cuda --model $M/$1.onnx --fp16 --images $I224 $norm > "$OUT/fp16_compare_$1.log" 2>&1
      summary "fp16 compare $1 rc=$? $(grep -h 'vs FP32 on\|FP16 was permitted\|Error' "$OUT/fp16_compare_$1.log" | tr '\n' ' ')"
      if [ -f "$OUT/$2_ranges.txt" ]; then
        /tmp/octet compare --device cuda --model $M/$1.onnx --best --ranges "$OUT/$2_ranges.txt" --images $I224 $norm > "$OUT/best_compare_$1.log" 2>&1
        summary "best compare $1 rc=$? $(grep -h 'vs FP32 on\|Error' "$OUT/best_compare_$1.log" | tr '\n' ' ')"
      fi
      for precision in fp32 fp16; do
        log="$OUT/fp16_bench_$1_$precision"
        /tmp/octet bench --device cuda --model $M/$1.onnx --precision $precision --batch 1,256 --iterations 50 --warmup 10 --json > "$log.json" 2> "$log.err"
        summary "fp16 bench $1 $precision rc=$? $(python3 -c 'import json,sys; print("; ".join("b%d e2e %.3f ms compute %.3f ms = %.0f img/s" % (r["batch"], r["p50_ms"], r.get("compute_p50_ms", 0), r.get("compute_throughput_ips", 0)) for r in map(json.loads, open(sys.argv[1]))))' "$log.json" 2>&1 | tail -1)"
      done
    done
    ;;
  ptxas)
    # Registers and spills of the convolution kernels.
    OCTET_CACHE_DIR=/tmp/octet-ptxas OCTET_CUDA_PTXAS_VERBOSE=1 /tmp/octet bench --device cuda --model $M/efficientnet_lite0.onnx --iterations 1 --warmup 0 > /dev/null 2> "$OUT/ptxas.log"
    summary "$(grep -A2 "Function properties for octet_conv_igemm_.*_v16_u8\|Function properties for octet_maxpool\|Function properties for octet_conv_pointwise" "$OUT/ptxas.log" | grep -o 'for octet_[a-z0-9_]*\|[0-9]* bytes spill stores\|Used [0-9]* registers' | paste - - - | head -40)"
    ;;
  diagnose)
    # Hardware counters (Nsight Compute, full set) for ResNet-50's first eight convolutions at batch 256 with one
    # tile shape (OCTET_CUDA_CONV_TILE, default 128x64x64_w64x32_s3), whole report in ncu.txt.
    OCTET_CUDA_CONV_TILE=${OCTET_CUDA_CONV_TILE:-128x64x64_w64x32_s3} timeout 300 ncu --clock-control none --kernel-name regex:octet_conv_igemm --launch-count 8 --set full \
      /tmp/octet bench --device cuda --model $M/resnet50_op13.onnx --ranges "$OUT/resnet50_ranges.txt" --batch 256 --iterations 1 --warmup 0 > "$OUT/ncu.txt" 2>&1
    summary "ncu rc=$?"
    summary "$(grep -E '^  [a-z_0-9]+.*\(|  Duration|DRAM Throughput|Registers Per Thread|Achieved Occupancy|Warp Cycles Per Issued|Issue Slots Busy|L2 Hit Rate  ' "$OUT/ncu.txt" | head -80)"
    ;;
  wgmma)
    # The warpgroup-MMA tiles (sm_90 only) on and off, alternating, on every model whose ranges earlier steps wrote.
    for spec in "resnet50_op13 resnet50" "mobilenet_v2_1.0_224 mobilenet_v2_1.0_224" "efficientnet_lite0 efficientnet_lite0"; do
      set -- $spec
      [ -f "$OUT/$2_ranges.txt" ] || continue
      for round in 1 2; do
        for wg in 1 0; do
          OCTET_CUDA_WGMMA=$wg /tmp/octet bench --device cuda --model $M/$1.onnx --ranges "$OUT/$2_ranges.txt" --batch 1,256 --iterations 50 --warmup 10 --json > "$OUT/wgmma_$1_$wg.json" 2> "$OUT/wgmma_$1_$wg.err"
          summary "wgmma=$wg $1 round $round: $(tr '\n' ' ' < "$OUT/wgmma_$1_$wg.json")"
        done
      done
    done
    ;;
  pointwise)
    # conv_pointwise.cu (short-K 1x1 convolutions) against the same binary without it (OCTET_CUDA_POINTWISE=0 leaves
    # its warp shapes out of tactic timing), alternating, two rounds; then the profile with it. Needs the ranges of
    # the compare/resnet50 steps.
    for spec in "mobilenet_v2_1.0_224 mobilenet_v2_1.0_224" "efficientnet_lite0 efficientnet_lite0" "resnet50_op13 resnet50"; do
      set -- $spec
      [ -f $M/$1.onnx ] && [ -f "$OUT/$2_ranges.txt" ] || continue
      for round in 1 2; do
        for pw in 0 1; do
          OCTET_CUDA_POINTWISE=$pw /tmp/octet bench --device cuda --model $M/$1.onnx --ranges "$OUT/$2_ranges.txt" --batch 1,256 --iterations 50 --warmup 10 --json > "$OUT/pointwise_$1_$pw.json" 2> "$OUT/pointwise_$1_$pw.err"
          summary "$1 pointwise=$pw rc=$? $(python3 -c 'import json,sys; print("; ".join("b%d compute %.3f ms = %.0f img/s" % (r["batch"], r.get("compute_p50_ms", 0), r.get("compute_throughput_ips", 0)) for r in map(json.loads, open(sys.argv[1]))))' "$OUT/pointwise_$1_$pw.json")"
        done
      done
      /tmp/octet bench --device cuda --model $M/$1.onnx --ranges "$OUT/$2_ranges.txt" --batch 256 --iterations 10 --warmup 3 --profile > "$OUT/profile_pointwise_$1_b256.txt" 2>&1
      summary "$(grep -A14 'per-layer' "$OUT/profile_pointwise_$1_b256.txt" 2>/dev/null)"
    done
    ;;
  latency)
    # Where ResNet-50's batch-1 time goes (#19's 0.30 ms bound): every layer of the batch-1 profile, largest first
    # (needs the ranges of the resnet50 step).
    /tmp/octet bench --device cuda --model $M/resnet50_op13.onnx --ranges "$OUT/resnet50_ranges.txt" --batch 1 --iterations 50 --warmup 10 --profile --profile-layers 80 > "$OUT/latency_resnet50_b1.txt" 2>&1
    summary "latency resnet50 b1 rc=$? $(grep -E '^ +1 ' "$OUT/latency_resnet50_b1.txt" | tr -s ' ')"
    summary "$(grep -A8 'per layer type' "$OUT/latency_resnet50_b1.txt" 2>/dev/null)"
    ;;
  heuristic)
    # The tile heuristic alone (OCTET_CUDA_TUNING=0) against the timed choice of the bench step.
    OCTET_CUDA_TUNING=0 /tmp/octet bench --device cuda --model $M/resnet50_op13.onnx --ranges "$OUT/resnet50_ranges.txt" --batch 1,256 --iterations 50 --warmup 10 > "$OUT/heuristic_resnet50.txt" 2>&1
    summary "heuristic resnet50 rc=$? $(grep -E '^ +(1|256) ' "$OUT/heuristic_resnet50.txt" | tr -s ' ' | tr '\n' ';')"
    ;;
  engine)
    # Build ResNet-50 INT8 at batch 256 with tactic timing (kernel cache warm from the resnet50 step, no timing cache)
    # and save it; build again with the timing cache the first build wrote; load the engine and run it; run a freshly
    # built engine on the same input; the logits must be equal. Load time against build time is issue #17's bound
    # (load <= 1/10 of the build), printed in full and without the CUDA driver and context start-up that both pay
    # (the phases "cuda backend opened", "cuda driver opened" and "context created" of the Build/Load phases lines).
    R50=$M/resnet50_op13.onnx
    python3 -c 'import numpy as np; np.save("/tmp/x256.npy", np.random.default_rng(17).standard_normal((256, 3, 224, 224), dtype=np.float32))'
    rm -f /tmp/r50.engine /tmp/r50.timing
    /tmp/octet build --device cuda --model $R50 --ranges "$OUT/resnet50_ranges.txt" --batch 256 --saveEngine=/tmp/r50.engine --timing-cache /tmp/r50.timing > "$OUT/engine_build.log" 2>&1
    summary "engine build rc=$? $(grep -h 'Built\|Build phases\|Saved\|Timing cache' "$OUT/engine_build.log" | tr '\n' ' ')"
    /tmp/octet build --device cuda --model $R50 --ranges "$OUT/resnet50_ranges.txt" --batch 256 --save-engine /tmp/r50-cached.engine --timing-cache /tmp/r50.timing > "$OUT/engine_build_cached.log" 2>&1
    summary "engine build with timing cache rc=$? $(grep -h 'Built\|Timing cache' "$OUT/engine_build_cached.log" | tr '\n' ' ')"
    /tmp/octet run --device cuda --loadEngine=/tmp/r50.engine --load-inputs /tmp/x256.npy --save-outputs /tmp/r50-loaded.npy > "$OUT/engine_load_run.log" 2>&1
    summary "engine load+run rc=$? $(grep -h 'Loaded\|Load phases' "$OUT/engine_load_run.log" | tr '\n' ' ')"
    /tmp/octet run --device cuda --model $R50 --ranges "$OUT/resnet50_ranges.txt" --load-inputs /tmp/x256.npy --save-outputs /tmp/r50-fresh.npy > "$OUT/engine_fresh_run.log" 2>&1
    summary "fresh build+run rc=$?"
    /tmp/octet bench --device cuda --load-engine /tmp/r50.engine --batch 256 --iterations 20 --warmup 5 > "$OUT/engine_bench.log" 2>&1
    summary "bench of the loaded engine rc=$? $(grep -E '^ +256 ' "$OUT/engine_bench.log" | tr -s ' ')"
    summary "$(python3 -c 'import numpy as np, re, sys
a, b = np.load("/tmp/r50-loaded.npy"), np.load("/tmp/r50-fresh.npy")
built, loaded = open(sys.argv[1]).read(), open(sys.argv[2]).read()
build = float(re.search(r"in ([0-9.]+) ms \(", built).group(1))
load = float(re.search(r"\) in ([0-9.]+) ms", loaded).group(1))
def startup(text, title):
    line = re.search(title + r": (.*)", text)
    phases = re.findall(r"(?:^|; )(.+?) ([0-9.]+) ms", line.group(1)) if line else []
    return sum(float(ms) for name, ms in phases if name.startswith(("cuda backend opened", "cuda driver opened", "context created")))
bs, ls = startup(built, "Build phases"), startup(loaded, "Load phases")
print("logits loaded vs fresh: shape %s, identical %s, max |diff| %g; build %.1f ms, load %.1f ms, load/build = 1/%.1f; without the driver and context start-up (build %.1f ms, load %.1f ms of it): %.1f vs %.1f ms, load/build = 1/%.1f" % (a.shape, np.array_equal(a, b), np.abs(a - b).max(), build, load, build / load, bs, ls, build - bs, load - ls, (build - bs) / max(load - ls, 1e-9)))' "$OUT/engine_build.log" "$OUT/engine_load_run.log")"
    ;;
  tvint8)
    # Issue #16's CUDA column of docs/int8-accuracy.md: every torchvision family exported here (random weights,
    # opset 17), Octet-calibrated on the GPU, INT8 against FP32 top-1 over the photos in both range modes
    # (TVINT8_MODELS="a b" limits the families; TVINT8_LIMIT=N the photos of the slow ones, as on the CPU).
    TV=$M/tv
    timeout ${TVINT8_SECONDS:-300} python3 Scripts/export_torchvision.py $TV --opsets 17 --images $I224 --threads 8 ${TVINT8_MODELS:+--models $TVINT8_MODELS} > "$OUT/tvint8_export.log" 2>&1
    summary "tvint8 export rc=$? $(ls $TV/*_op17.onnx 2>/dev/null | wc -l) models"
    timeout ${TVINT8_SECONDS:-300} python3 Scripts/int8_accuracy_torchvision.py --octet /tmp/octet --models $TV --images $I224 --work "$OUT/tvint8" --device cuda \
      ${TVINT8_MODELS:+--only $TVINT8_MODELS} ${TVINT8_LIMIT:+--limit $TVINT8_LIMIT} --markdown "$OUT/tvint8.md" > "$OUT/tvint8.log" 2>&1
    summary "tvint8 rc=$?"
    summary "$(cat "$OUT/tvint8.md" 2>/dev/null)"
    ;;
  pytorch)
    python3 Benchmarks/cuda/pytorch_fp16.py ${PYTORCH_COMPILE:+--compile $PYTORCH_COMPILE} > "$OUT/pytorch_fp16.json" 2> "$OUT/pytorch_fp16.err"
    summary "pytorch rc=$? $(cat "$OUT/pytorch_fp16.json" | tr '\n' ' ')"
    ;;
  esac
done
# The reply carries few files: everything in one archive, and the summary last.
tar czf /tmp/logs.tgz -C "$OUT" . && rm -rf "$OUT"/* && mv /tmp/logs.tgz "$OUT/logs.tgz"
echo "==== summary"; tar xzf "$OUT/logs.tgz" -O ./summary.txt
