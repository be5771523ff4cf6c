"""Real other tools judge certtui's certificates: the openssl CLI, a Python ssl handshake, pkilint."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from support.pki import issue_one

from certtui.core import issuance
from certtui.core.models import IssueRequest, KeySpec, Kind
from certtui.core.names import parse_names
from certtui.core.store import Store

MakeStore = Callable[..., Store]

OPENSSL = shutil.which("openssl")
LINT = Path(sys.executable).parent / "lint_pkix_cert"
# Every network step here is on 127.0.0.1 and takes milliseconds; this only stops a hang.
NET_TIMEOUT_S = 10


def cert_pem(store: Store, cert_id: str) -> bytes:
    return store.certificate(cert_id).public_bytes(serialization.Encoding.PEM)


def key_pem(store: Store, cert_id: str) -> bytes:
    return store.private_key(cert_id).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write(path: Path, *parts: bytes) -> Path:
    path.write_bytes(b"".join(parts))
    return path


@dataclass
class Pki:
    """A store with root -> intermediate -> leaf `nas.home.arpa` + `192.168.1.10`, as PEM files."""

    store: Store
    root: Path
    intermediate: Path
    leaf: Path
    chain: Path
    key: Path


@pytest.fixture
def pki(make_store: MakeStore, tmp_path: Path) -> Pki:
    store = make_store(intermediate=True)
    root_id = store.root_id() or ""
    inter_id = store.default_issuer_id() or ""
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))
    assert leaf.issuer_id == inter_id
    out = tmp_path / "pem"
    out.mkdir()
    return Pki(
        store=store,
        root=write(out / "root.pem", cert_pem(store, root_id)),
        intermediate=write(out / "intermediate.pem", cert_pem(store, inter_id)),
        leaf=write(out / "leaf.pem", cert_pem(store, leaf.id)),
        # What a server sends: its certificate, then the intermediate.
        chain=write(out / "chain.pem", cert_pem(store, leaf.id), cert_pem(store, inter_id)),
        key=write(out / "leaf.key", key_pem(store, leaf.id)),
    )


# ---------------------------------------------------------------- openssl verify

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")


def openssl_verify(pki: Pki, *check: str, leaf: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run(
        [
            OPENSSL,
            "verify",
            "-CAfile",
            str(pki.root),
            "-untrusted",
            str(pki.intermediate),
            "-purpose",
            "sslserver",
            *check,
            str(leaf or pki.leaf),
        ],
        capture_output=True,
        text=True,
        timeout=NET_TIMEOUT_S,
        check=False,
    )


@needs_openssl
@pytest.mark.parametrize(
    "check",
    [
        ("-verify_hostname", "nas.home.arpa"),
        ("-verify_ip", "192.168.1.10"),
    ],
)
def test_openssl_verify_accepts(pki: Pki, check: tuple[str, str]) -> None:
    done = openssl_verify(pki, *check)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"{pki.leaf}: OK\n"


@needs_openssl
@pytest.mark.parametrize(
    ("check", "message"),
    [
        (("-verify_hostname", "other.home.arpa"), "error 62 at 0 depth lookup: hostname mismatch"),
        (("-verify_hostname", "home.arpa"), "error 62 at 0 depth lookup: hostname mismatch"),
        (("-verify_ip", "192.168.1.11"), "error 64 at 0 depth lookup: IP address mismatch"),
    ],
)
def test_openssl_verify_rejects_a_wrong_name(pki: Pki, check: tuple[str, str], message: str) -> None:
    done = openssl_verify(pki, *check)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert f"{pki.leaf}: OK" not in done.stdout


@needs_openssl
def test_openssl_verify_needs_the_intermediate(pki: Pki) -> None:
    assert OPENSSL is not None
    done = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(pki.root), "-purpose", "sslserver", str(pki.leaf)],
        capture_output=True,
        text=True,
        timeout=NET_TIMEOUT_S,
        check=False,
    )
    assert done.returncode != 0
    assert "unable to get local issuer certificate" in done.stdout + done.stderr


@needs_openssl
def test_openssl_enforces_the_roots_name_constraints(make_store: MakeStore, tmp_path: Path) -> None:
    """The constraints are really in the root: a leaf outside them (signed by going around the
    planner, which refuses it) fails in OpenSSL; one inside passes."""
    store = make_store(permit=["home.arpa", "192.168.0.0/16"])
    root_id = store.root_id() or ""
    root_pem = write(tmp_path / "root.pem", cert_pem(store, root_id))
    inside = issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))
    good = issuance.plan(store, IssueRequest(names=("nas.home.arpa",)))
    # The same plan with a name outside the constraints, signed directly.
    outside_plan = replace(good, names=parse_names(["example.com"]), cn="example.com")
    outside = issuance.execute(store, outside_plan)
    assert OPENSSL is not None
    for rec, ok in ((inside, True), (outside, False)):
        leaf = write(tmp_path / f"{rec.id}.pem", cert_pem(store, rec.id))
        done = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(root_pem), "-purpose", "sslserver", str(leaf)],
            capture_output=True,
            text=True,
            timeout=NET_TIMEOUT_S,
            check=False,
        )
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        else:
            assert done.returncode != 0
            assert "permitted subtree violation" in done.stdout + done.stderr


# ---------------------------------------------------------------- TLS handshake


@dataclass
class ServerResult:
    handshake_done: bool = False
    errors: list[BaseException] = field(default_factory=list)


GREETING = b"hello from certtui\n"


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str) -> bytes:
    """One TLS connection on 127.0.0.1; returns what the client read (raises what it raised)."""
    result = ServerResult()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(NET_TIMEOUT_S)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                conn.settimeout(NET_TIMEOUT_S)
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    result.handshake_done = True
                    tls.sendall(GREETING)
            except (OSError, ssl.SSLError) as exc:
                result.errors.append(exc)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=NET_TIMEOUT_S) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                    data = b""
                    while len(data) < len(GREETING):
                        chunk = tls.recv(len(GREETING))
                        if not chunk:
                            break
                        data += chunk
                    return data
        finally:
            thread.join(NET_TIMEOUT_S)
            assert not thread.is_alive()


def server_context(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile=str(pki.chain), keyfile=str(pki.key))
    return ctx


def client_context(cafile: Path) -> ssl.SSLContext:
    """Trusts only `cafile` (no system roots: a cafile replaces them), checks the host name."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    assert ctx.check_hostname is True
    assert ctx.verify_mode is ssl.CERT_REQUIRED
    assert len(ctx.get_ca_certs()) == 1
    return ctx


