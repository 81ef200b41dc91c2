#!/usr/bin/env python3
"""The peer for Octet's CUDA numbers: PyTorch FP16 inference as a well-tuned PyTorch user would run it.

torchvision model (random weights; speed does not depend on them), .half(), channels_last, cudnn.benchmark,
torch.inference_mode, and a CUDA graph captured per batch size and replayed. Reports the median of N timed
replays (CUDA events) after warm-up, as one JSON object per (model, batch). Also measures the GPU's INT8
tensor-core rate with a large int8 matrix product (torch._int_mm, cuBLASLt), the ceiling that Octet's INT8
convolutions are compared with.

usage: python3 Benchmarks/cuda/pytorch_fp16.py [--models resnet50 mobilenet_v2 efficientnet_b0] [--batches 1 256]
       [--compile resnet50]   (also torch.compile(mode="max-autotune"), which autotunes for minutes)
"""
import argparse, json, statistics

import torch
import torchvision


def time_graph(fn, iterations, warmup=10):
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    for _ in range(warmup):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(iterations):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def int8_peak(size=8192, iterations=20):
    """The faster of B row-major and B column-major (cuBLASLt's IMMA kernels want the "TN" layout)."""
    a = torch.randint(-128, 127, (size, size), dtype=torch.int8, device="cuda")
    b = torch.randint(-128, 127, (size, size), dtype=torch.int8, device="cuda")
    ms = min(time_graph(lambda: torch._int_mm(a, b), iterations), time_graph(lambda: torch._int_mm(a, b.t()), iterations))
    return 2 * size ** 3 / (ms / 1e3) / 1e12, ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2", "efficientnet_b0"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 256])
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--compile", nargs="*", default=[], metavar="MODEL",
                    help="also time these models under torch.compile(mode='max-autotune') (minutes of autotuning each)")
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    tops, ms = int8_peak()
    print(json.dumps({"int8_gemm_8192_tops": round(tops, 1), "ms": round(ms, 3), "device": torch.cuda.get_device_name()}), flush=True)
    for name in a.models:
        model = getattr(torchvision.models, name)(weights=None).eval().half().cuda().to(memory_format=torch.channels_last)
        for batch in a.batches:
            x = torch.randn(batch, 3, 224, 224, device="cuda").half().to(memory_format=torch.channels_last)
            with torch.inference_mode():
                ms = time_graph(lambda: model(x), a.iterations)
            print(json.dumps({"peer": "pytorch_fp16", "model": name, "batch": batch, "median_ms": round(ms, 4),
                              "images_per_s": round(batch / (ms / 1e3), 1), "torch": torch.__version__}), flush=True)
        if name in a.compile:
            compiled_peer(model, name, a.batches, a.iterations)


def compiled_peer(model, name, batches, iterations):
    """torch.compile(mode="max-autotune"): Inductor autotunes Triton/cuBLAS kernels per shape and captures CUDA graphs
    itself, so it is timed by plain calls (CUDA events) after warm-up calls that compile and autotune."""
    compiled = torch.compile(model, mode="max-autotune")
    for batch in batches:
        x = torch.randn(batch, 3, 224, 224, device="cuda").half().to(memory_format=torch.channels_last)
        with torch.inference_mode():
            for _ in range(5):
                compiled(x)
            torch.cuda.synchronize()
            times = []
            for _ in range(iterations):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                compiled(x)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
        ms = statistics.median(times)
        print(json.dumps({"peer": "torch_compile_max_autotune_fp16", "model": name, "batch": batch, "median_ms": round(ms, 4),
                          "images_per_s": round(batch / (ms / 1e3), 1), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
