"""`certtui enroll`'s output: a terminal that stops reading never stalls the server (issue 13 §5),
the redrawn screen keeps the QR whole, and event lines fit 80 columns (issue 16)."""

from __future__ import annotations

import fcntl
import io
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from certtui.core.store import Store
from certtui.enroll.events import EnrollEvent, EventKind, Outbox

HOST = "127.0.0.1"
# The process stops itself after this many seconds; the test allows this much more for a
# loaded machine before calling it late.
TIMEOUT_S = 8
LATE_S = 12
# A pipe this small fills after a few dozen event lines; nobody reads it after the screen.
PIPE_BYTES = 4096
F_SETPIPE_SZ = 1031
FLOOD = 200


def _request(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 ")


def test_a_terminal_that_stops_reading_stalls_neither_the_server_nor_the_timeout(
    proc, make_store: Callable[..., Store]
) -> None:  # type: ignore[no-untyped-def]
    make_store()
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_BYTES)
    started = time.monotonic()
    process = subprocess.Popen(
        proc.command("enroll", "--bind", HOST, "--port", "0", "--tls-port", "0", "--timeout", str(TIMEOUT_S)),
        env=proc.env(),
        stdin=subprocess.DEVNULL,
        stdout=write_fd,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    reader = os.fdopen(read_fd, "rb")
    try:
        # Read the screen up to the ports line, then never read again: a stalled terminal.
        seen = b""
        while (ports := re.search(rb"sudo ufw allow (\d+),(\d+)/tcp", seen)) is None:
            chunk = reader.read1(4096)
            assert chunk, seen
            seen += chunk
        port = int(ports[1])
        answered = sum(_request(port) for _ in range(FLOOD))
        # Every request was served although nothing reads the terminal any more.
        assert answered == FLOOD
        process.wait(timeout=TIMEOUT_S + LATE_S)
        assert time.monotonic() - started < TIMEOUT_S + LATE_S
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        stderr = process.stderr.read().decode() if process.stderr else ""
    rest = seen + reader.read()
    reader.close()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    # What reached the pipe is whole event lines (the rest waited for a reader that never came).
    assert rest.decode().count("/nothing-here 404\n") == rest.decode().count("/nothing-here")


def test_outbox_drops_the_oldest_and_counts_them() -> None:
    gate = threading.Event()
    written: list[str] = []

    def slow(text: str) -> None:
        gate.wait()
        written.append(text)

    box = Outbox(slow, cap=5)
    for n in range(50):
        box.put(f"line {n}")  # never blocks, although the sink does
    gate.set()
    assert box.close(10)
    text = "".join(written)
    assert "line 49" in text and "line 10" not in text
    assert re.search(r"\d+ event line\(s\) dropped", text)


def test_event_lines_fit_80_columns_and_break_between_words() -> None:
    from certtui.commands.enroll import event_lines

    event = EnrollEvent(
        datetime(2026, 1, 1, tzinfo=UTC),
        EventKind.REQUEST,
        "192.168.1.23",
        platform="iOS",
        method="GET",
        path="/Xq7vKp2RtYw/root.mobileconfig",
        status=200,
        detail="profile downloaded by Mobile Safari on an iPhone, install it in Settings now",
    )
    lines = event_lines(event)
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines)
    words = event.line().split()
    assert " ".join(" ".join(lines).split()) == " ".join(words)


def test_redrawn_screen_keeps_the_qr_whole_at_80x24(make_store: Callable[..., Store]) -> None:
    from certtui.commands.enroll import redrawn
    from certtui.enroll import page, qr
    from certtui.enroll.server import EnrollmentSession, RootInfo

    store = make_store()
    es = EnrollmentSession(RootInfo.from_store(store), advertise="192.168.1.2", bind=HOST, port=0, tls_port=0)
    es.http_port = 8555
    events = [
        EnrollEvent(
            datetime(2026, 1, 1, tzinfo=UTC), EventKind.REQUEST, "192.168.1.23", "iOS", "GET", f"/p{n}", 404
        )
        for n in range(30)
    ]
    screen = redrawn(es, events, (80, 24))
    assert screen.startswith("\x1b[H\x1b[2J")
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", screen)
    lines = plain.splitlines()
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
    code = qr.render(es.url, colour=False).splitlines()
    # The whole QR sits at the top, the URL and every fingerprint line beside it.
    for i, row in enumerate(code):
        assert lines[i].startswith(row)
    assert es.url in plain
    for group_line in page.group_fingerprint(es.root.fingerprint):
        assert group_line in plain
    assert "/p29" in plain  # the newest event is shown
    store.close()


def test_fingerprint_is_grouped_the_same_everywhere(make_store: Callable[..., Store]) -> None:
    from certtui.enroll import page

    fp = "ab" * 32
    assert page.group_fingerprint(fp) == ["ABAB ABAB ABAB ABAB"] * 4


def test_not_a_terminal_keeps_line_by_line_output() -> None:
    # The stream sink is used when stdout has no file descriptor (click's test runner).
    written = io.StringIO()
    box = Outbox(lambda text: written.write(text))
    box.put("one")
    box.put("two")
    assert box.close(5)
    assert written.getvalue() == "one\ntwo\n"
