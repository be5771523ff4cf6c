"""The enrollment session: the root behind a secret URL over HTTP, the trust test over HTTPS,
from start to stop (admission.py lets connections in, routes.py answers, verdicts.py judges)."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from certtui.core import export, policy
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.enroll.admission import Admission
from certtui.enroll.events import EnrollEvent
from certtui.enroll.routes import Routes
from certtui.enroll.trust import TrustCertificate, server_context
from certtui.enroll.verdicts import TrustTest
from certtui.errors import CerttuiError

# The ports, the bind address and the session length: core/policy.py, with their reasons.
DEFAULT_PORT = policy.ENROLL_PORT
DEFAULT_TLS_PORT = policy.ENROLL_TLS_PORT
DEFAULT_BIND = policy.ENROLL_BIND
DEFAULT_TIMEOUT_S = float(policy.ENROLL_TIMEOUT_S)
# 64-bit token (secrets.token_urlsafe(8), 11 characters): unguessable over a LAN in 15
# minutes, and short enough that a typical URL stays a version 3 QR code.
TOKEN_BYTES = 8
# A connection that sends no complete request within 15 s is closed (aiohttp applies the
# keep-alive timeout from the connection's start), so a stalled client holds a slot briefly.
KEEPALIVE_TIMEOUT_S = 15.0
# Events kept for late subscribers and tests; the oldest are dropped first.
EVENT_HISTORY = 1000


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def url_host(host: str) -> str:
    """`host` as it goes into a URL: an IPv6 literal in brackets."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


@dataclass(frozen=True)
class RootInfo:
    """The public root the session hands out, and the names it goes by."""

    certificate: x509.Certificate
    name: str
    file_stem: str

    @property
    def der(self) -> bytes:
        return export.cert_der(self.certificate)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER, lower-case hex."""
        return hashlib.sha256(self.der).hexdigest()

    @classmethod
    def from_store(cls, store: Store) -> RootInfo:
        root_id = store.root_id()
        if root_id is None:
            raise CerttuiError("the store has no root yet; create one with `certtui init --name NAME`")
        rec = store.get(root_id)
        stem = export.base_name(rec)
        return cls(store.certificate(root_id), rec.subject or stem, stem)


class EnrollmentSession:
    """One enrollment: start on a running loop (the TUI's) or `run()` it (the CLI); stop cleanly.

    `clock` stamps the events and the expiry (the TUI passes its own, so its countdown and a
    screenshot agree); the session itself stops after `timeout` seconds of the loop's time.
    """

    def __init__(
        self,
        root: RootInfo,
        *,
        advertise: str,
        bind: str = DEFAULT_BIND,
        port: int = DEFAULT_PORT,
        tls_port: int = DEFAULT_TLS_PORT,
        timeout: float = DEFAULT_TIMEOUT_S,
        trust: TrustCertificate | None = None,
        trust_skipped: str | None = None,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT_S,
        token: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.root = root
        self.advertise = advertise
        self.bind = bind
        self.timeout = timeout
        self.trust = trust
        self.trust_skipped = trust_skipped if trust is None else None
        self.token = token or new_token()
        self.clock = clock
        self.events: deque[EnrollEvent] = deque(maxlen=EVENT_HISTORY)
        self.reason = ""
        self.expires_at: datetime | None = None
        self.trust_test = TrustTest(self._emit, clock)
        self._admission = Admission(
            bind,
            self.trust_test.handshake_failed,
            lambda client: self.trust_test.not_tls(client, self.url),
        )
        self._ports = (port, tls_port)
        self._keepalive_timeout = keepalive_timeout
        self._subscribers: list[Callable[[EnrollEvent], None]] = []
        self._runner: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Event | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self.http_port = 0
        self.tls_port: int | None = None

    # -- what the caller shows -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{url_host(self.advertise)}:{self.http_port}/{self.token}/"

    @property
    def trust_url(self) -> str | None:
        if self.tls_port is None:
            return None
        return f"https://{url_host(self.advertise)}:{self.tls_port}/{self.token}/trusted"

    @property
    def refused_connections(self) -> int:
        """Connections closed at once because their address, or the server, was at its limit."""
        return self._admission.refused

    @property
    def evicted_connections(self) -> int:
        """Idle connections closed to make room for a newcomer."""
        return self._admission.evicted

    def seconds_left(self) -> float:
        """Until the session stops by itself, by its clock (the whole timeout before `start`)."""
        if self.expires_at is None:
            return self.timeout
        return max((self.expires_at - self.clock()).total_seconds(), 0.0)

    def subscribe(self, callback: Callable[[EnrollEvent], None]) -> Callable[[], None]:
        """Call `callback(event)` on the loop for every event from now on; returns unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _emit(self, event: EnrollEvent) -> None:
        self.events.append(event)
        for callback in list(self._subscribers):
            callback(event)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind both ports and serve on the running loop; returns once listening."""
        loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        ssl_ctx = server_context(self.trust) if self.trust is not None else None
        port, tls_port = self._ports
        http = self._admission.listen(port, DEFAULT_PORT, "--port")
        self.http_port = http.getsockname()[1]
        tls = None
        if ssl_ctx is not None:
            tls = self._admission.listen(tls_port, DEFAULT_TLS_PORT, "--tls-port")
            self.tls_port = tls.getsockname()[1]
        routes = Routes(
            self.root,
            self.token,
            page_url=self.url,
            trust_url=self.trust_url,
            trust_skipped=self.trust_skipped,
            trust_test=self.trust_test,
            emit=self._emit,
            clock=self.clock,
        )
        self._runner = routes.runner(self._keepalive_timeout)
        await self._runner.setup()
        self._admission.serve(self._runner.server, http, None)
        if tls is not None:
            self._admission.serve(self._runner.server, tls, ssl_ctx)
        self.expires_at = self.clock() + timedelta(seconds=self.timeout)
        self._timer = loop.call_later(self.timeout, self._on_timeout)

    async def wait(self) -> str:
        """Until the session stops; returns why: "timeout" or "stopped"."""
        assert self._done is not None, "start() the session first"
        await self._done.wait()
        return self.reason

    async def stop(self, reason: str = "stopped") -> None:
        """Close the ports and every connection; safe to call twice, or from several tasks."""
        if self._stop_task is None:
            self.reason = self.reason or reason
            self._stop_task = asyncio.get_running_loop().create_task(self._shutdown())
        # Shielded: a caller cancelled mid-stop (Ctrl-C) does not leave ports half-closed.
        await asyncio.shield(self._stop_task)

    async def _shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self._admission.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._done is not None:
            self._done.set()

    async def serve(self, on_start: Callable[[EnrollmentSession], None] | None = None) -> str:
        """Start, call `on_start`, wait for the timeout or a stop; clean up whatever happens."""
        try:
            await self.start()
            if on_start is not None:
                on_start(self)
            return await self.wait()
        finally:
            await self.stop()

    def run(self, on_start: Callable[[EnrollmentSession], None] | None = None) -> str:
        """Serve on a new event loop (the CLI); Ctrl-C raises KeyboardInterrupt after cleanup."""
        return asyncio.run(self.serve(on_start))

    def request_stop(self, reason: str = "stopped") -> None:
        """Stop from synchronous code on the loop (a key binding, a signal handler)."""
        if self._stop_task is None:
            self.reason = reason
            self._stop_task = asyncio.get_running_loop().create_task(self._shutdown())

    def _on_timeout(self) -> None:
        self.request_stop("timeout")
