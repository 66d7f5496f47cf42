"""Writes the test suite's Character Card V2 fixtures: a made-up character, Marta Lindqvist.

tests/fixtures/cards/marta.card_v2.json is written by hand in the shape SillyTavern's own cards
have (V1 fields beside `spec`/`data`, example turns inside `description`, a character book, foreign
extensions); this script draws a portrait and stores that JSON, base64, in the PNG's `chara` tEXt
chunk, as SillyTavern does. Run it after editing the JSON: python tools/make_card_fixture.py
"""

from __future__ import annotations

import base64
from pathlib import Path

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

CARDS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cards"


def portrait() -> Image.Image:
    """A lighthouse on a rock at dusk, 400×600 like the cards SillyTavern ships."""
    image = Image.new("RGB", (400, 600), (32, 44, 84))
    draw = ImageDraw.Draw(image)
    for y in range(0, 380, 4):  # sky fading to the horizon
        shade = int(40 + y / 380 * 90)
        draw.rectangle((0, y, 400, y + 4), fill=(shade, shade // 2 + 30, 110))
    draw.rectangle((0, 380, 400, 600), fill=(18, 52, 86))  # sea
    draw.polygon([(90, 600), (150, 470), (260, 455), (330, 600)], fill=(58, 54, 50))  # rock
    draw.polygon([(180, 470), (220, 470), (212, 250), (188, 250)], fill=(236, 232, 222))  # tower
    for y in (300, 360, 420):
        draw.rectangle((184, y, 216, y + 18), fill=(178, 34, 40))
    draw.rectangle((182, 215, 218, 250), fill=(250, 214, 90))  # lantern
    draw.polygon([(176, 215), (224, 215), (200, 190)], fill=(178, 34, 40))
    draw.polygon([(218, 222), (400, 170), (400, 250), (218, 242)], fill=(250, 226, 140))  # beam
    return image


def main() -> None:
    card_json = (CARDS / "marta.card_v2.json").read_bytes()
    info = PngInfo()
    info.add_text("chara", base64.b64encode(card_json).decode("ascii"))
    portrait().save(CARDS / "marta.card_v2.png", pnginfo=info, optimize=True)


if __name__ == "__main__":
    main()
