"""`certtui enroll`'s output: a terminal that stops reading never stalls the server (issue 13 §5),
the redrawn screen keeps the QR whole, and event lines fit 80 columns (issue 16)."""

from __future__ import annotations

import fcntl
import io
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

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


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_the_qr_stays_whole_while_events_arrive(
    proc, make_store: Callable[..., Store], home: Path
) -> None:  # type: ignore[no-untyped-def]
    make_store()
    name = f"certtui-enroll-{uuid.uuid4().hex[:8]}"
    command = " ".join(
        shlex.quote(a)
        for a in proc.command("enroll", "--bind", HOST, "--port", "0", "--tls-port", "0", "--timeout", "30")
    )
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "80",
            "-y",
            "24",
            f"env CERTTUI_HOME={shlex.quote(str(home))} {command}; sleep 30",
        ],
        check=True,
    )

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True, check=True
        ).stdout

    def wait_for(predicate: Callable[[str], bool]) -> str:
        for _ in range(400):
            text = screen()
            if predicate(text):
                return text
            time.sleep(0.05)
        raise AssertionError(screen())

    try:
        text = wait_for(lambda t: "SHA-256 fingerprint:" in t)
        url = re.search(r"http://127\.0\.0\.1:(\d+)/\S+/", text)
        assert url is not None, text
        port = int(url[1])
        for n in range(8):
            with socket.create_connection((HOST, port), timeout=5) as s:
                s.sendall(f"GET /event-{n} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                s.recv(64)
        text = wait_for(lambda t: "/event-7" in t)
        lines = text.splitlines()
        # The QR's top quiet-zone row and the URL are still on the first lines: it still scans.
        assert url[0] in lines[0], lines[:2]
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)
