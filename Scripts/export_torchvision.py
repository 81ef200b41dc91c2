#!/usr/bin/env python3
"""Export torchvision image classifiers with RANDOM weights to ONNX (opsets 17 and 18) for Octet's tests.

usage: python3 Scripts/export_torchvision.py OUTDIR [--force] [--opsets 17 18] [--models resnet50 ...]
                                             [--images /work/shared/data/images/224] [--threads 1]

One representative of every torchvision classification family (MODELS), all at 224x224 (inception_v3 too; its
299x299 recipe is not needed for random weights). No pretrained weights are available offline: weights are random.
For each model: weights=None, torch.manual_seed(0), eval(), then torch.onnx.export with the legacy
TorchScript exporter (dynamo=False), input "input" [batch,3,224,224] -> output "logits" [batch,1000], dynamic
batch axis, constant folding on. Writes OUTDIR/<name>_op<V>.onnx (skipped when present, unless --force).

Random init can make logits vanish (torchvision's kaiming_normal(fan_out) init shrinks depthwise-conv outputs
by ~sqrt(C) per layer: MobileNet/EfficientNet logits end up ~1e-9; GoogLeNet's std-0.01 init and ShuffleNetV2
leave logits equal to the classifier bias, the same for every input) or activations overflow. For those models
the BatchNorm running statistics (only those; weights untouched) are re-estimated with one train-mode forward
over a few photos (cumulative average, momentum=None), so the exported logits are O(1).

Every file is checked with onnx.checker, loaded in onnxruntime and compared with torch on one photo.
Per model it prints the ops used (with the operator version that the opset selects), node count and size,
and it writes OUTDIR/ops_report.txt: op types and every attribute value / constant input seen, per op type
across all models, then per model/opset.
"""
import argparse, collections, glob, json, os, sys, time

import numpy as np

MODELS = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet", "inception_v3",
          "maxvit_t", "mnasnet0_5", "mobilenet_v2", "mobilenet_v3_small", "regnet_y_400mf", "resnet18", "resnet50",
          "resnext50_32x4d", "shufflenet_v2_x0_5", "squeezenet1_1", "swin_t", "swin_v2_t", "vgg11", "vit_b_16",
          "wide_resnet50_2",
          # exported by earlier versions of this script (opsets 13 and 17)
          "vgg19", "shufflenet_v2_x1_0"]
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
DEFAULT_IMAGES = "/work/shared/data/images/224"
VARIADIC = {"Concat", "Sum", "Mean", "Max", "Min"}


def import_torchvision():
    """The PyPI torchvision wheel is CUDA-built; its _C extension may not load against the CPU torch wheel,
    and then `import torchvision` fails registering fake kernels for torchvision::nms. Only the model
    definitions are needed, so declare the two ops it registers unconditionally and import again."""
    import torch
    try:
        import torchvision  # noqa: F401
    except Exception:
        for k in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[k]
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import_torchvision._lib = lib  # keep the library alive
        import torchvision  # noqa: F401
    import torchvision.models
    return torchvision.models


def read_ppm(path):
    """Binary P6 PPM (no comments) -> HxWx3 uint8."""
    data = open(path, "rb").read()
    parts, pos = [], 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end]); pos = end
    pos += 1  # single whitespace after maxval
    assert parts[0] == b"P6" and parts[3] == b"255", path
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(data, np.uint8, w * h * 3, pos).reshape(h, w, 3)


def photo_batch(image_dir, n):
    """n photos (sorted by name) -> normalised NCHW float32; seeded noise if the folder is missing."""
    files = sorted(glob.glob(os.path.join(image_dir, "*.ppm")))[:n] if image_dir else []
    if not files:
        print(f"warning: no .ppm photos in {image_dir!r}; using seeded random inputs", file=sys.stderr)
        return np.random.default_rng(0).standard_normal((n, 3, 224, 224)).astype(np.float32)
    a = np.stack([read_ppm(f) for f in files]).astype(np.float32) / 255.0
    a = (a - MEAN) / STD
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def build(tvm, name):
    import torch
    torch.manual_seed(0)
    kw = dict(weights=None)
    if name in ("googlenet", "inception_v3"):
        kw.update(aux_logits=False, init_weights=True)
    model = getattr(tvm, name)(**kw).eval()
    # ViT initializes its classifier to zeros (logits 0 for every input): give zero Linear weights N(0, 0.02).
    for m in model.modules():
        if isinstance(m, torch.nn.Linear) and not m.weight.any():
            torch.nn.init.normal_(m.weight, std=0.02)
    return model


