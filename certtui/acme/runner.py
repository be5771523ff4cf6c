"""Running `certtui acme`: the HTTPS listener, its own certificate and its renewal, clean stops."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import ssl
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from certtui.acme.context import PREFIX, Context, Settings
from certtui.acme.nonces import Nonces
from certtui.acme.server import application
from certtui.core import keys as keymod
from certtui.core.models import CertRecord
from certtui.core.store import Store
from certtui.errors import CerttuiError

# The meta key of the nonce epoch: one more each start, so nonces never repeat across runs.
EPOCH_META = "acme_nonce_epoch"


@dataclass(frozen=True)
class Started:
    """What the command prints once the server listens."""

    directory: str
    port: int
    server_cert: CertRecord
    renewed: bool


def _pem_into_memory(data: bytes) -> tuple[str, Callable[[], None]]:
    """A path `ssl.load_cert_chain` can read that never reaches a disk: a memfd on Linux,
    else a 0600 temporary file removed right after loading."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("certtui-acme-tls", os.MFD_CLOEXEC)
        os.write(fd, data)
        return f"/proc/self/fd/{fd}", lambda: os.close(fd)
    fd, path = tempfile.mkstemp(prefix=".certtui-acme-")
    os.write(fd, data)
    os.close(fd)
    return path, lambda: os.unlink(path)


def load_tls(context: ssl.SSLContext, store: Store, rec: CertRecord) -> None:
    """Load the server's certificate, its chain and key into `context` (new handshakes use it).

    The key goes in encrypted under a one-time random password, through memory only.
    """
    password = secrets.token_bytes(32)
    key = store.private_key(rec.id)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    chain = [store.certificate(rec.id), *store.chain(rec.id)]
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain if c.issuer != c.subject)
    cert_path, close_cert = _pem_into_memory(chain_pem)
    key_path, close_key = _pem_into_memory(key_pem)
    try:
        context.load_cert_chain(cert_path, key_path, password=password)
    finally:
        close_cert()
        close_key()


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # TLS 1.2 is the floor every ACME client in the README speaks.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def serve(
    store: Store,
    ca: CertRecord,
    ca_key: keymod.PrivateKey,
    settings: Settings,
    *,
    bind: str,
    port: int,
    hostnames: Sequence[str],
    on_start: Callable[[Started], None],
    log: Callable[[str], None],
) -> None:
    """Serve until SIGTERM or SIGINT; the server's certificate is renewed while it runs."""
    from certtui.journeys import acme as journey

    with store.write():
        epoch = int(store.meta(EPOCH_META) or "0") + 1
        store.set_meta(EPOCH_META, str(epoch))
        # A finalize cut short by a crash stored nothing (the certificate and the order's
        # change commit together): the order is ready again, so the client's retry works.
        store.acme.reopen_processing_orders()
    try:
        rec, renewed = journey.server_certificate(store, hostnames, ca, ca_key)
    except CerttuiError as exc:
        raise CerttuiError(
            f"cannot issue the server's own certificate for {', '.join(hostnames)} ({exc}); "
            "give --hostname names the CA allows"
        ) from None
    context = tls_context()
    load_tls(context, store, rec)
    acme = Context(store, ca, ca_key, settings, Nonces(epoch), log)
    runner = web.AppRunner(application(acme), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, bind, port, ssl_context=context, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise CerttuiError(
            f"cannot listen on {bind}:{port} ({exc.strerror}); pick another --port or --bind"
        ) from None
    sockets = getattr(site._server, "sockets", None) or []  # the real port when --port 0
    real_port = sockets[0].getsockname()[1] if sockets else port
    host = hostnames[0]
    shown = f"[{host}]" if ":" in host else host
    on_start(Started(f"https://{shown}:{real_port}{PREFIX}/directory", real_port, rec, renewed))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def renew_loop() -> None:
        current = rec
        while True:
            await asyncio.sleep(journey.next_check(current).total_seconds())
            if journey.renew_due(current):
                try:
                    current, _ = journey.server_certificate(store, hostnames, ca, ca_key)
                    load_tls(context, store, current)
                    log(f"renewed the server's own certificate: {current.id}, expires {current.not_after}")
                except CerttuiError as exc:
                    log(f"could not renew the server's own certificate: {exc}")

    renewer = loop.create_task(renew_loop())
    try:
        await stop.wait()
    finally:
        renewer.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def log_line(text: str) -> None:
    """One line to stderr (the journal under systemd); never a body, a key or a MAC key."""
    from certtui.core.printable import printable

    sys.stderr.write(f"acme: {printable(text)}\n")
    sys.stderr.flush()
