"""The shape of the fast paths (README: Performance), not their speed: what is imported, signed, parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import click
import pytest
from support.pki import issue_one

from certtui.core import checks, issuance
from certtui.core.checks import preview as check_preview
from certtui.core.models import IssueRequest, KeySpec, Kind, Status
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.errors import PolicyError
from certtui.journeys.issue import guardrail


def _verdicts(findings: list[checks.Finding]) -> list[tuple[str, str]]:
    return [(f.id, str(f.severity)) for f in findings]


@pytest.mark.parametrize("days", [None, 10, 900])
def test_the_guardrail_judges_a_signed_certificate_as_it_previews_the_plan(
    make_store: Callable[..., Store], days: int | None
) -> None:
    store = make_store(intermediate=True, permit=("home.arpa",))
    now = utcnow()
    p = issuance.plan(store, IssueRequest(names=("nas.home.arpa",), days=days))
    signed = issuance.sign(store, p, now=now)
    assert _verdicts(checks.signed_findings(store, p, signed.cert, now)) == _verdicts(
        checks.preview_findings(store, p, now)
    )


def test_a_refused_signed_certificate_is_never_stored(make_store: Callable[..., Store]) -> None:
    store = make_store()
    p = issuance.plan(store, IssueRequest(names=("x.home.arpa",), days=900))
    signed = issuance.sign(store, p)
    before = store.records()
    with pytest.raises(PolicyError, match=r"leaf\.lifetime-825"):
        guardrail(store, [p], force=False, signed=[signed.cert])
    assert store.records() == before
    lines = guardrail(store, [p], force=True, signed=[signed.cert])
    assert any("leaf.lifetime-825" in line for line in lines)
    assert issuance.commit(store, signed).id == format(signed.cert.serial_number, "x")[:12]


def test_previews_of_one_ca_chain_mirror_it_once(make_store: Callable[..., Store]) -> None:
    store = make_store(key=KeySpec.EC384)
    check_preview._mirror.cache_clear()
    for n in range(5):
        p = issuance.plan(store, IssueRequest(names=(f"n{n}.home.arpa",)))
        checks.preview_findings(store, p)
    info = check_preview._mirror.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_a_batch_never_draws_one_id_twice(
    make_store: Callable[..., Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    p = issuance.plan(store, IssueRequest(names=("a.home.arpa",), kind=Kind.SERVER))
    clash = (0xF << 124) | 0x1
    fresh = (0xE << 124) | 0x2
    draws = iter([clash, clash ^ 0x10, fresh])
    monkeypatch.setattr(issuance, "new_serial", lambda: next(draws))
    taken: set[str] = set()
    first = issuance.sign(store, p, taken=taken)
    second = issuance.sign(store, p, taken=taken, now=utcnow() + timedelta(seconds=1))
    assert first.cert.serial_number == clash
    assert second.cert.serial_number == fresh


def test_ascii_names_skip_idna_because_uts46_only_lowers_ascii() -> None:
    import idna

    for code in range(128):
        text = f"a{chr(code)}b"
        assert idna.uts46_remap(text, std3_rules=False, transitional=False) == text.lower()


def test_list_json_prints_what_json_dumps_of_the_records_would(
    make_store: Callable[..., Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    from certtui.core.revocation import revoke
    from certtui.core.store import records as storemod

    store = make_store(name='Zürich "Lab" \\ Root', intermediate=True)
    issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10", "fd00::1")))
    gone = issue_one(store, IssueRequest(names=("old.home.arpa",)))
    issue_one(store, IssueRequest(names=("me@home.arpa",), kind=Kind.CLIENT, days=10))
    issue_one(store, IssueRequest(names=("bücher.home.arpa",)))
    revoke(store, gone.id, "superseded")
    for status in (None, *Status):
        expected = json.dumps(
            [r.to_json() for r in store.records(status=status)], indent=2, ensure_ascii=False
        )
        for batch in (1000, 2):
            monkeypatch.setattr(storemod, "LIST_BATCH", batch)
            assert b"".join(store.list_json(status=status)).decode() == expected + "\n"


def _probe(argv: list[str], env: dict[str, str]) -> set[str]:
    """Run `certtui ARGV` in a fresh interpreter; the top-level modules it imported."""
    code = (
        "import json, runpy, sys\n"
        f"sys.argv = {['certtui', *argv]!r}\n"
        "try:\n"
        "    runpy.run_module('certtui', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "sys.stderr.write('PROBE ' + json.dumps(sorted(sys.modules)) + '\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("PROBE ")]
    assert done.returncode == 0 and line, done.stderr
    return set(json.loads(line[0].removeprefix("PROBE ")))


@pytest.fixture
def plain_home(make_store: Callable[..., Store], home: Path) -> dict[str, str]:
    make_store().close()
    return dict(os.environ)


def test_issue_loads_no_ui_no_web_no_idna_for_ascii(plain_home: dict[str, str]) -> None:
    modules = _probe(["issue", "nas.home.arpa", "192.168.1.10"], plain_home)
    for absent in ("textual", "rich", "aiohttp", "asyncio", "qrcode", "platformdirs", "idna"):
        assert absent not in modules, absent


async def test_a_key_after_a_typed_ahead_filter_adds_to_it(make_store: Callable[..., Store]) -> None:
    from textual import events
    from textual.widgets import Input

    from certtui.tui.app import make_app

    app = make_app(make_store())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        # `/nas` in one burst, as a terminal delivers it, reaches the table before the filter
        # opens (type-ahead)...
        for key, character in (("slash", "/"), ("n", "n"), ("a", "a"), ("s", "s")):
            app.post_message(events.Key(key, character))
        await pilot.pause()
        # ...and the next key goes after it, not over it.
        await pilot.press("1")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "nas1"


def test_list_reads_columns_without_cryptography(plain_home: dict[str, str]) -> None:
    for argv in (["list", "--json"], ["list"]):
        modules = _probe(argv, plain_home)
        assert "cryptography" not in modules and "certtui.core.keys" not in modules
        assert "platformdirs" not in modules


def _walk(group: click.Group) -> list[click.Command]:
    """Every command below a group, at any depth."""
    out: list[click.Command] = []
    for sub in group.commands.values():
        out.append(sub)
        if isinstance(sub, click.Group):
            out.extend(_walk(sub))
    return out


def test_every_subcommand_is_named_with_its_module() -> None:
    import importlib

    import click

    from certtui.cli import COMMAND_MODULES, cli

    found = {}
    for module in sorted(set(COMMAND_MODULES.values())):
        commands = [v for v in vars(importlib.import_module(f"certtui.commands.{module}")).values()]
        # A group's own subcommands (`acme account add`) are reached through the group.
        nested = {id(sub) for group in commands if isinstance(group, click.Group) for sub in _walk(group)}
        for value in commands:
            if isinstance(value, click.Command) and id(value) not in nested:
                found[value.name] = module
    assert found == COMMAND_MODULES
    assert cli.list_commands(click.Context(cli)) == sorted(found)


def test_a_record_from_the_store_is_whole(make_store: Callable[..., Store]) -> None:
    """Store._record fills a CertRecord's __dict__ without __init__: every field, same record."""
    from dataclasses import fields

    from certtui.core.models import CertRecord

    store = make_store(intermediate=True)
    for rec in store.records():
        assert set(vars(rec)) == {f.name for f in fields(CertRecord)}
        assert rec == CertRecord(**{f.name: getattr(rec, f.name) for f in fields(CertRecord)})
