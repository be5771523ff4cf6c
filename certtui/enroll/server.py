"""The enrollment server: the root behind a secret URL over HTTP, and the trust test over HTTPS."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import socket
import ssl
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cryptography import x509

from certtui.core import export, policy
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.enroll import page
from certtui.enroll.events import EnrollEvent, EventKind, escape
from certtui.enroll.trust import HANDSHAKE, Handshake, TrustCertificate, server_context
from certtui.errors import CerttuiError

if TYPE_CHECKING:
    from aiohttp import web

# The ports, the bind address and the session length: core/policy.py, with their reasons.
DEFAULT_PORT = policy.ENROLL_PORT
DEFAULT_TLS_PORT = policy.ENROLL_TLS_PORT
DEFAULT_BIND = policy.ENROLL_BIND
DEFAULT_TIMEOUT_S = float(policy.ENROLL_TIMEOUT_S)
# 64-bit token (secrets.token_urlsafe(8), 11 characters): unguessable over a LAN in 15
# minutes, and short enough that a typical URL stays a version 3 QR code.
TOKEN_BYTES = 8
# Request line and header limits: the longest real request line is about 40 characters and
# a phone sends about ten headers of under 300 bytes; anything bigger is refused with 400.
MAX_LINE_SIZE = 2048
MAX_FIELD_SIZE = 2048
MAX_HEADERS = 32
# A connection that sends no complete request within 15 s is closed (aiohttp applies the
# keep-alive timeout from the connection's start), so a stalled client holds a slot briefly.
KEEPALIVE_TIMEOUT_S = 15.0
# A TLS handshake over a LAN takes milliseconds; 10 s covers a phone waking its radio.
HANDSHAKE_TIMEOUT_S = 10.0
# Open connections: a browser opens at most 6 per host, so 16 per client address is ample,
# and 128 in all keeps a flood of clients far from the process's file descriptor limit. At 128
# the oldest connection that is not in a request makes room for the newcomer, so idle
# connections from many addresses cannot lock the phone out.
MAX_CONNECTIONS = 128
MAX_CONNECTIONS_PER_CLIENT = 16
# In-flight requests are tiny; waiting longer than this at stop only delays the exit.
SHUTDOWN_TIMEOUT_S = 2.0
# Events kept for late subscribers and tests; the oldest are dropped first.
EVENT_HISTORY = 1000
# The alerts a client sends when it does not accept the server's certificate (RFC 8446, 6.2),
# by OpenSSL's name for them: only these (after a real ClientHello) are a refusal of the root.
CERTIFICATE_ALERTS = {
    "TLSV1_ALERT_UNKNOWN_CA": "unknown_ca",
    "SSLV3_ALERT_BAD_CERTIFICATE": "bad_certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "certificate_unknown",
}
# OpenSSL's reasons for a ClientHello it cannot agree with (version, cipher, group, signature):
# a client too old or too odd for the test, not a verdict on the root.
NEGOTIATION_FAILURES = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "VERSION_TOO_LOW",
        "NO_PROTOCOLS_AVAILABLE",
        "NO_SHARED_CIPHER",
        "NO_SHARED_GROUPS",
        "NO_SHARED_SIGNATURE_ALGORITHMS",
        "NO_SUITABLE_SIGNATURE_ALGORITHM",
        "INAPPROPRIATE_FALLBACK",
    }
)
# Addresses that loaded the page or the profile in this session, the only ones whose trust
# test is a verdict: a home LAN has tens of devices, and beyond this the oldest is forgotten
# (a flood of addresses costs memory, never a verdict).
MAX_PAGE_CLIENTS = 256
# The routes of the plain-HTTP port that count as loading the page or the profile.
PAGE_ROUTES = frozenset({"/", "root.mobileconfig", "root.crt", "root.pem"})
# The first byte of a TLS ClientHello (content type 22, handshake): anything else on the TLS
# port is not a browser trying the test certificate.
TLS_HANDSHAKE_RECORD = b"\x16"
# What a 1x1 transparent GIF looks like: the whole answer of /trusted.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
_COMMON_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # The token is in the URL: never send it to a documentation site in a Referer.
    "Referrer-Policy": "no-referrer",
}


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


def _quiet_aiohttp() -> None:
    """aiohttp logs a bad request with a traceback, which would tear the QR apart: the caller
    gets one event per request instead, so its loggers print nothing."""
    for name in ("aiohttp.server", "aiohttp.access", "aiohttp.web"):
        log = logging.getLogger(name)
        log.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            log.addHandler(logging.NullHandler())


def _what(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or type(exc).__name__)
    return type(exc).__name__


def _judge(exc: BaseException, handshake: Handshake) -> tuple[bool, str]:
    """(whether a failed handshake is the device refusing the test certificate, what to say).

    Only a real ClientHello ending in a certificate alert, or in a close right after the
    server answered it with its certificate, is a refusal; anything else is no verdict.
    """
    what = _what(exc)
    if isinstance(exc, ssl.SSLError) and exc.reason in CERTIFICATE_ALERTS and handshake.hello:
        alert = CERTIFICATE_ALERTS[str(exc.reason)]
        return (
            True,
            f"the device refused the test certificate (alert {alert}): it does not trust the root yet",
        )
    if isinstance(exc, ssl.SSLError) and exc.reason in NEGOTIATION_FAILURES:
        return False, (
            f"the client and the test server share no TLS version or cipher ({what}): "
            "this says nothing about trust"
        )
    if not handshake.hello:
        return False, f"what arrived is not a TLS ClientHello ({what}): this says nothing about trust"
    if isinstance(exc, ConnectionAbortedError | TimeoutError):
        return False, (
            f"the client went silent after the server's certificate ({what}): this says nothing about trust"
        )
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ssl.SSLEOFError | ssl.SSLZeroReturnError) or (
        isinstance(exc, ssl.SSLError) and exc.reason == "UNEXPECTED_EOF_WHILE_READING"
    ):
        return True, (
            "the device closed the connection right after the server's certificate: "
            "it does not trust the root yet"
        )
    return False, f"the TLS handshake failed ({what}): this says nothing about trust"


class EnrollmentSession:
    """One enrollment: start on a running loop (the TUI's) or `run()` it (the CLI); stop cleanly."""

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
    ) -> None:
        self.root = root
        self.advertise = advertise
        self.bind = bind
        self.timeout = timeout
        self.trust = trust
        self.trust_skipped = trust_skipped if trust is None else None
        self.token = token or new_token()
        self.events: deque[EnrollEvent] = deque(maxlen=EVENT_HISTORY)
        # Client addresses that loaded the page or the profile (insertion order: oldest first).
        self.page_clients: dict[str, None] = {}
        self.refused_connections = 0
        self.evicted_connections = 0
        self.reason = ""
        self.expires_at: datetime | None = None
        self._ports = (port, tls_port)
        self._keepalive_timeout = keepalive_timeout
        self._subscribers: list[Callable[[EnrollEvent], None]] = []
        self._listeners: list[socket.socket] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._handshaking: Counter[str] = Counter()
        # Accepted sockets not yet handed to aiohttp (a TLS hello awaited), oldest first.
        self._waiting: dict[asyncio.Task[None], str] = {}
        self._runner: Any = None
        self._server: Any = None
        self._route_key: Any = None
        self._trusted_key: Any = None
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
        # aiohttp costs about 0.2 s to import: only a session that starts pays for it.
        from aiohttp import web
        from aiohttp.abc import AbstractAccessLogger

        loop = asyncio.get_running_loop()
        self._route_key = web.RequestKey("certtui.route", str)
        self._trusted_key = web.RequestKey("certtui.trusted", bool)
        self._done = asyncio.Event()
        _quiet_aiohttp()
        ssl_ctx = server_context(self.trust) if self.trust is not None else None
        port, tls_port = self._ports
        http = self._listen(port, DEFAULT_PORT, "--port")
        self._listeners.append(http)
        self.http_port = http.getsockname()[1]
        tls = None
        if ssl_ctx is not None:
            tls = self._listen(tls_port, DEFAULT_TLS_PORT, "--tls-port")
            self._listeners.append(tls)
            self.tls_port = tls.getsockname()[1]

        session = self

        class _EventLog(AbstractAccessLogger):
            """Every request, good or bad, becomes one event (never a log line)."""

            def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
                session._request_event(request, response)

        @web.middleware
        async def same_refusals(request: web.Request, handler: Any) -> web.StreamResponse:
            # What the router refuses itself (a request target such as `*`) looks exactly
            # like any other 404.
            try:
                return await handler(request)  # type: ignore[no-any-return]
            except web.HTTPException as exc:
                return self._plain(exc.status, "Not found.\n" if exc.status == 404 else f"{exc.reason}.\n")

        app = web.Application(middlewares=[same_refusals])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log_class=_EventLog,
            access_log=logging.getLogger("aiohttp.access"),
            max_line_size=MAX_LINE_SIZE,
            max_field_size=MAX_FIELD_SIZE,
            max_headers=MAX_HEADERS,
            keepalive_timeout=self._keepalive_timeout,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        await self._runner.setup()
        self._server = self._runner.server
        self._spawn(self._accept(http, None))
        if tls is not None:
            self._spawn(self._accept(tls, ssl_ctx))
        self.expires_at = utcnow() + timedelta(seconds=self.timeout)
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
        for listener in self._listeners:
            listener.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
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

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sockets ---------------------------------------------------------------------------

    def _listen(self, port: int, default: int, option: str) -> socket.socket:
        """A listening socket on `port`; a taken default port gives way to any free one."""
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        # `--bind ::` takes IPv4 clients too, where the system allows it.
        dual = family == socket.AF_INET6 and self.bind == "::" and socket.has_dualstack_ipv6()
        try:
            try:
                sock = socket.create_server((self.bind, port), family=family, dualstack_ipv6=dual)
            except OSError as exc:
                if port != default or exc.errno != errno.EADDRINUSE:
                    raise
                sock = socket.create_server((self.bind, 0), family=family, dualstack_ipv6=dual)
        except OSError as exc:
            for s in self._listeners:
                s.close()
            self._listeners.clear()
            raise CerttuiError(
                f"cannot listen on {self.bind} port {port} ({exc.strerror or exc}); "
                f"choose another {option} or --bind"
            ) from None
        sock.setblocking(False)
        return sock

    def _open_connections(self, client: str) -> tuple[int, int]:
        """(all open connections, those from `client`), handshakes in progress included."""
        peers = [h.transport.get_extra_info("peername") for h in self._server.connections if h.transport]
        mine = sum(1 for p in peers if p and p[0] == client) + self._handshaking[client]
        return len(peers) + sum(self._handshaking.values()), mine

    async def _accept(self, listener: socket.socket, ssl_ctx: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, addr = await loop.sock_accept(listener)
            except OSError:
                # Out of file descriptors or a connection reset before accept: try again soon.
                await asyncio.sleep(0.1)
                continue
            client = str(addr[0])
            total, mine = self._open_connections(client)
            if mine >= MAX_CONNECTIONS_PER_CLIENT or (total >= MAX_CONNECTIONS and not self._make_room()):
                self.refused_connections += 1
                sock.close()
                continue
            # Counted before the next accept, so a burst cannot slip past the limits.
            self._handshaking[client] += 1
            self._spawn(self._connect(sock, client, ssl_ctx))

    def _make_room(self) -> bool:
        """Close the oldest connection not in a request: a socket still awaiting its TLS hello,
        else an aiohttp connection between requests (or that never sent one). False if all are
        busy, which a flood of requests taking milliseconds each never makes them."""
        for task in self._waiting:
            if not task.done():
                del self._waiting[task]
                task.cancel()
                self.evicted_connections += 1
                return True
        for handler in self._server.connections:
            # aiohttp 3.14's flag; without it nothing is evicted and the newcomer is refused.
            if handler.transport is not None and not getattr(handler, "_request_in_progress", True):
                handler.force_close()
                self.evicted_connections += 1
                return True
        return False

    async def _connect(self, sock: socket.socket, client: str, ssl_ctx: ssl.SSLContext | None) -> None:
        """Hand the socket to aiohttp; on the TLS port, a failed handshake is judged (`_judge`)."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        handshake = Handshake()
        try:
            if ssl_ctx is not None:
                assert task is not None
                # Evictable while the hello is awaited; registered inside `try`, so an eviction
                # always reaches the `finally` below.
                self._waiting[task] = client
                if not await self._sent_tls(sock, client):
                    sock.close()
                    return
                # This task's context: the SSLObject asyncio makes for the socket reports here.
                HANDSHAKE.set(handshake)
            await loop.connect_accepted_socket(
                self._server,
                sock,
                ssl=ssl_ctx,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S if ssl_ctx is not None else None,
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            sock.close()
            if ssl_ctx is not None:
                self._handshake_failed(client, exc, handshake)
        except asyncio.CancelledError:
            sock.close()  # evicted to make room, or the session stops
            raise
        finally:
            if task is not None:
                self._waiting.pop(task, None)
            self._handshaking[client] -= 1
            if not self._handshaking[client]:
                del self._handshaking[client]

    async def _sent_tls(self, sock: socket.socket, client: str) -> bool:
        """Whether the client opened with a TLS record; only then is a failure a verdict.

        A browser's spare connection that never speaks, or closes unused, says nothing about
        trust; plain HTTP typed to the HTTPS port is reported as such.
        """
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(sock.fileno(), ready)
        try:
            await asyncio.wait_for(readable, HANDSHAKE_TIMEOUT_S)
            first = sock.recv(1, socket.MSG_PEEK)
        except (OSError, TimeoutError):
            return False
        finally:
            loop.remove_reader(sock.fileno())
        if first == TLS_HANDSHAKE_RECORD:
            return True
        if first:
            self._emit(
                EnrollEvent(
                    utcnow(),
                    EventKind.REQUEST,
                    client,
                    "unknown",
                    "-",
                    "(plain HTTP on the HTTPS test port)",
                    None,
                    f"open {self.url} instead",
                )
            )
        return False

    def _handshake_failed(self, client: str, exc: BaseException, handshake: Handshake) -> None:
        refused, detail = _judge(exc, handshake)
        if not refused:
            self._emit(EnrollEvent(utcnow(), EventKind.NO_VERDICT, client, detail=detail))
        elif client in self.page_clients:
            self._emit(EnrollEvent(utcnow(), EventKind.REJECTED, client, detail=detail))
        else:
            self._emit(
                EnrollEvent(
                    utcnow(),
                    EventKind.OTHER_CLIENT,
                    client,
                    detail=f"a TLS client at {client} refused the test certificate without loading the page",
                )
            )

    def _page_loaded(self, client: str) -> None:
        self.page_clients.pop(client, None)
        self.page_clients[client] = None
        while len(self.page_clients) > MAX_PAGE_CLIENTS:
            del self.page_clients[next(iter(self.page_clients))]

    # -- requests --------------------------------------------------------------------------

    def _token_ok(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode("utf-8", "surrogateescape"), self.token.encode())

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """Token first (anything else is 404, whatever the method), then route, then method."""
        parts = request.rel_url.raw_path.split("/")
        if len(parts) not in (2, 3) or parts[0] or not self._token_ok(parts[1]):
            return self._plain(404, "Not found.\n")
        if len(parts) == 2:
            # `/<token>` without the slash: the page's relative links need it.
            return self._plain(308, "Moved.\n", {"Location": f"/{self.token}/"})
        routes = self._tls_routes() if request.secure else self._http_routes()
        handler = routes.get(parts[2])
        if handler is None:
            return self._plain(404, "Not found.\n")
        request[self._route_key] = parts[2] or "/"
        if request.method not in ("GET", "HEAD"):
            return self._plain(405, "Method not allowed.\n", {"Allow": "GET, HEAD"})
        return handler(request)

    def _http_routes(self) -> dict[str, Callable[[web.Request], web.StreamResponse]]:
        return {
            "": self._landing,
            "root.mobileconfig": self._mobileconfig,
            "root.crt": self._crt,
            "root.pem": self._pem,
        }

    def _tls_routes(self) -> dict[str, Callable[[web.Request], web.StreamResponse]]:
        return {"trusted": self._trusted}

    def _response(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        from aiohttp import web

        return web.Response(
            status=status,
            body=body,
            headers={
                **_COMMON_HEADERS,
                "Content-Type": content_type,
                **(headers or {}),
            },
        )

    def _plain(self, status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
        return self._response(status, text.encode(), "text/plain; charset=utf-8", headers)

    def _download(self, body: bytes, content_type: str, suffix: str) -> web.Response:
        stem = self.root.file_stem
        ascii_name = _SAFE_FILENAME.sub("_", stem) + suffix
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(stem + suffix)}"
        return self._response(200, body, content_type, {"Content-Disposition": disposition})

    def _landing(self, request: web.Request) -> web.Response:
        client = page.guess(request.headers.get("User-Agent", ""))
        trust_url = self.trust_url
        origin = trust_url.rsplit("/", 2)[0] if trust_url else None
        html = page.landing_page(
            root_name=self.root.name,
            fingerprint=self.root.fingerprint,
            client=client,
            page_url=self.url,
            trust_url=trust_url,
            trust_skipped=self.trust_skipped,
        )
        return self._response(
            200,
            html.encode(),
            "text/html; charset=utf-8",
            {"Content-Security-Policy": page.content_security_policy(origin)},
        )

    def _mobileconfig(self, request: web.Request) -> web.Response:
        # TargetDeviceType 1 (iPhone/iPad) only for an iOS User-Agent: a Mac (and an iPad
        # claiming to be one) refuses a profile that names another device type.
        ios = page.guess(request.headers.get("User-Agent", "")).platform is page.Platform.IOS
        body = export.root_profile(
            self.root.certificate, self.root.file_stem, target_device_type=1 if ios else None
        )
        return self._download(body, "application/x-apple-aspen-config", ".mobileconfig")

    def _crt(self, request: web.Request) -> web.Response:
        return self._download(self.root.der, "application/x-x509-ca-cert", ".crt")

    def _pem(self, request: web.Request) -> web.Response:
        return self._download(export.cert_pem(self.root.certificate), "application/x-pem-file", ".pem")

    def _trusted(self, request: web.Request) -> web.Response:
        request[self._trusted_key] = True
        return self._response(200, PIXEL_GIF, "image/gif")

    def _request_event(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        user_agent = request.headers.get("User-Agent", "")
        platform = page.guess(user_agent).label if user_agent else "unknown"
        client = request.remote or "?"
        detail = "HTTPS" if request.secure else ""
        if request.method == "UNKNOWN" and self._route_key not in request:
            # aiohttp's parser refused it; its answer says why in one line.
            method, path = "-", "(malformed request)"
            body = getattr(response, "body", None)
            if isinstance(body, bytes) and body.strip():
                detail = escape(body.decode("utf-8", "replace").strip().splitlines()[0], 80)
        else:
            method, path = escape(request.method, 16), escape(request.path)
        self._emit(
            EnrollEvent(
                utcnow(),
                EventKind.REQUEST,
                client,
                platform,
                method,
                path,
                response.status,
                detail,
            )
        )
        if not request.secure and response.status == 200 and request.method == "GET":
            if request.get(self._route_key) in PAGE_ROUTES:
                self._page_loaded(client)
        if request.get(self._trusted_key) and response.status == 200:
            if client in self.page_clients:
                self._emit(
                    EnrollEvent(
                        utcnow(),
                        EventKind.TRUSTED,
                        client,
                        platform,
                        detail="the device that loaded the page completed TLS with the test "
                        "certificate: it trusts the root",
                    )
                )
            else:
                self._emit(
                    EnrollEvent(
                        utcnow(),
                        EventKind.OTHER_CLIENT,
                        client,
                        platform,
                        detail=f"a TLS client at {client} completed the trust test without loading the page",
                    )
                )
