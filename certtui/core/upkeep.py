"""The upkeep tables (deploy targets, notification channels and what they were sent, scans): all their SQL."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from certtui.core import policy
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.errors import NotFound


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


# -- rows of the target and channel tables: one insert, one select ---------------------------


def _insert(store: Store, table: str, settings: dict[str, Any]) -> int:
    """Insert one row (with created_at now) and return its id; the caller holds `store.write()`."""
    settings = {**settings, "created_at": iso(utcnow())}
    names = ", ".join(settings)
    marks = ", ".join("?" for _ in settings)
    cursor = store.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(settings.values()))
    return int(cursor.lastrowid or 0)


def _select(
    store: Store, table: str, columns: tuple[str, ...], row_id: int | None = None
) -> list[tuple[Any, ...]]:
    """Every row of `table` by id, or the one with `row_id` (an empty list when there is none)."""
    sql = f"SELECT {', '.join(columns)} FROM {table}"
    if row_id is None:
        return store.conn.execute(sql + " ORDER BY id").fetchall()
    return store.conn.execute(sql + " WHERE id = ?", (row_id,)).fetchall()


def _target(row: tuple[Any, ...]) -> DeployTarget:
    values = dict(zip(_TARGET_COLUMNS, row, strict=True))
    values["reload_shell"] = bool(values["reload_shell"])
    if values["last_ok"] is not None:
        values["last_ok"] = bool(values["last_ok"])
    return DeployTarget(**values)


def add_target(store: Store, **settings: Any) -> DeployTarget:
    """Store a new target (keys of `settings`: DeployTarget's fields up to created_at)."""
    unknown = set(settings) - set(_SETTABLE)
    if unknown:
        raise ValueError(f"unknown deploy target fields: {sorted(unknown)}")
    with store.write():
        target_id = _insert(store, "deploy_targets", settings)
        store.event("deploy-add", settings["cert_id"], f"target {target_id}")
    return get_target(store, target_id)


def targets(store: Store) -> list[DeployTarget]:
    return [_target(r) for r in _select(store, "deploy_targets", _TARGET_COLUMNS)]


def get_target(store: Store, target_id: int) -> DeployTarget:
    rows = _select(store, "deploy_targets", _TARGET_COLUMNS, target_id)
    if not rows:
        raise NotFound(f"no deploy target {target_id}; run `certtui deploy list` to see them")
    return _target(rows[0])


def remove_target(store: Store, target_id: int) -> DeployTarget:
    target = get_target(store, target_id)
    with store.write():
        store.conn.execute("DELETE FROM deploy_targets WHERE id = ?", (target_id,))
        store.event("deploy-remove", target.cert_id, f"target {target_id}")
    return target


def record_result(
    store: Store,
    target: DeployTarget,
    *,
    cert_id: str,
    serial: str,
    ok: bool,
    stage: str,
    message: str,
    output: str = "",
) -> None:
    """The outcome of one deploy: on the target (for `deploy list`) and in the audit log, which
    also keeps the reload command's output."""
    with store.write():
        store.conn.execute(
            "UPDATE deploy_targets SET last_at = ?, last_cert_id = ?, last_serial = ?, last_ok = ?, "
            "last_stage = ?, last_message = ?, deployed_serial = CASE WHEN ? THEN ? "
            "ELSE deployed_serial END WHERE id = ?",
            (iso(utcnow()), cert_id, serial, int(ok), stage, message, int(ok), serial, target.id),
        )
        detail = f"target {target.id}: {message}" + (f" | output: {output.strip()}" if output.strip() else "")
        store.event("deploy" if ok else "deploy-failed", cert_id, detail)


def lineage_head(store: Store, cert_id: str) -> str:
    """The newest certificate of `cert_id`'s line: follow renewed_by to its end."""
    seen = {cert_id}
    current = cert_id
    while True:
        rows = store.conn.execute("SELECT renewed_by FROM certificates WHERE id = ?", (current,)).fetchall()
        if not rows or rows[0][0] is None or rows[0][0] in seen:
            return current
        current = rows[0][0]
        seen.add(current)


def targets_of_head(store: Store, head_id: str) -> list[DeployTarget]:
    """The targets whose certificate line ends at `head_id` (what deploying `head_id` writes to)."""
    return [t for t in targets(store) if lineage_head(store, t.cert_id) == head_id]


# -- notifications ----------------------------------------------------------------------------


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


def add_channel(store: Store, **settings: Any) -> Channel:
    with store.write():
        channel_id = _insert(store, "notify_channels", settings)
        store.event("notify-add", None, f"channel {channel_id}: {settings['kind']}")
    return get_channel(store, channel_id)


def _channel(row: tuple[Any, ...]) -> Channel:
    values = dict(zip(_CHANNEL_COLUMNS, row, strict=True))
    values["starttls"] = bool(values["starttls"])
    return Channel(**values)


def channels(store: Store) -> list[Channel]:
    return [_channel(r) for r in _select(store, "notify_channels", _CHANNEL_COLUMNS)]


def get_channel(store: Store, channel_id: int) -> Channel:
    rows = _select(store, "notify_channels", _CHANNEL_COLUMNS, channel_id)
    if not rows:
        raise NotFound(f"no notification channel {channel_id}; run `certtui notify list` to see them")
    return _channel(rows[0])


def remove_channel(store: Store, channel_id: int) -> Channel:
    channel = get_channel(store, channel_id)
    with store.write():
        store.conn.execute("DELETE FROM notify_sent WHERE channel_id = ?", (channel_id,))
        store.conn.execute("DELETE FROM notify_channels WHERE id = ?", (channel_id,))
        store.event("notify-remove", None, f"channel {channel_id}")
    return channel


def sent_states(store: Store, channel_id: int) -> dict[str, str]:
    """What this channel was last told about each event that is still going on."""
    rows = store.conn.execute(
        "SELECT event, state FROM notify_sent WHERE channel_id = ?", (channel_id,)
    ).fetchall()
    return {event: state for event, state in rows}


def remember_sent(store: Store, channel_id: int, event: str, state: str, detail: str) -> None:
    with store.write():
        store.conn.execute(
            "INSERT OR REPLACE INTO notify_sent (channel_id, event, state, at) VALUES (?, ?, ?, ?)",
            (channel_id, event, state, iso(utcnow())),
        )
        store.event("notify", None, f"channel {channel_id}: {detail}")


def forget_sent(store: Store, channel_id: int, events: list[str]) -> None:
    """Events that are over: the next time one starts, it is sent again."""
    if not events:
        return
    with store.write():
        store.conn.executemany(
            "DELETE FROM notify_sent WHERE channel_id = ? AND event = ?", [(channel_id, e) for e in events]
        )


# -- scans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """What one endpoint served at the last scan, and how it compares with the store."""

    endpoint: str
    at: str
    sha256: str | None
    cert_id: str | None
    verdict: str
    detail: str


def record_scan(store: Store, scan: Scan) -> None:
    with store.write():
        store.conn.execute(
            "INSERT OR REPLACE INTO scans (endpoint, at, sha256, cert_id, verdict, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (scan.endpoint, scan.at, scan.sha256, scan.cert_id, scan.verdict, scan.detail),
        )
        store.event("scan", scan.cert_id, f"{scan.endpoint}: {scan.verdict}")


def scans(store: Store) -> list[Scan]:
    rows = store.conn.execute(
        "SELECT endpoint, at, sha256, cert_id, verdict, detail FROM scans ORDER BY endpoint"
    ).fetchall()
    return [Scan(*r) for r in rows]


def deployed_at(store: Store) -> dict[str, list[str]]:
    """Certificate id -> the endpoints that served it at their last scan (the "deployed" marker)."""
    out: dict[str, list[str]] = {}
    for endpoint, cert_id in store.conn.execute(
        "SELECT endpoint, cert_id FROM scans WHERE cert_id IS NOT NULL ORDER BY endpoint"
    ).fetchall():
        out.setdefault(cert_id, []).append(endpoint)
    return out
