"""Trust a CA on this machine: the system store, the user's NSS databases, Firefox's policy, Java."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from certtui.core import trustplaces as tp
from certtui.core.store import Store
from certtui.errors import CerttuiError

# The password every JDK ships its cacerts with; keytool needs one to read or change it.
JAVA_STOREPASS = "changeit"
# Debian's ca-certificates-java rebuilds this keystore from the system store on every
# update-ca-certificates; each JDK's lib/security/cacerts links to it.
DEBIAN_JAVA_CACERTS = "etc/ssl/certs/java/cacerts"
# A certutil or keytool run takes well under a second (keytool starts a JVM); a minute covers
# a loaded machine without hanging forever on a locked database.
TOOL_TIMEOUT_S = 60
# The refresh scripts rebuild every bundle (and Debian's Java keystore): minutes on a slow disk.
REFRESH_TIMEOUT_S = 300
# Two certtui processes refreshing the system store at once race: ca-certificates-java loads the
# keystore, changes it and writes it whole, so one run's change can undo the other's. Root-owned.
SYSTEM_LOCK = Path("/run/lock/certtui-trust.lock")
NSS_PACKAGES = (
    "libnss3-tools (Debian/Ubuntu), nss-tools (Fedora/RHEL, Alpine), nss (Arch), mozilla-nss-tools (openSUSE)"
)
FIREFOX_NOTE = (
    "Firefox on Linux does not read the system store: it trusts the root through its profile's "
    "NSS database (trust install --nss) or the enterprise policy (trust install --firefox-policy)"
)


class Target(StrEnum):
    """A kind of place a root can be trusted in."""

    SYSTEM = "system"
    NSS = "nss"
    JAVA = "java"
    FIREFOX_POLICY = "firefox-policy"


# These write system folders: root, unless --root-dir points elsewhere.
ROOT_TARGETS = frozenset({Target.SYSTEM, Target.FIREFOX_POLICY})
DEFAULT_TARGETS = frozenset({Target.SYSTEM, Target.NSS})


@dataclass(frozen=True)
class TrustRequest:
    """What to do, where; `euid` and `home` come from the process so tests can set them."""

    install: bool
    targets: frozenset[Target]
    home: Path
    dry_run: bool = False
    ca: str | None = None
    root_dir: Path | None = None
    java_home: Path | None = None
    keystore: Path | None = None
    euid: int = 0


@dataclass(frozen=True)
class Change:
    """One line of output: a file written or removed, a command run, a database changed."""

    target: Target
    verb: str
    what: str

    def line(self) -> str:
        return f"{self.target.value}: {self.verb} {self.what}"


@dataclass(frozen=True)
class TrustCA:
    """The CA being trusted, as the installer needs it."""

    id: str
    subject: str
    sha256: str
    pem: bytes
    name_constrained: bool


@dataclass
class TrustResult:
    ca: TrustCA
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """One row of `trust status`."""

    target: Target
    label: str
    path: str
    state: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "target": self.target.value,
            "label": self.label,
            "path": self.path,
            "state": self.state,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class StaleRoot:
    """A certtui root found somewhere that is not the CA in hand."""

    target: Target
    path: str
    sha256: str
    store_id: str | None
    """Its id when this store has it (an earlier root, another CA), None when another store made it."""
    what: str

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.value,
            "path": self.path,
            "sha256": self.sha256,
            "store_id": self.store_id,
            "what": self.what,
        }


@dataclass
class TrustStatus:
    ca: TrustCA
    places: list[Place] = field(default_factory=list)
    stale: list[StaleRoot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        honoured = [name for name, ok in tp.NAME_CONSTRAINT_CLIENTS if ok]
        ignored = [name for name, ok in tp.NAME_CONSTRAINT_CLIENTS if not ok]
        return {
            "ca": {
                "id": self.ca.id,
                "subject": self.ca.subject,
                "sha256": self.ca.sha256,
                "name_constrained": self.ca.name_constrained,
            },
            "places": [p.to_json() for p in self.places],
            "stale": [s.to_json() for s in self.stale],
            "name_constraints": {
                "constrained": self.ca.name_constrained,
                "honoured_by": honoured if self.ca.name_constrained else [],
                "ignored_by": ignored if self.ca.name_constrained else [],
            },
            "notes": self.notes,
        }


# -- the CA ---------------------------------------------------------------------------------------


def load_ca(store: Store, ref: str | None) -> TrustCA:
    """The store's root, or the CA `ref` names; a leaf is refused."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from certtui.core.models import Kind

    if ref is None:
        root_id = store.root_id()
        if root_id is None:
            raise CerttuiError("this store has no root yet; create one with `certtui init`")
        rec = store.get(root_id)
    else:
        rec = store.resolve(ref)
    if rec.kind not in (Kind.ROOT, Kind.INTERMEDIATE):
        raise CerttuiError(
            f"{ref} is a {rec.kind.value} certificate, not a CA; give a root or intermediate to --ca"
        )
    cert = store.certificate(rec.id)
    try:
        cert.extensions.get_extension_for_class(x509.NameConstraints)
        constrained = True
    except x509.ExtensionNotFound:
        constrained = False
    return TrustCA(
        rec.id, rec.subject, rec.sha256, cert.public_bytes(serialization.Encoding.PEM), constrained
    )


