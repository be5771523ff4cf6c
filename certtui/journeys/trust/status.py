"""`trust status`: whether the CA is in each place certtui knows, and every stale certtui root found there."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from certtui.core import trustplaces as tp
from certtui.core.store import Store
from certtui.errors import CerttuiError
from certtui.journeys.trust.firefox import load_policy, machine_path, policy_dirs
from certtui.journeys.trust.java import (
    DEBIAN_JAVA_CACERTS,
    find_keytool,
    java_entries,
    java_keystore,
    rebuilt_from_system,
)
from certtui.journeys.trust.model import Place, StaleRoot, Target, TrustCA, TrustRequest, TrustStatus, load_ca
from certtui.journeys.trust.nss import NSS_PACKAGES, nss_databases, nss_entries, trusted_in
from certtui.journeys.trust.system import in_bundle
from certtui.journeys.trust.tools import our_files, root_of

FIREFOX_NOTE = (
    "Firefox on Linux does not read the system store: it trusts the root through its profile's "
    "NSS database (trust install --nss) or the enterprise policy (trust install --firefox-policy)"
)


def _classify(store: Store, ca: TrustCA, target: Target, path: str, fp: str, stale: list[StaleRoot]) -> None:
    if fp == ca.sha256 or any(s.path == path and s.sha256 == fp for s in stale):
        return
    from certtui.core.models import Kind

    found = store.find_sha256(fp)
    if found is None:
        what = "another certtui store's root"
    elif store.get(found).kind is Kind.ROOT:
        what = f"an earlier root of this store (id {found})"
    else:
        what = f"another CA of this store (id {found})"
    stale.append(StaleRoot(target, path, fp, found, what))


def _system_places(store: Store, req: TrustRequest, ca: TrustCA, out: TrustStatus) -> None:
    """The system store: is the anchor there, and is it in the refreshed bundle."""
    root = root_of(req)
    family = tp.detect_family(root)
    if family is None:
        out.places.append(Place(Target.SYSTEM, "system", str(root), "unknown", "no known trust store layout"))
    else:
        anchors = root / family.anchor_dir
        files = our_files(anchors)
        ours = [p for p, fp in files if fp == ca.sha256]
        bundled = in_bundle(root, family, ca.sha256)
        state = (
            "trusted" if ours and bundled else "anchor only" if ours else "in bundle" if bundled else "absent"
        )
        detail = {
            "anchor only": f"run {shlex.join(family.refresh)}",
            "in bundle": "not through a certtui anchor",
        }.get(state, "")
        out.places.append(Place(Target.SYSTEM, family.name, str(ours[0] if ours else anchors), state, detail))
        for path, fp in files:
            _classify(store, ca, Target.SYSTEM, str(path), fp, out.stale)


def _firefox_places(store: Store, req: TrustRequest, ca: TrustCA, out: TrustStatus) -> None:
    """Firefox's policy files: does each list the CA's PEM under Certificates.Install."""
    root = root_of(req)
    for app, folder in policy_dirs(root):
        policy_file = folder / "policies.json"
        try:
            installs = tp.policy_installs(load_policy(policy_file))
        except CerttuiError as exc:
            out.places.append(Place(Target.FIREFOX_POLICY, app, str(policy_file), "unreadable", str(exc)))
            continue
        files = our_files(folder)
        listed = {p for p, fp in files if fp == ca.sha256 and machine_path(root, p) in installs}
        out.places.append(
            Place(Target.FIREFOX_POLICY, f"{app} policy", str(policy_file), "trusted" if listed else "absent")
        )
        for path, fp in files:
            _classify(store, ca, Target.FIREFOX_POLICY, str(path), fp, out.stale)


def _nss_places(store: Store, req: TrustRequest, ca: TrustCA, out: TrustStatus) -> None:
    """Each NSS database: does it trust the CA for TLS servers."""
    dbs = nss_databases(req.home)
    certutil = shutil.which("certutil")
    for db in dbs:
        if db.kind == "legacy":
            out.places.append(Place(Target.NSS, db.label, str(db.path), "skipped", "legacy cert8.db"))
            continue
        if db.kind == "new":
            out.places.append(
                Place(Target.NSS, db.label, str(db.path), "absent", "no cert9.db yet; install creates it")
            )
            continue
        if certutil is None:
            out.places.append(
                Place(Target.NSS, db.label, str(db.path), "unknown", f"certutil missing ({NSS_PACKAGES})")
            )
            continue
        entries = nss_entries(certutil, db.path)
        trusted = trusted_in(entries, ca.sha256)
        out.places.append(Place(Target.NSS, db.label, f"sql:{db.path}", "trusted" if trusted else "absent"))
        for nick, _t, fps in entries:
            if nick.startswith(f"{tp.NAME_PREFIX} "):
                for fp in fps:
                    _classify(store, ca, Target.NSS, f"sql:{db.path} {nick!r}", fp, out.stale)
    if not dbs:
        out.places.append(
            Place(Target.NSS, "NSS", str(req.home), "none found", "no Chromium nssdb or Firefox profile")
        )


def _java_places(store: Store, req: TrustRequest, ca: TrustCA, out: TrustStatus) -> None:
    """The Java keystores: Debian's managed one and the one --java names."""
    root = root_of(req)
    managed = root / DEBIAN_JAVA_CACERTS
    keystores: list[tuple[str, Path, str]] = []
    if managed.is_file():
        keystores.append(
            (
                "Java (ca-certificates-java)",
                managed,
                "rebuilt from the system store: the system install covers it",
            )
        )
    try:
        own = java_keystore(req) if (req.keystore or req.java_home) else None
    except CerttuiError:
        own = None
    if own is not None and own.is_file() and not rebuilt_from_system(req, own):
        keystores.append(("Java keystore", own, ""))
    for label, keystore, detail in keystores:
        try:
            aliases = java_entries(find_keytool(req.java_home), keystore)
        except CerttuiError as exc:
            out.places.append(Place(Target.JAVA, label, str(keystore), "unknown", str(exc)))
            continue
        there = any(fp == ca.sha256 for _a, fp in aliases)
        out.places.append(Place(Target.JAVA, label, str(keystore), "trusted" if there else "absent", detail))
        for alias, fp in aliases:
            if alias.startswith(f"{tp.NAME_PREFIX}-"):
                _classify(store, ca, Target.JAVA, f"{keystore} {alias}", fp, out.stale)


def status(store: Store, req: TrustRequest) -> TrustStatus:
    """Whether the CA is in each place certtui knows, and every other certtui root found there."""
    ca = load_ca(store, req.ca)
    out = TrustStatus(ca)
    _system_places(store, req, ca, out)
    _firefox_places(store, req, ca, out)
    _nss_places(store, req, ca, out)
    _java_places(store, req, ca, out)
    out.notes.append(FIREFOX_NOTE)
    if ca.name_constrained:
        honoured = ", ".join(n for n, ok in tp.NAME_CONSTRAINT_CLIENTS if ok)
        ignored = ", ".join(n for n, ok in tp.NAME_CONSTRAINT_CLIENTS if not ok)
        out.notes.append(f"the root is name-constrained: honoured by {honoured}; ignored by {ignored}")
    if out.stale:
        out.notes.append(
            "remove the stale certtui roots with: certtui trust uninstall --stale (and --system as root)"
        )
    return out
