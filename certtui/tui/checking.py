"""The checklist for a stored certificate: the engine, fed with its chain from the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from certtui.core.models import CertRecord
from certtui.core.store import Store


def findings_for(store: Store, rec: CertRecord, now: datetime) -> list[Any]:
    from certtui.core import checks

    cert = store.certificate(rec.id)
    kind = checks.inspected_kind(rec, cert)
    return list(checks.check(cert, store.chain(rec.id), store=store, now=now, kind=kind))
