"""The user's TUI settings: key remaps by binding id, read from config.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from certtui.errors import CerttuiError


def load_keymap(path: Path) -> dict[str, str]:
    """`[keymap]` maps binding ids to keys: `"cert.inspect" = "i"`. No file: no remaps."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CerttuiError(f"{path} could not be read ({exc}); fix or remove it") from None
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keymap.items()
    ):
        raise CerttuiError(f'{path}: [keymap] must map binding ids to keys, like "cert.inspect" = "i"')
    return keymap
