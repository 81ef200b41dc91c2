#!/usr/bin/env bash
# Regenerates Sources/OctetServing/Generated/ (the Open Inference Protocol's messages and the server side of
# inference.GRPCInferenceService) from Sources/OctetServing/Proto/open_inference_grpc.proto.
#
# Needs protoc (Debian: protobuf-compiler). The two plugins, protoc-gen-swift and protoc-gen-grpc-swift-2, are
# built here from the same swift-protobuf and grpc-swift-protobuf versions the package depends on, in the scratch
# folder .build-codegen (git ignores it; the first build takes several minutes). Pass PROTOC_GEN_SWIFT and
# PROTOC_GEN_GRPC_SWIFT to use plugins built elsewhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
proto_dir="$root/Sources/OctetServing/Proto"
out_dir="$root/Sources/OctetServing/Generated"
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }

if [ -z "${PROTOC_GEN_SWIFT:-}" ] || [ -z "${PROTOC_GEN_GRPC_SWIFT:-}" ]; then
  tools="$root/.build-codegen/tools"
  mkdir -p "$tools/Sources/Placeholder"
  cat > "$tools/Package.swift" <<'SWIFT'
// swift-tools-version: 6.0
import PackageDescription

// Only here to build the two protoc plugins at the versions Octet's Package.swift names.
let package = Package(
    name: "OctetCodegenTools",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    ],
    targets: [.target(name: "Placeholder")]
)
SWIFT
  echo "// empty" > "$tools/Sources/Placeholder/Placeholder.swift"
  (cd "$tools" && swift build --product protoc-gen-swift && swift build --product protoc-gen-grpc-swift-2)
  bin="$(cd "$tools" && swift build --show-bin-path)"
  PROTOC_GEN_SWIFT="$bin/protoc-gen-swift"
  PROTOC_GEN_GRPC_SWIFT="$bin/protoc-gen-grpc-swift-2"
fi

mkdir -p "$out_dir"
protoc --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" --plugin=protoc-gen-grpc-swift-2="$PROTOC_GEN_GRPC_SWIFT" \
  --swift_opt=Visibility=Internal --swift_out="$out_dir" \
  --grpc-swift-2_opt=Visibility=Internal,Server=true,Client=false --grpc-swift-2_out="$out_dir" \
  -I "$proto_dir" "$proto_dir/open_inference_grpc.proto"
echo "wrote $(ls "$out_dir" | tr '\n' ' ')"
