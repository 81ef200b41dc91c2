#!/usr/bin/env python3
"""Octet's `torchvision` and `inception` recipes against torchvision's own transforms on Pillow images.

Makes non-square JPEG and PNG photos (not committed) from the redistributable photos in ../shared/data/images
(scikit-image, scikit-learn and matplotlib ones: see that README), runs `octet preprocess` on each, runs
torchvision's Resize/CenterCrop/ToTensor/Normalize on `Image.open(f).convert("RGB")`, and prints a Markdown
table (docs/preprocessing.md keeps it). The acceptance bound: mean |difference| <= 0.002 after normalization.

A second column shows what libjpeg's DCT-scaled decoding would cost (Pillow's `draft()`, which torchvision
does not use): it is why Octet decodes JPEGs at full size.

Usage: python3 Scripts/compare_preprocessing.py [path/to/octet]   (default .build/debug/octet)
Needs Pillow, NumPy, torch and torchvision (pip install /opt/wheels/torch*.whl torchvision).
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# The PyPI torchvision wheel is built for CUDA torch; with the CPU wheel its _C.so does not load and importing
# torchvision fails on two fake-kernel registrations. Define the two ops first (transforms need no C++ op).
try:
    import torchvision  # noqa: F401
except RuntimeError:
    _lib = torch.library.Library("torchvision", "DEF")
    _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision  # noqa: F401
from torchvision import transforms as T  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared/data/images/224"
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

# (source photo, crop box in the 224x224 source, final size, format): non-square, some larger than the
# resize (antialiased reduction), some smaller (enlargement), grayscale included.
CASES = [
    ("chelsea_png.ppm", (0, 30, 224, 180), (800, 535), "jpeg"),
    ("coffee_png.ppm", (20, 0, 200, 224), (345, 429), "png"),
    ("astronaut_png.ppm", (0, 0, 224, 160), (301, 215), "jpeg"),
    ("camera_png.ppm", (10, 10, 214, 150), (1024, 702), "png"),
    ("china_jpg.ppm", (0, 40, 224, 200), (640, 457), "jpeg-progressive"),
    ("flower_jpg.ppm", (30, 0, 180, 224), (257, 383), "png"),
    ("rocket_jpg.ppm", (40, 0, 184, 224), (300, 467), "jpeg-444"),
    ("grace_hopper_jpg.ppm", (0, 20, 224, 190), (1500, 1138), "jpeg"),
]


def make_photo(directory, source, box, size, kind):
    image = Image.open(PHOTOS / source).convert("RGB").crop(box).resize(size, Image.LANCZOS)
    if source == "camera_png.ppm":
        image = image.convert("L")
    stem = f"{Path(source).stem}_{size[0]}x{size[1]}"
    if kind == "png":
        path = directory / f"{stem}.png"
        image.save(path)
    else:
        path = directory / f"{stem}.jpg"
        image.save(path, quality=90, progressive=kind == "jpeg-progressive", subsampling=0 if kind == "jpeg-444" else 2)
    return path


def torchvision_tensor(path, resize, crop, draft=False):
    image = Image.open(path)
    if draft and image.format == "JPEG":
        image.draft("RGB", (resize, resize))  # DCT scaling: decode at 1/2, 1/4 or 1/8 while still >= resize
    image = image.convert("RGB")
    pipeline = T.Compose([T.Resize(resize), T.CenterCrop(crop), T.ToTensor(), T.Normalize(MEAN, STD)])
    return pipeline(image).numpy()


def octet_tensor(octet, path, recipe, crop, directory):
    out = directory / "x.npy"
    subprocess.run([octet, "preprocess", "--image", str(path), "--recipe", recipe, "--size", f"{crop}x{crop}", "--output", str(out)],
                   check=True, capture_output=True)
    return np.load(out)[0]


def main():
    octet = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".build/debug/octet")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {Image.__version__}\n")
    print("| photo | format | recipe | mean abs diff | max abs diff | max diff (uint8 levels) | with DCT-scaled decode: mean abs diff |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        for source, box, size, kind in CASES:
            path = make_photo(directory, source, box, size, kind)
            for recipe, resize, crop in [("torchvision", 256, 224)] + ([("inception", 342, 299)] if size[0] > 600 else []):
                ours = octet_tensor(octet, path, recipe, crop, directory)
                theirs = torchvision_tensor(path, resize, crop)
                difference = np.abs(ours - theirs)
                levels = (difference * np.array(STD)[:, None, None] * 255).max()
                drafted = np.abs(torchvision_tensor(path, resize, crop, draft=True) - theirs).mean() if kind.startswith("jpeg") else None
                worst = max(worst, difference.mean())
                print(f"| {path.name} | {kind} | {recipe} | {difference.mean():.6f} | {difference.max():.6f} | {levels:.3f} | "
                      f"{'n/a (PNG)' if drafted is None else f'{drafted:.4f}'} |")
    print(f"\nworst mean abs diff: {worst:.6f} (bound 0.002): {'PASS' if worst <= 0.002 else 'FAIL'}")
    return 0 if worst <= 0.002 else 1


if __name__ == "__main__":
    sys.exit(main())
