#!/usr/bin/env python3
"""Decode + preprocess time of a 12-megapixel JPEG: Octet's `torchvision` recipe against Pillow + torchvision
transforms, in the same run on the same file (docs/PERFORMANCE.md keeps the result).

The photo (not committed) is grace_hopper_jpg.ppm from ../shared/data/images/224 (public domain), enlarged
to 4000x3000 with Lanczos plus mild noise (sigma 3) so the JPEG carries a real photo's amount of entropy-coded
data, saved at quality 90 with 4:2:0 chroma, as cameras do.

Usage: python3 Scripts/bench_preprocessing.py [path/to/octet] [iterations]   (default .build/release/octet, 15)
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
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "photo_4000x3000.jpg"
        source = Image.open(ROOT.parent / "shared/data/images/224/grace_hopper_jpg.ppm").convert("RGB")
        big = np.asarray(source.resize((4000, 3000), Image.LANCZOS), dtype=np.float32)
        big += np.random.default_rng(0).normal(0, 3, big.shape)
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path, quality=90, subsampling=2)
        print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")

        pipeline = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        decode, preprocess = [], []
        for _ in range(iterations):
            start = time.perf_counter()
            image = Image.open(path).convert("RGB")
            middle = time.perf_counter()
            pipeline(image)
            end = time.perf_counter()
            decode.append((middle - start) * 1e3)
            preprocess.append((end - middle) * 1e3)
        total = [a + b for a, b in zip(decode, preprocess)]
        print(f"Pillow {Image.__version__} + torchvision {torchvision.__version__}: decode median {statistics.median(decode):.1f} ms, "
              f"preprocess median {statistics.median(preprocess):.1f} ms, both median {statistics.median(total):.1f} ms, fastest {min(total):.1f} ms")
        # What DCT-scaled decoding (libjpeg's scale_num/scale_denom, Pillow's draft()) would save, and what it costs
        # in agreement with torchvision's full-size pipeline.
        drafted_times = []
        for _ in range(iterations):
            start = time.perf_counter()
            image = Image.open(path)
            image.draft("RGB", (256, 256))
            drafted = pipeline(image.convert("RGB"))
            drafted_times.append((time.perf_counter() - start) * 1e3)
        reference = pipeline(Image.open(path).convert("RGB"))
        print(f"DCT-scaled decode (draft to {image.size[0]}x{image.size[1]}) + the same transforms: median {statistics.median(drafted_times):.1f} ms, "
              f"mean |difference| from full-size decoding {float((drafted - reference).abs().mean()):.4f} (bound 0.002)")
        result = subprocess.run([octet, "preprocess", "--image", str(path), "--recipe", "torchvision", "--iterations", str(iterations)],
                                check=True, capture_output=True, text=True)
        print("Octet: " + result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
