"""Export a certificate: check every format first, then render each and write it atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from certtui.core.models import CertRecord
from certtui.core.store import Store
from certtui.errors import CerttuiError


@dataclass(frozen=True)
class ExportRequest:
    """Write one or more formats of a certificate into a directory."""

    cert_id: str
    formats: tuple[str, ...]
    directory: Path
    password: str | None = None
    with_root: bool = False
    unencrypted_key: bool = False


def needs_key(rec: CertRecord, formats: tuple[str, ...]) -> bool:
    """Whether any of the formats holds the private key (the store must be unlocked)."""
    from certtui.core.export import Format, holds_key

    return any(holds_key(rec, Format(f)) for f in formats)


def write(
    store: Store,
    rec: CertRecord,
    formats: tuple[str, ...],
    out: Path,
    *,
    password: str | None = None,
    with_root: bool = False,
    unencrypted_key: bool = False,
) -> list[tuple[Path, int]]:
    """Check every format, render them all, then write each (into `out` if it is a folder,
    with its mkcert-style name, else as `out`); (path, mode) per file."""
    from certtui.core.export import WITH_ROOT_FORMATS, Format, check, render, target_path, write_atomic

    forms = [Format(f) for f in formats]
    for fmt in forms:
        check(
            rec,
            fmt,
            with_root=with_root and fmt in WITH_ROOT_FORMATS,
            unencrypted_key=unencrypted_key and fmt is Format.KEY,
        )
    rendered = [
        render(
            store,
            rec,
            fmt,
            password=password,
            with_root=with_root and fmt in WITH_ROOT_FORMATS,
            unencrypted_key=unencrypted_key and fmt is Format.KEY,
        )
        for fmt in forms
    ]
    written = []
    for done in rendered:
        path = target_path(out, done.filename)
        write_atomic(path, done.data, private=done.private)
        written.append((path, path.stat().st_mode & 0o777))
    return written


def export(store: Store, req: ExportRequest) -> list[tuple[Path, int]]:
    """Write the request's formats into its directory (the TUI's export form)."""
    rec = store.get(req.cert_id)
    if not req.directory.is_dir():
        raise CerttuiError(f"{req.directory} is not a directory; pick an existing one")
    return write(
        store,
        rec,
        req.formats,
        req.directory,
        password=req.password,
        with_root=req.with_root,
        unencrypted_key=req.unencrypted_key,
    )
