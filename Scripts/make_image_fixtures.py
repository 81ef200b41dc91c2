#!/usr/bin/env python3
"""Writes Tests/OctetTests/Fixtures/images/: small JPEG and PNG files in every layout the decoders must handle,
each with the RGB bytes Pillow decodes from it (`<name>.rgb`, `Image.open(f).convert("RGB")`, row-major HWC).

The pixels are a 67x45 crop (odd, non-square: partial MCUs and chroma edges) of data/int8_api/coffee.ppm
(scikit-image's coffee.png, CC0; see data/int8_api/README.md). The grayscale files use its luma.

One file departs from Pillow on purpose: `png_gray16.png`. Pillow opens 16-bit grayscale as mode I;16 and
convert("RGB") clips every value above 255 to 255; Octet keeps the high byte, as Pillow itself does for
16-bit RGB and RGBA. Its `.rgb` is therefore `value >> 8`, computed here from the 16-bit samples.

Also writes Pillow's own bilinear resizes (`resize_<W>x<H>.rgb`) of the RGB crop, which OctetImage's
reimplementation of Pillow's resampler must reproduce byte for byte.

Usage: python3 Scripts/make_image_fixtures.py   (Pillow and NumPy; run from the repository root)
"""
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/OctetTests/Fixtures/images"
RESIZES = [(29, 19), (101, 70), (67, 20), (40, 45)]  # down, up, one axis only each way


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(array, bit_depth, color_type, interlaced=False):
    """A minimal PNG writer, for layouts Pillow cannot write (16-bit RGB, Adam7 interlacing)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    h, w = array.shape[:2]
    if interlaced:  # seven passes, each a small image of its own rows (filter type 0); empty passes are skipped
        passes = [array[y0::dy, x0::dx] for x0, y0, dx, dy in ADAM7]
        raw = b"".join(b"\x00" + p[y].tobytes() for p in passes if p.shape[0] and p.shape[1] for y in range(p.shape[0]))
    else:
        raw = b"".join(b"\x00" + array[y].tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlaced else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    coffee = Image.open(ROOT / "data/int8_api/coffee.ppm").convert("RGB")
    rgb = coffee.crop((80, 100, 147, 145))  # 67x45
    gray = rgb.convert("L")
    base = np.asarray(rgb, dtype=np.uint8)
    files = {}

    def jpeg(name, image, **options):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90, **options)
        files[name] = buffer.getvalue()

    jpeg("jpeg_420.jpg", rgb, subsampling=2)
    jpeg("jpeg_422.jpg", rgb, subsampling=1)
    jpeg("jpeg_444.jpg", rgb, subsampling=0)
    jpeg("jpeg_progressive.jpg", rgb, subsampling=2, progressive=True)
    jpeg("jpeg_gray.jpg", gray)
    # CMYK with real black (Pillow's own RGB -> CMYK leaves K = 0): 255 - RGB for C, M, Y and a K gradient.
    cmyk = np.concatenate([255 - base, np.tile((np.arange(67, dtype=np.uint16) * 255 // 66).astype(np.uint8), (45, 1))[..., None]], axis=2)
    jpeg("jpeg_cmyk.jpg", Image.fromarray(cmyk, "CMYK"))  # Pillow writes an Adobe marker and inverted samples

    def png(name, image, **options):
        buffer = io.BytesIO()
        image.save(buffer, "PNG", **options)
        files[name] = buffer.getvalue()

    png("png_rgb8.png", rgb)
    png("png_gray8.png", gray)
    png("png_palette.png", rgb.quantize(colors=37))
    with_transparency = rgb.quantize(colors=16)
    with_transparency.info["transparency"] = 3
    png("png_palette_trns.png", with_transparency, transparency=3)
    alpha = Image.fromarray(np.tile(np.arange(67, dtype=np.uint8) * 3, (45, 1)))
    png("png_rgba.png", Image.merge("RGBA", (*rgb.split(), alpha)))
    png("png_gray_alpha.png", Image.merge("LA", (gray, alpha)))
    png("png_gray1.png", gray.point(lambda v: 255 if v > 110 else 0).convert("1"))
    # 16-bit: the 8-bit value in the high byte and a varying low byte, so taking the wrong byte shows.
    low = (np.arange(base.size, dtype=np.uint16).reshape(base.shape) * 37) % 256
    rgb16 = (base.astype(np.uint16) << 8 | low).astype(">u2")
    files["png_rgb16.png"] = png_bytes(rgb16, 16, 2)
    gray16 = (np.asarray(gray, dtype=np.uint16) << 8 | low[..., 0]).astype(">u2")
    files["png_gray16.png"] = png_bytes(gray16, 16, 0)
    files["png_interlaced.png"] = png_bytes(base, 8, 2, interlaced=True)

    for old in OUT.glob("*"):
        old.unlink()
    for name, data in files.items():
        (OUT / name).write_bytes(data)
        if name == "png_gray16.png":
            expected = np.repeat((gray16.astype(np.uint16) >> 8).astype(np.uint8)[..., None], 3, axis=2)
        else:
            expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
        assert expected.shape == (45, 67, 3), (name, expected.shape)
        (OUT / (name.rsplit(".", 1)[0] + ".rgb")).write_bytes(expected.tobytes())
    for w, h in RESIZES:
        (OUT / f"resize_{w}x{h}.rgb").write_bytes(np.asarray(rgb.resize((w, h), Image.BILINEAR), dtype=np.uint8).tobytes())
    (OUT / "source_67x45.rgb").write_bytes(base.tobytes())
    # A non-square photo for the command-line tests (octet run classifies it: espresso).
    coffee.crop((0, 37, 224, 187)).resize((300, 201), Image.LANCZOS).save(OUT / "coffee_300x201.jpg", quality=90)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
