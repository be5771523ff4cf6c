"""Read the files a user hands in (certificates, keys, CSRs, name lists, secrets), size-capped."""

from __future__ import annotations

import os
from pathlib import Path

from certtui.errors import CerttuiError

# The largest file certtui reads from a user: a certificate bundle with a dozen PEM
# certificates is about 25 KiB, an RSA 4096 key 3 KiB, a --from list of 10,000 names about
# 250 KiB. Anything bigger is the wrong file (a disk image, /dev/zero), refused before it is
# read so it cannot fill memory. Backups are read by SQLite, not here, and have no such cap.
MAX_INPUT_BYTES = 1024 * 1024


def _too_big(label: str, what: str, size: int | None) -> CerttuiError:
    held = f"is {size:,} bytes" if size is not None else "holds more than 1 MiB"
    return CerttuiError(
        f"{label} {held}, more than any {what} can be (certtui reads at most 1 MiB); "
        "check that you gave the right file"
    )


def read_user_file(path: str | os.PathLike[str], what: str, label: str | None = None) -> bytes:
    """The bytes of a file the user named, or one clear error; refused above MAX_INPUT_BYTES.

    `what` names the file's role in messages ("CA certificate", "passphrase file"); `label`
    replaces the path there (default: the path itself). A regular file's size is checked
    before anything is read; a pipe or device is read no further than the limit allows.
    """
    shown = label or str(path)
    try:
        with open(Path(path), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_INPUT_BYTES:
                raise _too_big(shown, what, size)
            data = f.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise CerttuiError(f"{shown} does not exist; give the path of the {what}") from None
    except IsADirectoryError:
        raise CerttuiError(f"{shown} is a folder, not the {what}; give the file's path") from None
    except OSError as exc:
        raise CerttuiError(
            f"cannot read {shown} ({exc.strerror}); check the path and its permissions"
        ) from None
    if len(data) > MAX_INPUT_BYTES:
        raise _too_big(shown, what, None)
    return data
