"""Real ACME clients against `certtui acme` on 127.0.0.1: lego, certbot and Caddy (Debian packages)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from acme_support import Server, child_env, export_root, free_port, wait_for
from cryptography import x509

from certtui.core import revocation
from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.journeys import acme as journey
from certtui.paths import db_path

pytestmark = pytest.mark.slow

CONCURRENT = 10
NAMES = (
    "lego-http.home.arpa",
    "lego-tls.home.arpa",
    "kill.home.arpa",
    "cb.home.arpa",
    "web.home.arpa",
    *(f"c{i}.home.arpa" for i in range(CONCURRENT)),
)
# A client run takes a few seconds here; a minute and a half is a hung client, not a slow one.
CLIENT_TIMEOUT_S = 90


@dataclass
class World:
    base: Path
    home: Path
    root: Path
    server: Server
    http_port: int
    tls_port: int
    kid: str
    hmac: str

    def lego(
        self, path: Path, *args: str, timeout: float = CLIENT_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            "lego",
            "--path",
            str(path),
            "--server",
            self.server.directory,
            "--accept-tos",
            "--email",
            "admin@home.arpa",
            "--eab",
            "--kid",
            self.kid,
            "--hmac",
            self.hmac,
            *args,
        ]
        env = child_env(LEGO_CA_CERTIFICATES=str(self.root))
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)

    def store(self) -> Store:
        return Store.open(db_path(self.home))


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (the README's apt-get line installs them)")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("clients")
    home = base / "home"
    store, _ = init_store(
        db_path(home),
        InitRequest(name="Clients Root", intermediate=True, permit=("home.arpa", "127.0.0.0/8")),
        None,
    )
    lab = journey.add_account(store, "lab", ["*.home.arpa"])
    store.close()
    root = export_root(home, base / "root.pem")
    http_port, tls_port = free_port(), free_port()
    args = [
        "--allow-loopback",
        "--http-01-port",
        str(http_port),
        "--tls-alpn-01-port",
        str(tls_port),
        "--orders-per-minute",
        "500",
    ]
    for name in NAMES:
        args += ["--resolve", f"{name}:127.0.0.1"]
    server = Server(home, base, tuple(args), child_env()).start()
    try:
        yield World(base, home, root, server, http_port, tls_port, lab.account.kid or "", lab.hmac_b64)
    finally:
        assert server.stop() == 0
        log = server.stderr() + server.stdout()
        assert "PRIVATE KEY" not in log and lab.hmac_b64 not in log


def serial_of(path: Path) -> int:
    return x509.load_pem_x509_certificates(path.read_bytes())[0].serial_number


def openssl_verify(world: World, leaf: Path, issuer: Path) -> None:
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(world.root), "-untrusted", str(issuer), str(leaf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and ": OK" in done.stdout, done.stdout + done.stderr


def crl_serials(world: World) -> set[int]:
    store = world.store()
    try:
        crl = revocation.latest_crl(store, store.default_issuer_id() or "")
        return set() if crl is None else {r.serial_number for r in crl.crl()}
    finally:
        store.close()


# -- lego ------------------------------------------------------------------------------------


def test_lego_http01_run_renew_revoke(world: World) -> None:
    need("lego", "openssl")
    path = world.base / "lego-http"
    name = "lego-http.home.arpa"
    http = ["--http", "--http.port", f"127.0.0.1:{world.http_port}", "-d", name]
    done = world.lego(path, *http, "run")
    assert done.returncode == 0, done.stderr
    cert, issuer = path / "certificates" / f"{name}.crt", path / "certificates" / f"{name}.issuer.crt"
    openssl_verify(world, cert, issuer)
    first = serial_of(cert)
    # --days 90: a 90-day certificate is always within it, so lego renews now.
    done = world.lego(path, *http, "renew", "--days", "90", "--no-random-sleep")
    assert done.returncode == 0, done.stderr
    second = serial_of(cert)
    assert second != first
    openssl_verify(world, cert, issuer)
    done = world.lego(path, "-d", name, "revoke", "--reason", "4")
    assert done.returncode == 0, done.stderr
    assert second in crl_serials(world) and first not in crl_serials(world)
    store = world.store()
    try:
        rec = store.resolve(format(second, "x")[:12])
        assert rec.origin == "acme:lab" and rec.revocation_reason == "superseded"
    finally:
        store.close()


def test_lego_tls_alpn01(world: World) -> None:
    need("lego", "openssl")
    path = world.base / "lego-tls"
    name = "lego-tls.home.arpa"
    done = world.lego(path, "--tls", "--tls.port", f"127.0.0.1:{world.tls_port}", "-d", name, "run")
    assert done.returncode == 0, done.stderr
    openssl_verify(world, path / "certificates" / f"{name}.crt", path / "certificates" / f"{name}.issuer.crt")
    assert "tls-alpn-01" in done.stderr


class _Webroot:
    """A plain HTTP server on the http-01 port serving lego's --http.webroot folder; with `gate`,
    the first request waits until the test opens it."""

    def __init__(self, folder: Path, port: int, gate: bool = False) -> None:
        self.hit = threading.Event()
        self.release = threading.Event()
        if not gate:
            self.release.set()
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hit.set()
                outer.release.wait(CLIENT_TIMEOUT_S)
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=str(folder)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_ten_lego_clients_at_once(world: World) -> None:
    need("lego")
    webroot = world.base / "webroot"
    webroot.mkdir()
    server = _Webroot(webroot, world.http_port)
    try:
        procs = []
        for i in range(CONCURRENT):
            cmd = [
                "lego",
                "--path",
                str(world.base / f"c{i}"),
                "--server",
                world.server.directory,
                "--accept-tos",
                "--email",
                "admin@home.arpa",
                "--eab",
                "--kid",
                world.kid,
                "--hmac",
                world.hmac,
                "--http",
                "--http.webroot",
                str(webroot),
                "-d",
                f"c{i}.home.arpa",
                "run",
            ]
            procs.append(
                subprocess.Popen(
                    cmd,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=child_env(LEGO_CA_CERTIFICATES=str(world.root)),
                )
            )
        results = [(p.wait(CLIENT_TIMEOUT_S), p.stderr.read() if p.stderr else "") for p in procs]
    finally:
        server.close()
    assert [code for code, _ in results] == [0] * CONCURRENT, [err[-400:] for _, err in results]
    serials = {
        serial_of(world.base / f"c{i}" / "certificates" / f"c{i}.home.arpa.crt") for i in range(CONCURRENT)
    }
    assert len(serials) == CONCURRENT


def test_sigkill_mid_order_then_restart_completes(world: World) -> None:
    need("lego")
    webroot = world.base / "webroot-kill"
    webroot.mkdir()
    gate = _Webroot(webroot, world.http_port, gate=True)
    path = world.base / "lego-kill"
    args = ["--http", "--http.webroot", str(webroot), "-d", "kill.home.arpa", "run"]
    try:
        cmd = [
            "lego",
            "--path",
            str(path),
            "--server",
            world.server.directory,
            "--accept-tos",
            "--email",
            "admin@home.arpa",
            "--eab",
            "--kid",
            world.kid,
            "--hmac",
            world.hmac,
            *args,
        ]
        first = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(LEGO_CA_CERTIFICATES=str(world.root)),
        )
        # The server is validating (its request is held at the gate): kill it there.
        assert gate.hit.wait(CLIENT_TIMEOUT_S)
        world.server.kill()
        with closing(sqlite3.connect(db_path(world.home))) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            held = conn.execute(
                "SELECT count(*) FROM acme_challenges WHERE status = 'processing'"
            ).fetchone()[0]
            assert held == 1
        world.server.start()
        gate.release.set()

        # The restarted server takes the validation up again by itself.
        def validated() -> bool:
            with closing(sqlite3.connect(db_path(world.home))) as conn:
                return (
                    conn.execute(
                        "SELECT count(*) FROM acme_challenges WHERE status = 'processing'"
                    ).fetchone()[0]
                    == 0
                )

        wait_for(validated, what="the restarted server to finish the validation")
        code = first.wait(CLIENT_TIMEOUT_S)
        if code != 0:
            # The client saw the server go away mid-poll; its retry completes.
            done = world.lego(path, *args)
            assert done.returncode == 0, done.stderr
    finally:
        gate.close()
    assert (path / "certificates" / "kill.home.arpa.crt").exists()
    with closing(sqlite3.connect(db_path(world.home))) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # Every valid order has its certificate, and every ACME certificate its order.
        assert (
            conn.execute(
                "SELECT count(*) FROM acme_orders o LEFT JOIN certificates c ON c.id = o.cert_id "
                "WHERE o.status = 'valid' AND c.id IS NULL"
            ).fetchone()[0]
            == 0
        )
        assert (
            conn.execute(
                "SELECT count(*) FROM certificates c LEFT JOIN acme_orders o ON o.cert_id = c.id "
                "WHERE c.origin LIKE 'acme:%' AND o.id IS NULL"
            ).fetchone()[0]
            == 0
        )
        serials = [r[0] for r in conn.execute("SELECT serial FROM certificates")]
        assert len(serials) == len(set(serials))


# -- certbot ---------------------------------------------------------------------------------


def test_certbot_certonly_renew_revoke(world: World) -> None:
    need("certbot")
    dirs = [
        "--config-dir",
        str(world.base / "cb" / "conf"),
        "--work-dir",
        str(world.base / "cb" / "work"),
        "--logs-dir",
        str(world.base / "cb" / "logs"),
    ]
    env = child_env(REQUESTS_CA_BUNDLE=str(world.root))

    def certbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["certbot", *args, *dirs, "--non-interactive"],
            capture_output=True,
            text=True,
            env=env,
            timeout=CLIENT_TIMEOUT_S,
            check=False,
        )

    done = certbot(
        "certonly",
        "--standalone",
        "--agree-tos",
        "--register-unsafely-without-email",
        "--server",
        world.server.directory,
        "--eab-kid",
        world.kid,
        "--eab-hmac-key",
        world.hmac,
        "--http-01-port",
        str(world.http_port),
        "--http-01-address",
        "127.0.0.1",
        "-d",
        "cb.home.arpa",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    live = world.base / "cb" / "conf" / "live" / "cb.home.arpa"
    first = serial_of(live / "cert.pem")
    marker = world.base / "deployed"
    done = certbot(
        "renew", "--force-renewal", "--no-random-sleep-on-renew", "--deploy-hook", f"touch {marker}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.exists()
    second = serial_of(live / "cert.pem")
    assert second != first
    done = certbot(
        "revoke",
        "--cert-path",
        str(live / "cert.pem"),
        "--server",
        world.server.directory,
        "--reason",
        "superseded",
        "--delete-after-revoke",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert second in crl_serials(world)


def _self_signed(path: Path) -> None:
    import datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other Root")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


# -- Caddy -----------------------------------------------------------------------------------


def test_caddy_gets_and_serves_a_certificate(world: World) -> None:
    need("caddy", "curl")
    folder = world.base / "caddy"
    folder.mkdir()
    caddyfile = folder / "Caddyfile"
    caddyfile.write_text(f"""{{
	admin off
	http_port {world.http_port}
	https_port {world.tls_port}
	skip_install_trust
	ocsp_stapling off
	storage file_system {{
		root {folder / "data"}
	}}
	email admin@home.arpa
	acme_ca {world.server.directory}
	acme_ca_root {world.root}
	acme_eab {{
		key_id {world.kid}
		mac_key {world.hmac}
	}}
}}

