"""The system trust store: an anchor file, the distribution's refresh script, one machine-wide lock."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from certtui.core import policy
from certtui.core import trustplaces as tp
from certtui.errors import CerttuiError
from certtui.journeys.trust.java import DEBIAN_JAVA_CACERTS, JAVA_STOREPASS, find_keytool, java_entries
from certtui.journeys.trust.model import Target, TrustCA, TrustRequest
from certtui.journeys.trust.tools import Doer, our_files, read_or_empty, root_of

# Two certtui processes refreshing the system store at once race: ca-certificates-java loads the
# keystore, changes it and writes it whole, so one run's change can undo the other's. Root-owned.
SYSTEM_LOCK = Path("/run/lock/certtui-trust.lock")


def _family(req: TrustRequest) -> tp.SystemFamily:
    root = root_of(req)
    family = tp.detect_family(root)
    if family is None:
        known = ", ".join(f"{f.name} ({f.tool})" for f in tp.FAMILIES)
        where = f" under {root}" if req.root_dir is not None else ""
        raise CerttuiError(
            f"no system trust store certtui knows was found{where}; it knows {known} (--nss alone skips it)"
        )
    return family


@contextmanager
def system_lock(path: Path = SYSTEM_LOCK) -> Iterator[None]:
    """Hold the machine-wide lock for changing the system store (none where /run/lock is missing)."""
    import fcntl

    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def in_bundle(root: Path, family: tp.SystemFamily, sha256: str) -> bool:
    """Whether the refreshed bundle the system's clients read holds the certificate."""
    return sha256 in tp.pem_fingerprints(read_or_empty(root / family.bundle))


def step(req: TrustRequest, ca: TrustCA, doer: Doer) -> None:
    if req.root_dir is None and not req.dry_run:
        with system_lock():
            _system_locked(req, ca, doer)
    else:
        _system_locked(req, ca, doer)


def _system_locked(req: TrustRequest, ca: TrustCA, doer: Doer) -> None:
    family = _family(req)
    root = root_of(req)
    anchors = root / family.anchor_dir
    ours = [path for path, fp in our_files(anchors) if fp == ca.sha256]
    refresh = list(family.refresh if req.install else family.refresh_after_removal)
    if req.install:
        if ours and (in_bundle(root, family, ca.sha256) or req.root_dir is not None):
            doer.say(Target.SYSTEM, "already trusted:", f"{ours[0]} ({family.name})")
            return
        if not ours:
            doer.write(Target.SYSTEM, anchors / tp.anchor_name(ca.sha256), ca.pem)
    else:
        if not ours:
            doer.say(Target.SYSTEM, "not installed:", f"no certtui anchor with this fingerprint in {anchors}")
            return
        for path in ours:
            doer.remove(Target.SYSTEM, path)
    if req.root_dir is not None:
        # Nothing runs against the real system: the image build (or the user) runs it inside DIR.
        shown = shlex.join(refresh)
        doer.say(
            Target.SYSTEM, "to run", f"inside {root}: {shown} (e.g. chroot {shlex.quote(str(root))} {shown})"
        )
    else:
        doer.run(Target.SYSTEM, refresh, what=family.name, timeout=policy.TRUST_REFRESH_TIMEOUT_S)
        if not req.install and not req.dry_run:
            _java_leftovers(req, ca, doer)


def _java_leftovers(req: TrustRequest, ca: TrustCA, doer: Doer) -> None:
    """Debian's ca-certificates-java (20230710) keeps a removed anchor in its keystore even after
    update-ca-certificates --fresh; take out the entry its hook made for ours (alias and fingerprint)."""
    keystore = root_of(req) / DEBIAN_JAVA_CACERTS
    if not keystore.is_file() or shutil.which("keytool") is None:
        return
    keytool = find_keytool(None)
    alias = f"debian:{tp.anchor_name(ca.sha256).removesuffix('.crt')}.pem"
    for name, fp in java_entries(keytool, keystore):
        if name == alias and fp == ca.sha256:
            argv = [
                keytool,
                "-delete",
                "-keystore",
                str(keystore),
                "-storepass",
                JAVA_STOREPASS,
                "-alias",
                name,
            ]
            doer.run(Target.SYSTEM, argv, what=f"ca-certificates-java left it in {keystore}")
