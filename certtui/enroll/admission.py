"""Who gets a connection: the listening sockets, the limits, eviction, and the TLS peek."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from certtui.enroll.trust import HANDSHAKE, Handshake
from certtui.errors import CerttuiError

# A TLS handshake over a LAN takes milliseconds; 10 s covers a phone waking its radio.
HANDSHAKE_TIMEOUT_S = 10.0
# Open connections: a browser opens at most 6 per host, so 16 per client address is ample,
# and 128 in all keeps a flood of clients far from the process's file descriptor limit. At 128
# the oldest connection that is not in a request makes room for the newcomer, so idle
# connections from many addresses cannot lock the phone out.
MAX_CONNECTIONS = 128
MAX_CONNECTIONS_PER_CLIENT = 16
# The first byte of a TLS ClientHello (content type 22, handshake): anything else on the TLS
# port is not a browser trying the test certificate.
TLS_HANDSHAKE_RECORD = b"\x16"


class Admission:
    """Accepts on the session's ports and hands each socket to aiohttp, within the limits.

    On the TLS port a socket is handed over only once its first byte is a TLS record; a
    handshake that then fails goes to `on_handshake_failed`, plain HTTP to `on_not_tls`.
    """

    def __init__(
        self,
        bind: str,
        on_handshake_failed: Callable[[str, BaseException, Handshake], None],
        on_not_tls: Callable[[str], None],
    ) -> None:
        self.bind = bind
        self.refused = 0
        """Connections closed at once: their address, or the whole server, was at its limit."""
        self.evicted = 0
        """Idle connections closed to make room for a newcomer."""
        self._on_handshake_failed = on_handshake_failed
        self._on_not_tls = on_not_tls
        self._listeners: list[socket.socket] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._handshaking: Counter[str] = Counter()
        # Accepted sockets not yet handed to aiohttp (a TLS hello awaited), oldest first.
        self._waiting: dict[asyncio.Task[None], str] = {}
        self._server: Any = None

    def listen(self, port: int, default: int, option: str) -> socket.socket:
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
        self._listeners.append(sock)
        return sock

    def serve(self, server: Any, listener: socket.socket, ssl_ctx: ssl.SSLContext | None) -> None:
        """Accept on `listener` for aiohttp's `server` (its connections count toward the limits)."""
        self._server = server
        self._spawn(self._accept(listener, ssl_ctx))

    async def close(self) -> None:
        """Close the ports, drop every socket not yet handed over, and wait for the tasks."""
        for listener in self._listeners:
            listener.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
                self.refused += 1
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
                self.evicted += 1
                return True
        for handler in self._server.connections:
            # aiohttp 3.14's flag; without it nothing is evicted and the newcomer is refused.
            if handler.transport is not None and not getattr(handler, "_request_in_progress", True):
                handler.force_close()
                self.evicted += 1
                return True
        return False

    async def _connect(self, sock: socket.socket, client: str, ssl_ctx: ssl.SSLContext | None) -> None:
        """Hand the socket to aiohttp; on the TLS port, a failed handshake is reported."""
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
                self._on_handshake_failed(client, exc, handshake)
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
            self._on_not_tls(client)
        return False