def common_name(ca: TrustCA) -> str:
    for part in ca.subject.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN":
            return value
    return ca.subject


# -- root ----------------------------------------------------------------------------------------


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


# -- running tools -------------------------------------------------------------------------------


def _run(argv: Sequence[str], *, stdin: bytes | None = None, timeout: float = TOOL_TIMEOUT_S) -> str:
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


def _shown(argv: Sequence[str]) -> str:
    return shlex.join(argv)


class _Doer:
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
        timeout: float = TOOL_TIMEOUT_S,
    ) -> None:
        if not self.dry_run:
            _run(argv, stdin=stdin, timeout=timeout)
        shown = _shown(argv) + (f" ({what})" if what else "")
        self.say(target, "would run" if self.dry_run else "ran", shown)


# -- the system store ----------------------------------------------------------------------------


def _root(req: TrustRequest) -> Path:
    return req.root_dir if req.root_dir is not None else Path("/")


def _family(req: TrustRequest) -> tp.SystemFamily:
    root = _root(req)
    family = tp.detect_family(root)
    if family is None:
        known = ", ".join(f"{f.name} ({f.tool})" for f in tp.FAMILIES)
        where = f" under {root}" if req.root_dir is not None else ""
        raise CerttuiError(
            f"no system trust store certtui knows was found{where}; it knows {known} (--nss alone skips it)"
        )
    return family


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _our_files(folder: Path) -> list[tuple[Path, str]]:
    """(path, fingerprint) of every certtui-named certificate file in `folder`."""
    if not folder.is_dir():
        return []
    out: list[tuple[Path, str]] = []
    for path in sorted(folder.iterdir()):
        if tp.is_our_file(path.name) and path.is_file():
            out.extend((path, fp) for fp in tp.pem_fingerprints(_read(path))[:1])
    return out


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


def _system(req: TrustRequest, ca: TrustCA, doer: _Doer) -> None:
    if req.root_dir is None and not req.dry_run:
        with system_lock():
            _system_locked(req, ca, doer)
    else:
        _system_locked(req, ca, doer)


def _system_locked(req: TrustRequest, ca: TrustCA, doer: _Doer) -> None:
    family = _family(req)
    root = _root(req)
    anchors = root / family.anchor_dir
    ours = [path for path, fp in _our_files(anchors) if fp == ca.sha256]
    refresh = list(family.refresh if req.install else family.refresh_after_removal)
    if req.install:
        in_bundle = ca.sha256 in tp.pem_fingerprints(_read(root / family.bundle))
        if ours and (in_bundle or req.root_dir is not None):
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
        doer.say(
            Target.SYSTEM,
            "to run",
            f"inside {root}: {_shown(refresh)} (e.g. chroot {shlex.quote(str(root))} {_shown(refresh)})",
        )
    else:
        doer.run(Target.SYSTEM, refresh, what=family.name, timeout=REFRESH_TIMEOUT_S)
        if not req.install and not req.dry_run:
            _java_leftovers(req, ca, doer)


def _java_leftovers(req: TrustRequest, ca: TrustCA, doer: _Doer) -> None:
    """Debian's ca-certificates-java (20230710) keeps a removed anchor in its keystore even after
    update-ca-certificates --fresh; take out the entry its hook made for ours (alias and fingerprint)."""
    keystore = _root(req) / DEBIAN_JAVA_CACERTS
    if not keystore.is_file() or shutil.which("keytool") is None:
        return
    keytool = _keytool(None)
    alias = f"debian:{tp.anchor_name(ca.sha256).removesuffix('.crt')}.pem"
    for name, fp in _java_entries(keytool, keystore):
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


# -- NSS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NssDb:
    label: str
    path: Path
    kind: str
    """'sql' (cert9.db), 'legacy' (cert8.db only), 'new' (a profile folder with no database yet)."""


def nss_databases(home: Path) -> list[NssDb]:
    """Every NSS database of the user at `home`: Chromium's, snap Chromium's, each Firefox profile's."""
    found: list[NssDb] = []

    def add(label: str, path: Path, profile: bool) -> None:
        if any(db.path == path for db in found) or not path.is_dir():
            return
        if (path / "cert9.db").is_file():
            found.append(NssDb(label, path, "sql"))
        elif (path / "cert8.db").is_file():
            found.append(NssDb(label, path, "legacy"))
        elif profile:
            found.append(NssDb(label, path, "new"))

    for label, rel in tp.CHROMIUM_DBS:
        add(label, home / rel, False)
    for label, rel in tp.FIREFOX_BASES:
        base = home / rel
        ini = base / "profiles.ini"
        if not ini.is_file():
            continue
        text = _read(ini).decode("utf-8", "replace")
        for profile in tp.parse_profiles_ini(text, base):
            add(f"{label} profile {profile.name}", profile, True)
    return found


def _certutil() -> str:
    found = shutil.which("certutil")
    if found is None:
        raise CerttuiError(f"certutil is not installed; it comes with {NSS_PACKAGES}")
    return found


def _nss_entries(certutil: str, db: Path) -> list[tuple[str, str, list[str]]]:
    """(nickname, trust, fingerprints of the certificates under that nickname).

    Only certtui's nicknames and TLS-trusted CAs are read: Firefox caches every intermediate it
    meets (untrusted, `,,`), hundreds of certutil runs that could never change the answer.
    """
    out: list[tuple[str, str, list[str]]] = []
    seen: set[str] = set()
    for nick, trust in tp.parse_certutil_list(_run([certutil, "-L", "-d", f"sql:{db}"])):
        if nick in seen:
            continue
        seen.add(nick)
        if not (nick.startswith(f"{tp.NAME_PREFIX} ") or tp.trusted_for_tls(trust)):
            out.append((nick, trust, []))
            continue
        pem = _run([certutil, "-L", "-d", f"sql:{db}", "-n", nick, "-a"])
        out.append((nick, trust, tp.pem_fingerprints(pem.encode())))
    return out


