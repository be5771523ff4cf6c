"""Shared by the hardening tests: their figures for the README, and a store's logical dump."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

REPORT_ENV = "CERTTUI_HARDENING_REPORT"
"""When set (bench/hardening_report.py sets it), tests add their figures to this JSON file."""


def record(key: str, value: object) -> None:
    """Add one figure to the report file, if a report is being made."""
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    path = Path(target)
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def dump(db: Path) -> list[str]:
    """Every row of every table as SQL, read-only: equal dumps mean an unchanged store."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def folder(path: Path) -> dict[str, int]:
    """The files in a folder and their sizes (the WAL and shm come and go; they are left out)."""
    return {
        p.name: p.stat().st_size
        for p in sorted(path.iterdir())
        if not p.name.endswith(("-wal", "-shm"))
    }
