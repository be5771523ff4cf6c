"""A certificate is renewed once: a second renewal planned before the first committed is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.pki import issue_one

from certtui.core import issuance
from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.errors import CerttuiError


def test_a_renewal_planned_twice_commits_once(make_store: Callable[..., Store]) -> None:
    store = make_store()
    old = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    # Two processes (the timer and a user) both read `old` before either renews it.
    first, second = issuance.plan_renewal(store, old), issuance.plan_renewal(store, old)
    new = issuance.execute(store, first)
    with pytest.raises(CerttuiError, match=f"already renewed as {new.id}"):
        issuance.execute(store, second)
    assert store.get(old.id).renewed_by == new.id
    renewals = [r for r in store.records() if r.names == ("nas.home.arpa",)]
    assert [r.id for r in renewals] == [old.id, new.id]
