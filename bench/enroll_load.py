"""A local aiohttp client that asks the enrollment server for one route as fast as it answers."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import aiohttp

# Requests in flight at once: a browser opens at most 6 connections per host, and the server
# allows 16 per client address; 8 keeps it busy without tripping its per-client cap.
CONCURRENCY = 8
# An iPhone's User-Agent, so the landing page and the profile take their iOS branches.
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def check_loopback(url: str) -> None:
    """The benchmark only ever talks to 127.0.0.1."""
    if urlsplit(url).hostname != "127.0.0.1":
        raise RuntimeError(f"refusing to load {url}: the benchmark only talks to 127.0.0.1")


async def _hammer(url: str, seconds: float) -> tuple[int, int]:
    check_loopback(url)
    ok = bad = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": IPHONE_UA}) as session:

        async def worker() -> None:
            nonlocal ok, bad
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    await response.read()
                    if response.status == 200:
                        ok += 1
                    else:
                        bad += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return ok, bad


def requests_per_second(url: str, seconds: float) -> float:
    """Successful requests per second over `seconds`; any non-200 answer is an error."""
    start = time.perf_counter()
    ok, bad = asyncio.run(_hammer(url, seconds))
    if bad:
        raise RuntimeError(f"{bad} of {ok + bad} requests to {url} failed")
    return ok / (time.perf_counter() - start)
