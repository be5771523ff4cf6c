"""A QR code drawn with half blocks, black on white in explicit colours, whatever the theme."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

# Pure black ink on pure white paper: a phone needs the contrast, and the theme's colours
# (which a dark or light theme redefines) must never reach the code.
INK = Style(color="#000000", bgcolor="#ffffff")


class QrCode(Widget):
    """The QR code of `data`, with the quiet zone `certtui.enroll.qr` draws around it."""

    def __init__(self, data: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.data = data
        from certtui.enroll import qr

        self.lines = qr.half_block_lines(qr.matrix(data))

    def render(self) -> Text:
        return Text("\n".join(self.lines), style=INK, no_wrap=True, overflow="crop")

    def get_content_width(self, container: object, viewport: object) -> int:
        return len(self.lines[0]) if self.lines else 0

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.lines)
