"""Text from certificates and users made safe to show in a terminal: no control characters."""

from __future__ import annotations

import unicodedata

# Characters a terminal acts on instead of showing: C0, DEL and C1 controls (Cc), format
# characters such as bidi overrides (Cf), line/paragraph separators and lone surrogates. A
# certificate from elsewhere can carry them in its names; they are shown as escapes.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def printable(text: str, *, limit: int | None = None, backslashes: bool = False) -> str:
    r"""`text` with each control or format character shown as \xNN or \uNNNN.

    `backslashes` doubles each backslash, so that text from a client can never forge an
    escape; `limit` cuts the text to that many characters, then adds `…`.
    """
    cut = text if limit is None else text[:limit]
    more = "…" if limit is not None and len(text) > limit else ""
    if cut.isprintable() and not (backslashes and "\\" in cut):
        return cut + more
    out: list[str] = []
    for ch in cut:
        if backslashes and ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in _UNPRINTABLE:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out) + more
