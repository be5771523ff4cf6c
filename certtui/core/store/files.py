"""The store's files before SQLite opens them: modes, the folder, a header's promised length."""

from __future__ import annotations

import os
from pathlib import Path

from certtui.errors import StoreError

# The folder and database hold the sealed root key: owner only, whatever the umask.
DIR_MODE = 0o700
FILE_MODE = 0o600
# The first 16 bytes of every SQLite 3 database file, and the length of its header.
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
# A short file is read this many times: once, and again after a concurrent checkpoint that
# was extending it had time to finish and delete its WAL.
_LENGTH_ATTEMPTS = 3


def _header_bytes(path: Path) -> tuple[bytes, int]:
    """The database header and the file's size, read from one open file."""
    try:
        with open(path, "rb") as f:
            return f.read(_HEADER_BYTES), os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise StoreError(f"cannot read {path} ({exc.strerror}); check its permissions") from None


def _expected_size(header: bytes) -> int | None:
    """Page count x page size from an SQLite header; None when the header does not say.

    The page count (offset 28) is valid only when the version-valid-for number (offset 92)
    equals the change counter (offset 24); a page size of 1 means 65,536.
    """
    if len(header) < _HEADER_BYTES or not header.startswith(_SQLITE_MAGIC):
        return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if not pages or header[24:28] != header[92:96]:
        return None
    return pages * page_size


def _check_length(path: Path) -> None:
    """Refuse a database file shorter than its header says, before SQLite opens (or writes) it.

    SQLite itself only notices a missing page when it happens to read it. A non-empty WAL
    beside the file may hold the newer pages (a checkpoint cut short by a crash, or one
    running in another process right now): SQLite replays it, so the file is not judged then.
    A checkpoint finishes before its WAL is deleted, so a short file is read again after the
    WAL turns out to be gone.
    """
    for _ in range(_LENGTH_ATTEMPTS):
        header, size = _header_bytes(path)
        expected = _expected_size(header)
        if expected is None or size >= expected:
            return
        try:
            if os.path.getsize(f"{path}-wal") > 0:
                return
        except OSError:
            pass
    raise StoreError(
        f"{path} is cut short: its header counts {expected:,} bytes but the file holds {size:,} "
        "(an interrupted copy or a full disk); move it aside and restore a backup"
    )


def fsync_file(path: Path) -> None:
    """The file's bytes on disk before it is named or reported (a full disk may show only here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folder(folder: Path) -> None:
    """The store folder and every missing parent, each created 0700 whatever the umask."""
    missing = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        try:
            parent.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
        os.chmod(parent, DIR_MODE)
    os.chmod(folder, DIR_MODE)


def tighten_modes(path: Path) -> list[str]:
    """Narrow a store folder wider than 0700 (and a database wider than 0600); the notices."""
    notices = []
    for target, mode in ((path.parent, DIR_MODE), (path, FILE_MODE)):
        try:
            now = os.stat(target).st_mode & 0o777
            if now & ~mode:
                os.chmod(target, mode)
                notices.append(
                    f"{target} was open to group or others (mode {now:o}); certtui set it back to {mode:o}"
                )
        except OSError:
            pass  # not ours to change (another owner): SQLite's own open says what is wrong
    return notices


def _unlink_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
