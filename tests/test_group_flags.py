"""The group's enrollment flags (`certtui --port P enroll`) reach `enroll`, or are refused."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import pytest

from certtui.core.store import Store

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on at this moment (the kernel's pick, released again)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def served_on(out: str) -> tuple[str, int, int]:
    """(bind, HTTP port, HTTPS port) from the first lines `certtui enroll` prints."""
    found = re.search(r"on (\S+): HTTP port (\d+), HTTPS trust\s+test\s+port (\d+)\.", out)
    assert found is not None, out
    return found[1], int(found[2]), int(found[3])


@pytest.mark.parametrize("where", ["before enroll", "after enroll"])
def test_bind_and_ports_reach_enroll_in_both_spellings(
    cli,  # type: ignore[no-untyped-def]
    make_store: Callable[..., Store],
    where: str,
) -> None:
    make_store()
    port, tls_port = free_port(), free_port()
    flags = ["--bind", HOST, "--port", str(port), "--tls-port", str(tls_port), "--advertise", HOST]
    args = [*flags, "enroll"] if where == "before enroll" else ["enroll", *flags]
    out = cli.ok(*args, "--timeout", "1").stdout
    assert served_on(out) == (HOST, port, tls_port)
    assert f"http://{HOST}:{port}/" in out


def test_the_flag_after_enroll_wins_over_the_one_before(
    cli,  # type: ignore[no-untyped-def]
    make_store: Callable[..., Store],
) -> None:
    make_store()
    port = free_port()
    out = cli.ok(
        "--port", "1", "enroll", "--bind", HOST, "--port", str(port), "--tls-port", "0", "--timeout", "1"
    )
    assert served_on(out.stdout)[:2] == (HOST, port)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--port", "9000", "list"], "--port"),
        (["--bind", HOST, "list"], "--bind"),
        (["--tls-port", "9001", "locate"], "--tls-port"),
        (["--advertise", "nas.home.arpa", "issue", "nas.home.arpa"], "--advertise"),
    ],
)
def test_a_group_flag_another_command_would_ignore_is_refused(
    cli,  # type: ignore[no-untyped-def]
    make_store: Callable[..., Store],
    args: list[str],
    flag: str,
) -> None:
    store = make_store()
    before = store.records()
    message = cli.error(*args)
    assert flag in message and args[-1 if args[-1] != "nas.home.arpa" else -2] in message
    assert store.records() == before
