"""The store's certificates as records: the listing and one record, read from columns alone."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from certtui.core import policy
from certtui.core.models import CertRecord, Kind, Status
from certtui.core.store.connection import Connected, _busy, _corrupt
from certtui.core.timefmt import iso, utcnow
from certtui.errors import NotFound

# "expiring": the windows of core/policy.py, where their reason is.
LEAF_EXPIRING_DAYS = policy.LEAF_EXPIRING_DAYS
CA_EXPIRING_DAYS = policy.CA_EXPIRING_DAYS
# Rows read (and printed, by `list --json`) at a time: a large store never sits in memory as
# a whole, and a batch is still large enough that each read costs nothing extra.
LIST_BATCH = 1000

_COLUMNS = (
    "id, serial, kind, subject, names, issuer_id, not_before, not_after, key_id, key_type,"
    " external, sha256, revoked_at, revocation_reason, renewed_by, created_at, origin"
)
# `_Thresholds.status` in SQL, as the JSON string it prints; its parameters are, in order,
# now, ca_soon and leaf_soon.
_STATUS = (
    """CASE WHEN revoked_at IS NOT NULL AND revoked_at != '' THEN '"revoked"' """
    """WHEN not_after <= ?1 THEN '"expired"' """
    """WHEN not_after < (CASE WHEN kind IN ('root', 'intermediate') THEN ?2 ELSE ?3 END) """
    """THEN '"expiring"' ELSE '"valid"' END"""
)
# The names column (one name a line) as the items of a JSON list, one a line at the depth of
# `_json_record`. json_quote writes a newline as \n and a backslash as \\: where a name holds
# a backslash, the backslash pairs are set aside first (as char(1), which json_quote never
# leaves bare), so that only a newline's \n splits names.
_JSON_NAMES = (
    "CASE WHEN instr(names, '\\') THEN replace(replace(replace(json_quote(names), '\\\\', char(1)), "
    "'\\n', '\",\n      \"'), char(1), '\\\\') "
    "ELSE replace(json_quote(names), '\\n', '\",\n      \"') END"
)
# One record of `CertRecord.to_json` as `json.dumps(..., indent=2, ensure_ascii=False)` lays it
# out inside the list; json_quote escapes as json.dumps does (a test compares them). One
# format() per row: a chain of || would copy the growing text once per field.
_JSON_FIELDS = (
    ("id", "json_quote(id)"),
    ("serial", "json_quote(serial)"),
    ("kind", "json_quote(kind)"),
    ("subject", "json_quote(subject)"),
    ("names", _JSON_NAMES),
    ("issuer", "json_quote(issuer_id)"),
    ("not_before", "json_quote(not_before)"),
    ("not_after", "json_quote(not_after)"),
    ("status", "status"),
    ("has_key", "CASE WHEN key_id IS NULL THEN 'false' ELSE 'true' END"),
    ("external", "CASE WHEN external THEN 'true' ELSE 'false' END"),
    ("key_type", "json_quote(key_type)"),
    ("sha256", "json_quote(sha256)"),
    ("revoked_at", "json_quote(revoked_at)"),
    ("revocation_reason", "json_quote(revocation_reason)"),
    ("renewed_by", "json_quote(renewed_by)"),
    ("origin", "json_quote(origin)"),
)


def _json_record(names: str, listed: str) -> str:
    """format() of one record, the names list laid out as `names` (its items: `listed`)."""
    layout = ",\n".join(f'    "{key}": ' + (names if key == "names" else "%s") for key, _ in _JSON_FIELDS)
    values = ", ".join(listed if key == "names" else value for key, value in _JSON_FIELDS)
    return f"format('  {{\n{layout}\n  }}', {values})"


# A record with names, or with none (`[]`: its %s is NULL, which format() prints as nothing);
# as UTF-8 bytes, printed as they come, so no text is decoded and encoded again.
_JSON_RECORD = "CAST(CASE WHEN names = '' THEN {} ELSE {} END AS BLOB)".format(
    _json_record("[]%s", "NULL"), _json_record("[\n      %s\n    ]", _JSON_NAMES)
)
_KINDS = {k.value: k for k in Kind}
_new_record = object.__new__


class _Thresholds:
    """The instants a status is judged against (now, and where leaves and CAs start expiring),
    as sortable strings, computed once per listing."""

    def __init__(self, now: datetime) -> None:
        self.now = iso(now)
        self.leaf_soon = iso(now + timedelta(days=LEAF_EXPIRING_DAYS))
        self.ca_soon = iso(now + timedelta(days=CA_EXPIRING_DAYS))

    def status(self, kind: Kind | str, not_after: str, revoked_at: str | None) -> Status:
        if revoked_at:
            return Status.REVOKED
        if not_after <= self.now:
            return Status.EXPIRED
        soon = self.ca_soon if kind in ("root", "intermediate") else self.leaf_soon
        return Status.EXPIRING if not_after < soon else Status.VALID


class Records(Connected):
    """Certificates as CertRecords, built from columns; the listing, in issue order."""

    @staticmethod
    def _record(row: tuple[Any, ...], status: Status) -> CertRecord:
        (
            cid,
            serial,
            kind,
            subject,
            names,
            issuer_id,
            nb,
            na,
            key_id,
            key_type,
            external,
            sha,
            revoked_at,
            reason,
            renewed_by,
            created_at,
            origin,
        ) = row
        # A frozen dataclass's __init__ sets each field through object.__setattr__, 3.5 us a
        # record; filling __dict__ makes the TUI's 10,000 rows in 6 ms instead of 35. A test
        # checks that every field is set and that the record equals the one __init__ makes.
        record = _new_record(CertRecord)
        record.__dict__.update(
            id=cid,
            serial=serial,
            kind=_KINDS[kind],
            subject=subject,
            names=tuple(names.split("\n")) if names else (),
            issuer_id=issuer_id,
            not_before=nb,
            not_after=na,
            status=status,
            has_key=key_id is not None,
            external=bool(external),
            key_type=key_type,
            sha256=sha,
            revoked_at=revoked_at,
            revocation_reason=reason,
            renewed_by=renewed_by,
            created_at=created_at,
            origin=origin,
            extra={},
        )
        return record

    def _filtered(
        self, kind: Kind | None, expiring_within: int | None, limits: _Thresholds, now: datetime
    ) -> tuple[str, list[object]]:
        """The WHERE clause (or "") and its arguments for the filters SQL applies itself."""
        args: list[object] = []
        where = []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind.value)
        if expiring_within is not None:
            where += ["revoked_at IS NULL", "not_after > ?", "not_after <= ?"]
            args += [limits.now, iso(now + timedelta(days=expiring_within))]
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def records(
        self,
        *,
        kind: Kind | None = None,
        status: Status | None = None,
        expiring_within: int | None = None,
        now: datetime | None = None,
    ) -> list[CertRecord]:
        """Every certificate in issue order, filtered; no certificate is parsed."""
        now = now or utcnow()
        limits = _Thresholds(now)
        where, args = self._filtered(kind, expiring_within, limits, now)
        rows = self._query(f"SELECT {_COLUMNS} FROM certificates{where} ORDER BY seq", tuple(args))
        record, judge = self._record, limits.status
        listed = (record(r, judge(r[2], r[7], r[12])) for r in rows)
        return [r for r in listed if status is None or r.status is status]

    def list_json(
        self,
        *,
        kind: Kind | None = None,
        status: Status | None = None,
        expiring_within: int | None = None,
        now: datetime | None = None,
    ) -> Iterator[bytes]:
        """What `list --json` prints, in UTF-8, in pieces as they are read (together they end in a
        newline): `json.dumps([r.to_json() for r in records(...)], indent=2, ensure_ascii=False)`,
        byte for byte, but written by SQLite from the columns (`_JSON_RECORD`), status included."""
        now = now or utcnow()
        limits = _Thresholds(now)
        where, args = self._filtered(kind, expiring_within, limits, now)
        sql = f"SELECT {_JSON_RECORD} FROM (SELECT *, {_STATUS} AS status FROM certificates{where})"
        if status is not None:
            sql += " WHERE status = ?"
            args.append(f'"{status.value}"')
        params = (limits.now, limits.ca_soon, limits.leaf_soon, *args)
        glue = b"[\n"
        try:
            cursor = self.conn.execute(sql + " ORDER BY seq", params)
            while rows := cursor.fetchmany(LIST_BATCH):
                yield glue + b",\n".join([r[0] for r in rows])
                glue = b",\n"
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        except sqlite3.DatabaseError:
            raise _corrupt(self.path) from None
        yield b"[]\n" if glue == b"[\n" else b"\n]\n"

    def get(self, cert_id: str, now: datetime | None = None) -> CertRecord:
        rows = self._query(f"SELECT {_COLUMNS} FROM certificates WHERE id = ?", (cert_id,))
        if not rows:
            raise NotFound(f"no certificate with id {cert_id}; run `certtui list` to see the ids")
        row = rows[0]
        return self._record(row, _Thresholds(now or utcnow()).status(row[2], row[7], row[12]))
