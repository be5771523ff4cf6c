"""Running the tools (certutil, keytool, refresh scripts), and the one place every change goes through."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from certtui.core import policy
from certtui.core import trustplaces as tp
from certtui.errors import CerttuiError
from certtui.journeys.trust.model import Change, Target, TrustRequest, TrustResult


def run_tool(
    argv: Sequence[str], *, stdin: bytes | None = None, timeout: float = policy.TRUST_TOOL_TIMEOUT_S
) -> str:
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise CerttuiError(f"{argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise CerttuiError(f"{shlex.join(argv)} did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        err = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        raise CerttuiError(
            f"{shlex.join(argv)} failed: {err[-1] if err else f'exit status {done.returncode}'}"
        )
    return done.stdout.decode("utf-8", "replace")


class Doer:
    """Does or, in a dry run, only says: every change goes through here."""

    def __init__(self, result: TrustResult, dry_run: bool) -> None:
        self.result = result
        self.dry_run = dry_run

    def say(self, target: Target, verb: str, what: str) -> None:
        self.result.changes.append(Change(target, verb, what))

    def write(self, target: Target, path: Path, data: bytes) -> None:
        if not self.dry_run:
            from certtui.core.export import write_atomic

            try:
                path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            except OSError as exc:
                raise CerttuiError(f"cannot create {path.parent} ({exc.strerror or exc})") from None
            write_atomic(path, data, private=False)
        self.say(target, "would write" if self.dry_run else "wrote", str(path))

    def remove(self, target: Target, path: Path) -> None:
        if not self.dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise CerttuiError(f"cannot remove {path} ({exc.strerror or exc})") from None
        self.say(target, "would remove" if self.dry_run else "removed", str(path))

    def run(
        self,
        target: Target,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        what: str = "",
        timeout: float = policy.TRUST_TOOL_TIMEOUT_S,
    ) -> None:
        if not self.dry_run:
            run_tool(argv, stdin=stdin, timeout=timeout)
        shown = shlex.join(argv) + (f" ({what})" if what else "")
        self.say(target, "would run" if self.dry_run else "ran", shown)


def root_of(req: TrustRequest) -> Path:
    return req.root_dir if req.root_dir is not None else Path("/")


def read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def our_files(folder: Path) -> list[tuple[Path, str]]:
    """(path, fingerprint) of every certtui-named certificate file in `folder`."""
    if not folder.is_dir():
        return []
    out: list[tuple[Path, str]] = []
    for path in sorted(folder.iterdir()):
        if tp.is_our_file(path.name) and path.is_file():
            out.extend((path, fp) for fp in tp.pem_fingerprints(read_or_empty(path))[:1])
    return out