@pytest.mark.parametrize("server_hostname", ["nas.home.arpa", "NAS.Home.Arpa", "192.168.1.10"])
def test_tls_handshake_succeeds_for_a_san_name(pki: Pki, server_hostname: str) -> None:
    data = handshake(server_context(pki), client_context(pki.root), server_hostname)
    assert data == GREETING


@pytest.mark.parametrize(
    ("server_hostname", "message"),
    [
        ("other.home.arpa", "Hostname mismatch, certificate is not valid for 'other.home.arpa'."),
        ("home.arpa", "Hostname mismatch, certificate is not valid for 'home.arpa'."),
        ("192.168.1.11", "IP address mismatch, certificate is not valid for '192.168.1.11'."),
    ],
)
def test_tls_handshake_fails_for_another_name(pki: Pki, server_hostname: str, message: str) -> None:
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        handshake(server_context(pki), client_context(pki.root), server_hostname)
    assert caught.value.verify_message == message


def test_tls_handshake_fails_for_a_different_root(pki: Pki, make_store: MakeStore, tmp_path: Path) -> None:
    # Same root name, different key: trust must follow the key, not the name.
    other = make_store(where=tmp_path / "other-home")
    other_root = write(tmp_path / "other-root.pem", cert_pem(other, other.root_id() or ""))
    assert other_root.read_bytes() != pki.root.read_bytes()
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        handshake(server_context(pki), client_context(other_root), "nas.home.arpa")
    assert caught.value.verify_message == "unable to get local issuer certificate"


def test_tls_client_certificate(pki: Pki, tmp_path: Path) -> None:
    """A client leaf authenticates to a server that trusts the root (mTLS)."""
    store = pki.store
    client = issue_one(store, IssueRequest(names=("alice@home.arpa",), kind=Kind.CLIENT))
    inter_id = store.default_issuer_id() or ""
    client_chain = write(tmp_path / "client.pem", cert_pem(store, client.id), cert_pem(store, inter_id))
    client_key = write(tmp_path / "client.key", key_pem(store, client.id))
    sctx = server_context(pki)
    sctx.verify_mode = ssl.CERT_REQUIRED
    sctx.load_verify_locations(cafile=str(pki.root))
    cctx = client_context(pki.root)
    cctx.load_cert_chain(certfile=str(client_chain), keyfile=str(client_key))
    assert handshake(sctx, cctx, "nas.home.arpa") == GREETING


