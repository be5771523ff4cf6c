"""The one timestamp format certtui stores and prints: YYYY-MM-DDTHH:MM:SSZ, always UTC."""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime) -> str:
    """`2026-11-27T08:32:10Z`; strings in this form sort in time order."""
    return dt.astimezone(UTC).strftime(FORMAT)


def parse(text: str) -> datetime:
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)
