"""The shape of the fast paths (issue 9), never their speed: what is imported, signed and parsed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from certtui.core import checks, issuance
from certtui.core.models import IssueRequest, KeySpec, Kind
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.errors import PolicyError


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
        checks.preview_findings(store, p, now))


def test_a_refused_signed_certificate_is_never_stored(make_store: Callable[..., Store]) -> None:
    store = make_store()
    p = issuance.plan(store, IssueRequest(names=("x.home.arpa",), days=900))
    signed = issuance.sign(store, p)
    before = store.records()
    with pytest.raises(PolicyError, match=r"leaf\.lifetime-825"):
        checks.guardrail(store, [p], force=False, signed=[signed.cert])
    assert store.records() == before
    lines = checks.guardrail(store, [p], force=True, signed=[signed.cert])
    assert any("leaf.lifetime-825" in line for line in lines)
    assert issuance.commit(store, signed).id == format(signed.cert.serial_number, "x")[:12]


def test_previews_of_one_ca_chain_mirror_it_once(make_store: Callable[..., Store]) -> None:
    store = make_store(key=KeySpec.EC384)
    checks._mirror.cache_clear()
    for n in range(5):
        p = issuance.plan(store, IssueRequest(names=(f"n{n}.home.arpa",)))
        checks.preview_findings(store, p)
    info = checks._mirror.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_a_batch_never_draws_one_id_twice(make_store: Callable[..., Store],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
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