# ---------------------------------------------------------------- pkilint

FINDING = re.compile(r"^\s+(\S+) \((\w+)\): (.*)$")
ALLOWED = "pkix.invalid_domain_name_syntax"


def lint(store: Store, cert_id: str, tmp_path: Path) -> list[tuple[str, str, str]]:
    """pkilint's findings at WARNING or worse: (code, severity, message)."""
    path = write(tmp_path / f"{cert_id}.pem", cert_pem(store, cert_id))
    done = subprocess.run(
        [str(LINT), "lint", "-s", "WARNING", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr == ""
    findings = [
        (m.group(1), m.group(2), m.group(3))
        for m in (FINDING.match(line) for line in done.stdout.splitlines())
        if m
    ]
    # Every non-blank line is a finding or the validator line above one.
    validators = [ln for ln in done.stdout.splitlines() if ln.strip() and not FINDING.match(ln)]
    assert len(validators) == len(findings), done.stdout
    assert (done.returncode == 0) == (findings == []), (done.returncode, done.stdout)
    return findings


def bad_syntax(*names: str) -> list[tuple[str, str, str]]:
    return [(ALLOWED, "ERROR", f'Invalid domain name syntax: "{n}"') for n in names]


needs_pkilint = pytest.mark.skipif(not LINT.exists(), reason="pkilint is not installed")


@needs_pkilint
def test_pkilint_root_and_intermediate(pki: Pki, tmp_path: Path) -> None:
    store = pki.store
    assert lint(store, store.root_id() or "", tmp_path) == []
    assert lint(store, store.default_issuer_id() or "", tmp_path) == []


@needs_pkilint
def test_pkilint_server_leaf(pki: Pki, tmp_path: Path) -> None:
    leaf = pki.store.resolve("nas.home.arpa")
    assert leaf.names == ("nas.home.arpa", "192.168.1.10")
    assert lint(pki.store, leaf.id, tmp_path) == []


@needs_pkilint
def test_pkilint_root_with_name_constraints(make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store(permit=["home.arpa", "192.168.0.0/16"])
    assert lint(store, store.root_id() or "", tmp_path) == []


@needs_pkilint
@pytest.mark.parametrize(
    ("names", "kind", "key"),
    [
        (("alice@home.arpa",), Kind.CLIENT, "ec256"),
        (("rsa.home.arpa", "fd00::1"), Kind.SERVER, "rsa2048"),
        (("nas.home.arpa",), Kind.SERVER, "ec384"),
    ],
)
def test_pkilint_other_leaves(
    make_store: MakeStore, tmp_path: Path, names: tuple[str, ...], kind: Kind, key: str
) -> None:
    store = make_store()
    rec = issue_one(store, IssueRequest(names=names, kind=kind, key=KeySpec(key)))
    assert lint(store, rec.id, tmp_path) == []


@needs_pkilint
@pytest.mark.parametrize(
    ("names", "flagged"),
    [
        (("*.home.arpa",), ("*.home.arpa",)),
        (("localhost",), ("localhost",)),
        (("nas",), ("nas",)),
        # Only the names browsers accept but RFC 1034 does not; the others pass.
        (
            ("nas.home.arpa", "*.home.arpa", "localhost", "192.168.1.10"),
            ("*.home.arpa", "localhost"),
        ),
    ],
)
def test_pkilint_allows_only_invalid_domain_syntax_for_browser_names(
    make_store: MakeStore, tmp_path: Path, names: tuple[str, ...], flagged: tuple[str, ...]
) -> None:
    store = make_store()
    rec = issue_one(store, IssueRequest(names=names))
    assert lint(store, rec.id, tmp_path) == bad_syntax(*flagged)


@needs_pkilint
def test_pkilint_single_label_constraint_base(make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store(permit=["lan", "home.arpa", "10.0.0.0/8", "fd00::/8"])
    assert lint(store, store.root_id() or "", tmp_path) == bad_syntax("lan")
