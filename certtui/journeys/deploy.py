"""Deploy targets: write a certificate's files atomically, reload the service, verify what it serves."""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from certtui.core import policy, upkeep
from certtui.core.fileset import FileSet, NewFile
from certtui.core.models import CertRecord
from certtui.core.printable import printable
from certtui.core.store import Store
from certtui.core.upkeep import DeployTarget
from certtui.errors import CerttuiError

# Certificates are public and readable by the service's user; keys are owner-only unless --mode.
PUBLIC_MODE = 0o644
PRIVATE_MODE = 0o600
KEY_FORMATS = ("pem", "pkcs8-encrypted")
# Variables a reload command must not inherit: they lead to the store passphrase.
SECRET_ENV = ("CERTTUI_PASSPHRASE_FILE", "CREDENTIALS_DIRECTORY")
LOCK_NAME = "upkeep.lock"


@dataclass(frozen=True)
class TargetRequest:
    """`deploy add`: which certificate, which files, and what to run and check afterwards."""

    cert_ref: str
    fullchain: str | None = None
    cert: str | None = None
    chain: str | None = None
    key: str | None = None
    key_format: str = "pem"
    p12: str | None = None
    password_file: str | None = None
    owner: str | None = None
    mode: str | None = None
    reload: str | None = None
    reload_shell: bool = False
    verify: str | None = None
    servername: str | None = None
    starttls: str | None = None


@dataclass(frozen=True)
class DeployResult:
    """One target's deploy: which certificate, and whether (and where) it failed."""

    target: DeployTarget
    record: CertRecord
    ok: bool
    stage: str
    message: str
    output: str = ""
    written: tuple[str, ...] = field(default=())

    def line(self) -> str:
        """One line for the terminal and the logs."""
        what = f"target {self.target.id} ({label(self.record)})"
        if self.ok:
            return f"deployed {self.record.id} to {what}: {self.message}"
        return f"deploy of {self.record.id} to {what} failed at {self.stage}: {self.message}"


def label(rec: CertRecord) -> str:
    return printable(", ".join(rec.names) or rec.subject or rec.id)


# -- adding -----------------------------------------------------------------------------------


def parse_owner(owner: str) -> tuple[int, int, str]:
    """`USER[:GROUP]` (names or numbers) -> (uid, gid; -1 for "keep"), checked to exist."""
    user, _, group = owner.partition(":")
    uid = _owner_id(owner, "user", user, lambda n: pwd.getpwnam(n).pw_uid)
    gid = _owner_id(owner, "group", group, lambda n: grp.getgrnam(n).gr_gid)
    if uid == -1 and gid == -1:
        raise CerttuiError(
            f"--owner {owner!r} names no user or group; write USER[:GROUP], e.g. root:ssl-cert"
        )
    return uid, gid, owner


def _owner_id(owner: str, what: str, name: str, lookup: Callable[[str], int]) -> int:
    """A user or group of `--owner` as a number (-1 when not given), looked up when a name."""
    if not name:
        return -1
    try:
        return int(name) if name.isdigit() else lookup(name)
    except KeyError:
        raise CerttuiError(
            f"--owner {owner}: there is no {what} {name!r} here; give an existing {what}"
        ) from None


def check_owner_allowed(uid: int, gid: int, owner: str, euid: int | None = None) -> None:
    """Only root gives files away; anyone may keep their own user and pick one of their groups."""
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return
    if (uid not in (-1, euid)) or (gid != -1 and gid not in os.getgroups() and gid != os.getegid()):
        raise CerttuiError(
            f"--owner {owner} needs root (only root can give files to another owner); "
            "run as root or drop --owner"
        )


def parse_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise CerttuiError(f"--mode {text} is not an octal mode; write it like 0640") from None
    if not 0 <= mode <= 0o777:
        raise CerttuiError(f"--mode {text} is out of range; give permission bits such as 0600 or 0640")
    if not mode & 0o400:
        raise CerttuiError(f"--mode {text} leaves the owner unable to read the key; give 0600, 0640 or 0400")
    return mode


