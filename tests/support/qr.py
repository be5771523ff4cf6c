"""Terminal QR codes back to what they encode: half blocks to modules to an image, read by zxing-cpp."""

from __future__ import annotations

import re

import zxingcpp
from PIL import Image

# Pixels per module in the decoder's image, and the extra white margin around it: zxing wants
# a few pixels per module and a wide quiet zone; the terminal's own 2 modules are inside it.
SCALE = 8
MARGIN_MODULES = 4
SGR = re.compile(r"\x1b\[[0-9;]*m")
# (top dark, bottom dark) for each glyph: ink is dark, the background light.
GLYPH_MODULES = {" ": (False, False), "▀": (True, False), "▄": (False, True), "█": (True, True)}


def qr_lines(text: str) -> list[str]:
    """The QR block of a screen: the run of lines made of half blocks (colours stripped)."""
    lines = [SGR.sub("", line) for line in text.splitlines()]
    is_qr = [bool(line) and set(line) <= set(GLYPH_MODULES) and len(line) > 20 for line in lines]
    start = is_qr.index(True)
    end = start
    while end < len(lines) and is_qr[end]:
        end += 1
    return lines[start:end]


def to_image(lines: list[str]) -> Image.Image:
    """Half blocks back to modules (two rows a line), drawn black on white at SCALE."""
    rows: list[list[bool]] = []
    for line in lines:
        pairs = [GLYPH_MODULES[ch] for ch in line]
        rows.append([p[0] for p in pairs])
        rows.append([p[1] for p in pairs])
    width, height = len(rows[0]), len(rows)
    size = ((width + 2 * MARGIN_MODULES) * SCALE, (height + 2 * MARGIN_MODULES) * SCALE)
    image = Image.new("L", size, 255)
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                left, top = (x + MARGIN_MODULES) * SCALE, (y + MARGIN_MODULES) * SCALE
                image.paste(0, (left, top, left + SCALE, top + SCALE))
    return image


def decode(lines: list[str]) -> str:
    results = zxingcpp.read_barcodes(to_image(lines))
    assert len(results) == 1, results
    return str(results[0].text)
