#!/usr/bin/env bash
# Verifies issue #2: every real model in ../shared/data gives expected.tsv's top-1 on every photo through `octet run`.
# usage: Scripts/check_fp32_top1.sh [path/to/octet]
# For each model and photo: octet run --precision fp32 ... and compare the printed top-1 with expected.tsv.
B=${1:-.build/debug/octet}; D=/work/shared/data
pass=0; fail=0
while IFS=$'\t' read -r file rest; do
  [ "$file" = file ] && continue
  eff=$(echo "$rest" | cut -f5); mnv2=$(echo "$rest" | cut -f12); mnv1=$(echo "$rest" | cut -f19)
  for spec in "efficientnet_lite0.onnx 224 $eff" "mobilenet_v2_1.0_224.onnx 224 $mnv2" "mobilenet_v1_0.25_128.onnx 128 $mnv1"; do
    set -- $spec
    got=$($B run --precision fp32 --model $D/models/$1 --image $D/images/$2/$file --reference $D/labels/imagenet1k_labels.txt | grep '\[I\] \[1\]' | sed 's/.*(class \([0-9]*\),.*/\1/')
    if [ "$got" = "$3" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "MISMATCH $1 $file got=$got want=$3"; fi
  done
done < $D/images/expected.tsv
echo "$pass passed, $fail failed"
