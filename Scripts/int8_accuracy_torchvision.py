#!/usr/bin/env python3
"""INT8 against FP32 top-1 agreement for the torchvision exports, with Octet-calibrated ranges, in Octet's default
mode (unsigned tensors where provably non-negative) and TensorRT-compatible mode (--trt-compatible-ranges).

usage: python3 Scripts/int8_accuracy_torchvision.py --octet .build/debug/octet --models .models/tv
           [--opset 17] [--images /work/shared/data/images/224] [--work .models/int8] [--only resnet18 ...]
           [--device cpu] [--limit N] [--markdown table.md]

Per model: `octet calibrate --recipe torchvision` (max method) over the photos writes ranges.txt, then
`octet compare --no-tensors --json` (and again with --trt-compatible-ranges) runs INT8 and FP32 on every photo.
Results (JSON) are kept in --work and reused when present. Weights are random (export_torchvision.py): agreement
measures how faithfully INT8 follows FP32, not accuracy on labels.
"""
import argparse, json, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torchvision import MODELS  # noqa: E402


def run(cmd, out_path, err_path):
    with open(out_path, "w") as out, open(err_path, "w") as err:
        return subprocess.run(cmd, stdout=out, stderr=err).returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True)
    ap.add_argument("--models", required=True, help="folder of <model>_op<V>.onnx (export_torchvision.py OUTDIR)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--images", default="/work/shared/data/images/224")
    ap.add_argument("--work", default=".models/int8")
    ap.add_argument("--only", nargs="+")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--limit", type=int, help="calibrate and compare on the first N photos only (slow models)")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    limit = ["--limit", str(args.limit)] if args.limit else []
    rows = []
    for name in MODELS[:22]:
        if args.only and name not in args.only:
            continue
        model = os.path.join(args.models, f"{name}_op{args.opset}.onnx")
        if not os.path.exists(model):
            continue
        base = os.path.join(args.work, name)
        ranges = base + "_ranges.txt"
        row = dict(model=name)
        if not os.path.exists(ranges):
            rc = run([args.octet, "calibrate", "--model", model, "--images", args.images, "--recipe", "torchvision",
                      "--device", args.device, "--output", ranges] + limit, base + "_calibrate.log", base + "_calibrate.err")
            if rc != 0:
                row["error"] = open(base + "_calibrate.err").read().strip().splitlines()[-1:]
                rows.append(row)
                print(name, "calibration failed", row["error"], flush=True)
                continue
        for mode, extra in [("default", []), ("trt", ["--trt-compatible-ranges"])]:
            result = f"{base}_{mode}.json"
            if not os.path.exists(result) or os.path.getsize(result) == 0:
                run([args.octet, "compare", "--model", model, "--ranges", ranges, "--images", args.images, "--recipe",
                     "torchvision", "--device", args.device, "--no-tensors", "--json"] + extra + limit, result, f"{base}_{mode}.err")
            try:
                row[mode] = json.load(open(result))
            except (OSError, ValueError):
                row.setdefault("error", []).append(f"{mode}: " + (open(f"{base}_{mode}.err").read().strip().splitlines() or ["?"])[-1])
        rows.append(row)
        print(name, {m: (row[m]["top1_agreement"], row[m]["images"]) for m in ("default", "trt") if m in row}, flush=True)

    lines = ["| model | INT8 layers | top-1 agreement, default | top-1 agreement, TensorRT ranges | note |", "|---|---:|---:|---:|---|"]
    for r in rows:
        d, t = r.get("default"), r.get("trt")
        cell = lambda x: f"{x['top1_agreement']}/{x['images']}" if x else "-"
        layers = f"{d['int8_layers']}/{d['layers']}" if d else "-"
        lines.append(f"| {r['model']} | {layers} | {cell(d)} | {cell(t)} | {'; '.join(r.get('error', []))} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        open(args.markdown, "w").write(text + "\n")


if __name__ == "__main__":
    main()
