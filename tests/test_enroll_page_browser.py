"""The phone's page in headless Chromium (DevTools protocol): it fits 320/390/412 px, its buttons
are whole, the iPad gets the trust switch, and its own policy blocks nothing it uses."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from enroll_support import UA, start_session

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.paths import db_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed"),
]

# Chromium writes DevToolsActivePort within this time on a loaded machine; a guard, not a pace.
START_WAIT_S = 60
CDP_WAIT_S = 30

# (name, user agent, CSS width, height, mobile)
DEVICES = [
    ("iphone-se", UA["iphone-safari"], 320, 568, True),
    ("iphone", UA["iphone-safari"], 390, 844, True),
    ("ipad", UA["ipad-as-mac"], 820, 1180, True),
    ("android", UA["android-chrome"], 412, 915, True),
    ("desktop", UA["desktop"], 1280, 800, False),
]


class Cdp:
    """One page target over the DevTools websocket: commands in, events collected."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.n = 0
        self.events: list[dict[str, Any]] = []
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.n += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.n] = future
        await self.ws.send_str(json.dumps({"id": self.n, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, CDP_WAIT_S)
        assert "error" not in reply, reply
        return reply.get("result", {})

    async def until(self, method: str) -> dict[str, Any]:
        for _ in range(CDP_WAIT_S * 20):
            for event in self.events:
                if event.get("method") == method:
                    return event
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {method}; got {[e.get('method') for e in self.events]}")

    async def value(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return reply["result"]["value"]


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[int]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    process = subprocess.Popen(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        marker = profile / "DevToolsActivePort"
        for _ in range(START_WAIT_S * 20):
            if marker.exists() and marker.read_text().strip():
                break
            assert process.poll() is None, "chromium exited"
            await asyncio.sleep(0.05)
        yield int(marker.read_text().split()[0])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def store(home: Path) -> Store:
    store, _ = init_store(db_path(home), InitRequest(name="Home Lab Root CA", intermediate=True), None)
    yield store
    store.close()


@pytest.mark.parametrize(
    ("device", "agent", "width", "height", "mobile"), DEVICES, ids=[d[0] for d in DEVICES]
)
async def test_page_fits_the_device_and_its_buttons_are_whole(
    chromium: int,
    store: Store,
    tmp_path: Path,
    device: str,
    agent: str,
    width: int,
    height: int,
    mobile: bool,
) -> None:
    session = await start_session(store)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.put(f"http://127.0.0.1:{chromium}/json/new?about:blank") as reply:
                target = await reply.json()
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = Cdp(ws)
                await cdp.send("Page.enable")
                await cdp.send("Log.enable")
                await cdp.send("Runtime.enable")
                await cdp.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=mobile,
                )
                await cdp.send("Emulation.setUserAgentOverride", userAgent=agent)
                await cdp.send("Page.navigate", url=session.url)
                await cdp.until("Page.loadEventFired")
                doc_width = await cdp.value("document.documentElement.scrollWidth")
                inner = await cdp.value("window.innerWidth")
                # The viewport less a desktop scrollbar: what the page may use without overflowing.
                client = await cdp.value("document.documentElement.clientWidth")
                buttons = await cdp.value(
                    "[...document.querySelectorAll('.button')].map(b => {const r = b.getBoundingClientRect();"
                    " return [b.textContent, r.left, r.right];})"
                )
                text = await cdp.value("document.body.innerText")
                shot = await cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                (tmp_path / f"enroll-page-{device}.png").write_bytes(base64.b64decode(shot["data"]))
                cdp.reader.cancel()
    finally:
        await session.stop()
    assert inner == width
    assert doc_width == client, f"{device}: the page is {doc_width} px wide in a {client} px viewport"
    assert not mobile or client == width
    assert buttons
    for label, left, right in buttons:
        assert 0 <= left and right <= client, f"{device}: {label!r} spans {left}..{right} of {width}"
    if device == "ipad":
        # iPadOS Safari says "Macintosh": the iPad still gets every step, the trust switch too.
        assert "Certificate Trust Settings" in text and "Profile Downloaded" in text
    # The page's own policy blocks nothing the page uses (the favicon included).
    errors = [
        e["params"]["entry"]["text"]
        for e in cdp.events
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    assert not [e for e in errors if "Content Security Policy" in e], errors
