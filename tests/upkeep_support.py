"""Helpers for the upkeep tests: a private nginx on 127.0.0.1, free ports, and what a server presents."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

# A loaded 2-core machine starts nginx in well under a second; 30 s before calling it broken.
START_WAIT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: object, what: str, timeout: float = START_WAIT_S) -> None:
    """Poll `predicate()` until it is true (a state, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Nginx:
    """A private nginx: its prefix and config, the port it serves TLS on, the reload command."""

    prefix: Path
    conf: Path
    port: int
    fullchain: Path
    key: Path

    @property
    def reload(self) -> str:
        return f"nginx -s reload -c {self.conf} -p {self.prefix}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def nginx_config(prefix: Path, port: int, fullchain: Path, key: Path) -> str:
    temps = "\n".join(
        f"  {name}_temp_path {prefix}/tmp/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temps}
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name nas.home.arpa;
    ssl_certificate {fullchain};
    ssl_certificate_key {key};
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""


def nginx_available() -> bool:
    return shutil.which("nginx") is not None


@contextmanager
def running_nginx(prefix: Path, fullchain: Path, key: Path) -> Iterator[Nginx]:
    """nginx -c CONF -p PREFIX in the foreground on a free 127.0.0.1 port; stopped afterwards."""
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(prefix, port, fullchain, key))
    child = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(prefix)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _accepts(port) or child.poll() is not None, "nginx to listen")
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        yield Nginx(prefix, conf, port, fullchain, key)
    finally:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        child.wait(timeout=30)


def served_serial(port: int, servername: str = "nas.home.arpa") -> str:
    """The serial `openssl s_client` sees, lower-case hex without leading zeros."""
    hello = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername],
        input=b"",
        capture_output=True,
        timeout=30,
        check=False,
    )
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-serial"],
        input=hello.stdout,
        capture_output=True,
        timeout=30,
        check=True,
    )
    return out.stdout.decode().strip().removeprefix("serial=").lower().lstrip("0")


@dataclass
class Received:
    """One request an HTTP receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@contextmanager
def http_receiver(status: int = 200) -> Iterator[tuple[str, list[Received]]]:
    """An aiohttp server on 127.0.0.1 (its own thread and loop) that records every POST.

    Posing as ntfy and as webhooks: it answers `status` to every path but /broken (500).
    """
    import asyncio
    import threading

    from aiohttp import web

    got: list[Received] = []
    ready = threading.Event()
    state: dict[str, object] = {}

    async def record(request: web.Request) -> web.Response:
        got.append(Received(request.path, dict(request.headers), await request.read()))
        return web.Response(status=500 if request.path == "/broken" else status, text="{}")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", record)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["port"] = runner.addresses[0][1]
        stop = asyncio.Event()
        state["stop"] = (asyncio.get_running_loop(), stop)
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(30), "the HTTP receiver did not start"
    try:
        yield f"http://127.0.0.1:{state['port']}", got
    finally:
        loop, stop = cast("tuple[asyncio.AbstractEventLoop, asyncio.Event]", state["stop"])
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


@contextmanager
def tls_server(chain: Path, key: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that reads `chain` and `key` afresh for every handshake (a
    server that picks up new files by itself); yields its port."""
    import ssl
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = int(listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(chain, key)
                conn.settimeout(10)
                try:
                    with ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (OSError, ssl.SSLError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(timeout=30)
        listener.close()


@dataclass(frozen=True)
class Caddy:
    """A private Caddy serving files: its Caddyfile, the TLS port and the reload command."""

    caddyfile: Path
    port: int

    @property
    def reload(self) -> str:
        # Caddy skips a reload whose config is unchanged: --force makes it read the files again.
        return f"caddy reload --config {self.caddyfile} --adapter caddyfile --force"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def running_caddy(folder: Path, fullchain: Path, key: Path) -> Iterator[Caddy]:
    """`caddy run` with `tls CERT KEY` for nas.home.arpa on 127.0.0.1; its admin API on a free port."""
    folder.mkdir(parents=True, exist_ok=True)
    port, admin = free_port(), free_port()
    caddyfile = folder / "Caddyfile"
    caddyfile.write_text(
        f"{{\n\tadmin 127.0.0.1:{admin}\n\tauto_https off\n\tstorage file_system {folder}/data\n}}\n"
        f'https://nas.home.arpa:{port} {{\n\tbind 127.0.0.1\n\ttls {fullchain} {key}\n\trespond "ok"\n}}\n'
    )
    env = dict(os.environ, HOME=str(folder), XDG_DATA_HOME=str(folder / "data"), XDG_CONFIG_HOME=str(folder))
    child = subprocess.Popen(
        ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _accepts(port) or child.poll() is not None, "caddy to listen")
        assert child.poll() is None, "caddy exited"
        yield Caddy(caddyfile, port)
    finally:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        child.wait(timeout=30)