def _absolute(path: str, flag: str) -> str:
    full = Path(path).expanduser().absolute()
    if not full.parent.is_dir():
        raise CerttuiError(f"{flag} {full}: the folder {full.parent} does not exist; create it first")
    if full.is_dir():
        raise CerttuiError(f"{flag} {full} is a folder; give the file to write, e.g. {full}/cert.pem")
    return str(full)


def add(store: Store, req: TargetRequest) -> DeployTarget:
    """Check a `deploy add` request through and store the target; nothing is written to disk."""
    from certtui.core import tlsprobe
    from certtui.journeys.secret_files import check_private

    rec = store.resolve(req.cert_ref)
    if rec.kind.is_ca:
        raise CerttuiError(f"{rec.id} is a CA; deploy targets take server and client certificates")
    files = {
        "--fullchain": req.fullchain,
        "--cert": req.cert,
        "--chain": req.chain,
        "--key": req.key,
        "--p12": req.p12,
    }
    if not any(files.values()):
        raise CerttuiError(
            "a deploy target needs a file to write: --fullchain, --cert, --chain, --key or --p12"
        )
    if req.key_format not in KEY_FORMATS:
        raise CerttuiError(f"--key-format {req.key_format} is not known; use pem or pkcs8-encrypted")
    if req.key_format != "pem" and not req.key:
        raise CerttuiError("--key-format goes with --key PATH")
    if (req.key or req.p12) and not rec.has_key:
        raise CerttuiError(
            f"{rec.id} has no private key in the store (it was signed from a device's request), "
            "so --key and --p12 cannot be written; deploy --fullchain or --cert only"
        )
    needs_password = req.p12 is not None or req.key_format == "pkcs8-encrypted"
    password_file = None
    if needs_password:
        if not req.password_file:
            raise CerttuiError("--p12 and --key-format pkcs8-encrypted need --password-file FILE (mode 0600)")
        password_file = str(check_private(req.password_file, "--password-file"))
    elif req.password_file:
        raise CerttuiError("--password-file goes with --p12 or --key-format pkcs8-encrypted; drop it")
    paths = {flag: _absolute(path, flag) for flag, path in files.items() if path}
    if len(set(paths.values())) != len(paths):
        raise CerttuiError(
            "two of --fullchain, --cert, --chain, --key, --p12 name the same file; give each its own"
        )
    if req.owner:
        uid, gid, _ = parse_owner(req.owner)
        check_owner_allowed(uid, gid, req.owner)
    mode = parse_mode(req.mode) if req.mode else None
    if req.reload_shell and not req.reload:
        raise CerttuiError("--reload-shell goes with --reload COMMAND")
    if req.reload is not None:
        if not req.reload.strip():
            raise CerttuiError('--reload is empty; give the command, e.g. "systemctl reload nginx"')
        if not req.reload_shell:
            try:
                shlex.split(req.reload)
            except ValueError as exc:
                raise CerttuiError(
                    f"--reload {req.reload!r} cannot be split into words ({exc}); fix its quotes"
                ) from None
    if (req.servername or req.starttls) and not req.verify:
        raise CerttuiError("--servername and --starttls go with --verify HOST:PORT")
    if req.verify:
        tlsprobe.parse_target(req.verify)
        if req.starttls and req.starttls not in tlsprobe.STARTTLS:
            raise CerttuiError(
                f"--starttls {req.starttls} is not known; use one of {', '.join(tlsprobe.STARTTLS)}"
            )
        if req.servername:
            from certtui.core.names import parse_name

            parse_name(req.servername)
    return upkeep.add_target(
        store,
        cert_id=rec.id,
        fullchain=paths.get("--fullchain"),
        cert=paths.get("--cert"),
        chain=paths.get("--chain"),
        key=paths.get("--key"),
        key_format=req.key_format,
        p12=paths.get("--p12"),
        password_file=password_file,
        owner=req.owner,
        mode=mode,
        reload=req.reload,
        reload_shell=int(req.reload_shell),
        verify=req.verify,
        servername=req.servername,
        starttls=req.starttls,
    )


