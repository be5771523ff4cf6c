"""`certtui enroll`: the screen in order, its errors, and a real process serving a real client."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from enroll_support import HOST, UA, exchange, get, request
from support.qr import decode, qr_lines

from certtui.core.store import Store
from certtui.enroll import netinfo, page
from certtui.enroll.trust import AUDIT_ACTION

LOCAL = ("--bind", HOST, "--port", "0", "--tls-port", "0")
# The real process must print its screen within this time, and it stops itself after
# PROC_TIMEOUT_S; both only guard against a hung test.
SCREEN_WAIT_S = 20
PROC_TIMEOUT_S = 5


def test_screen_order_and_timeout_exit_0(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store(name="Home Lab Root CA")
    out = cli.ok("enroll", *LOCAL, "--timeout", "1").stdout
    assert "Traceback" not in out
    assert "\x1b" not in out  # not a terminal: click strips the colours
    lines = out.splitlines()
    ports = re.search(r"sudo ufw allow (\d+),(\d+)/tcp", out)
    assert ports is not None
    assert re.search(rf"HTTP port {ports[1]}, HTTPS trust\s+test port {ports[2]}\.", out)
    qr_at = lines.index(qr_lines(out)[0])
    steps_at = next(i for i, line in enumerate(lines) if page.IOS_STEPS[0] in line)
    url_at = next(i for i, line in enumerate(lines) if line.startswith("http://"))
    fp_at = next(i for i, line in enumerate(lines) if line.startswith("SHA-256 "))
    # 1. the phone steps, 2. the QR, 3. the URL, 4. the fingerprint; events below.
    assert steps_at < qr_at < url_at < fp_at
    assert url_at == qr_at + 17
    assert lines[url_at] == f"http://{HOST}:{ports[1]}/" + lines[url_at].split("/")[3] + "/"
    assert lines[-1] == "enrollment ended: timeout; 0 requests; no trust test seen"
    assert "phone-trusted-root" in out


def test_no_screen_line_is_wider_than_80(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store(name="A root with a rather long name for a home lab CA")
    out = cli.ok("enroll", *LOCAL, "--timeout", "1").stdout
    assert max(len(line) for line in out.splitlines()) <= 80


def test_locked_store_reads_the_passphrase_file(cli, make_store, passphrase_file) -> None:  # type: ignore[no-untyped-def]
    from support.store import PASSPHRASE

    store = make_store(passphrase=PASSPHRASE)
    out = cli.ok("enroll", *LOCAL, "--timeout", "1").stdout
    assert "HTTPS trust" in out
    assert store.events()[-1][2] == AUDIT_ACTION


def test_locked_store_without_a_passphrase_is_one_error(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store(passphrase="something secret")
    message = cli.error("enroll", *LOCAL, "--timeout", "1")
    assert "passphrase is needed" in message


def test_outside_constraints_says_why_and_serves_http_only(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store(permit=["home.arpa", "192.168.0.0/16"])
    out = cli.ok("enroll", *LOCAL, "--timeout", "1").stdout
    assert f"trust test skipped: {HOST} is outside the CA's name constraints" in out
    assert "HTTPS" not in out
    assert re.search(r"sudo ufw allow \d+/tcp", out)


def test_no_lan_address_asks_for_advertise(cli, make_store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    make_store()
    monkeypatch.setattr(netinfo, "advertise_for", lambda bind: None)
    message = cli.error("enroll", "--port", "0", "--tls-port", "0", "--timeout", "1")
    assert message == (
        "no LAN address found on this machine's interfaces; give the address the phone should use "
        "with --advertise HOST"
    )


@pytest.mark.parametrize("value", ["user@home.arpa", "*.home.arpa", "https://nas.home.arpa/"])
def test_advertise_must_be_a_host(cli, make_store, value: str) -> None:  # type: ignore[no-untyped-def]
    make_store()
    message = cli.error("enroll", *LOCAL, "--advertise", value, "--timeout", "1")
    assert message.startswith(f"--advertise {value!r} is not a host the phone can open")


def test_advertise_bad_name_is_one_error(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store()
    message = cli.error("enroll", *LOCAL, "--advertise", "bad name!", "--timeout", "1")
    assert "bad name" in message


def test_advertise_is_normalised_into_the_url(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store()
    out = cli.ok("enroll", *LOCAL, "--advertise", "NAS.Home.Arpa.", "--timeout", "1").stdout
    url = next(line for line in out.splitlines() if line.startswith("http://"))
    assert url.startswith("http://nas.home.arpa:")
    assert decode(qr_lines(out)) == url


def test_taken_port_is_one_error(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store()
    with socket.socket() as blocker:
        blocker.bind((HOST, 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        message = cli.error("enroll", "--bind", HOST, "--port", str(port), "--tls-port", "0")
    assert message.startswith(f"cannot listen on {HOST} port {port} (")
    assert message.endswith("choose another --port or --bind")


def test_no_store_is_one_error(cli) -> None:  # type: ignore[no-untyped-def]
    assert "certtui init" in cli.error("enroll", *LOCAL)


def _read_screen(process: subprocess.Popen[str]) -> tuple[str, list[str]]:
    """Lines up to the fingerprint (the end of the screen); the process is still serving."""
    assert process.stdout is not None
    lines: list[str] = []
    while not (len(lines) >= 2 and lines[-2].startswith("SHA-256 ")):
        line = process.stdout.readline()
        assert line, (lines, process.stderr.read() if process.stderr else "")
        lines.append(line.rstrip("\n"))
    return "\n".join(lines), lines


def test_real_process_prints_escaped_events_and_the_trust_verdicts(
    proc, make_store: Callable[..., Store], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    root_pem = store.certificate(store.root_id() or "").public_bytes(serialization.Encoding.PEM).decode()
    process = proc.popen("enroll", *LOCAL, "--timeout", str(PROC_TIMEOUT_S))
    try:
        text, lines = _read_screen(process)
        ports = re.search(r"sudo ufw allow (\d+),(\d+)/tcp", text)
        assert ports is not None
        http_port, tls_port = int(ports[1]), int(ports[2])
        url = next(line for line in lines if line.startswith("http://"))
        token = url.split("/")[3]

        async def client() -> None:
            assert (await get(http_port, f"/{token}/", UA["iphone-safari"])).status == 200
            hostile = request("/%1b]0;pwned%07%1b[2J")
            assert b" 404 " in (await exchange(http_port, hostile)).split(b"\r\n")[0]
            # Bad requests become event lines too, never a traceback on the terminal.
            for bad in (b"\x16\x03\x01garbage\r\n\r\n", request("/", extra=f"X: {'a' * 5000}\r\n")):
                assert b" 400 " in (await exchange(http_port, bad)).split(b"\r\n")[0]
            trusting = ssl.create_default_context(cadata=root_pem)
            assert (await get(tls_port, f"/{token}/trusted", ssl_ctx=trusting)).status == 200
            with pytest.raises(ssl.SSLError):
                await exchange(
                    tls_port, request(f"/{token}/trusted"), ssl_ctx=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                )

        asyncio.run(client())
        out, err = process.communicate(timeout=PROC_TIMEOUT_S + 10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert err == ""
    events = out.splitlines()
    assert any(line.endswith(f"{HOST} iOS GET /{token}/ 200") for line in events), out
    assert any("GET /\\x1b]0;pwned\\x07\\x1b[2J 404" in line for line in events), out
    assert "\x1b" not in out and "\x07" not in out
    trusted = [line for line in events if " phone-trusted-root: " in line]
    rejected = [line for line in events if " phone-rejected-certificate: " in line]
    assert len(trusted) == 1 and len(rejected) == 1, out
    assert len([line for line in events if "(malformed request) 400" in line]) == 2, out
    assert events[-1].startswith("enrollment ended: timeout; 5 requests; last trust event: ")


@pytest.mark.parametrize(
    ("sig", "reason"),
    [
        (signal.SIGINT, "stopped (Ctrl-C)"),
        (signal.SIGTERM, "stopped (SIGTERM)"),
    ],
)
def test_ctrl_c_and_kill_stop_cleanly_with_exit_0(
    proc, make_store: Callable[..., Store], sig: signal.Signals, reason: str
) -> None:  # type: ignore[no-untyped-def]
    make_store()
    process = subprocess.Popen(
        proc.command("enroll", *LOCAL, "--timeout", "60"),
        env=proc.env(),
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As in a terminal: the shell running the tests may ignore SIGINT for its children.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        _read_screen(process)
        process.send_signal(sig)
        out, err = process.communicate(timeout=SCREEN_WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err + out
    assert out.splitlines()[-1] == f"enrollment ended: {reason}; 0 requests; no trust test seen"
