"""Helpers shared by the INT8 scripts: PPM reading, Octet's input normalizations, photo lists, range files.

The normalizations mirror Sources/OctetImage/Preprocessing.swift exactly: y = (p - offset[c]) * scale[c],
computed in float32, with offset/scale themselves computed in float32.
"""
import os
import platform
import re

import numpy as np

F = np.float32
# (offset, scale) per channel, as Octet's Normalization.affine (Float arithmetic).
NORMALIZATIONS = {
    "sample": ([F(127.5)] * 3, [F(2) / F(255)] * 3),  # p*2/255 - 1 (TensorRT sampleINT8API; the real models)
    "imagenet": ([F(0.485) * F(255), F(0.456) * F(255), F(0.406) * F(255)],
                 [F(1) / (F(0.229) * F(255)), F(1) / (F(0.224) * F(255)), F(1) / (F(0.225) * F(255))]),
    "mobilenet": ([F(128)] * 3, [F(1) / F(128)] * 3),
    "efficientnet": ([F(127)] * 3, [F(1) / F(128)] * 3),
    "unit": ([F(0)] * 3, [F(1) / F(255)] * 3),
    "raw": ([F(0)] * 3, [F(1)] * 3),
}
NORMALIZATION_CHOICES = ["auto"] + list(NORMALIZATIONS)
TORCHVISION_EXPORT = re.compile(r".+_op\d+\.onnx$")


def resolve_normalization(name, model_path):
    """'auto': ImageNet mean/std for torchvision exports (<name>_op<N>.onnx), else 'sample' (p*2/255-1)."""
    if name != "auto":
        return name
    return "imagenet" if TORCHVISION_EXPORT.match(os.path.basename(model_path)) else "sample"


def read_ppm(path):
    """Binary P6 PPM (8-bit, no comments) -> HxWx3 uint8."""
    data = open(path, "rb").read()
    parts, pos = [], 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":  # comment line
            while data[pos:pos + 1] not in (b"\n", b""):
                pos += 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    pos += 1
    if parts[0] != b"P6" or parts[3] != b"255":
        raise ValueError(f"{path}: not an 8-bit binary P6 PPM")
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(data, np.uint8, w * h * 3, pos).reshape(h, w, 3)


def preprocess(path, normalization):
    """PPM -> float32 NCHW [1,3,H,W] with Octet's normalization."""
    offset, scale = NORMALIZATIONS[normalization]
    p = read_ppm(path).astype(np.float32)
    x = (p - np.array(offset, np.float32)) * np.array(scale, np.float32)
    return np.ascontiguousarray(x.astype(np.float32).transpose(2, 0, 1)[None])


def list_photos(directory):
    """Sorted *.ppm files in directory."""
    photos = sorted(f for f in os.listdir(directory) if f.lower().endswith(".ppm"))
    if not photos:
        raise SystemExit(f"no .ppm photos in {directory}")
    return [os.path.join(directory, f) for f in photos]


def model_input_hw(model_path):
    """(name, H, W) of the first graph input that is not an initializer; H/W None when symbolic."""
    import onnx
    m = onnx.load(model_path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        if len(dims) == 4:
            return vi.name, dims[2], dims[3]
        return vi.name, None, None
    raise SystemExit(f"{model_path}: no graph input")


def load_photo_inputs(model_path, images_dir, normalization):
    """[(photo name, [1,3,H,W] float32)] for all photos, checking the size against the model input."""
    _, h, w = model_input_hw(model_path)
    out = []
    for p in list_photos(images_dir):
        x = preprocess(p, normalization)
        if (h and x.shape[2] != h) or (w and x.shape[3] != w):
            raise SystemExit(f"{p} is {x.shape[3]}x{x.shape[2]} but {model_path} takes {w}x{h}; "
                             f"pick the matching --images folder")
        out.append((os.path.basename(p)[:-4], x))
    return out


def format_range(v):
    """Shortest decimal that reads back as exactly this float32 (as Swift's Float(...) and numpy parse it);
    falls back to repr() of the exact double value."""
    v = np.float32(v)
    s = str(v)
    return s if np.float32(s) == v and np.float32(float(s)) == v else repr(float(v))


def read_range_file(path):
    """name -> R (float32), with Octet's rules: value after the last ':', '#' comments, blank lines skipped."""
    ranges = {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            raise SystemExit(f"{path}:{n}: expected 'tensor_name:range'")
        name, value = line.rsplit(":", 1)
        ranges[name.strip()] = np.float32(value.strip())
    return ranges


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []
