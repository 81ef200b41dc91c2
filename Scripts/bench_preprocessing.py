#!/usr/bin/env python3
"""Decode + preprocess time of a 12-megapixel JPEG: Octet's `torchvision` recipe against Pillow + torchvision
transforms, in the same run on the same file (docs/PERFORMANCE.md keeps the result).

The photo (not committed) is grace_hopper_jpg.ppm from ../shared/data/images/224 (public domain), enlarged
to 4000x3000 with Lanczos plus mild noise (sigma 3) so the JPEG carries a real photo's amount of entropy-coded
data, saved at quality 90 with 4:2:0 chroma, as cameras do.

Usage: python3 Scripts/bench_preprocessing.py [path/to/octet] [iterations]   (default .build/release/octet, 30)
Both sides run on one thread: Pillow's decoder and resampler are single-threaded, and so is Octet's.
"""
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

try:
    import torchvision  # noqa: F401
except RuntimeError:  # the CUDA-built torchvision wheel beside the CPU torch wheel: see compare_preprocessing.py
    _lib = torch.library.Library("torchvision", "DEF")
    _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision  # noqa: F401
from torchvision import transforms as T  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main():
    octet = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".build/release/octet")
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "photo_4000x3000.jpg"
        source = Image.open(ROOT.parent / "shared/data/images/224/grace_hopper_jpg.ppm").convert("RGB")
        big = np.asarray(source.resize((4000, 3000), Image.LANCZOS), dtype=np.float32)
        big += np.random.default_rng(0).normal(0, 3, big.shape)
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path, quality=90, subsampling=2)
        print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")

        pipeline = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        # The machine is shared: rounds alternate between the two sides so that load from elsewhere falls on both,
        # and the fastest run (the least disturbed) is reported beside the median.
        pillow = {"decode": [], "preprocess": [], "both": []}
        octet_runs = {"decode": [], "preprocess": [], "both": []}
        per_round = 5
        for _ in range(max(1, iterations // per_round)):
            for _ in range(per_round):
                start = time.perf_counter()
                image = Image.open(path).convert("RGB")
                middle = time.perf_counter()
                pipeline(image)
                end = time.perf_counter()
                pillow["decode"].append((middle - start) * 1e3)
                pillow["preprocess"].append((end - middle) * 1e3)
                pillow["both"].append((end - start) * 1e3)
            result = subprocess.run([octet, "preprocess", "--image", str(path), "--recipe", "torchvision", "--iterations", str(per_round), "--print-times"],
                                    check=True, capture_output=True, text=True)
            for line in result.stdout.splitlines():
                if line.startswith("times "):  # "times decode,preprocess decode,preprocess ..." in ms
                    for pair in line.split()[1:]:
                        d, p = (float(v) for v in pair.split(","))
                        octet_runs["decode"].append(d)
                        octet_runs["preprocess"].append(p)
                        octet_runs["both"].append(d + p)

        def row(name, runs):
            cells = [f"{statistics.median(runs[k]):.1f} / {min(runs[k]):.1f}" for k in ("decode", "preprocess", "both")]
            return f"| {name} | " + " | ".join(cells) + f" | {len(runs['both'])} |"

        print("| pipeline | decode ms (median / fastest) | preprocess ms | decode + preprocess ms | runs |")
        print("|---|---|---|---|---|")
        print(row(f"Pillow {Image.__version__} + torchvision {torchvision.__version__}", pillow))
        print(row("Octet, recipe torchvision", octet_runs))
        ratio = statistics.median(pillow["both"]) / statistics.median(octet_runs["both"])
        print(f"\nOctet / Pillow+torchvision speed: {ratio:.2f}x (medians), {min(pillow['both']) / min(octet_runs['both']):.2f}x (fastest)")

        # What DCT-scaled decoding (libjpeg's scale_num/scale_denom, Pillow's draft()) would save, and what it costs
        # in agreement with torchvision's full-size pipeline.
        drafted_times = []
        for _ in range(per_round):
            start = time.perf_counter()
            image = Image.open(path)
            image.draft("RGB", (256, 256))
            drafted = pipeline(image.convert("RGB"))
            drafted_times.append((time.perf_counter() - start) * 1e3)
        reference = pipeline(Image.open(path).convert("RGB"))
        print(f"DCT-scaled decode (draft to {image.size[0]}x{image.size[1]}) + the same transforms: median {statistics.median(drafted_times):.1f} ms, "
              f"mean |difference| from full-size decoding {float((drafted - reference).abs().mean()):.4f} (bound 0.002)")


if __name__ == "__main__":
    main()
