#!/usr/bin/env python3
"""Compare Octet's FP32 outputs with onnxruntime on the torchvision exports made by export_torchvision.py.

usage: python3 Scripts/compare_torchvision.py --octet .build/release/octet --models .models
           [--images /work/shared/data/images/224] [--photos chelsea_png coffee_png owl_jpg]
           [--only resnet50 vgg19] [--tolerance 1e-4] [--markdown results.md] [--keep DIR]

For every OUTDIR/<model>_op<V>.onnx and every photo: the photo (224x224 P6 PPM) is normalised with the ImageNet
mean/std into a float32 NCHW [1,3,224,224] batch and saved as .npy; then
    OCTET run --precision fp32 --model M --load-inputs in.npy --save-outputs out.npy
is run, and onnxruntime (CPUExecutionProvider, ORT_DISABLE_ALL) runs the same input. A model/opset passes when
the relative L2 error ||octet - ort|| / ||ort|| is <= --tolerance for every photo. A failing octet run (non-zero
exit, timeout, missing or malformed out.npy) prints its stderr and counts as FAIL. Exits 1 if anything failed.
"""
import argparse, datetime, glob, os, platform, re, shutil, subprocess, sys, tempfile, time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "int8"))
from int8common import cpu_model, read_ppm  # noqa: E402  (one PPM reader and machine line for all scripts)

from export_torchvision import MODELS  # noqa: E402  (one list of families, in the table's order)
DEFAULT_PHOTOS = ["chelsea_png", "coffee_png", "owl_jpg"]
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def preprocess(path):
    a = (read_ppm(path).astype(np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])  # [1,3,H,W]


def versions():
    """torch, torchvision and onnx versions (the exporters), as installed."""
    import importlib.metadata as md
    found = []
    for package in ["torch", "torchvision", "onnx"]:
        try:
            found.append(f"{package} {md.version(package)}")
        except md.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found) + " (torch.onnx.export, dynamo=False; random weights, see export_torchvision.py)"


def find_models(d, only):
    rows = []
    for p in glob.glob(os.path.join(d, "*_op*.onnx")):
        m = re.fullmatch(r"(.+)_op(\d+)\.onnx", os.path.basename(p))
        if m and (not only or m.group(1) in only):
            rows.append((m.group(1), int(m.group(2)), p))
    order = {m: i for i, m in enumerate(MODELS)}
    return sorted(rows, key=lambda r: (order.get(r[0], len(order)), r[0], r[1]))


