"""The real-client matrix's parts: the PKI, the TLS servers on 127.0.0.1, and one runner per client."""

from __future__ import annotations

import http.server
import ipaddress
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.pki import issue_one

from certtui.core import issuance, profiles, revocation
from certtui.core.models import InitRequest, IssueRequest, Kind
from certtui.core.store import Store
from certtui.paths import db_path

PEM = serialization.Encoding.PEM
# Every step is on this machine; a client that hangs this long is broken, not slow.
CLIENT_TIMEOUT_S = 60
# The page every server sends: Chromium's DOM holds this only for the real page, never for
# an interstitial.
MARKER = "certtui-interop-ok"
PAGE = (f"<!doctype html><html><head><title>{MARKER}</title></head><body>{MARKER}</body></html>").encode()
# The root's constraints: DNS under home.arpa, the IPv4 and IPv6 loopback.
PERMIT = ("home.arpa", "127.0.0.0/8", "::1")


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(PEM) for c in certs)


def key_pem(key: Any) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())  # type: ignore[no-any-return]


# -- servers --------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def setup(self) -> None:
        self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(PAGE)

    def finish(self) -> None:
        super().finish()
        # close_notify, so that clients strict about a truncated stream see a clean end.
        try:
            self.request.unwrap()
        except (ssl.SSLError, OSError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class TlsHttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """HTTPS on 127.0.0.1 or ::1, port 0: each connection handshakes in its own thread."""

    daemon_threads = True

    def __init__(self, ctx: ssl.SSLContext, host: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ctx = ctx
        super().__init__((host, 0), _Handler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(CLIENT_TIMEOUT_S)
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that rejects the certificate aborts the handshake: that is the test's point.
        pass

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(CLIENT_TIMEOUT_S)


class CrlServer(http.server.ThreadingHTTPServer):
    """Plain HTTP on 127.0.0.1 serving the CRL folder, as the README's cron line publishes it."""

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        handler = type(
            "H",
            (http.server.SimpleHTTPRequestHandler,),
            {"log_message": lambda *a: None, "__init__": _serve_from(folder)},
        )
        super().__init__(("127.0.0.1", 0), handler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(CLIENT_TIMEOUT_S)


def _serve_from(folder: Path) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        http.server.SimpleHTTPRequestHandler.__init__(self, *args, directory=str(folder), **kwargs)

    return init


# -- the PKI and its cases ------------------------------------------------------------------


@dataclass
class Case:
    """One server: what it serves, the name a client asks for, and whether it must be accepted."""

    name: str
    host: str
    good: bool
    addr: str = "127.0.0.1"
    port: int = 0
    leaf: Path = Path()
    """The leaf's PEM."""
    served: Path = Path()
    """The leaf and what the server sends after it (its chain file)."""
    mtls: bool = False

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def hostport(self) -> str:
        return f"[{self.addr}]:{self.port}" if ":" in self.addr else f"{self.addr}:{self.port}"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/"


@dataclass
class Pki:
    """Everything the clients need, as files in one folder."""

    folder: Path
    root: Path
    """The trusted root only."""
    root_and_intermediate: Path
    crls: Path
    """Every CA's CRL, PEM, one file."""
    crl_dir: Path
    """Every CA's CRL as DER, named as the CRL URLs name them."""
    root_and_crls: Path
    client_chain: Path
    client_key: Path
    cases: dict[str, Case] = field(default_factory=dict)
    servers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for s in self.servers:
            s.close()


def _outside_leaf(
    store: Store, issuer_id: str, name: str
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A leaf for a name outside the constraints, signed with the intermediate's key directly
    through cryptography, as someone holding that key (not certtui) would."""
    issuer = store.certificate(issuer_id)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=10))
        .not_valid_after(now + timedelta(days=30))
    )
    exts = profiles.leaf_extensions(
        Kind.SERVER, key.public_key(), issuer, [x509.DNSName(name)], empty_subject=True
    )
    for ext, critical in exts:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(store.private_key(issuer_id), hashes.SHA256()), key


def _issue(store: Store, names: Sequence[str], kind: Kind = Kind.SERVER) -> tuple[x509.Certificate, Any]:
    rec = issue_one(store, IssueRequest(names=tuple(names), kind=kind))
    return store.certificate(rec.id), store.private_key(rec.id)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def build(folder: Path) -> Pki:
    """A root constrained to home.arpa + the loopback, an intermediate, the leaves, their
    servers, and every CRL published over HTTP as `init --crl-url` points at it."""
    # Published as a web server would: the folder `crl --all --out` writes, under /crl/.
    crl_dir = folder / "www" / "crl"
    crl_dir.mkdir(parents=True)
    crl_server = CrlServer(crl_dir.parent)
    req = InitRequest(
        name="Interop Root",
        permit=PERMIT,
        intermediate=True,
        crl_url=f"http://127.0.0.1:{crl_server.port}/crl/",
    )
    store, (root_rec, int_rec) = issuance.init_store(db_path(folder / "store"), req, None)
    root, inter = store.certificate(root_rec.id), store.certificate(int_rec.id)
    other_req = InitRequest(name="Other Root", permit=PERMIT)
    other, _ = issuance.init_store(db_path(folder / "other"), other_req, None)

    def path(name: str, data: bytes) -> Path:
        p = folder / name
        p.write_bytes(data)
        return p

    pki = Pki(
        folder=folder,
        root=path("root.pem", pem(root)),
        root_and_intermediate=path("root+int.pem", pem(root, inter)),
        crls=folder / "crls.pem",
        crl_dir=crl_dir,
        root_and_crls=folder / "root+crls.pem",
        client_chain=folder / "client.pem",
        client_key=folder / "client.key",
    )
    pki.servers.append(crl_server)
    leaves: dict[str, tuple[str, Sequence[str], bool, str]] = {
        # case: (host asked for, names, good, bind address)
        "dns": ("www.home.arpa", ["www.home.arpa"], True, "127.0.0.1"),
        "ipv4": ("127.0.0.1", ["127.0.0.1"], True, "127.0.0.1"),
        # Not *.home.arpa, which Chromium refuses (docs/trust-rules.md, leaf.wildcard; see
        # test_chromium_refuses_a_wildcard_right_under_home_arpa).
        "wildcard": ("app.lab.home.arpa", ["*.lab.home.arpa"], True, "127.0.0.1"),
        "idn": ("xn--bcher-kva.home.arpa", ["bücher.home.arpa"], True, "127.0.0.1"),
        # Outside the matrix: what leaf.wildcard warns about.
        "wildcard-top": ("app.home.arpa", ["*.home.arpa"], False, "127.0.0.1"),
        "revoked": ("revoked.home.arpa", ["revoked.home.arpa"], False, "127.0.0.1"),
    }
    if ipv6_loopback():
        leaves["ipv6"] = ("::1", ["::1"], True, "::1")
    made: dict[str, tuple[x509.Certificate, Any, list[x509.Certificate]]] = {}
    for case, (_, names, _, _) in leaves.items():
        cert, key = _issue(store, names)
        made[case] = (cert, key, [inter])
    for case, (host, _, good, addr) in leaves.items():
        pki.cases[case] = Case(case, host, good, addr)
    revocation.revoke(store, store.get(format(made["revoked"][0].serial_number, "x")[:12]).id)
    # The bad cases.
    made["wrong-host"] = made["dns"]
    pki.cases["wrong-host"] = Case("wrong-host", "other.home.arpa", False)
    cert, key = _issue(other, ["www.home.arpa"])
    made["other-root"] = (cert, key, [other.certificate(other.default_issuer_id() or "")])
    pki.cases["other-root"] = Case("other-root", "www.home.arpa", False)
    made["leaf-only"] = (made["dns"][0], made["dns"][1], [])
    pki.cases["leaf-only"] = Case("leaf-only", "www.home.arpa", False)
    cert, key = _outside_leaf(store, int_rec.id, "evil.example.com")
    made["outside"] = (cert, key, [inter])
    pki.cases["outside"] = Case("outside", "evil.example.com", False)
    cert, key = _issue(store, ["mail.home.arpa"], Kind.CLIENT)
    made["client-as-server"] = (cert, key, [inter])
    pki.cases["client-as-server"] = Case("client-as-server", "mail.home.arpa", False)
    # The client certificate, presented to a server that requires one from this root.
    client_cert, client_key = _issue(store, ["alice@home.arpa"], Kind.CLIENT)
    pki.client_chain.write_bytes(pem(client_cert, inter))
    pki.client_key.write_bytes(key_pem(client_key))
    made["mtls"] = made["dns"]
    pki.cases["mtls"] = Case("mtls", "www.home.arpa", True, mtls=True)

    # Every CA's CRL under the names the URLs use, as `certtui crl --all --out DIR` writes them.
    stored = [revocation.sign_crl(store, ca.id) for ca in (root_rec, int_rec)]
    for ca, crl in zip((root_rec, int_rec), stored, strict=True):
        (crl_dir / profiles.crl_file_name(ca.id)).write_bytes(crl.der)
    pki.crls.write_bytes(b"".join(x509.load_der_x509_crl(c.der).public_bytes(PEM) for c in stored))
    pki.root_and_crls.write_bytes(pem(root) + pki.crls.read_bytes())
    store.close()
    other.close()

    for case, c in pki.cases.items():
        cert, key, chain = made[case]
        c.leaf = path(f"{case}.leaf.pem", pem(cert))
        c.served = path(f"{case}.chain.pem", pem(cert, *chain))
        keyfile = path(f"{case}.key", key_pem(key))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(c.served, keyfile)
        if c.mtls:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(pki.root_and_intermediate)
        server = TlsHttpServer(ctx, c.addr)
        pki.servers.append(server)
        c.port = server.port
    return pki


# -- running a client -----------------------------------------------------------------------


def run(
    args: Sequence[str], *, env: dict[str, str] | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
        env=env,
    )


def have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


def scratch_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    env.update(HOME=str(home), **extra)
    return env
