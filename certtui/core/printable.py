"""Text from certificates and users made safe to show in a terminal: no control characters."""

from __future__ import annotations

import unicodedata

# Characters a terminal acts on instead of showing: C0, DEL and C1 controls (Cc), format
# characters such as bidi overrides (Cf), line/paragraph separators and lone surrogates. A
# certificate from elsewhere can carry them in its names; they are shown as escapes.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def printable(text: str) -> str:
    r"""`text` with each control or format character shown as \xNN or \uNNNN."""
    if text.isprintable():
        return text
    return "".join(
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        if unicodedata.category(ch) in _UNPRINTABLE
        else ch
        for ch in text
    )
