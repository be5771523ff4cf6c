"""URL -> QR boolean matrix -> terminal text: half blocks, two module rows per line, dark on light."""

from __future__ import annotations

import qrcode
import qrcode.constants

# The light margin drawn around the code. The standard asks for 4 modules, but the terminal
# itself is a dark or light field of unknown colour, so 2 modules of explicit white is what
# lets a phone find the edge while a version 3 code stays 33 columns by 17 lines.
QUIET_ZONE = 2
# Level M (15 % of the code may be damaged): a typical URL still fits version 3.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
# Explicit colours from the 256-colour cube, never the theme's 0-15 palette that themes
# redefine: 16 is pure black (0, 0, 0) and 231 pure white (255, 255, 255). Dark modules are
# the glyph's ink, light ones the background, so the code reads the same in any theme.
INK = "\x1b[38;5;16m\x1b[48;5;231m"
RESET = "\x1b[0m"

# (top dark, bottom dark) -> glyph drawn in ink on the light background.
_GLYPHS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def matrix(text: str, border: int = QUIET_ZONE) -> list[list[bool]]:
    """The QR code of `text` as rows of modules, True = dark, with a light border."""
    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECTION, border=border)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def version(text: str) -> int:
    """The QR version (size class, 1-40) that `text` needs."""
    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECTION)
    code.add_data(text)
    code.make(fit=True)
    return int(code.version)


def half_block_lines(modules: list[list[bool]]) -> list[str]:
    """Two module rows per line as ` ▀▄█` glyphs: ink is dark, background is light."""
    lines = []
    for y in range(0, len(modules), 2):
        top = modules[y]
        bottom = modules[y + 1] if y + 1 < len(modules) else [False] * len(top)
        lines.append("".join(_GLYPHS[(t, b)] for t, b in zip(top, bottom, strict=True)))
    return lines


def render(text: str, *, colour: bool = True) -> str:
    """The QR code of `text` for a terminal; with `colour`, black ink on white in explicit SGR."""
    lines = half_block_lines(matrix(text))
    if colour:
        lines = [f"{INK}{line}{RESET}" for line in lines]
    return "\n".join(lines)
