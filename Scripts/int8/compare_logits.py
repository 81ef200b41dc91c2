#!/usr/bin/env python3
"""Compare Octet's INT8 logits with onnxruntime running the TensorRT-semantics QDQ model (make_qdq.py --mode trt).

usage: python3 Scripts/int8/compare_logits.py --octet .build/release/octet --model M.onnx --ranges R.txt
           --qdq M_trt_qdq.onnx --images DIR [--octet-args "..."] [--normalization auto|sample|imagenet|...]
           [--min-cosine 0.99] [--keep DIR] [--timeout 600]

For every *.ppm in DIR (sorted) the preprocessed [1,3,H,W] float32 input is saved as .npy, then
    OCTET run --model M --ranges R --load-inputs in.npy --save-outputs out.npy --trt-compatible-ranges [ARGS]
runs, onnxruntime (CPUExecutionProvider, ORT_DISABLE_ALL) runs the QDQ model and the FP32 model on the same
input, and one line per photo gives the logit cosine Octet-vs-QDQ and Octet-vs-FP32 and the three top-1s.
A failing Octet run (non-zero exit, timeout, missing/malformed out.npy) prints its stderr and counts as a
failure. Exits 1 when any photo failed or any Octet-vs-QDQ cosine is below --min-cosine (default 0.99).
Without --octet only the onnxruntime side runs (QDQ vs FP32), which checks the QDQ model and the inputs.
--octet-default-mode leaves out --trt-compatible-ranges, for a QDQ model made with --unsigned-nonnegative.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from int8common import NORMALIZATION_CHOICES, load_photo_inputs, resolve_normalization  # noqa: E402
from make_qdq import cosine, ort_session  # noqa: E402


def run_octet(cmd, out, timeout):
    """-> (array or None, error message)."""
    if os.path.exists(out):
        os.remove(out)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout}s"
    except OSError as e:
        return None, f"cannot run {cmd[0]}: {e}"
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip() or p.stdout.decode(errors="replace").strip()
        return None, f"exit {p.returncode}\n{err[-3000:]}"
    try:
        y = np.load(out)
    except Exception as e:
        return None, f"cannot read {out}: {e}"
    if not np.issubdtype(y.dtype, np.floating):
        return None, f"{out} has dtype {y.dtype}, expected float32"
    return y, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--octet", help="octet CLI binary (omit to check only the onnxruntime side)")
    ap.add_argument("--model", required=True, help="FP32 ONNX model")
    ap.add_argument("--ranges", required=True, help="range file given to Octet (and used for --qdq)")
    ap.add_argument("--qdq", required=True, help="QDQ model from make_qdq.py --mode trt")
    ap.add_argument("--images", required=True, help="folder of P6 PPM photos of the model's input size")
    ap.add_argument("--octet-args", default="", help="extra arguments for 'octet run' (one shell-quoted string)")
    ap.add_argument("--octet-default-mode", action="store_true",
                    help="leave out --trt-compatible-ranges (compare with a make_qdq --unsigned-nonnegative model)")
    ap.add_argument("--normalization", default="auto", choices=NORMALIZATION_CHOICES,
                    help="auto (default): imagenet for <name>_op<N>.onnx torchvision exports, else sample")
    ap.add_argument("--min-cosine", type=float, default=0.99, help="fail below this Octet-vs-QDQ cosine")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per Octet run")
    ap.add_argument("--keep", help="keep the .npy inputs and outputs in this folder")
    args = ap.parse_args()

    norm = resolve_normalization(args.normalization, args.model)
    inputs = load_photo_inputs(args.model, args.images, norm)
    octet = None
    if args.octet:
        octet = args.octet if os.sep in args.octet else (shutil.which(args.octet) or args.octet)
    print(f"model {args.model}\nqdq   {args.qdq}\nranges {args.ranges}\n{len(inputs)} photos from {args.images}, "
          f"normalization {norm}; octet: {octet or '(not run)'}")
    s_fp, s_q = ort_session(args.model), ort_session(args.qdq)
    in_fp, in_q = s_fp.get_inputs()[0].name, s_q.get_inputs()[0].name

    work = args.keep or tempfile.mkdtemp(prefix="octet_int8_cmp_")
    os.makedirs(work, exist_ok=True)
    extra = shlex.split(args.octet_args)
    hdr = (f"{'photo':<26} {'cos(oct,qdq)':>12} {'cos(oct,fp32)':>13} {'cos(qdq,fp32)':>13} "
           f"{'top1 oct':>8} {'qdq':>5} {'fp32':>5}  note")
    print(hdr)
    print("-" * len(hdr))
    failures, cos_oq, cos_of, cos_qf = 0, [], [], []
    top_oq = top_of = top_qf = 0
    n_octet = 0
    t_octet = 0.0
    last_err = None
    for name, x in inputs:
        y_fp = s_fp.run(None, {in_fp: x})[0]
        y_q = s_q.run(None, {in_q: x})[0]
        c_qf = cosine(y_q, y_fp)
        cos_qf.append(c_qf)
        a_q, a_fp = int(np.argmax(y_q)), int(np.argmax(y_fp))
        top_qf += a_q == a_fp
        c_oq = c_of = None
        a_o = None
        note = ""
        if octet:
            ip, op = os.path.join(work, f"in_{name}.npy"), os.path.join(work, f"out_{name}.npy")
            np.save(ip, x)
            cmd = [octet, "run", "--model", args.model, "--ranges", args.ranges, "--load-inputs", ip,
                   "--save-outputs", op] + ([] if args.octet_default_mode else ["--trt-compatible-ranges"]) + extra
            t0 = time.time()
            y_o, err = run_octet(cmd, op, args.timeout)
            t_octet += time.time() - t0
            if y_o is None:
                failures += 1
                note = "OCTET FAILED"
                print(f"{name:<26} {'-':>12} {'-':>13} {c_qf:>13.6f} {'-':>8} {a_q:>5} {a_fp:>5}  {note}")
                if err == last_err:
                    print("    (the same error as above)", flush=True)
                else:
                    print("    " + " ".join(shlex.quote(c) for c in cmd))
                    print("    " + err.replace("\n", "\n    "), flush=True)
                last_err = err
                continue
            if y_o.size != y_q.size:
                failures += 1
                print(f"{name:<26} octet output shape {y_o.shape} != {y_q.shape}  OCTET FAILED", flush=True)
                continue
            n_octet += 1
            c_oq, c_of = cosine(y_o, y_q), cosine(y_o, y_fp)
            cos_oq.append(c_oq)
            cos_of.append(c_of)
            a_o = int(np.argmax(y_o))
            top_oq += a_o == a_q
            top_of += a_o == a_fp
            if not c_oq >= args.min_cosine:
                note = f"below {args.min_cosine}"
        f = (lambda v: f"{v:.6f}" if v is not None else "-")
        print(f"{name:<26} {f(c_oq):>12} {f(c_of):>13} {c_qf:>13.6f} {a_o if a_o is not None else '-':>8} "
              f"{a_q:>5} {a_fp:>5}  {note}", flush=True)

    n = len(inputs)
    print()
    print(f"onnxruntime QDQ vs FP32: top-1 {top_qf}/{n}, min cosine {min(cos_qf):.6f}, mean {np.mean(cos_qf):.6f}")
    bad = 0
    if octet:
        if cos_oq:
            bad = sum(not c >= args.min_cosine for c in cos_oq)
            print(f"Octet vs QDQ:  top-1 {top_oq}/{n_octet}, min cosine {min(cos_oq):.6f}, "
                  f"mean {np.mean(cos_oq):.6f}, {bad} below {args.min_cosine}")
            print(f"Octet vs FP32: top-1 {top_of}/{n_octet}, min cosine {min(cos_of):.6f}")
            print(f"Octet time: {t_octet:.1f}s for {n} runs")
        print(f"Octet failed on {failures}/{n} photos")
        ok = failures == 0 and bad == 0
        print("PASS" if ok else "FAIL")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        sys.exit(0 if ok else 1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