def needs_key(target: DeployTarget) -> bool:
    """Whether deploying this target reads the private key (so the store must be unlocked)."""
    return bool(target.key or target.p12)


# -- running ----------------------------------------------------------------------------------


@contextmanager
def upkeep_lock(store: Store, wait_s: float = policy.RUN_LOCK_WAIT_S) -> Iterator[None]:
    """One renew/deploy run at a time per store: a second waits for the first, then finds it done."""
    path = store.path.parent / LOCK_NAME
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CerttuiError(
                        f"another certtui renew or deploy has run for over {wait_s:.0f} s; "
                        "wait for it to finish and try again"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def _files(store: Store, target: DeployTarget, rec: CertRecord) -> list[NewFile]:
    from certtui.core import export
    from certtui.journeys.secret_files import read_secret

    cert = store.certificate(rec.id)
    issuers = store.chain(rec.id)
    intermediates = [c for c in issuers if c.subject != c.issuer]
    uid, gid = (-1, -1)
    if target.owner:
        uid, gid, _ = parse_owner(target.owner)
    private_mode = target.mode if target.mode is not None else PRIVATE_MODE
    password = (
        read_secret(target.password_file, "the target's --password-file") if target.password_file else None
    )
    out: list[NewFile] = []
    for role, path in target.paths():
        if role == "fullchain":
            data, mode = export.fullchain_pem(cert, intermediates), PUBLIC_MODE
        elif role == "cert":
            data, mode = export.cert_pem(cert), PUBLIC_MODE
        elif role == "chain":
            data, mode = b"".join(export.cert_pem(c) for c in issuers), PUBLIC_MODE
        elif role == "key":
            key = store.private_key(rec.id)
            if target.key_format == "pem":
                data = export.key_pem(key, None, unencrypted=True)
            else:
                data = export.key_pem(key, password)
            mode = private_mode
        else:
            key = store.private_key(rec.id)
            name = rec.names[0] if rec.names else rec.id
            data, mode = export.pkcs12_bytes(key, cert, intermediates, password, name), private_mode
        out.append(NewFile(Path(path), data, mode, uid, gid))
    return out


def hook_env(target: DeployTarget, rec: CertRecord, previous: str | None) -> dict[str, str]:
    """The reload command's environment: ours without the passphrase's trail, plus, as certbot
    gives its hooks, what was deployed where."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(
        CERTTUI_TARGET_ID=str(target.id),
        CERTTUI_CERT_ID=rec.id,
        CERTTUI_SERIAL=rec.serial,
        CERTTUI_NAMES=" ".join(rec.names),
        CERTTUI_NOT_AFTER=rec.not_after,
        CERTTUI_PREVIOUS_SERIAL=previous or "",
    )
    for role, path in target.paths():
        env[f"CERTTUI_{role.upper()}"] = path
    return env


@dataclass(frozen=True)
class Ran:
    """What a reload command did."""

    ok: bool
    message: str
    output: str


def run_reload(command: str, shell: bool, env: dict[str, str], timeout: float | None = None) -> Ran:
    """Run the reload command (no shell unless asked), time-limited, its output captured."""
    timeout = policy.RELOAD_TIMEOUT_S if timeout is None else timeout
    argv = ["/bin/sh", "-c", command] if shell else shlex.split(command)
    shown = printable(command)
    try:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        return Ran(False, f"the reload command {argv[0]!r} was not found; give its full path", "")
    except OSError as exc:
        return Ran(False, f"the reload command {argv[0]!r} cannot run ({exc.strerror})", "")
    try:
        raw, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        raw, _ = child.communicate()
        output = _keep(raw)
        return Ran(False, f"`{shown}` did not finish within {timeout:g} s and was stopped", output)
    output = _keep(raw)
    if child.returncode != 0:
        last = output.strip().splitlines()[-1] if output.strip() else "no output"
        return Ran(False, f"`{shown}` exited with status {child.returncode}: {printable(last)}", output)
    return Ran(True, f"`{shown}` ran", output)


def _keep(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text[-policy.OUTPUT_KEEP_CHARS :]


def verify_serial(
    target: DeployTarget,
    serial: str,
    *,
    wait_s: float | None = None,
    fetch: Callable[..., object] | None = None,
) -> tuple[bool, str]:
    """Ask the server (as `check --connect` does) until it presents `serial`, or time runs out."""
    from certtui.core import tlsprobe

    assert target.verify is not None
    host, port = tlsprobe.parse_target(target.verify)
    probe_fetch = fetch or tlsprobe.fetch
    deadline = time.monotonic() + (policy.VERIFY_WAIT_S if wait_s is None else wait_s)
    seen, problem = None, ""
    while True:
        try:
            probe = probe_fetch(host, port, servername=target.servername, starttls=target.starttls)
            seen = format(probe.chain[0].serial_number, "x")  # type: ignore[attr-defined]
            if seen == serial:
                return True, f"{target.verify} presents serial {serial}"
            problem = f"{target.verify} still presents serial {seen}, not the new {serial}"
        except CerttuiError as exc:
            problem = str(exc)
        if time.monotonic() >= deadline:
            return False, f"{problem}; check that the service reads the deployed files and was reloaded"
        time.sleep(policy.VERIFY_RETRY_S)


def deploy(store: Store, target: DeployTarget) -> DeployResult:
    """Write the newest certificate of the target's line, reload, verify; record the outcome.

    A failure before the reload succeeds leaves the previous files in place; a failed verify
    keeps the new files (the service may already use them) and says so.
    """
    head = store.get(upkeep.lineage_head(store, target.cert_id))
    previous = target.deployed_serial

    def done(ok: bool, stage: str, message: str, output: str = "") -> DeployResult:
        upkeep.record_result(
            store,
            target,
            cert_id=head.id,
            serial=head.serial,
            ok=ok,
            stage=stage,
            message=message,
            output=output,
        )
        written = tuple(p for _, p in target.paths())
        return DeployResult(upkeep.get_target(store, target.id), head, ok, stage, message, output, written)

    if head.revoked_at:
        return done(False, "check", f"{head.id} is revoked; issue a new certificate and add a target for it")
    try:
        files = FileSet(_files(store, target, head), owner_label=target.owner or "")
        files.stage()
    except CerttuiError as exc:
        return done(False, "write", f"{exc}; the previous files are unchanged")
    try:
        files.swap()
    except CerttuiError as exc:
        return done(False, "write", str(exc))
    output = ""
    if target.reload:
        ran = run_reload(target.reload, target.reload_shell, hook_env(target, head, previous))
        output = ran.output
        if not ran.ok:
            files.restore()
            return done(False, "reload", f"{ran.message}; the previous files are back in place", output)
    files.finish()
    summary = f"wrote {len(target.paths())} file(s)" + (", reloaded" if target.reload else "")
    if target.verify:
        ok, message = verify_serial(target, head.serial)
        if not ok:
            return done(False, "verify", f"{message} (the new files stay)", output)
        summary += f", verified: {message}"
    return done(True, "verified" if target.verify else "deployed", summary, output)


def targets_for(store: Store, ref: str | None) -> list[DeployTarget]:
    """`deploy run ID`: a target number, or a certificate whose line has targets; None: all."""
    every = upkeep.targets(store)
    if ref is None:
        return every
    if ref.isdigit() and any(t.id == int(ref) for t in every):
        return [t for t in every if t.id == int(ref)]
    rec = store.resolve(ref)
    mine = upkeep.targets_of_head(store, upkeep.lineage_head(store, rec.id))
    if not mine:
        raise CerttuiError(f"{rec.id} has no deploy target; add one with `certtui deploy add {rec.id} ...`")
    return mine
