#!/usr/bin/env python3
"""Fake-quantized torchvision vit_b_16 (random weights, seed 0, as export_torchvision.py builds it) in PyTorch:
which tensors, stored as per-tensor INT8 (max range over the first 4 photos, scale R/127; weights per output
channel), cost FP32 top-1 agreement. docs/int8-accuracy.md, "ViT", cites its output.

usage: python3 Scripts/int8_vit_simulation.py [lin,attn,res,gelu]
  lin: inputs of every Linear/Conv and their weights; attn: Q, K, softmax output, V of the attention MatMuls;
  res: the residual stream (each block's input and its sum after attention); gelu: GELU input and output.
"""
import sys, torch, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from export_torchvision import import_torchvision, build, photo_batch
torch.set_num_threads(1)
tvm = import_torchvision(); model = build(tvm, "vit_b_16")
x = torch.from_numpy(photo_batch("/work/shared/data/images/224", 4))
parts = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else {"lin", "attn", "res", "gelu"}
R, calib = {}, [True]
def fq(name, t, kind):
    if kind not in parts: return t
    if calib[0]:
        R[name] = max(R.get(name, 0.0), float(t.abs().max())); return t
    s = R[name] / 127
    return torch.clamp(torch.round(t / s), -128, 127) * s
class Attn(torch.nn.Module):
    def __init__(self, mha, name):
        super().__init__(); self.m, self.name = mha, name
    def forward(self, q, k, v, need_weights=False):
        m = self.m; B, N, E = q.shape; H = m.num_heads; d = E // H
        qkv = torch.nn.functional.linear(fq(self.name + ".in", q, "lin"), m.in_proj_weight, m.in_proj_bias)
        Q, K, V = qkv.split(E, dim=-1)
        Q = Q.view(B, N, H, d).transpose(1, 2) / d ** 0.5; K = K.view(B, N, H, d).transpose(1, 2); V = V.view(B, N, H, d).transpose(1, 2)
        S = fq(self.name + ".q", Q, "attn") @ fq(self.name + ".k", K, "attn").transpose(-1, -2)
        P = S.softmax(-1)
        O = fq(self.name + ".p", P, "attn") @ fq(self.name + ".v", V, "attn")
        O = O.transpose(1, 2).reshape(B, N, E)
        return (m.out_proj(O), None)
for n, blk in model.encoder.layers.named_children():
    blk.self_attention = Attn(blk.self_attention, n)
    mlp = blk.mlp
    lin1, act, lin2 = mlp[0], mlp[1], mlp[3]
    class G(torch.nn.Module):
        def __init__(s, name): super().__init__(); s.name = name
        def forward(s, t): return fq(s.name + ".gelu_out", torch.nn.functional.gelu(fq(s.name + ".gelu_in", t, "gelu")), "gelu")
    mlp[1] = G(n)
    orig = blk.forward
    def fwd(inp, blk=blk, n=n):
        inp = fq(n + ".resin", inp, "res")
        h = blk.ln_1(inp); h, _ = blk.self_attention(h, h, h, need_weights=False); h = fq(n + ".res1", h + inp, "res")
        return h + blk.mlp(blk.ln_2(h))
    blk.forward = fwd
def linhook(n):
    def h(m, inp): return (fq(n, inp[0], "lin"),)
    return h
for n, m in model.named_modules():
    if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and not n.endswith("out_proj") or n.endswith("out_proj"):
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            m.register_forward_pre_hook(linhook(n))
with torch.no_grad(): y = model(x)
calib[0] = False
with torch.no_grad():
    if "lin" in parts:
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.MultiheadAttention)):
                for wn in ("weight", "in_proj_weight"):
                    w = getattr(m, wn, None)
                    if w is None or w.dim() < 2: continue
                    r = w.abs().flatten(1).max(dim=1).values.clamp_min(1e-12).view(-1, *([1] * (w.dim() - 1)))
                    w.copy_(torch.round(w / (r / 127)) * (r / 127))
    yq = model(x)
t, tq = y.topk(5, 1), yq.topk(5, 1)
print(sorted(parts), "top1 fp32", t.indices[:, 0].tolist(), "int8", tq.indices[:, 0].tolist(),
      "agree", int((t.indices[:, 0] == tq.indices[:, 0]).sum()), "rel L2 %.4f" % float((yq - y).norm() / y.norm()),
      "top5 overlap %.2f" % np.mean([len(set(a.tolist()) & set(b.tolist())) / 5 for a, b in zip(tq.indices, t.indices)]))
