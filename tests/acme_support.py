"""Helpers for the ACME tests: a real `certtui acme` process, a small JOSE client, a challenge host."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# A server starts (Python, cryptography, aiohttp, one Argon2id unlock) in about a second; a
# loaded CI machine gets a generous margin before a start counts as hung.
START_TIMEOUT_S = 60.0
# A validation against 127.0.0.1 takes milliseconds; retries of a refused connection take 2 s.
POLL_TIMEOUT_S = 30.0
POLL_STEP_S = 0.05


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = POLL_TIMEOUT_S, what: str = "a state") -> Any:
    """Poll `condition` until it returns something truthy (waiting for a state, not a sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_STEP_S)


@dataclass
class Server:
    """A `certtui acme` subprocess on 127.0.0.1; stdout and stderr go to files in `folder`."""

    home: Path
    folder: Path
    args: tuple[str, ...]
    env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    directory: str = ""
    runs: int = 0
    # A DNS name beside the IP: the certificate's CN is then a DNS name, which name-constrained
    # chains need (OpenSSL checks an IP-looking CN against the DNS constraints).
    dns_name: str = "acme.home.arpa"
    # What runs after the Python interpreter: `-m certtui`, or a test script wrapping it.
    launcher: tuple[str, ...] = ("-m", "certtui")

    def start(self) -> Server:
        self.runs += 1
        self.port = self.port or free_port()
        out = open(self.folder / f"out{self.runs}.txt", "wb")
        err = open(self.folder / f"err{self.runs}.txt", "wb")
        cmd = [
            sys.executable,
            *self.launcher,
            "--home",
            str(self.home),
            "acme",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--hostname",
            "127.0.0.1",
            "--hostname",
            self.dns_name,
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=self.env)
        out.close()
        err.close()

        def started() -> str | None:
            text = self.stdout()
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"certtui acme exited {self.proc.returncode}: {self.stderr()}")
            for line in text.splitlines():
                if line.startswith("certtui acme: serving "):
                    return line.split()[-1]
            return None

        self.directory = wait_for(started, START_TIMEOUT_S, "certtui acme to listen")
        return self

    def stdout(self) -> str:
        return "".join((self.folder / f"out{i}.txt").read_text() for i in range(1, self.runs + 1))

    def stderr(self) -> str:
        return "".join((self.folder / f"err{i}.txt").read_text() for i in range(1, self.runs + 1))

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def b64(data: bytes) -> str:
    return jose.b64.b64encode(data).decode()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def problem(self) -> str:
        assert self.headers.get("content-type", "").startswith("application/problem+json"), (
            self.status,
            self.body,
        )
        return str(self.json()["type"]).removeprefix("urn:ietf:params:acme:error:")


@dataclass
class Client:
    """A deliberately small ACME client on josepy, able to send what real clients never would."""

    directory_url: str
    root_pem: Path
    key: jose.JWK = field(default_factory=lambda: jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1())))
    kid: str | None = None
    responses: list[Response] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context = ssl.create_default_context(cafile=str(self.root_pem))
        self.dir = self.request("GET", self.directory_url).json()

    def request(
        self, method: str, url: str, body: bytes | None = None, ctype: str = "application/jose+json"
    ) -> Response:
        req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as r:
                resp = Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            resp = Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
        self.responses.append(resp)
        return resp

    def nonce(self) -> str:
        return self.request("HEAD", self.dir["newNonce"]).headers["replay-nonce"]

    def signed(
        self,
        url: str,
        payload: Any,
        *,
        key: jose.JWK | None = None,
        use_jwk: bool | None = None,
        nonce: str | None = None,
        signed_url: str | None = None,
        alg: jose.JWASignature = jose.ES256,
    ) -> dict[str, Any]:
        key = key or self.key
        use_jwk = self.kid is None if use_jwk is None else use_jwk
        raw = b"" if payload is None else json.dumps(payload).encode()
        protected: dict[str, Any] = {
            "alg": alg.name,
            "nonce": nonce or self.nonce(),
            "url": signed_url or url,
        }
        if use_jwk:
            protected["jwk"] = key.public_key().to_partial_json()
        else:
            protected["kid"] = self.kid
        head = b64(json.dumps(protected).encode())
        msg = f"{head}.{b64(raw)}".encode()
        sig = alg.sign(key.key, msg)
        return {"protected": head, "payload": b64(raw), "signature": b64(sig)}

    def post(self, url: str, payload: Any, **kwargs: Any) -> Response:
        return self.request("POST", url, json.dumps(self.signed(url, payload, **kwargs)).encode())

    def eab(self, kid: str, hmac_b64: str, *, url: str | None = None) -> dict[str, Any]:
        protected = b64(
            json.dumps({"alg": "HS256", "kid": kid, "url": url or self.dir["newAccount"]}).encode()
        )
        payload = b64(json.dumps(self.key.public_key().to_partial_json()).encode())
        sig = jose.HS256.sign(jose.b64.b64decode(hmac_b64), f"{protected}.{payload}".encode())
        return {"protected": protected, "payload": payload, "signature": b64(sig)}

    def register(self, kid: str, hmac_b64: str) -> Response:
        r = self.post(
            self.dir["newAccount"],
            {"termsOfServiceAgreed": True, "externalAccountBinding": self.eab(kid, hmac_b64)},
            use_jwk=True,
        )
        assert r.status == 201, (r.status, r.body)
        self.kid = r.headers["location"]
        return r

    def thumbprint(self) -> str:
        return b64(self.key.thumbprint())

    def order(self, *values: str, typ: str = "dns") -> Response:
        return self.post(self.dir["newOrder"], {"identifiers": [{"type": typ, "value": v} for v in values]})

    def challenge_of(self, order: Response, ctype: str = "http-01") -> tuple[str, dict[str, Any]]:
        authz_url = order.json()["authorizations"][0]
        authz = self.post(authz_url, None).json()
        return authz_url, next(c for c in authz["challenges"] if c["type"] == ctype)

    def wait_authz(self, authz_url: str) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            body = self.post(authz_url, None).json()
            return body if body["status"] != "pending" else None

        return wait_for(settled, what="the authorization to settle")


def csr_der(
    names: list[str], key: ec.EllipticCurvePrivateKey | None = None, cn: str | None = None
) -> tuple[bytes, Any]:
    import ipaddress

    key = key or ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER), key


class ChallengeHost:
    """An HTTP server on 127.0.0.1 answering http-01 as the test says: the key authorization, a
    redirect, a huge body."""

    def __init__(self, port: int = 0) -> None:
        self.answers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.hits: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.hits.append(self.path)
                token = self.path.rsplit("/", 1)[-1]
                answer = host.answers.get(token)
                if answer is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def text(self, token: str, body: bytes) -> None:
        def answer(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            try:
                h.wfile.write(body)
            except OSError:
                pass

        self.answers[token] = answer

    def redirect(self, token: str, location: str) -> None:
        def answer(h: BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.answers[token] = answer

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def export_root(home: Path, dest: Path) -> Path:
    from certtui.core.store import Store
    from certtui.paths import db_path

    store = Store.open(db_path(home))
    try:
        root = store.certificate(store.root_id() or "")
    finally:
        store.close()
    dest.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return dest


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
