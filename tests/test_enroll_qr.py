"""The QR in the terminal: what `certtui enroll` prints decodes back to its URL (zxing-cpp)."""

from __future__ import annotations

import re

import pytest
from support.qr import decode, qr_lines

from certtui.enroll import qr
from certtui.enroll.server import new_token

TYPICAL = "http://192.168.178.20:8555/{token}/"


def test_rendered_text_decodes_back() -> None:
    url = TYPICAL.format(token=new_token())
    assert decode(qr_lines(qr.render(url, colour=False))) == url


def test_coloured_text_is_black_on_white_and_decodes_back() -> None:
    url = TYPICAL.format(token=new_token())
    text = qr.render(url)
    for line in text.splitlines():
        # Explicit 256-colour black on white, reset at the end of every line.
        assert line.startswith("\x1b[38;5;16m\x1b[48;5;231m")
        assert line.endswith("\x1b[0m")
    assert decode(qr_lines(text)) == url


@pytest.mark.parametrize("attempt", range(20))
def test_typical_url_is_version_3_in_33_by_17(attempt: int) -> None:
    url = TYPICAL.format(token=new_token())
    assert len(url) == 39
    assert qr.version(url) == 3
    lines = qr.render(url, colour=False).splitlines()
    assert len(lines) == 17
    assert {len(line) for line in lines} == {33}


def test_quiet_zone_is_two_light_modules() -> None:
    modules = qr.matrix(TYPICAL.format(token=new_token()))
    border = qr.QUIET_ZONE
    assert border >= 2
    for row in modules[:border] + modules[-border:]:
        assert not any(row)
    for row in modules:
        assert not any(row[:border]) and not any(row[-border:])
    # 33 rows make 17 lines: the last line's lower half is light too.
    assert qr.half_block_lines(modules)[-1] == " " * 33


def test_longer_urls_grow_and_still_decode() -> None:
    url = f"http://[fd12:3456:789a:1::20]:8555/{new_token()}/"
    assert qr.version(url) > 3
    assert decode(qr_lines(qr.render(url))) == url


def test_certtui_enroll_prints_a_qr_of_its_url(cli, make_store) -> None:  # type: ignore[no-untyped-def]
    make_store(name="Home Lab Root CA")
    result = cli.ok("enroll", "--bind", "127.0.0.1", "--port", "0", "--tls-port", "0", "--timeout", "1")
    out = result.stdout
    lines = out.splitlines()
    block = qr_lines(out)
    first = lines.index(block[0])
    after = lines[first + len(block) :]
    url = after[0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{11}/", url)
    assert decode(block) == url
    # The fingerprint closes the block, in groups of 4 hex digits.
    # 4 groups a line, as the page and the TUI group it: 16 groups on 4 lines.
    assert re.fullmatch(r"SHA-256 ([0-9A-F]{4} ){3}[0-9A-F]{4}", after[1])
    for line in after[2:5]:
        assert re.fullmatch(r" {8}([0-9A-F]{4} ){3}[0-9A-F]{4}", line)
