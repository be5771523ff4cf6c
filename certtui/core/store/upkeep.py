"""The upkeep tables (deploy targets, notification channels and what they were told, scans)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from certtui.core import policy
from certtui.core.store.connection import Row, Tables
from certtui.core.timefmt import iso, utcnow


@dataclass(frozen=True)
class DeployTarget:
    """Where one certificate goes, how the service is told, and how the result is checked.

    `cert_id` is the certificate the target was added for; a deploy writes the newest one of
    its line (`Store`'s renewed_by links), so a renewal needs no new target.
    """

    id: int
    cert_id: str
    fullchain: str | None = None
    cert: str | None = None
    chain: str | None = None
    key: str | None = None
    key_format: str = "pem"
    p12: str | None = None
    password_file: str | None = None
    owner: str | None = None
    mode: int | None = None
    reload: str | None = None
    reload_shell: bool = False
    verify: str | None = None
    servername: str | None = None
    starttls: str | None = None
    created_at: str = ""
    last_at: str | None = None
    last_cert_id: str | None = None
    last_serial: str | None = None
    last_ok: bool | None = None
    last_stage: str | None = None
    last_message: str | None = None
    deployed_serial: str | None = None

    def paths(self) -> list[tuple[str, str]]:
        """(role, path) of every file this target writes, in the order they are written."""
        roles = ("fullchain", "cert", "chain", "key", "p12")
        return [(r, getattr(self, r)) for r in roles if getattr(self, r)]


_TARGET_COLUMNS = tuple(f.name for f in fields(DeployTarget))
_SETTABLE = _TARGET_COLUMNS[1:16]


@dataclass(frozen=True)
class Channel:
    """Where notifications go: an ntfy topic URL, a webhook URL, or an e-mail address."""

    id: int
    kind: str
    target: str
    format: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    starttls: bool = False
    smtp_user: str | None = None
    password_file: str | None = None
    sender: str | None = None
    expiry_days: int = policy.EXPIRY_WARN_DAYS
    created_at: str = ""

    def label(self) -> str:
        if self.kind == "email":
            return f"email {self.target} via {self.smtp_host}:{self.smtp_port}"
        return f"{self.kind} {self.target}" + (f" ({self.format})" if self.format else "")


_CHANNEL_COLUMNS = tuple(f.name for f in fields(Channel))
_CHANNEL_SETTABLE = _CHANNEL_COLUMNS[1:-1]


@dataclass(frozen=True)
class Scan:
    """What one endpoint served at the last scan, and how it compares with the store."""

    endpoint: str
    at: str
    sha256: str | None
    cert_id: str | None
    verdict: str
    detail: str


_TABLES = Literal["deploy_targets", "notify_channels"]


def _target(row: Row) -> DeployTarget:
    values = dict(zip(_TARGET_COLUMNS, row, strict=True))
    values["reload_shell"] = bool(values["reload_shell"])
    if values["last_ok"] is not None:
        values["last_ok"] = bool(values["last_ok"])
    return DeployTarget(**values)


def _channel(row: Row) -> Channel:
    values = dict(zip(_CHANNEL_COLUMNS, row, strict=True))
    values["starttls"] = bool(values["starttls"])
    return Channel(**values)


class UpkeepTables(Tables):
    """The rows `certtui.core.upkeep` reads and writes (`Store.upkeep`); a change runs inside
    the store's `write()`."""

    def _insert(self, table: _TABLES, settings: dict[str, Any], settable: tuple[str, ...]) -> int:
        """Insert one row (with created_at now) and return its id; ValueError for a column that
        is not one of `settable` (the names become SQL)."""
        unknown = set(settings) - set(settable)
        if unknown:
            raise ValueError(f"unknown {table} fields: {sorted(unknown)}")
        settings = {**settings, "created_at": iso(utcnow())}
        names = ", ".join(settings)
        marks = ", ".join("?" for _ in settings)
        cursor = self._exec(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(settings.values()))
        return int(cursor.lastrowid or 0)

    def _select(self, table: _TABLES, columns: tuple[str, ...], row_id: int | None = None) -> list[Row]:
        """Every row of `table` by id, or the one with `row_id` (an empty list when there is none)."""
        sql = f"SELECT {', '.join(columns)} FROM {table}"
        if row_id is None:
            return self._query(sql + " ORDER BY id")
        return self._query(sql + " WHERE id = ?", (row_id,))

    # -- deploy targets ------------------------------------------------------------------------

    def add_target(self, settings: dict[str, Any]) -> int:
        """A new target (`settings`: DeployTarget's fields up to created_at); its id."""
        return self._insert("deploy_targets", settings, _SETTABLE)

    def targets(self) -> list[DeployTarget]:
        return [_target(r) for r in self._select("deploy_targets", _TARGET_COLUMNS)]

    def target(self, target_id: int) -> DeployTarget | None:
        rows = self._select("deploy_targets", _TARGET_COLUMNS, target_id)
        return _target(rows[0]) if rows else None

    def remove_target(self, target_id: int) -> None:
        self._exec("DELETE FROM deploy_targets WHERE id = ?", (target_id,))

    def record_deploy(
        self, target_id: int, *, cert_id: str, serial: str, ok: bool, stage: str, message: str
    ) -> None:
        """The outcome of one deploy on its target; a success is what the target now serves."""
        self._exec(
            "UPDATE deploy_targets SET last_at = ?, last_cert_id = ?, last_serial = ?, last_ok = ?, "
            "last_stage = ?, last_message = ?, deployed_serial = CASE WHEN ? THEN ? "
            "ELSE deployed_serial END WHERE id = ?",
            (iso(utcnow()), cert_id, serial, int(ok), stage, message, int(ok), serial, target_id),
        )

    # -- notification channels -----------------------------------------------------------------

    def add_channel(self, settings: dict[str, Any]) -> int:
        return self._insert("notify_channels", settings, _CHANNEL_SETTABLE)

    def channels(self) -> list[Channel]:
        return [_channel(r) for r in self._select("notify_channels", _CHANNEL_COLUMNS)]

    def channel(self, channel_id: int) -> Channel | None:
        rows = self._select("notify_channels", _CHANNEL_COLUMNS, channel_id)
        return _channel(rows[0]) if rows else None

    def remove_channel(self, channel_id: int) -> None:
        """The channel and what it was told."""
        self._exec("DELETE FROM notify_sent WHERE channel_id = ?", (channel_id,))
        self._exec("DELETE FROM notify_channels WHERE id = ?", (channel_id,))

    def sent(self, channel_id: int) -> dict[str, str]:
        """Event -> the state this channel was last told of it."""
        return {
            event: state
            for event, state in self._query(
                "SELECT event, state FROM notify_sent WHERE channel_id = ?", (channel_id,)
            )
        }

    def remember_sent(self, channel_id: int, event: str, state: str) -> None:
        self._exec(
            "INSERT OR REPLACE INTO notify_sent (channel_id, event, state, at) VALUES (?, ?, ?, ?)",
            (channel_id, event, state, iso(utcnow())),
        )

    def forget_sent(self, channel_id: int, events: list[str]) -> None:
        self._exec_many(
            "DELETE FROM notify_sent WHERE channel_id = ? AND event = ?", [(channel_id, e) for e in events]
        )

    # -- scans ---------------------------------------------------------------------------------

    def record_scan(self, scan: Scan) -> None:
        """What an endpoint served at its latest scan (an earlier scan of it is replaced)."""
        self._exec(
            "INSERT OR REPLACE INTO scans (endpoint, at, sha256, cert_id, verdict, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (scan.endpoint, scan.at, scan.sha256, scan.cert_id, scan.verdict, scan.detail),
        )

    def scans(self) -> list[Scan]:
        return [
            Scan(*r)
            for r in self._query(
                "SELECT endpoint, at, sha256, cert_id, verdict, detail FROM scans ORDER BY endpoint"
            )
        ]

    def scanned_certificates(self) -> list[tuple[str, str]]:
        """(endpoint, certificate id) of every endpoint whose last scan found a stored certificate."""
        rows = self._query("SELECT endpoint, cert_id FROM scans WHERE cert_id IS NOT NULL ORDER BY endpoint")
        return [(str(e), str(c)) for e, c in rows]