def _nss(req: TrustRequest, ca: TrustCA, doer: _Doer) -> None:
    dbs = nss_databases(req.home)
    if not dbs:
        doer.say(
            Target.NSS,
            "no database found",
            f"under {req.home} (Chromium: ~/.pki/nssdb; Firefox: profiles.ini)",
        )
        return
    certutil = _certutil()
    nick = tp.nss_nickname(common_name(ca), ca.sha256)
    for db in dbs:
        where = f"sql:{db.path} ({db.label})"
        if db.kind == "legacy":
            doer.say(
                Target.NSS,
                "skipped",
                f"{db.path} ({db.label}): a legacy cert8.db; certtui changes only cert9.db databases",
            )
            continue
        owner = db.path.stat().st_uid
        if owner != req.euid:
            # Root under sudo with the user's $HOME: files root wrote there would lock the user's
            # browser out of its own database, and profiles.ini could aim certutil anywhere.
            doer.say(
                Target.NSS,
                "skipped",
                f"{db.path} ({db.label}): owned by uid {owner}; run certtui as that user for it",
            )
            continue
        entries = [] if db.kind == "new" else _nss_entries(certutil, db.path)
        if req.install:
            if any(ca.sha256 in fps and tp.trusted_for_tls(trust) for _n, trust, fps in entries):
                doer.say(Target.NSS, "already trusted:", where)
                continue
            if db.kind == "new":
                # What Firefox itself does on a profile's first start: an empty-password cert9.db.
                doer.run(
                    Target.NSS,
                    [certutil, "-N", "-d", f"sql:{db.path}", "--empty-password"],
                    what="new database",
                )
            doer.run(
                Target.NSS,
                [certutil, "-A", "-d", f"sql:{db.path}", "-t", "C,,", "-n", nick, "-a"],
                stdin=ca.pem,
                what=db.label,
            )
        else:
            mine = [
                n
                for n, _t, fps in entries
                if n.startswith(f"{tp.NAME_PREFIX} ") and fps and set(fps) == {ca.sha256}
            ]
            if not mine:
                doer.say(Target.NSS, "not installed:", where)
            for name in mine:
                doer.run(Target.NSS, [certutil, "-D", "-d", f"sql:{db.path}", "-n", name], what=db.label)


# -- Firefox's enterprise policy -------------------------------------------------------------------


def _policy_dirs(root: Path) -> list[tuple[str, Path]]:
    """(application, /etc/<app>/policies) for each Firefox installed; firefox when none is."""
    apps = [a for a in tp.FIREFOX_POLICY_APPS if tp.tool_in_tree(root, a) or (root / "etc" / a).is_dir()]
    return [(a, root / "etc" / a / "policies") for a in apps or ["firefox"]]