web.home.arpa {{
	bind 127.0.0.1
	respond "hello from caddy"
}}
""")
    env = child_env(HOME=str(folder), XDG_DATA_HOME=str(folder / "xdg"), XDG_CONFIG_HOME=str(folder / "cfg"))
    log = open(folder / "caddy.log", "wb")
    caddy = subprocess.Popen(
        ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        stdout=log,
        stderr=log,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    url = f"https://web.home.arpa:{world.tls_port}/"
    _self_signed(world.base / "cb-none.pem")

    def served() -> str | None:
        if caddy.poll() is not None:
            raise AssertionError((folder / "caddy.log").read_text()[-2000:])
        done = subprocess.run(
            [
                "curl",
                "-sS",
                "--max-time",
                "5",
                "--cacert",
                str(world.root),
                "--resolve",
                f"web.home.arpa:{world.tls_port}:127.0.0.1",
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    try:
        body = wait_for(served, CLIENT_TIMEOUT_S, "Caddy to obtain and serve its certificate")
        # Against another set of roots the same request fails, so the check above means something.
        wrong = subprocess.run(
            [
                "curl",
                "-sS",
                "--max-time",
                "5",
                "--cacert",
                str(world.base / "cb-none.pem"),
                "--resolve",
                f"web.home.arpa:{world.tls_port}:127.0.0.1",
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert wrong.returncode != 0
    finally:
        caddy.terminate()
        caddy.wait(30)
    assert body == "hello from caddy"
    store = world.store()
    try:
        rec = store.resolve("web.home.arpa")
        assert rec.origin == "acme:lab"
    finally:
        store.close()
