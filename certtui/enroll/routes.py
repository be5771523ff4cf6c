"""What the enrollment server answers: the token check, the root's files, /trusted, one event each."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from certtui.core import export
from certtui.enroll import page
from certtui.enroll.events import EnrollEvent, PageOpened, ProfileDownloaded, RequestReceived, escape
from certtui.enroll.verdicts import TrustTest

if TYPE_CHECKING:
    from aiohttp import web

    from certtui.enroll.server import RootInfo

# Request line and header limits: the longest real request line is about 40 characters and
# a phone sends about ten headers of under 300 bytes; anything bigger is refused with 400.
MAX_LINE_SIZE = 2048
MAX_FIELD_SIZE = 2048
MAX_HEADERS = 32
# In-flight requests are tiny; waiting longer than this at stop only delays the exit.
SHUTDOWN_TIMEOUT_S = 2.0
# The routes of the plain-HTTP port that count as loading the page or the profile.
PAGE_ROUTES = frozenset({"/", "root.mobileconfig", "root.crt", "root.pem"})
# What a route served with 200 tells of the phone's progress; any other request is only a request.
STEP_EVENTS: dict[str, type[RequestReceived]] = {
    "/": PageOpened,
    "root.mobileconfig": ProfileDownloaded,
    "root.crt": ProfileDownloaded,
}
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


def _quiet_aiohttp() -> None:
    """aiohttp logs a bad request with a traceback, which would tear the QR apart: the caller
    gets one event per request instead, so its loggers print nothing."""
    for name in ("aiohttp.server", "aiohttp.access", "aiohttp.web"):
        log = logging.getLogger(name)
        log.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            log.addHandler(logging.NullHandler())


class Routes:
    """The aiohttp app of one session, once its ports (and so its URLs) are known."""

    def __init__(
        self,
        root: RootInfo,
        token: str,
        *,
        page_url: str,
        trust_url: str | None,
        trust_skipped: str | None,
        trust_test: TrustTest,
        emit: Callable[[EnrollEvent], None],
        clock: Callable[[], datetime],
    ) -> None:
        # aiohttp costs about 0.2 s to import: only a session that starts pays for it.
        from aiohttp import web

        self.root = root
        self.token = token
        self.page_url = page_url
        self.trust_url = trust_url
        self.trust_skipped = trust_skipped
        self.trust_test = trust_test
        self._emit = emit
        self._clock = clock
        self._route_key = web.RequestKey("certtui.route", str)
        self._trusted_key = web.RequestKey("certtui.trusted", bool)

    def runner(self, keepalive_timeout: float) -> web.AppRunner:
        """The app behind its runner (not set up yet), with the request limits above."""
        from aiohttp import web
        from aiohttp.abc import AbstractAccessLogger

        _quiet_aiohttp()
        routes = self

        class _EventLog(AbstractAccessLogger):
            """Every request, good or bad, becomes one event (never a log line)."""

            def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
                routes._request_event(request, response)

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
        return web.AppRunner(
            app,
            handle_signals=False,
            access_log_class=_EventLog,
            access_log=logging.getLogger("aiohttp.access"),
            max_line_size=MAX_LINE_SIZE,
            max_field_size=MAX_FIELD_SIZE,
            max_headers=MAX_HEADERS,
            keepalive_timeout=keepalive_timeout,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )

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
            page_url=self.page_url,
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
        route = request.get(self._route_key)
        served = STEP_EVENTS.get(route or "", RequestReceived) if response.status == 200 else RequestReceived
        self._emit(served(self._clock(), client, platform, method, path, response.status, detail))
        if not request.secure and response.status == 200 and request.method == "GET":
            if route in PAGE_ROUTES:
                self.trust_test.page_loaded(client)
        if request.get(self._trusted_key) and response.status == 200:
            self.trust_test.completed(client, platform)