def _load_policy(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CerttuiError(f"{path} is not valid JSON ({exc}); fix it or move it aside first") from None
    if not isinstance(value, dict):
        raise CerttuiError(f"{path} is not a JSON object; fix it or move it aside first")
    return value


def _dump_policy(policy: dict[str, Any]) -> bytes:
    return (json.dumps(policy, indent=2, ensure_ascii=False) + "\n").encode()


def _firefox_policy(req: TrustRequest, ca: TrustCA, doer: _Doer) -> None:
    root = _root(req)
    for app, folder in _policy_dirs(root):
        policy_file = folder / "policies.json"
        policy = _load_policy(policy_file)

        # Firefox reads the path as it is on the machine, not under --root-dir.
        def seen(path: Path) -> str:
            return "/" + str(path.relative_to(root)).lstrip("/")

        if req.install:
            cert_file = folder / f"{tp.NAME_PREFIX}-{tp.fp_prefix(ca.sha256)}.pem"
            # ImportEnterpriseRoots reads the Windows and macOS stores only; on Linux, Install does it.
            new = tp.policy_with(
                policy, seen(cert_file), enterprise_roots=sys.platform in ("win32", "darwin")
            )
            have_cert = ca.sha256 in tp.pem_fingerprints(_read(cert_file))
            if new == policy and have_cert:
                doer.say(Target.FIREFOX_POLICY, "already trusted:", f"{policy_file} ({app})")
                continue
            if not have_cert:
                doer.write(Target.FIREFOX_POLICY, cert_file, ca.pem)
            if new != policy:
                doer.write(Target.FIREFOX_POLICY, policy_file, _dump_policy(new))
        else:
            ours = [p for p, fp in _our_files(folder) if fp == ca.sha256]
            installs = set(tp.policy_installs(policy))
            paths = {seen(p) for p in ours} & installs
            if not ours:
                doer.say(Target.FIREFOX_POLICY, "not installed:", f"{policy_file} ({app})")
                continue
            if paths:
                new = tp.policy_without(policy, paths)
                if new == {"policies": {}}:
                    doer.remove(Target.FIREFOX_POLICY, policy_file)
                else:
                    doer.write(Target.FIREFOX_POLICY, policy_file, _dump_policy(new))
            for path in ours:
                doer.remove(Target.FIREFOX_POLICY, path)


# -- Java ------------------------------------------------------------------------------------------


def _keytool(java_home: Path | None) -> str:
    if java_home is not None and (java_home / "bin" / "keytool").is_file():
        return str(java_home / "bin" / "keytool")
    found = shutil.which("keytool")
    if found is None:
        raise CerttuiError("keytool is not installed; set JAVA_HOME to a JDK or install one")
    return found


def _java_keystore(req: TrustRequest) -> Path:
    if req.keystore is not None:
        return req.keystore
    if req.java_home is not None:
        for rel in ("lib/security/cacerts", "jre/lib/security/cacerts"):
            if (req.java_home / rel).exists():
                return req.java_home / rel
        raise CerttuiError(
            f"no lib/security/cacerts under JAVA_HOME={req.java_home}; give the keystore with --keystore PATH"
        )
    raise CerttuiError(
        "--java needs $JAVA_HOME or --keystore PATH; a distribution's JDK is covered by --system where "
        "its cacerts links to the system store (Debian's ca-certificates-java)"
    )


def _java_entries(keytool: str, keystore: Path) -> list[tuple[str, str]]:
    return tp.parse_keytool_list(
        _run([keytool, "-list", "-keystore", str(keystore), "-storepass", JAVA_STOREPASS])
    )


def _java(req: TrustRequest, ca: TrustCA, doer: _Doer) -> None:
    keystore = _java_keystore(req)
    if not keystore.is_file():
        raise CerttuiError(
            f"the keystore {keystore} does not exist; give an existing cacerts with --keystore"
        )
    managed = _root(req) / DEBIAN_JAVA_CACERTS
    if managed.exists() and keystore.resolve() == managed.resolve():
        doer.say(
            Target.JAVA,
            "skipped",
            f"{keystore}: ca-certificates-java rebuilds it from the system store, which --system covers",
        )
        return
    keytool = _keytool(req.java_home)
    entries = _java_entries(keytool, keystore)
    base = [keytool, "-keystore", str(keystore), "-storepass", JAVA_STOREPASS]
    if req.install:
        if any(fp == ca.sha256 for _a, fp in entries):
            doer.say(Target.JAVA, "already trusted:", str(keystore))
            return
        argv = [keytool, "-importcert", "-noprompt", *base[1:], "-alias", tp.java_alias(ca.sha256)]
        doer.run(Target.JAVA, argv, stdin=ca.pem, what=f"keystore {keystore} changed")
    else:
        mine = [a for a, fp in entries if fp == ca.sha256 and a.startswith(f"{tp.NAME_PREFIX}-")]
        if not mine:
            doer.say(Target.JAVA, "not installed:", str(keystore))
        for alias in mine:
            doer.run(
                Target.JAVA,
                [keytool, "-delete", *base[1:], "-alias", alias],
                what=f"keystore {keystore} changed",
            )


# -- install, uninstall, status ------------------------------------------------------------------

_STEPS = (
    (Target.SYSTEM, _system),
    (Target.FIREFOX_POLICY, _firefox_policy),
    (Target.NSS, _nss),
    (Target.JAVA, _java),
)


def apply(store: Store, req: TrustRequest) -> TrustResult:
    """Install or uninstall `req.ca` (the store's root by default) in each target, in a fixed order."""
    ca = load_ca(store, req.ca)
    missing_root = needs_root(req)
    if missing_root:
        raise CerttuiError(f"the {' and '.join(sorted(missing_root))} part needs root")
    result = TrustResult(ca)
    doer = _Doer(result, req.dry_run)
    if req.root_dir is not None and not req.root_dir.is_dir():
        raise CerttuiError(f"--root-dir {req.root_dir} is not a folder")
    for target, step in _STEPS:
        if target in req.targets:
            step(req, ca, doer)
    if req.install and Target.SYSTEM in req.targets and (_root(req) / DEBIAN_JAVA_CACERTS).exists():
        result.notes.append(
            "Java: ca-certificates-java rebuilds the JDK's cacerts from the system store, so this covers it"
        )
    if req.install and Target.NSS in req.targets:
        result.notes.append("restart Chromium and Firefox to read their databases again")
    return result


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


def status(store: Store, req: TrustRequest) -> TrustStatus:
    """Whether the CA is in each place certtui knows, and every other certtui root found there."""
    ca = load_ca(store, req.ca)
    out = TrustStatus(ca)
    root = _root(req)
    # The system store.
    family = tp.detect_family(root)
    if family is None:
        out.places.append(Place(Target.SYSTEM, "system", str(root), "unknown", "no known trust store layout"))
    else:
        anchors = root / family.anchor_dir
        files = _our_files(anchors)
        ours = [p for p, fp in files if fp == ca.sha256]
        in_bundle = ca.sha256 in tp.pem_fingerprints(_read(root / family.bundle))
        state = (
            "trusted"
            if ours and in_bundle
            else "anchor only"
            if ours
            else "in bundle"
            if in_bundle
            else "absent"
        )
        detail = {
            "anchor only": f"run {_shown(family.refresh)}",
            "in bundle": "not through a certtui anchor",
        }.get(state, "")
        out.places.append(Place(Target.SYSTEM, family.name, str(ours[0] if ours else anchors), state, detail))
        for path, fp in files:
            _classify(store, ca, Target.SYSTEM, str(path), fp, out.stale)
    # Firefox's policy.
    for app, folder in _policy_dirs(root):
        policy_file = folder / "policies.json"
        try:
            installs = tp.policy_installs(_load_policy(policy_file))
        except CerttuiError as exc:
            out.places.append(Place(Target.FIREFOX_POLICY, app, str(policy_file), "unreadable", str(exc)))
            continue
        files = _our_files(folder)
        listed = {
            p for p, fp in files if fp == ca.sha256 and "/" + str(p.relative_to(root)).lstrip("/") in installs
        }
        out.places.append(
            Place(Target.FIREFOX_POLICY, f"{app} policy", str(policy_file), "trusted" if listed else "absent")
        )
        for path, fp in files:
            _classify(store, ca, Target.FIREFOX_POLICY, str(path), fp, out.stale)
    # NSS.
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
        entries = _nss_entries(certutil, db.path)
        trusted = any(ca.sha256 in fps and tp.trusted_for_tls(t) for _n, t, fps in entries)
        out.places.append(Place(Target.NSS, db.label, f"sql:{db.path}", "trusted" if trusted else "absent"))
        for nick, _t, fps in entries:
            if nick.startswith(f"{tp.NAME_PREFIX} "):
                for fp in fps:
                    _classify(store, ca, Target.NSS, f"sql:{db.path} {nick!r}", fp, out.stale)
    if not dbs:
        out.places.append(
            Place(Target.NSS, "NSS", str(req.home), "none found", "no Chromium nssdb or Firefox profile")
        )
    # Java.
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
        own = _java_keystore(req) if (req.keystore or req.java_home) else None
    except CerttuiError:
        own = None
    if own is not None and own.is_file() and not (managed.exists() and own.resolve() == managed.resolve()):
        keystores.append(("Java keystore", own, ""))
    for label, keystore, detail in keystores:
        try:
            java_entries = _java_entries(_keytool(req.java_home), keystore)
        except CerttuiError as exc:
            out.places.append(Place(Target.JAVA, label, str(keystore), "unknown", str(exc)))
            continue
        there = any(fp == ca.sha256 for _a, fp in java_entries)
        out.places.append(Place(Target.JAVA, label, str(keystore), "trusted" if there else "absent", detail))
        for alias, fp in java_entries:
            if alias.startswith(f"{tp.NAME_PREFIX}-"):
                _classify(store, ca, Target.JAVA, f"{keystore} {alias}", fp, out.stale)
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
    doer = _Doer(result, req.dry_run)
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
