"""Secrets that live in files (passphrase, export and SMTP passwords): owner-only, first line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from certtui.core.userfiles import read_user_file
from certtui.errors import CerttuiError


def check_private(path: str | os.PathLike[str], label: str) -> Path:
    """`path` as an absolute path, if it is a regular file no one but its owner can read."""
    full = Path(path).expanduser().absolute()
    try:
        st = os.stat(full)
    except FileNotFoundError:
        raise CerttuiError(f"{label} {full} does not exist; give the file that holds the secret") from None
    except OSError as exc:
        raise CerttuiError(f"cannot read {label} {full} ({exc.strerror}); check its permissions") from None
    if not stat.S_ISREG(st.st_mode):
        raise CerttuiError(f"{label} {full} is not a regular file; give the file that holds the secret")
    if st.st_mode & 0o077:
        raise CerttuiError(
            f"{label} {full} can be read by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run `chmod 600 {full}`"
        )
    return full


def read_secret(path: str | os.PathLike[str], label: str) -> str:
    """The secret on the first line of an owner-only file."""
    full = check_private(path, label)
    data = read_user_file(full, f"{label}", f"{label} {full}")
    try:
        secret = data.decode("utf-8").split("\n", 1)[0].removesuffix("\r")
    except UnicodeDecodeError:
        raise CerttuiError(f"{label} {full} is not UTF-8 text; write the secret as text") from None
    if not secret:
        raise CerttuiError(f"{label} {full} is empty; put the secret on its first line")
    return secret
