#!/usr/bin/env bash
# Checks that another Swift package can depend on Octet the way users do, by URL: a throwaway package depends on
# this repository through a file:// git URL at its current commit (committed work only), builds, and classifies
# the bundled demo photo through the library API (SwiftPM refuses unsafe flags in such a dependency).
# Usage: Scripts/check-library-dependency.sh [WORK_DIR]   (CI runs it; takes a debug build of Octet, minutes)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/octet-dependent.XXXXXX)}"
commit="$(git -C "$root" rev-parse HEAD)"
mkdir -p "$work/Sources/classify"
cat > "$work/Package.swift" <<SWIFT
// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "OctetDependent",
    dependencies: [.package(url: "file://$root", revision: "$commit")],
    targets: [.executableTarget(name: "classify", dependencies: [.product(name: "Octet", package: "$(basename "$root")")])]
)
SWIFT
cat > "$work/Sources/classify/main.swift" <<'SWIFT'
import Octet

// The sample's workflow through the library: import, ranges, INT8 engine on the CPU, one photo, top-1.
let data = CommandLine.arguments[1]
var (network, _) = try ONNXImporter.importModel(path: "\(data)/efficientnet_lite0.onnx")
network.apply(try DynamicRanges.readRangeFile(path: "\(data)/efficientnet_lite0_per_tensor_dynamic_range.txt"))
let engine = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend()).build(network)
let input = network[network.inputs[0]]
let image = try PPM.read(path: "\(data)/coffee.ppm").inputTensor(height: input.shape[2], width: input.shape[3], normalization: .sample)
let logits = try engine.makeContext().execute([input.name: image])[engine.outputNames[0]]!.values
let top1 = logits.indices.max { logits[$0] < logits[$1] }!
print("top-1 class \(top1) with \(engine.plan.report.int8LayerCount) INT8 layers")
SWIFT
echo "dependent package in $work depends on file://$root at $commit"
cd "$work"
swift build --product classify 2>&1 | tail -n 3
output="$(.build/debug/classify "$root/data/int8_api")"
echo "$output"
case "$output" in
  "top-1 class 967 with "*) echo "library dependency check passed (967 = espresso)";;
  *) echo "library dependency check FAILED: expected class 967 (espresso)" >&2; exit 1;;
esac
