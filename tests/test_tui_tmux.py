"""The real `certtui` entry point in a real terminal (tmux, 80x24): keys in, screen out, q quits 0."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.tmux import Tmux

from certtui.demo import build_demo_store
from certtui.paths import db_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def tmux_demo(home: Path) -> Iterator[Tmux]:
    build_demo_store(db_path(home)).close()
    certtui = Path(sys.executable).with_name("certtui")
    session = Tmux(str(certtui), {"CERTTUI_HOME": str(home), "TERM": "xterm-256color"})
    yield session
    session.kill()


def test_real_terminal_list_filter_inspect_quit(tmux_demo: Tmux, home: Path) -> None:
    # The checklist markers are judged in the background: the list shows first, the count follows.
    # Up to a minute on a loaded machine: a guard against a hang, not a pace.
    screen = tmux_demo.wait_for(
        lambda s: "fail the iOS checklist" in s and "Home Lab Root CA" in s and "Quit" in s, timeout=60
    )
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "10 certificates · 3 fail the iOS checklist · 1 expiring · 1 revoked" in screen
    # the footer at 80 columns shows the keys that matter most
    footer = lines[-1]
    for key in ("Inspect", "Filter", "Export", "Copy", "Help", "Quit"):
        assert key in footer
    # typed in one burst: nothing after "/" may be lost or fire another binding
    tmux_demo.keys("/printer")
    screen = tmux_demo.wait_for(lambda s: "nas.home.arpa" not in s and "printer" in s)
    tmux_demo.keys("Enter")
    tmux_demo.wait_for(lambda s: "Inspect" in s.splitlines()[-1])
    # The first Enter moves focus from the filter to the list; an Enter that arrives before
    # that move reaches the filter again, so press until the inspect screen is there (a state).
    screen = ""
    for _ in range(10):
        tmux_demo.keys("Enter")
        try:
            screen = tmux_demo.wait_for(lambda s: "iPhones" in s, timeout=3)
            break
        except AssertionError:
            continue
    assert "iPhones" in screen
    assert "printer.home.arpa" in screen
    tmux_demo.keys("Escape")
    tmux_demo.wait_for(lambda s: "Other names" in s)
    tmux_demo.keys("q")
    exit_file = home / "exit"
    deadline = time.monotonic() + 15
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_file.read_text().strip() == "EXIT=0"


def test_real_terminal_enrollment_qr_decodes_and_shows_a_download(home: Path) -> None:
    import re
    import urllib.request

    from support.qr import decode

    from certtui.core.issuance import init_store
    from certtui.core.models import InitRequest

    init_store(db_path(home), InitRequest(name="Tmux Root"), None)[0].close()
    certtui = Path(sys.executable).with_name("certtui")
    session = Tmux(
        f"{certtui} --bind 127.0.0.1 --advertise 127.0.0.1 --port 0 --tls-port 0",
        {"CERTTUI_HOME": str(home), "TERM": "xterm-256color"},
    )
    try:
        session.wait_for(lambda s: "Tmux Root" in s and "Quit" in s)
        session.keys("p")
        screen = session.wait_for(lambda s: "http://127.0.0.1:" in s and "Stops in" in s)
        url = re.search(r"http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]+/", screen)
        assert url is not None
        # The QR sits at the top left, quiet zone included; the URL starts two columns to its
        # right (the QR's margin), and a half-block line holds two module rows.
        lines = screen.splitlines()
        width = lines[0].index("http") - 2
        block = [line[:width].ljust(width) for line in lines[: (width + 1) // 2]]
        assert decode(block) == url.group(0)
        with urllib.request.urlopen(url.group(0) + "root.pem", timeout=5) as reply:
            assert reply.status == 200
        session.wait_for(lambda s: "root.pem 200" in s)
        session.keys("Escape")
        session.wait_for(lambda s: "Other names" in s)
        session.keys("q")
        exit_file = home / "exit"
        deadline = time.monotonic() + 15
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "EXIT=0"
    finally:
        session.kill()
