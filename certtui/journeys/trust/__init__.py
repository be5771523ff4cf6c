"""Trust a CA on this machine: the system store, the user's NSS databases, Firefox's policy, Java."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from certtui.core.store import Store
from certtui.errors import CerttuiError
from certtui.journeys.trust import firefox, java, nss, system
from certtui.journeys.trust.java import DEBIAN_JAVA_CACERTS
from certtui.journeys.trust.model import (
    DEFAULT_TARGETS,
    ROOT_TARGETS,
    Change,
    Place,
    StaleRoot,
    Target,
    TrustCA,
    TrustRequest,
    TrustResult,
    TrustStatus,
    common_name,
    load_ca,
)
from certtui.journeys.trust.nss import NssDb, nss_databases
from certtui.journeys.trust.status import status
from certtui.journeys.trust.system import SYSTEM_LOCK, system_lock
from certtui.journeys.trust.tools import Doer, root_of

# The names the command, the TUI and the tests use; each part lives in its own module.
__all__ = [
    "DEFAULT_TARGETS",
    "ROOT_TARGETS",
    "SYSTEM_LOCK",
    "Change",
    "NssDb",
    "Place",
    "StaleRoot",
    "Target",
    "TrustCA",
    "TrustRequest",
    "TrustResult",
    "TrustStatus",
    "apply",
    "apply_stale",
    "common_name",
    "invoked_program",
    "load_ca",
    "needs_root",
    "nss_databases",
    "status",
    "sudo_command",
    "system_lock",
    "user_home",
]


def needs_root(req: TrustRequest) -> frozenset[Target]:
    """The targets of `req` that write system folders while this process is not root."""
    if req.root_dir is not None or req.dry_run or req.euid == 0:
        return frozenset()
    return req.targets & ROOT_TARGETS


def sudo_command(
    program: Sequence[str],
    store_home: Path,
    req: TrustRequest,
    targets: Iterable[Target],
    extra: Sequence[str] = (),
) -> str:
    """The exact command a normal user runs for the root part (certtui never calls sudo)."""
    argv = ["sudo", *program, "--home", str(store_home), "trust", "install" if req.install else "uninstall"]
    argv += [f"--{t.value}" for t in sorted(targets)]
    if req.ca:
        argv += ["--ca", req.ca]
    return shlex.join([*argv, *extra])


_STEPS = (
    (Target.SYSTEM, system.step),
    (Target.FIREFOX_POLICY, firefox.step),
    (Target.NSS, nss.step),
    (Target.JAVA, java.step),
)


def apply(store: Store, req: TrustRequest) -> TrustResult:
    """Install or uninstall `req.ca` (the store's root by default) in each target, in a fixed order."""
    ca = load_ca(store, req.ca)
    missing_root = needs_root(req)
    if missing_root:
        raise CerttuiError(f"the {' and '.join(sorted(missing_root))} part needs root")
    result = TrustResult(ca)
    doer = Doer(result, req.dry_run)
    if req.root_dir is not None and not req.root_dir.is_dir():
        raise CerttuiError(f"--root-dir {req.root_dir} is not a folder")
    for target, step in _STEPS:
        if target in req.targets:
            step(req, ca, doer)
    if req.install and Target.SYSTEM in req.targets and (root_of(req) / DEBIAN_JAVA_CACERTS).exists():
        result.notes.append(
            "Java: ca-certificates-java rebuilds the JDK's cacerts from the system store, so this covers it"
        )
    if req.install and Target.NSS in req.targets:
        result.notes.append("restart Chromium and Firefox to read their databases again")
    return result


def apply_stale(store: Store, req: TrustRequest) -> TrustResult:
    """Uninstall every stale certtui root `status` finds in the targets of `req`, by fingerprint.

    The current CA stays. A root of another store is not in this one, so only its fingerprint
    (from the file or entry certtui named) says what to take out.
    """
    if req.install:
        raise CerttuiError("--stale applies to uninstall only")
    missing_root = needs_root(req)
    if missing_root:
        raise CerttuiError(f"the {' and '.join(sorted(missing_root))} part needs root")
    report = status(store, req)
    result = TrustResult(report.ca)
    doer = Doer(result, req.dry_run)
    done: set[tuple[Target, str]] = set()
    for item in report.stale:
        target = item.target
        if target not in req.targets or (target, item.sha256) in done:
            continue
        done.add((target, item.sha256))
        gone = TrustCA(item.store_id or "", "", item.sha256, b"", False)
        dict(_STEPS)[target](req, gone, doer)
    if not done:
        doer.say(Target.SYSTEM if Target.SYSTEM in req.targets else Target.NSS, "no stale root", "found")
    return result


def invoked_program() -> list[str]:
    """How this certtui was started, absolute, so the sudo line works from any folder."""
    arg0 = sys.argv[0] if sys.argv and sys.argv[0] else "certtui"
    if arg0.endswith("__main__.py") or arg0 == "-m":
        return [sys.executable, "-m", "certtui"]
    path = Path(arg0)
    return [str(path.resolve())] if path.parent != Path() or path.exists() else [arg0]


def user_home() -> Path:
    """$HOME (what Chromium and Firefox use), else the password database's entry."""
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))