def activation_stats(model, x):
    """max |output| over all leaf modules, whether anything is non-finite, and the logits."""
    import torch
    st = {"max": 0.0, "where": "", "nonfinite": False}

    def hook(mod, inp, out):
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            if not torch.isfinite(out).all():
                st["nonfinite"] = True
            v = float(out.detach().abs().max())
            if v > st["max"]:
                st["max"], st["where"] = v, mod._octet_name
    hs = []
    for n, m in model.named_modules():
        if not list(m.children()):
            m._octet_name = n
            hs.append(m.register_forward_hook(hook))
    with torch.no_grad():
        y = model(x)
    for h in hs:
        h.remove()
    return st, y


def recalibrate_bn(model, x):
    """Re-estimate BatchNorm running stats (cumulative average over x); weights untouched."""
    import torch
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats(); m.momentum = None
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    return len(bns)


def spread(y):
    """Input-dependent part of the logits: max |logit - mean over the photos|. Checking max |logit| alone is
    not enough: when the trunk's output vanishes the logits are just the classifier's bias (GoogLeNet,
    ShuffleNetV2 with random init: |logit| ~0.03 but varying by <1e-5 between photos)."""
    return float((y - y.mean(0, keepdim=True)).abs().max())


def needs_recal(st, y):
    return st["nonfinite"] or st["max"] > 1e4 or spread(y) < 1e-3


# ----------------------------------------------------------------------------------------------- analysis

def op_version(op, domain, opset):
    import onnx
    try:
        return onnx.defs.get_schema(op, max_inclusive_version=opset, domain=domain).since_version
    except Exception:
        return None


def fmt_val(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(fmt_val(e) for e in v) + "]"
    return str(v)


def fmt_array(a, values=True):
    a = np.asarray(a)
    if values and a.size <= 8:
        return f"{a.dtype}{list(a.shape)}=" + fmt_val(a.reshape(-1).tolist())
    return f"{a.dtype}{list(a.shape)}"


def analyze(path):
    """-> dict(opset, ir, nodes, ops: {op: {"count", "since", "attrs": Counter(str), "inputs": Counter(str)}})."""
    import onnx
    from onnx import numpy_helper, helper
    m = onnx.load(path, load_external_data=False)
    opset = {o.domain or "": o.version for o in m.opset_import}.get("", None)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    consts = {}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)
    # value kinds: init / Constant / Identity(init) are static; "shape" = computed only from Shape outputs
    # and static values (int64 shape arithmetic); everything else is D (runtime data).
    kind = {name: "init" for name in inits}
    kind.update({name: "Constant" for name in consts})
    static = set(inits) | set(consts)
    shape_ops = collections.Counter()
    ops = collections.OrderedDict()
    for n in g.node:
        ikinds = [kind.get(i, "D") if i else "absent" for i in n.input]
        if n.op_type == "Identity" and n.input[0] in static:
            for o in n.output:
                kind[o] = "Identity(" + ikinds[0] + ")"; static.add(o)
                if n.input[0] in inits: inits[o] = inits[n.input[0]]
                if n.input[0] in consts: consts[o] = consts[n.input[0]]
        elif n.op_type == "Shape" or (n.op_type != "Constant" and n.input and
                                      all(k == "shape" or i in static for i, k in zip(n.input, ikinds) if i)
                                      and any(k == "shape" for k in ikinds)):
            for o in n.output: kind[o] = "shape"
            shape_ops[n.op_type] += 1
        e = ops.setdefault(n.op_type, {"count": 0, "since": op_version(n.op_type, n.domain, opset),
                                       "attrs": collections.Counter(), "inputs": collections.Counter()})
        e["count"] += 1
        items = []
        for a in n.attribute:
            v = helper.get_attribute_value(a)
            if a.name == "value" and n.op_type == "Constant":
                items.append("value=" + fmt_array(numpy_helper.to_array(v)))
            elif a.name == "group" and n.op_type == "Conv":
                w = inits.get(n.input[1])
                cpg = w.dims[1] if w is not None else None
                items.append("group=1" if v == 1 else ("group=C(depthwise)" if cpg == 1 else f"group=G(C/G={cpg})"))
            elif a.name == "to" and n.op_type == "Cast":
                items.append(f"to={v}({onnx.TensorProto.DataType.Name(v)})")
            else:
                items.append(f"{a.name}={fmt_val(v)}")
        e["attrs"][" ".join(sorted(items)) or "-"] += 1
        if n.input:
            ins = []
            for i, name in enumerate(n.input):
                k = ikinds[i]
                arr = numpy_helper.to_array(inits[name]) if name in inits else consts.get(name)
                if arr is not None:  # values only for small integer tensors and scalars (shapes, axes, clip bounds)
                    show = arr.size <= 8 and (arr.dtype.kind in "iub" or arr.size == 1)
                    k += " " + (fmt_array(arr) if show else f"{arr.dtype} rank{arr.ndim}")
                ins.append(k)
            if n.op_type in VARIADIC and len(set(ins)) == 1 and ins[0] == "D":
                key = "(D x n)"
                e.setdefault("arity", collections.Counter())[len(ins)] += 1
            else:
                key = "(" + ", ".join(ins) + ")"
            e["inputs"][key] += 1
    def dims(vi):
        return "[" + ",".join(d.dim_param or str(d.dim_value) for d in vi.type.tensor_type.shape.dim) + "]"
    return dict(opset=opset, ir=m.ir_version, nodes=len(g.node), ops=ops, producer=m.producer_name, shape_ops=shape_ops,
                producer_version=m.producer_version, n_init=len(g.initializer),
                init_in_inputs=sum(1 for i in g.input if i.name in inits),
                inputs=[(i.name, dims(i)) for i in g.input if i.name not in inits],
                outputs=[(o.name, dims(o)) for o in g.output], bytes=os.path.getsize(path))


