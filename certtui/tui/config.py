"""The user's TUI settings: key remaps by binding id, read from config.toml."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
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


def load_theme(path: Path) -> str | None:
    """`[tui] theme = "textual-light"`: the theme chosen last time, or None."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    theme = data.get("tui", {}).get("theme") if isinstance(data.get("tui"), dict) else None
    return theme if isinstance(theme, str) else None


def save_theme(path: Path, theme: str) -> None:
    """Write `theme` into `[tui]` of config.toml, keeping every other line as it was."""
    import os

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    setting = f"theme = {json_string(theme)}"
    section = None
    placed = False
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            if section == "tui" and not placed:
                out.append(setting)
                placed = True
            section = stripped.strip("[]").strip()
        elif section == "tui" and stripped.split("=")[0].strip() == "theme":
            if not placed:
                out.append(setting)
                placed = True
            continue
        out.append(line)
    if not placed:
        if section != "tui":
            out += ["", "[tui]"] if out else ["[tui]"]
        out.append(setting)
    tomllib.loads("\n".join(out))  # never write a file this module could not read back
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)


def json_string(text: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these)."""
    import json

    return json.dumps(text)


def unknown_ids(keymap: Mapping[str, str], known: set[str]) -> list[str]:
    """The keymap's binding ids that no binding has: typos the user must hear about."""
    return sorted(k for k in keymap if k not in known)


def screenshot_folder(start_dir: Path) -> Path:
    """~/Downloads when it exists (a desktop), else the folder certtui was started in."""
    from platformdirs import user_downloads_path

    downloads = user_downloads_path()
    return downloads if downloads.is_dir() else start_dir
