"""Draw the PWA icons (192, 512 and a maskable 512) with Pillow; the PNGs are committed.

Run again after changing the brand: `.venv/bin/python tools/make_icons.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
TOP = (99, 102, 241)  # indigo-500, same as the avatar's gradient
BOTTOM = (14, 116, 144)  # cyan-700


def _gradient(size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    pixels = image.load()
    for y in range(size):
        for x in range(size):
            t = (x + y) / (2 * (size - 1))
            pixels[x, y] = tuple(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM, strict=True))
    return image


def _draw_mark(draw: ImageDraw.ImageDraw, size: int, scale: float) -> None:
    """A speech bubble holding Ivan's head-and-shoulders: 'talk to a person'."""
    c = size / 2
    r = size * 0.34 * scale
    box = (c - r, c - r * 0.92, c + r, c + r * 0.78)
    draw.rounded_rectangle(box, radius=r * 0.38, fill=(255, 255, 255))
    tail = [(c - r * 0.45, c + r * 0.74), (c - r * 0.62, c + r * 1.08), (c - r * 0.1, c + r * 0.76)]
    draw.polygon(tail, fill=(255, 255, 255))
    ink = (30, 27, 75)
    head_r = r * 0.26
    draw.ellipse((c - head_r, c - r * 0.62, c + head_r, c - r * 0.62 + 2 * head_r), fill=ink)
    draw.pieslice((c - r * 0.52, c - r * 0.02, c + r * 0.52, c + r * 0.98), 180, 360, fill=ink)


def make(size: int, *, maskable: bool) -> Image.Image:
    image = _gradient(size)
    if not maskable:
        mask = Image.new("L", (size, size), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, size - 1, size - 1), radius=size * 0.22, fill=255)
        image.putalpha(mask)
    # Maskable icons keep their content inside the 80 % safe zone.
    _draw_mark(ImageDraw.Draw(image), size, 0.8 if maskable else 1.0)
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    make(192, maskable=False).save(OUT / "icon-192.png", optimize=True)
    make(512, maskable=False).save(OUT / "icon-512.png", optimize=True)
    make(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    make(180, maskable=True).save(OUT / "apple-touch-icon.png", optimize=True)
    make(32, maskable=False).save(OUT / "favicon-32.png", optimize=True)


if __name__ == "__main__":
    main()
