#!/usr/bin/env python3
"""Build INT8 QDQ ONNX models: onnxruntime's own static quantization, or TensorRT's semantics from a range file.

usage:
  python3 Scripts/int8/make_qdq.py --mode ort-default --model M.onnx --images DIR --out M_qdq.onnx
      [--normalization auto|sample|imagenet|...] [--activation-type uint8|int8] [--no-preprocess]
  python3 Scripts/int8/make_qdq.py --mode trt --model M.onnx --ranges ranges.txt --out M_trt_qdq.onnx
      [--unsigned-nonnegative] [--strict] [--fuse-residual-add] [--images DIR]

ort-default: onnxruntime.quantization.quantize_static, QDQ format, MinMax calibration on every photo in DIR
  with the model's preprocessing, per_channel=True, activations QUInt8 (asymmetric) and weights QInt8
  (per-channel symmetric), everything else left at its default. onnxruntime 1.32's own default activation type
  is QInt8; --activation-type int8 gives that. quant_pre_process (symbolic shape inference + ORT graph
  optimization) runs first unless --no-preprocess. The result is loaded in onnxruntime and its top-1 is
  compared with the FP32 model on the photos.

trt: QuantizeLinear/DequantizeLinear with TensorRT's semantics, from a `tensor_name:R` range file:
  * activations: int8, zero point 0, scale R/127 on the graph input and every node output, except
    - a Conv/Gemm/Add output whose only consumer is a Relu or Clip (TensorRT fuses the activation; the
      Relu/Clip output is quantized instead),
    - graph outputs (network outputs stay FP32), constants and non-float tensors,
    - tensors without a range (reported; an error with --strict).
    With --unsigned-nonnegative (Octet's default mode) Relu outputs and outputs of Clip with min >= 0 are
    uint8 with zero point 0 and scale R/255 instead.
  * weights: every Conv/Gemm weight (an initializer, possibly behind Identity/Constant) is stored as int8
    per output channel (axis 0; axis 1 for Gemm with transB=0), scale_c = max|w_c|/127, q = round_half_even
    (w/scale_c) in [-127, 127], followed by a DequantizeLinear. A channel of zeros gets scale 1. Biases stay float.
  * R = 0 gives scale = the smallest normal float32 (QuantizeLinear needs a non-zero scale), reported.
  With --images DIR, the result is run on the photos and compared with FP32 (cosine, top-1).
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from int8common import (NORMALIZATION_CHOICES, load_photo_inputs, read_range_file,  # noqa: E402
                        resolve_normalization)


def ort_session(model, threads=2, optimize=False):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(np.dot(a, b) / (na * nb))


def agreement(fp32_model, q_model, inputs, optimize_q):
    """Runs both models on the photos; -> (top-1 agreements, min cosine, per photo rows)."""
    s0, s1 = ort_session(fp32_model), ort_session(q_model, optimize=optimize_q)
    i0, i1 = s0.get_inputs()[0].name, s1.get_inputs()[0].name
    rows = []
    for name, x in inputs:
        y0 = s0.run(None, {i0: x})[0]
        y1 = s1.run(None, {i1: x})[0]
        rows.append((name, int(np.argmax(y0)), int(np.argmax(y1)), cosine(y0, y1)))
    agree = sum(a == b for _, a, b, _ in rows)
    return agree, min(c for *_, c in rows), rows


def print_agreement(fp32_model, q_model, inputs, optimize_q, verbose):
    agree, mincos, rows = agreement(fp32_model, q_model, inputs, optimize_q)
    if verbose:
        for name, a, b, c in rows:
            print(f"  {name:<28} fp32 top1 {a:>4}  int8 top1 {b:>4}  cosine {c:.5f}{'' if a == b else '  DIFFERENT'}")
    print(f"top-1 agreement with FP32: {agree}/{len(rows)}; min logit cosine {mincos:.5f} "
          f"(onnxruntime, {'ORT_ENABLE_ALL' if optimize_q else 'ORT_DISABLE_ALL'})")
    return agree, len(rows), mincos


# --------------------------------------------------------------------------------------------------------------
# ort-default

class PhotoReader:
    """onnxruntime CalibrationDataReader over preprocessed photos (batch 1)."""

    def __init__(self, input_name, inputs):
        self.input_name, self.inputs, self.i = input_name, inputs, 0

    def get_next(self):
        if self.i >= len(self.inputs):
            return None
        self.i += 1
        return {self.input_name: self.inputs[self.i - 1][1]}

    def rewind(self):
        self.i = 0


def make_ort_default(model, inputs, out, activation_type="uint8", preprocess=True, log=print):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    tmp = tempfile.mkdtemp(prefix="octet_qdq_")
    try:
        src = model
        if preprocess:
            pre = os.path.join(tmp, "pre.onnx")
            try:
                quant_pre_process(model, pre)
                src = pre
            except Exception as e:  # keep going with the original model
                log(f"warning: quant_pre_process failed ({type(e).__name__}: {e}); quantizing the original model")
        input_name = ort_session(src).get_inputs()[0].name
        reader = PhotoReader(input_name, inputs)
        quantize_static(src, out, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8 if activation_type == "uint8" else QuantType.QInt8,
                        weight_type=QuantType.QInt8)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------------
# trt

def _constant_values(graph):
    """name -> numpy value for initializers, Constant outputs and Identity of those."""
    from onnx import numpy_helper
    vals = {i.name: i for i in graph.initializer}
    resolved = {}

    def get(name):
        if name in resolved:
            return resolved[name]
        if name in vals:
            v = vals[name]
            resolved[name] = numpy_helper.to_array(v) if not isinstance(v, np.ndarray) else v
            return resolved[name]
        return None

    for n in graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    vals[n.output[0]] = numpy_helper.to_array(a.t)
                elif a.name in ("value_float", "value_floats", "value_int", "value_ints"):
                    v = a.f if a.name == "value_float" else list(a.floats) if a.name == "value_floats" else \
                        a.i if a.name == "value_int" else list(a.ints)
                    vals[n.output[0]] = np.array(v)
        elif n.op_type == "Identity" and n.input[0] in vals:
            vals[n.output[0]] = get(n.input[0])
    return get


def _constant_names(graph):
    const = {i.name for i in graph.initializer}
    for n in graph.node:
        ins = [i for i in n.input if i]
        if n.op_type == "Constant" or (ins and all(i in const for i in ins) and not n.op_type.startswith("Random")):
            const.update(o for o in n.output if o)
    return const


def _clip_min(node, get_const):
    """Clip's lower bound (float) or None (-inf)."""
    for a in node.attribute:  # opset < 11
        if a.name == "min":
            return a.f
    if len(node.input) > 1 and node.input[1]:
        v = get_const(node.input[1])
        return float(np.asarray(v).reshape(-1)[0]) if v is not None else None
    return None


