"""Helpers for the trust tests: an HTTPS server on 127.0.0.1 with a certtui leaf, certutil, hashes."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from support.pki import issue_one

from certtui.core.models import IssueRequest
from certtui.core.store import Store

HOST = "127.0.0.1"
# A page the browsers load; its image makes a second request, which proves the page rendered.
PAGE = b"<!doctype html><html><body><p id=ok>certtui-trusted-page</p><img src=/beacon.png></body></html>"
# Every step here is on loopback or a local tool; a minute only stops a hang on a loaded machine.
TOOL_TIMEOUT_S = 60


def pem(store: Store, cert_id: str) -> bytes:
    return store.certificate(cert_id).public_bytes(serialization.Encoding.PEM)


@dataclass
class Served:
    """An HTTPS server on 127.0.0.1 serving a certtui leaf and its intermediate."""

    port: int
    paths: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Handshakes the client broke off (an untrusted certificate, say), as the server saw them."""
    seen: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}/"

    def wait_for(self, path: str, timeout: float) -> bool:
        with self.seen:
            return self.seen.wait_for(lambda: path in self.paths, timeout)

    def wait_for_failure(self, timeout: float) -> bool:
        with self.seen:
            return self.seen.wait_for(lambda: bool(self.failures), timeout)


@contextmanager
def https_server(store: Store, tmp: Path) -> Iterator[Served]:
    """Serve PAGE over TLS with a leaf for 127.0.0.1 and localhost, chain included."""
    leaf = issue_one(store, IssueRequest(names=("localhost", HOST)))
    chain = pem(store, leaf.id) + b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in store.chain(leaf.id)[:-1]
    )
    key = store.private_key(leaf.id).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp / "chain.pem").write_bytes(chain)
    (tmp / "leaf.key").write_bytes(key)
    os.chmod(tmp / "leaf.key", 0o600)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "chain.pem", tmp / "leaf.key")
    served = Served(0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with served.seen:
                served.paths.append(self.path)
                served.seen.notify_all()
            body = PAGE if self.path == "/" else b"\x89PNG"
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if self.path == "/" else "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):  # type: ignore[no-untyped-def]
            sock, addr = super().get_request()
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

        def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
            # Failed handshakes are the point of half the tests: recorded, not printed.
            import sys

            with served.seen:
                served.failures.append(repr(sys.exc_info()[1]))
                served.seen.notify_all()

    server = Server((HOST, 0), Handler)
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TOOL_TIMEOUT_S)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hash_tree(root: Path) -> dict[str, str]:
    """Every file under `root` (symlinks by target), with its hash: a dry run must not change one."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            out[str(path)] = sha256_file(path)
    return out


def certutil(*args: str) -> str:
    exe = shutil.which("certutil")
    assert exe is not None
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def nss_nicknames(db: Path) -> list[str]:
    """The nicknames `certutil -L` lists in the sql: database at `db`."""
    lines = certutil("-L", "-d", f"sql:{db}").splitlines()[3:]
    return [line.rsplit(None, 1)[0].strip() for line in lines if line.strip()]
