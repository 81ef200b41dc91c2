#!/usr/bin/env python3
"""Measure every calibration method on the real models: INT8 top-1 agreement with FP32, in both range modes,
calibrated on all 29 photos (evaluated on all), and calibrated on the first 15 by name (evaluated on the other
14). Writes the markdown table that docs/calibration.md shows, and prints it.

usage: python3 Scripts/calibration_table.py --octet .build/release/octet [--data ../shared/data] [--out table.md]
"""
import argparse, json, os, subprocess, sys, tempfile

METHODS = [("max", []), ("percentile 99.9", ["--method", "percentile", "--percentile", "99.9"]),
           ("percentile 99.99", ["--method", "percentile", "--percentile", "99.99"]),
           ("percentile 99.999", ["--method", "percentile", "--percentile", "99.999"]),
           ("entropy", ["--method", "entropy"]), ("mse", ["--method", "mse"])]
MODELS = ["efficientnet_lite0.onnx", "mobilenet_v2_1.0_224.onnx"]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--octet", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    ap.add_argument("--out")
    a = ap.parse_args()
    images = os.path.join(a.data, "images", "224")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            path = os.path.join(a.data, "models", model)
            for name, args in METHODS:
                if not args:
                    args = ["--method", "max"]
                cells = []
                for split, calib, evaluate in (("all", ["--limit", "29"], []), ("15/14", ["--limit", "15"], ["--skip", "15"])):
                    ranges = os.path.join(tmp, "ranges.txt")
                    run([a.octet, "calibrate", "--model", path, "--images", images, "--output", ranges] + args + calib)
                    for mode in ([], ["--trt-compatible-ranges"]):
                        out = run([a.octet, "compare", "--model", path, "--ranges", ranges, "--images", images,
                                   "--no-tensors", "--json"] + evaluate + mode)
                        result = json.loads(out.strip().splitlines()[-1])
                        cells.append(f"{result['top1_agreement']}/{result['images']}")
                rows.append((model.replace(".onnx", ""), name, cells))
                print(model, name, cells, flush=True)
    lines = ["| model | method | all 29: unsigned non-negative (default) | all 29: TensorRT ranges | "
             "15 → 14: default | 15 → 14: TensorRT ranges |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {m} | {n} | " + " | ".join(c) + " |" for m, n, c in rows]
    table = "\n".join(lines) + "\n"
    print(table)
    if a.out:
        open(a.out, "w").write(table)


if __name__ == "__main__":
    main()