def write_report(path, results):
    """results: list of (model, opset, analysis)."""
    L = ["# Octet ops report: torchvision random-weight exports (torch.onnx.export dynamo=False, do_constant_folding=True)",
         "# [opN->vK]: in a model of opset N the op resolves to operator version K (onnx.defs since_version).",
         "# attrs: every distinct attribute set seen, with its count (x). '-' = no attributes.",
         "# inputs: per input position: D = runtime tensor, init = initializer, Constant = Constant-node output,",
         "#   Identity(init) = Identity of an initializer, shape = int64 computed only from Shape outputs and constants",
         "#   (foldable once input shape is known), absent = empty name. Constants with <= 8 elements show values.",
         "# Conv group: 1 | C(depthwise, C/G==1) | G(C/G=k) grouped.", ""]
    L.append("## Summary per op type (all models, all opsets)")
    summ = collections.OrderedDict()
    for model, opset, a in results:
        for op, e in a["ops"].items():
            s = summ.setdefault(op, {"versions": set(), "models": set(), "attrs": collections.Counter(),
                                     "inputs": collections.Counter(), "arity": set()})
            s["arity"].update(e.get("arity", {}))
            s["versions"].add((opset, e["since"]))
            s["models"].add(model)
            s["attrs"].update(e["attrs"])
            s["inputs"].update(e["inputs"])
    order = {m: i for i, m in enumerate(MODELS)}
    for op in sorted(summ):
        s = summ[op]
        vers = ", ".join(f"op{o}->v{v}" for o, v in sorted(s["versions"]))
        L.append(f"{op} [{vers}] in: " + ", ".join(sorted(s["models"], key=lambda m: order.get(m, 99))))
        for k, c in sorted(s["attrs"].items(), key=lambda kv: (-kv[1], kv[0])):
            L.append(f"    attrs  x{c}: {k}")
        for k, c in sorted(s["inputs"].items(), key=lambda kv: (-kv[1], kv[0])):
            extra = f", n in {{{','.join(map(str, sorted(s['arity'])))}}}" if k == "(D x n)" else ""
            L.append(f"    inputs x{c}: {k}{extra}")
    L.append("")
    L.append("## Per model / opset")
    for model, opset, a in results:
        ins = ", ".join(f"{n}{d}" for n, d in a["inputs"]); outs = ", ".join(f"{n}{d}" for n, d in a["outputs"])
        L.append(f"{model} op{opset}: ir{a['ir']} {a['producer']} {a['producer_version']}, {ins} -> {outs}, nodes={a['nodes']}, "
                 f"initializers={a['n_init']} (also graph inputs: {a['init_in_inputs']}), {a['bytes']} bytes")
        L.append("    ops: " + ", ".join(f"{op}x{e['count']}" for op, e in sorted(a["ops"].items())))
        if a["shape_ops"]:
            L.append("    shape-only nodes: " + ", ".join(f"{op}x{c}" for op, c in sorted(a["shape_ops"].items())))
        for op, e in sorted(a["ops"].items()):
            variants = [f"{k} x{c}" for k, c in sorted(e["attrs"].items(), key=lambda kv: (-kv[1], kv[0])) if k != "-"]
            if variants and op != "Constant":
                L.append(f"    {op}: " + " | ".join(variants))
    open(path, "w").write("\n".join(L) + "\n")


