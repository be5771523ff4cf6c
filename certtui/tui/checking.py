"""The checklist for a stored certificate: the engine, fed with its chain from the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from certtui.core.models import CertRecord
from certtui.core.store import Store


def findings_for(store: Store, rec: CertRecord, now: datetime) -> list[Any]:
    from certtui.journeys.inspect import findings

    return findings(store, rec, now)


def fails_checklist(store: Store, rec: CertRecord, now: datetime) -> bool:
    """Whether a stored certificate fails the iOS checklist (one row's marker in the list)."""
    from certtui.core.checks import Severity
    from certtui.errors import CerttuiError

    try:
        return any(f.severity is Severity.FAIL for f in findings_for(store, rec, now))
    except (CerttuiError, ValueError):
        # A certificate the engine cannot read gets no marker here; inspect says why.
        return False
