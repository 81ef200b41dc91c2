#!/usr/bin/env bash
# Regenerates Sources/OctetONNX/Generated/onnx.pb.swift from Sources/OctetONNX/Proto/onnx.proto3.
#
# onnx.proto3 is the proto3 form of the `onnx` Python package's onnx.proto, converted by that package's own
# gen_proto.convert_to_proto3 (pass --refresh-proto to redo that step from the installed `onnx`).
# Needs: protoc (Debian: protobuf-compiler) and protoc-gen-swift built from the swift-protobuf version the
# package depends on:  swift build -c release --product protoc-gen-swift  (in a swift-protobuf checkout),
# then pass its path as PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
proto_dir="$root/Sources/OctetONNX/Proto"
out_dir="$root/Sources/OctetONNX/Generated"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
[ -x "$plugin" ] || { echo "protoc-gen-swift not found: set PROTOC_GEN_SWIFT" >&2; exit 1; }

if [ "${1:-}" = "--refresh-proto" ]; then
  onnx_dir="$(python3 -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')"
  python3 - "$onnx_dir" "$proto_dir/onnx.proto3" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from gen_proto import convert_to_proto3
lines = open(f"{sys.argv[1]}/onnx.proto").read().splitlines()
open(sys.argv[2], "w").write("\n".join(convert_to_proto3(lines)) + "\n")
PY
fi

protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal \
  -I "$proto_dir" --swift_out="$out_dir" "$proto_dir/onnx.proto3"
mv "$out_dir/onnx.proto3.pb.swift" "$out_dir/onnx.pb.swift" 2>/dev/null || true
echo "wrote $out_dir/onnx.pb.swift"
