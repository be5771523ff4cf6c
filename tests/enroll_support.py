"""Helpers for the enrollment tests: raw HTTP(S) on 127.0.0.1, User-Agents, a started session."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certtui.core.store import Store
from certtui.enroll import trust
from certtui.enroll.events import EnrollEvent
from certtui.enroll.server import EnrollmentSession, RootInfo

# Every test server binds and is reached here only; no packet goes anywhere else.
HOST = "127.0.0.1"
# A reply on loopback takes milliseconds; 5 s only guards against a hung test.
READ_TIMEOUT_S = 5.0

UA = {
    "iphone-safari": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "iphone-firefox": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) FxiOS/124.0 Mobile/15E148 Safari/605.1.15",
    "iphone-duckduckgo": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.4 Mobile/15E148 DuckDuckGo/7 Safari/605.1.15",
    "iphone-chrome-94": "Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) CriOS/94.0.4606.76 Mobile/15E148 Safari/604.1",
    "iphone-chrome-124": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    "ipad-as-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "android-chrome": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
}


@dataclass(frozen=True)
class Reply:
    """One parsed HTTP/1.x response (the server closed the connection after it)."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes


def parse(raw: bytes) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(status, headers, body, raw)


def request(path: str, method: str = "GET", user_agent: str | None = None, extra: str = "") -> bytes:
    ua = f"User-Agent: {user_agent}\r\n" if user_agent else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{ua}{extra}Connection: close\r\n\r\n".encode(
        "utf-8", "surrogateescape"
    )


async def exchange(
    port: int,
    data: bytes,
    *,
    ssl_ctx: ssl.SSLContext | None = None,
    source: str | None = None,
) -> bytes:
    """Send `data` to HOST:port (HTTPS with `ssl_ctx`) and read until the server closes."""
    reader, writer = await asyncio.open_connection(
        HOST,
        port,
        ssl=ssl_ctx,
        server_hostname=HOST if ssl_ctx else None,
        local_addr=(source, 0) if source else None,
    )
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), READ_TIMEOUT_S)
    finally:
        writer.close()


async def get(port: int, path: str, user_agent: str | None = None, method: str = "GET", **kw: Any) -> Reply:
    return parse(await exchange(port, request(path, method, user_agent), **kw))


async def wait_for_event(session: EnrollmentSession, test: Callable[[EnrollEvent], bool]) -> EnrollEvent:
    """The first event passing `test`, waiting up to READ_TIMEOUT_S for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READ_TIMEOUT_S
    while loop.time() < deadline:
        for event in session.events:
            if test(event):
                return event
        await asyncio.sleep(0.01)
    raise AssertionError(f"no such event; got {[e.line() for e in session.events]}")


async def start_session(store: Store, *, with_trust: bool = True, **kw: Any) -> EnrollmentSession:
    """A session on 127.0.0.1 with free ports, advertising 127.0.0.1, already listening."""
    planned = trust.plan_test(store, HOST)
    test = trust.sign_test(store, planned.plan) if with_trust and planned.plan else None
    session = EnrollmentSession(
        RootInfo.from_store(store),
        advertise=HOST,
        bind=HOST,
        port=0,
        tls_port=0,
        trust=test,
        trust_skipped=planned.skipped,
        **kw,
    )
    await session.start()
    return session
