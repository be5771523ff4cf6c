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


@dataclass(frozen=True)
class Written:
    """One exported file: where, its mode, whether it replaced a file, and any warning."""

    path: Path
    mode: int
    replaced: bool = False
    warning: str | None = None


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
) -> list[Written]:
    """Check every format, render them all, then write each (into `out` if it is a folder,
    with its mkcert-style name, else as `out`); says what each replaced, and warns when a
    full chain lands beside a key file of another certificate (nginx: "key values mismatch")."""
    from certtui.core.export import (
        WITH_ROOT_FORMATS,
        Format,
        check,
        key_mismatch_warning,
        render,
        target_path,
        write_atomic,
    )

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
    done: list[tuple[Path, bool]] = []
    for each in rendered:
        path = target_path(out, each.filename)
        replaced = path.exists()
        write_atomic(path, each.data, private=each.private)
        done.append((path, replaced))
    # Judged once every file is written: a key exported with the chain is the new one.
    cert = store.certificate(rec.id)
    return [
        Written(path, path.stat().st_mode & 0o777, replaced, key_mismatch_warning(cert, path))
        for path, replaced in done
    ]


def export(store: Store, req: ExportRequest) -> list[Written]:
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
