#!/usr/bin/env python3
"""Explicit quantization check: an ONNX Runtime QDQ model (make_qdq.py --mode ort-default) must give the same
top-1 in Octet (which imports its Q/DQ scales and builds an INT8 engine) as in ONNX Runtime, on every photo.

usage: python3 Scripts/int8/compare_qdq_top1.py --octet OCTET --qdq M_qdq.onnx --images DIR [--normalization sample]
Exits 1 when any photo's top-1 differs.
"""
import argparse, os, subprocess, sys, tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from int8common import NORMALIZATION_CHOICES, list_photos, preprocess, resolve_normalization  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--octet", required=True)
    ap.add_argument("--qdq", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--normalization", default="auto", choices=NORMALIZATION_CHOICES)
    a = ap.parse_args()
    norm = resolve_normalization(a.normalization, a.qdq)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    session = ort.InferenceSession(a.qdq, so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    same, rows = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for photo in list_photos(a.images):
            x = preprocess(photo, norm)
            x = x if x.ndim == 4 else x[None]
            inp, out = os.path.join(tmp, "in.npy"), os.path.join(tmp, "out.npy")
            np.save(inp, x)
            r = subprocess.run([a.octet, "run", "--model", a.qdq, "--load-inputs", inp, "--save-outputs", out],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{os.path.basename(photo)}: octet failed: {r.stderr.strip()}")
                rows.append(False)
                continue
            octet_top = int(np.load(out).reshape(-1).argmax())
            ort_top = int(session.run(None, {name: x})[0].reshape(-1).argmax())
            rows.append(octet_top == ort_top)
            same += octet_top == ort_top
            print(f"{os.path.basename(photo):36s} octet {octet_top:4d}  onnxruntime {ort_top:4d}  {'same' if octet_top == ort_top else 'DIFFERENT'}")
    print(f"{os.path.basename(a.qdq)}: same top-1 on {same}/{len(rows)} photos")
    sys.exit(0 if same == len(rows) else 1)


if __name__ == "__main__":
    main()
