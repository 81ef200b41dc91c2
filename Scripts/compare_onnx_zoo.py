#!/usr/bin/env python3
"""Compare Octet's FP32 outputs with onnxruntime on the nine light ONNX model-zoo graphs the `onnx` package ships.

usage: python3 Scripts/compare_onnx_zoo.py --octet .build/debug/octet [--work .models/zoo] [--tolerance 1e-4]
           [--only resnet50 vgg19] [--markdown table.md]

The graphs live in <onnx package>/backend/test/data/light (resnet50, vgg19, bvlc_alexnet, densenet121,
inception_v1, inception_v2, shufflenet, squeezenet, zfnet512). Their weights are placeholders: every weight tensor
is a ConstantOfShape filled with one value, so every class gets the same score. Each graph is therefore compared
twice:
  placeholder  the file as shipped (one value per weight tensor);
  random       the same graph with every ConstantOfShape replaced by a seeded random initializer of its shape
               (uniform in +-sqrt(3 / fan_in), so activations keep their scale through the network), written to
               --work (git-ignored); models are never committed.
The input is seeded uniform noise in [-1, 1] of the graph's input shape (batch 1). Octet runs
    OCTET run --precision fp32 --model M --load-inputs in.npy --save-outputs out.npy
and onnxruntime (CPUExecutionProvider, ORT_DISABLE_ALL, 1 thread) the same input. PASS: relative L2 error
||octet - ort|| / ||ort|| <= --tolerance. Top-1 is compared too (with placeholder weights every class ties, and
both pick class 0). Exits 1 if anything failed.
"""
import argparse, datetime, os, platform, sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "int8"))
from compare_torchvision import run_octet  # noqa: E402  (one way to run octet for all comparison scripts)
from int8common import cpu_model  # noqa: E402

MODELS = ["resnet50", "bvlc_alexnet", "vgg19", "densenet121", "inception_v1", "inception_v2", "shufflenet",
          "squeezenet", "zfnet512"]


def light_folder():
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def graph_input(model):
    inits = {i.name for i in model.graph.initializer}
    real = [i for i in model.graph.input if i.name not in inits]
    if len(real) != 1:
        sys.exit(f"expected one input, found {[i.name for i in real]}")
    dims = [d.dim_value or 1 for d in real[0].type.tensor_type.shape.dim]
    return real[0].name, dims


def with_random_weights(model, seed):
    """The graph with each ConstantOfShape node replaced by a random initializer of the shape it would fill."""
    rng = np.random.default_rng(seed)
    shapes = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    # Batch-norm variances must stay positive.
    variances = {n.input[4] for n in m.graph.node if n.op_type == "BatchNormalization" and len(n.input) > 4}
    keep = []
    for node in m.graph.node:
        if node.op_type != "ConstantOfShape":
            keep.append(node)
            continue
        shape = [int(v) for v in shapes[node.input[0]]]
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        bound = np.sqrt(3.0 / max(fan_in, 1)) if len(shape) > 1 else 0.1
        if node.output[0] in variances:
            values = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
        else:
            values = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        m.graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--octet", required=True, help="path to the octet CLI binary")
    ap.add_argument("--work", default=".models/zoo", help="folder for random-weight models and .npy files")
    ap.add_argument("--only", nargs="+", help="compare only these models (names as in the list above)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max relative L2 error for PASS (default 1e-4)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed per octet run")
    ap.add_argument("--markdown", help="also write the table as markdown to this file")
    args = ap.parse_args()

    import onnxruntime as ort

    os.makedirs(args.work, exist_ok=True)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # the random-weight graphs keep the placeholders' unused shape initializers

    rows = []
    print(f"{'model':<14} {'weights':<12} {'opset':>5} {'rel L2':>10} {'top-1 eq':>8} {'octet s':>8} result", flush=True)
    for index, name in enumerate(MODELS):
        if args.only and name not in args.only:
            continue
        path = os.path.join(light_folder(), f"light_{name}.onnx")
        if not os.path.exists(path):
            sys.exit(f"missing {path}")
        model = onnx.load(path)
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        in_name, dims = graph_input(model)
        x = np.random.default_rng(index).uniform(-1, 1, size=dims).astype(np.float32)
        inp = os.path.join(args.work, f"in_{name}.npy")
        np.save(inp, x)
        random_path = os.path.join(args.work, f"{name}_random.onnx")
        onnx.save(with_random_weights(model, seed=100 + index), random_path)
        for weights, model_path in [("placeholder", path), ("random", random_path)]:
            sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
            ref = sess.run(None, {in_name: x})[0].astype(np.float64)
            out = os.path.join(args.work, f"out_{name}_{weights}.npy")
            good, y, msg, secs = run_octet(args.octet, model_path, inp, out, args.timeout)
            if good and y.shape == ref.shape and np.isfinite(y).all():
                rel = float(np.linalg.norm(y.astype(np.float64) - ref) / max(np.linalg.norm(ref), 1e-30))
                top1 = "yes" if int(np.argmax(y)) == int(np.argmax(ref)) else "no"
                result = "PASS" if rel <= args.tolerance and top1 == "yes" else "FAIL"
                rel_s = f"{rel:.3e}"
            else:
                rel_s, top1, result = "error", "-", "FAIL"
                msg = msg or f"octet output shape {None if y is None else y.shape} != ort {ref.shape} or not finite"
            rows.append(dict(model=name, weights=weights, opset=opset, rel=rel_s, top1=top1, secs=secs, result=result))
            print(f"{name:<14} {weights:<12} {opset:>5} {rel_s:>10} {top1:>8} {secs:>8.2f} {result}", flush=True)
            if result != "PASS" and msg:
                print("    " + msg.replace("\n", "\n    "), flush=True)

    failed = sum(r["result"] != "PASS" for r in rows)
    print(f"\n{len(rows) - failed}/{len(rows)} passed (tolerance {args.tolerance:g})")
    if args.markdown:
        lines = ["| model | weights | opset | rel L2 | top-1 equal | octet s | result |", "|---|---|---:|---:|---|---:|---|"]
        lines += [f"| {r['model']} | {r['weights']} | {r['opset']} | {r['rel']} | {r['top1']} | {r['secs']:.2f} | {r['result']} |"
                  for r in rows]
        header = [f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
                  f"- machine: {cpu_model()} ({os.cpu_count()} logical CPUs), {platform.system()} {platform.machine()}",
                  f"- onnx {onnx.__version__}, onnxruntime {ort.__version__} (CPUExecutionProvider, ORT_DISABLE_ALL, 1 thread)",
                  f"- octet: `{args.octet}` (FP32)", ""]
        with open(args.markdown, "w") as f:
            f.write("\n".join(header + lines + ["", f"{len(rows) - failed}/{len(rows)} passed."]) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