def run_octet(octet, model, inp, out, timeout):
    """-> (ok, output array or None, message)."""
    if os.path.exists(out):
        os.remove(out)
    cmd = [octet, "run", "--precision", "fp32", "--model", model, "--load-inputs", inp, "--save-outputs", out]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, None, f"timed out after {timeout}s: {' '.join(cmd)}", time.time() - t0
    except OSError as e:
        return False, None, f"cannot run {octet}: {e}", time.time() - t0
    dt = time.time() - t0
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip() or p.stdout.decode(errors="replace").strip()
        return False, None, f"exit {p.returncode}: {' '.join(cmd)}\n{err[-4000:]}", dt
    try:
        y = np.load(out)
    except Exception as e:
        return False, None, f"cannot read {out}: {e}", dt
    return True, y, "", dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True, help="path to the octet CLI binary")
    ap.add_argument("--models", required=True, help="folder with <model>_op<V>.onnx (export_torchvision.py OUTDIR)")
    ap.add_argument("--images", default="/work/shared/data/images/224", help="folder of 224x224 P6 PPM photos")
    ap.add_argument("--photos", nargs="+", default=DEFAULT_PHOTOS, help="photo names (without .ppm) in --images")
    ap.add_argument("--only", nargs="+", help="compare only these model names")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max relative L2 error for PASS (default 1e-4)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per octet run")
    ap.add_argument("--ort-threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    ap.add_argument("--markdown", help="also write the table as markdown to this file")
    ap.add_argument("--keep", help="keep the .npy inputs/outputs in this folder (default: temporary folder)")
    args = ap.parse_args()

    import onnxruntime as ort

    octet = args.octet if os.sep in args.octet else (shutil.which(args.octet) or args.octet)
    models = find_models(args.models, set(args.only or []))
    if not models:
        sys.exit(f"no <model>_op<V>.onnx files in {args.models}")
    photos = []
    for name in args.photos:
        p = os.path.join(args.images, name if name.endswith(".ppm") else name + ".ppm")
        if not os.path.exists(p):
            sys.exit(f"missing photo {p}")
        photos.append((os.path.basename(p)[:-4], p))

    work = args.keep or tempfile.mkdtemp(prefix="octet_cmp_")
    os.makedirs(work, exist_ok=True)
    inputs = []
    for name, p in photos:
        x = preprocess(p)
        ip = os.path.join(work, f"in_{name}.npy")
        np.save(ip, x)
        inputs.append((name, ip, x))

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = args.ort_threads
    so.inter_op_num_threads = 1

    rows = []
    hdr = f"{'model':<20} {'opset':>5} {'rel_l2(max)':>12} {'top1 eq':>8} {'octet s':>8} {'result':>6}"
    print(hdr); print("-" * len(hdr))
    for model, opset, path in models:
        worst, top1, secs, ok, msgs, crashed = 0.0, 0, 0.0, True, [], False
        try:
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            in_name, out_name = sess.get_inputs()[0].name, sess.get_outputs()[0].name
        except Exception as e:
            sess, ok = None, False
            msgs.append(f"onnxruntime cannot load {path}: {e}")
        for pname, ip, x in inputs if sess is not None else []:
            ref = sess.run([out_name], {in_name: x})[0].astype(np.float64)
            op = os.path.join(work, f"out_{model}_op{opset}_{pname}.npy")
            good, y, msg, dt = run_octet(octet, path, ip, op, args.timeout)
            secs += dt
            if not good:
                ok = False; crashed = True; msgs.append(f"[{pname}] {msg}")
                break
            if y.shape != ref.shape:
                ok = False; worst = float("inf"); msgs.append(f"[{pname}] octet output shape {y.shape} != ort {ref.shape}")
                continue
            if y.dtype != np.float32:
                msgs.append(f"[{pname}] note: octet output dtype {y.dtype}, expected float32")
            y = y.astype(np.float64)
            rel = float(np.linalg.norm(y - ref) / max(np.linalg.norm(ref), 1e-30)) if np.isfinite(y).all() else float("inf")
            worst = max(worst, rel)
            top1 += int(np.argmax(y) == np.argmax(ref))
            if not rel <= args.tolerance:
                ok = False
        loaded, sess = sess is not None, None
        res = "PASS" if ok else "FAIL"
        rel_s = "error" if crashed or not loaded else f"{worst:.3e}"
        top1_s = "-" if crashed or not loaded else f"{top1}/{len(inputs)}"
        reason = next((line.strip() for m in msgs for line in m.splitlines() if line.strip().startswith("Error:")), "")
        reason = reason.split("): ", 1)[-1] if reason else ("" if ok else "rel L2 above the tolerance")
        rows.append(dict(model=model, opset=opset, rel=rel_s, top1=top1_s, secs=secs, result=res, reason=reason))
        print(f"{model:<20} {opset:>5} {rel_s:>12} {top1_s:>8} {secs:>8.2f} {res:>6}", flush=True)
        for m in msgs:
            print("    " + m.replace("\n", "\n    "), flush=True)

    nfail = sum(r["result"] != "PASS" for r in rows)
    print(f"\n{len(rows) - nfail}/{len(rows)} passed (tolerance {args.tolerance:g}, photos: {', '.join(n for n, _ in photos)})")

    if args.markdown:
        L = ["# Octet FP32 vs onnxruntime: torchvision random-weight models", "",
             f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
             f"- machine: {cpu_model()} ({os.cpu_count()} logical CPUs), {platform.system()} {platform.machine()}",
             f"- onnxruntime: {ort.__version__} (CPUExecutionProvider, ORT_DISABLE_ALL, {args.ort_threads} thread(s))",
             f"- exported by: {versions()}",
             f"- octet: `{args.octet}`",
             f"- photos: {', '.join(n for n, _ in photos)} (ImageNet mean/std, NCHW float32, batch 1)",
             f"- PASS: relative L2 error ||octet - ort|| / ||ort|| <= {args.tolerance:g} on every photo "
             "(rel L2 column is the worst photo)", "",
             "| model | opset | rel L2 | top-1 equal | octet s | result | why not |", "|---|---:|---:|---:|---:|---|---|"]
        for r in rows:
            L.append(f"| {r['model']} | {r['opset']} | {r['rel']} | {r['top1']} | {r['secs']:.2f} | {r['result']} | {r['reason']} |")
        L += ["", f"{len(rows) - nfail}/{len(rows)} passed."]
        with open(args.markdown, "w") as f:
            f.write("\n".join(L) + "\n")
        print(f"wrote {args.markdown}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if nfail else 0)


if __name__ == "__main__":
    main()
