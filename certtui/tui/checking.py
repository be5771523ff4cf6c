"""The checklist for a stored certificate: the engine, fed with its chain from the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from certtui.core.models import CertRecord
from certtui.core.store import Store


def findings_for(store: Store, rec: CertRecord, now: datetime) -> list[Any]:
    from certtui.journeys.inspect import findings

    return findings(store, rec, now)
