#!/usr/bin/env python3
"""Max-abs range file for an ONNX classifier: the independent oracle for Octet's calibrator.

usage: python3 Scripts/int8/max_ranges.py --model M.onnx --images DIR --out ranges.txt
           [--normalization auto|sample|imagenet|mobilenet|efficientnet|unit|raw] [--threads 2]

Runs onnxruntime FP32 (CPUExecutionProvider, ORT_DISABLE_ALL, so every tensor is computed as the graph says)
on every *.ppm in DIR (sorted, batch 1), with every node output added as a graph output, and writes one
`tensor_name:R` line per tensor, R = max |x| over all photos, for the graph input(s) and every node output in
graph order. Left out: initializers and constants (outputs of Constant nodes and of nodes whose inputs are all
constant, such as the Identity-of-initializer nodes of torchvision exports) and non-float tensors (int64
shape arithmetic). Values are float32 printed as the shortest decimal that reads back exactly.
Normalization 'auto' is ImageNet mean/std for torchvision exports (<name>_op<N>.onnx), else 'sample'
(p*2/255-1, what the real models take). Prints a summary (tensor count, ranges of input/output, zero ranges).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from int8common import (NORMALIZATION_CHOICES, format_range, load_photo_inputs,  # noqa: E402
                        resolve_normalization)

FLOAT_TYPES = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def constant_names(graph):
    """Initializers, Constant outputs and outputs of nodes computed only from those (graph order)."""
    const = {i.name for i in graph.initializer}
    for n in graph.node:
        ins = [i for i in n.input if i]
        if n.op_type == "Constant" or (ins and all(i in const for i in ins) and not n.op_type.startswith("Random")):
            const.update(o for o in n.output if o)
    return const


def activation_tensors(model):
    """[(name, elem_type or None)] for graph inputs (not initializers) and non-constant node outputs."""
    import onnx
    g = model.graph
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
        types = {vi.name: vi.type.tensor_type.elem_type for vi in
                 list(inferred.value_info) + list(inferred.output) + list(inferred.input)}
    except Exception:  # > 2 GB or unsupported: types unknown, filter on the results' dtype instead
        types = {}
    const = constant_names(g)
    names = [(vi.name, vi.type.tensor_type.elem_type) for vi in g.input if vi.name not in const]
    seen = {n for n, _ in names}
    for n in g.node:
        for o in n.output:
            if o and o not in const and o not in seen:
                seen.add(o)
                names.append((o, types.get(o)))
    return names


def compute_ranges(model_path, inputs, threads=2, log=print):
    """-> [(name, float32 R)] in graph order; inputs: list of (photo, [1,3,H,W] array)."""
    import onnx
    import onnxruntime as ort
    model = onnx.load(model_path)
    tensors = activation_tensors(model)
    skipped = [n for n, t in tensors if t not in (None, 0) and t not in FLOAT_TYPES]
    tensors = [(n, t) for n, t in tensors if n not in set(skipped)]
    existing = {o.name for o in model.graph.output}
    graph_inputs = {vi.name for vi in model.graph.input}
    for n, t in tensors:
        if n not in existing and n not in graph_inputs:
            vi = onnx.ValueInfoProto()
            vi.name = n
            if t:
                vi.type.tensor_type.elem_type = t
            model.graph.output.append(vi)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    del model
    in_name = sess.get_inputs()[0].name
    out_names = [o.name for o in sess.get_outputs()]
    wanted = {n for n, _ in tensors}
    maxabs = {}
    t0 = time.time()
    for photo, x in inputs:
        feeds = {in_name: x}
        values = dict(zip(out_names, sess.run(out_names, feeds)))
        values[in_name] = x
        for n in wanted:
            v = values.get(n)
            if v is None:
                continue
            v = np.asarray(v)
            if v.dtype.kind != "f":
                skipped.append(n)
                continue
            m = np.float32(np.max(np.abs(v))) if v.size else np.float32(0)
            if not np.isfinite(m):
                log(f"warning: {n} is not finite on {photo}")
            maxabs[n] = max(maxabs.get(n, np.float32(0)), m)
    log(f"ran {len(inputs)} photos in {time.time() - t0:.1f}s")
    if skipped:
        log(f"skipped {len(set(skipped))} non-float tensors: {', '.join(sorted(set(skipped))[:8])}"
            f"{' ...' if len(set(skipped)) > 8 else ''}")
    return [(n, maxabs[n]) for n, _ in tensors if n in maxabs]


def write_range_file(path, ranges):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for n, r in ranges:
            f.write(f"{n}:{format_range(r)}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="ONNX model (input [batch,3,H,W])")
    ap.add_argument("--images", required=True, help="folder of P6 PPM photos of the model's input size")
    ap.add_argument("--out", required=True, help="range file to write")
    ap.add_argument("--normalization", default="auto", choices=NORMALIZATION_CHOICES,
                    help="auto (default): imagenet for <name>_op<N>.onnx torchvision exports, else sample")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (default 2)")
    args = ap.parse_args()

    norm = resolve_normalization(args.normalization, args.model)
    inputs = load_photo_inputs(args.model, args.images, norm)
    print(f"{args.model}: {len(inputs)} photos from {args.images}, normalization {norm}")
    ranges = compute_ranges(args.model, inputs, args.threads)
    write_range_file(args.out, ranges)
    zero = [n for n, r in ranges if r == 0]
    print(f"wrote {len(ranges)} ranges to {args.out}: first {ranges[0][0]}:{format_range(ranges[0][1])}, "
          f"last {ranges[-1][0]}:{format_range(ranges[-1][1])}, max {format_range(max(r for _, r in ranges))}")
    if zero:
        print(f"warning: {len(zero)} tensors have range 0 (all zero on every photo): {', '.join(zero[:5])}")


if __name__ == "__main__":
    main()
