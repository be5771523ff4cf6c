"""The inventory as people read it: tree order, human expiry, and the summary line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from certtui.core import policy
from certtui.core.models import CertRecord, Status
from certtui.core.timefmt import iso, parse, utcnow

if TYPE_CHECKING:
    from certtui.core.store import Store

# Warn when the stored CRL has under a week left: core/policy.py, with its reason.
CRL_WARN_DAYS = policy.CRL_WARN_DAYS


@dataclass(frozen=True)
class TreeRow:
    """A record and how deep it sits under its root."""

    depth: int
    record: CertRecord


def tree_order(records: Sequence[CertRecord]) -> list[TreeRow]:
    """Each CA followed by what it issued, indented; siblings newest first; orphans last.

    `records` comes in issue order (oldest first), as `Store.records` gives it.
    """
    ids = {r.id for r in records}
    children: dict[str, list[CertRecord]] = defaultdict(list)
    tops: list[CertRecord] = []
    orphans: list[CertRecord] = []
    for r in reversed(records):  # newest first
        if r.issuer_id == r.id:
            tops.append(r)
        elif r.issuer_id in ids:
            children[r.issuer_id].append(r)  # type: ignore[index]
        else:
            orphans.append(r)
    out: list[TreeRow] = []
    seen: set[str] = set()

    def walk(r: CertRecord, depth: int) -> None:
        if r.id in seen:
            return
        seen.add(r.id)
        out.append(TreeRow(depth, r))
        for child in children.get(r.id, ()):
            walk(child, depth + 1)

    for top in reversed(tops):  # the oldest root first: it is the store's own
        walk(top, 0)
    for r in orphans:
        walk(r, 0)
    for r in reversed(records):  # anything left in a cycle of foreign certificates
        walk(r, 0)
    return out


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def human_span(seconds: float) -> str:
    """`3 days`, `11 months`, `2 years`: the largest unit that fits, rounded down.

    Years are rounded to the nearest: a root made a minute ago for 3,650 days is "10 years",
    not "9 years" (365-day years and leap days would otherwise cut it short).
    """
    s = abs(int(seconds))
    year = 365 * 86400
    if s >= year:
        return _plural(max(round(s / year), 1), "year")
    for unit, size in (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if s >= size:
            return _plural(s // size, unit)
    return _plural(s, "second")


def expires_in(not_after: str, now: datetime) -> str:
    """`in 11 months` or `expired 3 days ago`."""
    delta = (parse(not_after) - now).total_seconds()
    return f"in {human_span(delta)}" if delta > 0 else f"expired {human_span(delta)} ago"


def summary(records: Sequence[CertRecord]) -> str:
    """`12 certificates · 1 expiring · 1 revoked · 2 external (*: ...)` (zero counts left out)."""
    parts = [_plural(len(records), "certificate")]
    for status in (Status.EXPIRING, Status.EXPIRED, Status.REVOKED):
        n = sum(1 for r in records if r.status is status)
        if n:
            parts.append(f"{n} {status.value}")
    external = sum(1 for r in records if r.external)
    if external:
        # The legend under the list explains the `*` (it fits 80 columns; this line may not).
        parts.append(f"{external} external")
    return " · ".join(parts)


def crl_warnings(store: Store, now: datetime | None = None) -> list[str]:
    """One warning per unexpired CA whose latest stored CRL's nextUpdate is under 7 days away."""
    now = now or utcnow()
    soon = iso(now + timedelta(days=CRL_WARN_DAYS))
    out = []
    for ca_id, subject, next_update in store.crl_next_updates(iso(now)):
        if next_update >= soon:
            continue
        when = (
            f"passed its next update ({next_update})"
            if next_update <= iso(now)
            else f"its next update at {next_update}, under {CRL_WARN_DAYS} days away"
        )
        out.append(
            f"the CRL of CA {subject or ca_id} ({ca_id}) has {when}; "
            f"sign a fresh one with `certtui crl --issuer {ca_id}`"
        )
    return out