def quantize_weight(w, axis):
    """Per-channel symmetric int8: -> (q int8, scale float32 [C])."""
    w = np.asarray(w, np.float32)
    wc = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    scale = (np.max(np.abs(wc), axis=1) / np.float32(127)).astype(np.float32)
    scale = np.where(scale == 0, np.float32(1), scale).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def make_trt(model_path, ranges_path, out, unsigned_nonnegative=False, strict=False, log=print,
             fuse_residual_add=False):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    model = onnx.load(model_path)
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        raise SystemExit(f"{model_path}: opset {opset}; per-channel QDQ needs opset >= 13")
    ranges = read_range_file(ranges_path)
    get_const = _constant_values(g)
    const = _constant_names(g)
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
        types = {vi.name: vi.type.tensor_type.elem_type for vi in
                 list(inferred.value_info) + list(inferred.output) + list(inferred.input)}
    except Exception:
        types = {}
    float_types = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}

    consumers = {}
    for n in g.node:
        for i in n.input:
            if i:
                consumers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in g.output}
    producer = {o: n for n in g.node for o in n.output if o}

    # Which activations get Q/DQ, and with which type.
    activations = [vi.name for vi in g.input if vi.name not in const]
    activations += [o for n in g.node for o in n.output if o and o not in const]
    plan, fused, missing, zero = {}, [], [], []
    order = {id(n): k for k, n in enumerate(g.node)}
    fused_add_ids = set()
    for t in activations:
        if t in graph_outputs or (types.get(t) and types[t] not in float_types):
            continue
        p = producer.get(t)
        cons = consumers.get(t, [])
        if p is not None and p.op_type in ("Conv", "Gemm", "Add") and len(cons) == 1 and \
                cons[0].op_type in ("Relu", "Clip"):
            fused.append(t)
            continue
        if fuse_residual_add and p is not None and p.op_type == "Conv" and len(cons) == 1 and \
                cons[0].op_type in ("Add", "Sum") and t not in graph_outputs:
            # TensorRT's Conv + elementwise-sum fusion: the convolution adds the other operand itself. Only one
            # Conv input of an Add is fused (the later one in graph order, as the other must exist already).
            others = [i for i in cons[0].input if i != t]
            if all(producer.get(o) is None or producer[o].op_type != "Conv" or id(producer[o]) in fused_add_ids
                   or order.get(id(producer[o]), -1) < order[id(p)] for o in others):
                fused.append(t)
                fused_add_ids.add(id(p))
                continue
        if not cons:
            continue
        if t not in ranges:
            missing.append(t)
            continue
        r = np.float32(ranges[t])
        unsigned = False
        if unsigned_nonnegative and p is not None:
            if p.op_type == "Relu":
                unsigned = True
            elif p.op_type == "Clip":
                lo = _clip_min(p, get_const)
                unsigned = lo is not None and lo >= 0
        if r == 0:
            zero.append(t)
        scale = r / np.float32(255 if unsigned else 127)
        if scale == 0:
            scale = np.finfo(np.float32).tiny
        plan[t] = (np.float32(scale), unsigned)
    if missing:
        msg = f"{len(missing)} activation tensors have no range and stay FP32: {', '.join(missing[:6])}" + \
              (" ..." if len(missing) > 6 else "")
        if strict:
            raise SystemExit("error: " + msg)
        log("warning: " + msg)
    if zero:
        log(f"warning: {len(zero)} tensors have range 0 (scale set to the smallest normal float32): "
            f"{', '.join(zero[:4])}")

    used = {i.name for i in g.initializer} | {n for n in (o for nd in g.node for o in nd.output)}
    used |= {vi.name for vi in g.input}

    def fresh(base):
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    new_inits, qdq_nodes_after = [], {}
    renamed = {}

    def qdq(t):
        scale, unsigned = plan[t]
        s = fresh(f"{t}_scale")
        z = fresh(f"{t}_zero_point")
        q = fresh(f"{t}_QuantizeLinear_Output")
        d = fresh(f"{t}_DequantizeLinear_Output")
        new_inits.append(numpy_helper.from_array(np.array(scale, np.float32), s))
        new_inits.append(numpy_helper.from_array(np.array(0, np.uint8 if unsigned else np.int8), z))
        renamed[t] = d
        return [helper.make_node("QuantizeLinear", [t, s, z], [q], name=fresh(f"{t}_QuantizeLinear")),
                helper.make_node("DequantizeLinear", [q, s, z], [d], name=fresh(f"{t}_DequantizeLinear"))]

    head = []
    for vi in g.input:
        if vi.name in plan:
            head += qdq(vi.name)

    # Weights.
    weight_dq, nweights = {}, 0
    nodes = []
    for n in g.node:
        pre = []
        if n.op_type in ("Conv", "Gemm") and len(n.input) > 1:
            wname = n.input[1]
            w = get_const(wname)
            if w is None:
                log(f"warning: {n.name or n.op_type}: weight {wname} is not a constant; left FP32")
            else:
                axis = 0
                if n.op_type == "Gemm":
                    transb = next((a.i for a in n.attribute if a.name == "transB"), 0)
                    axis = 0 if transb else 1
                key = (wname, axis)
                if key not in weight_dq:
                    qw, sw = quantize_weight(w, axis)
                    qn, sn, zn, dn = (fresh(f"{wname}_quantized"), fresh(f"{wname}_scale"),
                                      fresh(f"{wname}_zero_point"), fresh(f"{wname}_DequantizeLinear_Output"))
                    new_inits += [numpy_helper.from_array(qw, qn), numpy_helper.from_array(sw, sn),
                                  numpy_helper.from_array(np.zeros(sw.shape, np.int8), zn)]
                    pre.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [dn], axis=axis,
                                                name=fresh(f"{wname}_DequantizeLinear")))
                    weight_dq[key] = dn
                    nweights += 1
                n.input[1] = weight_dq[key]
        for k, i in enumerate(n.input):
            if i in renamed and not (k == 1 and n.op_type in ("Conv", "Gemm") and i in weight_dq):
                n.input[k] = renamed[i]
        nodes += pre + [n]
        for o in n.output:
            if o in plan:
                nodes += qdq(o)
    del g.node[:]
    g.node.extend(head + nodes)
    g.initializer.extend(new_inits)

    # Drop what the float weights left unused (Identity nodes, float weight initializers).
    while True:
        needed = {o.name for o in g.output} | {i for n in g.node for i in n.input if i}
        dead = [n for n in g.node if not any(o in needed for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    needed = {i for n in g.node for i in n.input if i} | {o.name for o in g.output}
    keep = [i for i in g.initializer if i.name in needed]
    graph_input_names = {vi.name for vi in g.input}
    del g.initializer[:]
    g.initializer.extend(keep)
    kept_inits = {i.name for i in keep}
    stale = [vi for vi in g.input if vi.name in const and vi.name not in kept_inits and vi.name not in needed]
    for vi in stale:
        g.input.remove(vi)
    del g.value_info[:]
    del graph_input_names

    onnx.checker.check_model(model)
    onnx.save(model, out)
    nu = sum(1 for s, u in plan.values() if u)
    log(f"wrote {out}: {len(plan)} activation QDQ pairs ({nu} uint8, {len(plan) - nu} int8), "
        f"{len(fused)} fused Conv/Gemm/Add outputs left FP32, {nweights} per-channel int8 weights, "
        f"{len(missing)} tensors without range")
    return plan


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--mode", required=True, choices=["ort-default", "trt"])
    ap.add_argument("--model", required=True, help="FP32 ONNX model")
    ap.add_argument("--out", required=True, help="QDQ model to write")
    ap.add_argument("--images", help="photos (P6 PPM) to calibrate on (ort-default) / to verify on")
    ap.add_argument("--normalization", default="auto", choices=NORMALIZATION_CHOICES,
                    help="auto (default): imagenet for <name>_op<N>.onnx torchvision exports, else sample")
    ap.add_argument("--ranges", help="range file (trt mode)")
    ap.add_argument("--unsigned-nonnegative", action="store_true",
                    help="trt mode: Relu / Clip(min>=0) outputs as uint8, scale R/255 (Octet's default mode)")
    ap.add_argument("--fuse-residual-add", action="store_true",
                    help="trt mode: also leave FP32 a Conv output whose only consumer is an Add (Conv + residual "
                         "sum fusion); at most one Conv input per Add")
    ap.add_argument("--strict", action="store_true", help="trt mode: fail when an activation has no range")
    ap.add_argument("--activation-type", choices=["uint8", "int8"], default="uint8",
                    help="ort-default mode: activation type (default uint8 = QUInt8)")
    ap.add_argument("--no-preprocess", action="store_true", help="ort-default mode: skip quant_pre_process")
    ap.add_argument("--verbose", action="store_true", help="print the per-photo comparison")
    args = ap.parse_args()

    inputs = None
    if args.images:
        norm = resolve_normalization(args.normalization, args.model)
        inputs = load_photo_inputs(args.model, args.images, norm)
        print(f"{args.model}: {len(inputs)} photos from {args.images}, normalization {norm}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if args.mode == "ort-default":
        if not inputs:
            ap.error("--mode ort-default needs --images (calibration photos)")
        make_ort_default(args.model, inputs, args.out, args.activation_type, not args.no_preprocess)
        import onnx
        m = onnx.load(args.out)
        from collections import Counter
        ops = Counter(n.op_type for n in m.graph.node)
        print(f"wrote {args.out}: {ops.get('QuantizeLinear', 0)} QuantizeLinear, "
              f"{ops.get('DequantizeLinear', 0)} DequantizeLinear, {len(m.graph.node)} nodes")
        del m
        ort_session(args.out, optimize=True)  # loads with the INT8 kernels
        print_agreement(args.model, args.out, inputs, True, args.verbose)
    else:
        if not args.ranges:
            ap.error("--mode trt needs --ranges")
        make_trt(args.model, args.ranges, args.out, args.unsigned_nonnegative, args.strict,
                 fuse_residual_add=args.fuse_residual_add)
        ort_session(args.out)
        if inputs:
            print_agreement(args.model, args.out, inputs, False, args.verbose)


if __name__ == "__main__":
    main()
