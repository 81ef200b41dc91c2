#!/usr/bin/env bash
# Makes the seed corpora under Fuzz/corpus-work/<harness>/ from the repository's own fixtures (and a few
# tiny hand-written files where the fixtures are too large to mutate quickly). Corpora stay out of git.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/Fuzz/corpus-work"
fixtures="$root/Tests/OctetTests/Fixtures"
demo="$root/data/int8_api"
mkdir -p "$work"/{onnx,ppm,image,rangefile,calibcache,npy,engine,request}

# ONNX: the 28 KB caffe2-style fixture (the bundled EfficientNet is 18 MB, far above -max_len).
cp "$fixtures/caffe2_style_resnet.onnx" "$work/onnx/seed-caffe2_style_resnet.onnx"

# PPM: the demo photo and small P6/P3/16-bit images.
cp "$demo/coffee.ppm" "$work/ppm/seed-coffee.ppm"
printf 'P6\n2 2\n255\n\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0' > "$work/ppm/seed-p6.ppm"
printf 'P3\n# comment\n2 1\n255\n1 2 3 4 5 6\n' > "$work/ppm/seed-p3.ppm"
printf 'P6 1 1 65535 \x01\x02\x03\x04\x05\x06' > "$work/ppm/seed-p6-16bit.ppm"

# JPEG and PNG: the decoding fixtures under 16 KB (every subsampling, progressive, gray, CMYK; PNG bit depths,
# palette, alpha, interlaced), and a small PPM so mutations cross formats.
for f in "$fixtures"/images/*.jpg "$fixtures"/images/*.png; do
    if [[ $(stat -c %s "$f") -le 16384 ]]; then cp "$f" "$work/image/seed-$(basename "$f")"; fi
done
printf 'P6\n2 2\n255\n\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0' > "$work/image/seed-p6.ppm"

# Range files and calibration caches: the demo's, and the fixture's tensor names as a range file.
cp "$demo/efficientnet_lite0_per_tensor_dynamic_range.txt" "$work/rangefile/seed-efficientnet.txt"
sed -e 's/^TensorName: //' -e 's/$/:1.5/' "$fixtures/caffe2_style_resnet_tensors.txt" > "$work/rangefile/seed-caffe2.txt"
cp "$demo/efficientnet_lite0_calibration.cache" "$work/calibcache/seed-efficientnet.cache"

# NumPy: the fixture's input and output tensors.
cp "$fixtures/caffe2_style_resnet_input.npy" "$work/npy/seed-input.npy"
cp "$fixtures/caffe2_style_resnet_output.npy" "$work/npy/seed-output.npy"
# Inference requests (first byte even: JSON only; odd: two bytes of Inference-Header-Content-Length, then JSON +
# binary tensor data): FP32 in JSON, FP32 and BYTES in binary, requested outputs with the extensions' parameters.
printf '\x00{"id":"a","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[[1.5,-2]]}],"outputs":[{"name":"y","parameters":{"classification":2}}]}' > "$work/request/seed-json.bin"
json='{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}],"parameters":{"binary_data_output":true}}'
printf "\\x01\\x$(printf %02x $((${#json} % 256)))\\x$(printf %02x $((${#json} / 256)))%s\\x00\\x00\\x80\\x3f\\x00\\x00\\x00\\x40" "$json" > "$work/request/seed-binary.bin"
json='{"inputs":[{"name":"img","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":13}}]}'
printf "\\x01\\x$(printf %02x $((${#json} % 256)))\\x$(printf %02x $((${#json} / 256)))%s\\x03\\x00\\x00\\x00abc\\x02\\x00\\x00\\x00de" "$json" > "$work/request/seed-bytes.bin"
# Engine files: the fixture built INT8 (ranges of 1.5, as the range-file seed) and FP32, by the debug octet
# (built when missing).
octet="$root/.build/debug/octet"
[[ -x "$octet" ]] || swift build --package-path "$root" --product octet
"$octet" build --model "$fixtures/caffe2_style_resnet.onnx" --ranges "$work/rangefile/seed-caffe2.txt" --save-engine "$work/engine/seed-int8.engine" > /dev/null
"$octet" build --model "$fixtures/caffe2_style_resnet.onnx" --precision fp32 --save-engine "$work/engine/seed-fp32.engine" > /dev/null
echo "seed corpora in $work"