# ----------------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--force", action="store_true", help="re-export files that already exist")
    ap.add_argument("--opsets", type=int, nargs="+", default=[17, 18])
    ap.add_argument("--models", nargs="+", default=MODELS[:22], choices=MODELS)
    ap.add_argument("--images", default=DEFAULT_IMAGES, help="folder of 224x224 P6 PPM photos (BN re-estimation, checks)")
    ap.add_argument("--calib", type=int, default=8, help="photos used to re-estimate BatchNorm statistics")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = ap.parse_args()

    import torch, onnx, onnxruntime as ort
    torch.set_num_threads(args.threads)
    tvm = import_torchvision()
    os.makedirs(args.outdir, exist_ok=True)
    xs = torch.from_numpy(photo_batch(args.images, args.calib))
    x1 = xs[:1]
    so = ort.SessionOptions(); so.intra_op_num_threads = args.threads; so.inter_op_num_threads = 1

    results, failures, notes = [], [], {}
    for name in args.models:
        paths = {v: os.path.join(args.outdir, f"{name}_op{v}.onnx") for v in args.opsets}
        todo = [v for v, p in paths.items() if args.force or not os.path.exists(p)]
        model = ref = None
        if todo:
            try:
                t0 = time.time()
                model = build(tvm, name)
                st, y = activation_stats(model, xs)
                info = f"raw: max|act|={st['max']:.3g} ({st['where']}) nonfinite={st['nonfinite']} " \
                       f"max|logit|={float(y.abs().max()):.3g} logit spread over photos={spread(y):.3g}"
                if needs_recal(st, y):
                    nb = recalibrate_bn(model, xs)
                    st, y = activation_stats(model, xs)
                    info += f"; BN stats re-estimated ({nb} layers, {len(xs)} photos): max|act|={st['max']:.3g} " \
                            f"nonfinite={st['nonfinite']} max|logit|={float(y.abs().max()):.3g} spread={spread(y):.3g}"
                notes[name] = info
                if st["nonfinite"] or spread(y) < 1e-3:
                    failures.append(f"{name}: logits still non-finite or input-independent after BN re-estimation")
                print(f"{name}: {info}", flush=True)
                with torch.no_grad():
                    ref = model(x1).numpy()
                for v in todo:
                    torch.onnx.export(model, (x1,), paths[v], dynamo=False, opset_version=v, input_names=["input"],
                                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                                      do_constant_folding=True)
                print(f"{name}: exported opsets {todo} in {time.time() - t0:.1f}s", flush=True)
            except Exception as ex:  # keep going with the other models
                failures.append(f"{name}: export failed: {type(ex).__name__}: {ex}")
                print(f"{name}: export FAILED {ex}", flush=True)
                continue
        for v, p in paths.items():
            status = "exported" if v in todo else "exists"
            try:
                onnx.checker.check_model(p, full_check=True)
                a = analyze(p)
                sess = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
                o = sess.run(["logits"], {"input": x1.numpy()})[0]
                del sess
                chk = f"ort max|logit|={np.abs(o).max():.3g}"
                if ref is not None:
                    rel = float(np.linalg.norm(o - ref) / np.linalg.norm(ref))
                    chk += f" rel_l2_vs_torch={rel:.2e}"
                    if not rel < 1e-4:
                        failures.append(f"{name} op{v}: onnxruntime vs torch rel L2 {rel:.2e}")
                if o.shape != (1, 1000) or not np.isfinite(o).all() or np.abs(o).max() < 1e-3:
                    failures.append(f"{name} op{v}: bad logits shape={o.shape} max|logit|={np.abs(o).max():.3g}")
            except Exception as ex:  # keep going: report at the end
                failures.append(f"{name} op{v}: {type(ex).__name__}: {ex}")
                print(f"{name} op{v}: FAILED {ex}", flush=True)
                continue
            results.append((name, v, a))
            ops = ", ".join(f"{op}(v{e['since']})" for op, e in sorted(a["ops"].items()))
            print(f"{name} op{v} [{status}] nodes={a['nodes']} size={a['bytes'] / 1e6:.1f} MB {chk}\n    ops: {ops}", flush=True)
        del model

    done = {(r[0], r[1]) for r in results}
    for name in MODELS:  # the report covers every export present in OUTDIR, not only this run's models
        for v in args.opsets:
            p = os.path.join(args.outdir, f"{name}_op{v}.onnx")
            if (name, v) not in done and os.path.exists(p):
                results.append((name, v, analyze(p)))
    results.sort(key=lambda r: (MODELS.index(r[0]), r[1]))
    rp = os.path.join(args.outdir, "ops_report.txt")
    write_report(rp, results)
    if notes:
        with open(os.path.join(args.outdir, "export_notes.jsonl"), "a") as f:
            f.write(json.dumps(notes) + "\n")
    print(f"wrote {rp}")
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
