#!/usr/bin/env python3
"""How close Octet's INT8 kernels come to the machine's VNNI peak on ResNet-50's largest convolutions.

Every stride-1 3x3 convolution of ResNet-50 at 224x224 does the same work: 56*56*64*576 = 28*28*128*1152 =
14*14*256*2304 = 7*7*512*4608 = 115,605,504 multiply-adds per image. This runs `octet bench --profile` on the
torchvision ResNet-50 export, takes the mean time of each such layer, and reports GOPS (2 ops per
multiply-add) against the peak measured by Sources/COctetCPUKernels/bench/kernel_bench.c (one vpdpbusd zmm per
cycle per core; pass it with --peak-gops-per-core) times the thread count.

usage: python3 Benchmarks/resnet50_conv_efficiency.py --octet OCTET --model .models/resnet50_op13.onnx
           --ranges R --peak-gops-per-core 466 [--threads 2] [--batch 8]
"""
import argparse, re, subprocess

MACS = 115_605_504


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--octet", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--ranges", required=True)
    ap.add_argument("--peak-gops-per-core", type=float, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=10)
    a = ap.parse_args()
    out = subprocess.run([a.octet, "bench", "--model", a.model, "--ranges", a.ranges, "--batch", str(a.batch),
                          "--threads", str(a.threads), "--iterations", str(a.iterations), "--warmup", "3", "--profile"],
                         capture_output=True, text=True, check=True).stdout
    peak = a.peak_gops_per_core * a.threads
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)\s+[\d.]+%\s+(\S+)\s+Convolution 3x3 s1x1 (\d+)->(\d+)", line)
        if m:
            ms = float(m.group(1))
            gops = 2 * MACS * a.batch / (ms / 1000) / 1e9
            rows.append((m.group(2), m.group(3), ms, gops, 100 * gops / peak))
    print(f"ResNet-50 stride-1 3x3 convolutions, batch {a.batch}, {a.threads} threads, peak {peak:.0f} GOPS")
    print("| layer | channels | ms | GOPS | % of VNNI peak |")
    print("|---|---:|---:|---:|---:|")
    for name, c, ms, gops, pct in rows:
        print(f"| {name} | {c} | {ms:.3f} | {gops:.0f} | {pct:.0f}% |")
    if rows:
        total_ms = sum(r[2] for r in rows)
        gops = 2 * MACS * a.batch * len(rows) / (total_ms / 1000) / 1e9
        print(f"| all {len(rows)} | | {total_ms:.3f} | {gops:.0f} | {100 * gops / peak:.0f}% |")


if __name__ == "__main__":
    main()
