#!/usr/bin/env python3
"""Build a small ONNX model in the style of the ONNX model zoo's caffe2 ResNet-50 (the model of TensorRT's
sampleINT8API), for Octet's importer tests.

usage: python3 Scripts/make_caffe2_style_fixture.py Tests/OctetTests/Fixtures/caffe2_style_resnet.onnx

Old-exporter traits reproduced: ir_version 3, opset 9, producer "onnx-caffe2", "gpu_0/..." tensor names,
every initializer also listed in graph.input, Conv without bias followed by a separate opset-9
BatchNormalization (scale, B, mean, var; no spatial attribute), residual adds as `Sum` (one with 3 inputs),
MaxPool 3x3/2 pad 1, AveragePool with a kernel the size of the feature map, Reshape with a constant shape
initializer [1,-1], Gemm transB=1 -> gpu_0/pred_1, Softmax -> gpu_0/softmax_1.

Writes OUT and, beside it, <stem>_input.npy (fixed random input [1,3,32,32] float32), <stem>_output.npy
(onnxruntime's output for it, [1,10] float32) and <stem>_tensors.txt ("TensorName: <name>" for the input and
then every node output in node order, as TensorRT's sample writes with --write_tensors).
Needs numpy, onnx, onnxruntime. Deterministic (fixed numpy seed).
"""
import os, sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

P = "gpu_0/"
rng = np.random.default_rng(20240501)
nodes, inits = [], []


def init(name, arr):
    inits.append(numpy_helper.from_array(np.asarray(arr, np.float32) if arr.dtype.kind == "f" else arr, P + name))
    return P + name


def conv_bn(x, prefix, cin, cout, k, stride, pad, relu, gamma=(0.8, 1.2)):
    """caffe2 naming: <prefix>_w_0 -> Conv -> <prefix>_1; <prefix>_bn_{s,b,rm,riv}_0 -> BN -> <prefix>_bn_1;
    Relu -> <prefix>_bn_2. Returns the last output name."""
    w = rng.standard_normal((cout, cin, k, k)) * np.sqrt((2.0 if relu else 1.0) / (cin * k * k))
    conv_out = P + prefix + "_1"
    nodes.append(helper.make_node("Conv", [x, init(prefix + "_w_0", w)], [conv_out], kernel_shape=[k, k],
                                  strides=[stride, stride], pads=[pad] * 4, dilations=[1, 1], group=1))
    bn = prefix + "_bn" if prefix != "conv1" else "res_conv1_bn"
    s = init(bn + "_s_0", rng.uniform(*gamma, cout))
    b = init(bn + "_b_0", rng.normal(0, 0.1, cout))
    rm = init(bn + "_rm_0", rng.normal(0, 0.2, cout))
    riv = init(bn + "_riv_0", rng.uniform(0.5, 2.0, cout))
    bn_out = P + bn + "_1"
    nodes.append(helper.make_node("BatchNormalization", [conv_out, s, b, rm, riv], [bn_out], epsilon=1e-5, momentum=0.9))
    if not relu:
        return bn_out
    relu_out = P + bn + "_2"
    nodes.append(helper.make_node("Relu", [bn_out], [relu_out]))
    return relu_out


def bottleneck(x, name, cin, cmid, cout, stride, project, extra=None):
    """ResNet v1 bottleneck (caffe2 style: stride on branch2a). Returns (output, branch1 output or None)."""
    a = conv_bn(x, name + "_branch2a", cin, cmid, 1, stride, 0, True)
    b = conv_bn(a, name + "_branch2b", cmid, cmid, 3, 1, 1, True)
    c = conv_bn(b, name + "_branch2c", cmid, cout, 1, 1, 0, False, gamma=(0.3, 0.6))
    short = conv_bn(x, name + "_branch1", cin, cout, 1, stride, 0, False, gamma=(0.3, 0.6)) if project else x
    terms = [c, short] + ([extra] if extra else [])
    s = P + name + "_branch2c_bn_2"
    nodes.append(helper.make_node("Sum", terms, [s]))
    out = P + name + "_branch2c_bn_3"
    nodes.append(helper.make_node("Relu", [s], [out]))
    return out, (short if project else None)


def build():
    x = P + "data_0"
    h = conv_bn(x, "conv1", 3, 8, 7, 2, 3, True)                                   # [1,8,16,16]
    nodes.append(helper.make_node("MaxPool", [h], [P + "pool1_1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    h = P + "pool1_1"                                                               # [1,8,8,8]
    h, br1 = bottleneck(h, "res2_0", 8, 4, 16, 1, True)                             # [1,16,8,8]
    # the harmless 3-input Sum: identity block + shortcut + the previous block's projection branch
    h, _ = bottleneck(h, "res2_1", 16, 4, 16, 1, False, extra=br1)                  # [1,16,8,8]
    h, _ = bottleneck(h, "res3_0", 16, 8, 32, 2, True)                              # [1,32,4,4]
    nodes.append(helper.make_node("AveragePool", [h], [P + "pool5_1"], kernel_shape=[4, 4], strides=[1, 1]))
    shape = init("OC2_DUMMY_1", np.array([1, -1], np.int64))
    nodes.append(helper.make_node("Reshape", [P + "pool5_1", shape], [P + "OC2_DUMMY_0"]))
    w = init("pred_w_0", rng.standard_normal((10, 32)))
    b = init("pred_b_0", rng.normal(0, 0.1, 10))
    nodes.append(helper.make_node("Gemm", [P + "OC2_DUMMY_0", w, b], [P + "pred_1"], alpha=1.0, beta=1.0, transB=1))
    nodes.append(helper.make_node("Softmax", [P + "pred_1"], [P + "softmax_1"]))

    g_inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, 32, 32])]
    g_inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    g = helper.make_graph(nodes, "caffe2_style_resnet", g_inputs,
                          [helper.make_tensor_value_info(P + "softmax_1", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, producer_name="onnx-caffe2", opset_imports=[helper.make_opsetid("", 9)])
    m.ir_version = 3
    return m


def main():
    if len(sys.argv) != 2 or not sys.argv[1].endswith(".onnx"):
        sys.exit("usage: make_caffe2_style_fixture.py OUT.onnx")
    out = sys.argv[1]
    stem = out[:-len(".onnx")]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    m = build()
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, out)

    import onnxruntime as ort
    x = np.random.default_rng(7).standard_normal((1, 3, 32, 32)).astype(np.float32)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    y = sess.run([P + "softmax_1"], {P + "data_0": x})[0]
    np.save(stem + "_input.npy", x)
    np.save(stem + "_output.npy", y.astype(np.float32))

    names = [P + "data_0"] + [o for n in m.graph.node for o in n.output]
    with open(stem + "_tensors.txt", "w") as f:
        f.write("".join(f"TensorName: {n}\n" for n in names))

    # sanity: every intermediate stays O(1) and the prediction is not degenerate
    m2 = onnx.load(out)
    m2.graph.output.extend([helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names[1:-1]])
    allv = ort.InferenceSession(m2.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {P + "data_0": x})
    amax = max(float(np.abs(v).max()) for v in allv)
    pred = allv[[o.name for o in m2.graph.output].index(P + "pred_1")]
    print(f"wrote {out} ({os.path.getsize(out)} bytes, {len(m.graph.node)} nodes, {len(m.graph.initializer)} initializers), "
          f"max|activation|={amax:.3g}, logits {np.round(pred.ravel(), 3).tolist()}, softmax max={y.max():.3f} argmax={int(y.argmax())}")
    assert amax < 20 and pred.std() > 0.05, "activations out of the intended O(1) range"


if __name__ == "__main__":
    main()
