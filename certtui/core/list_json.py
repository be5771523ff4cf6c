"""`list --json` of a large store: the JSON of `CertRecord.to_json`, written straight from rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from typing import Any

from certtui.core.models import Status

# One record as `json.dumps(..., indent=2, ensure_ascii=False)` lays it out inside the list,
# fields in `CertRecord.to_json` order. json.dumps takes its pure-Python path when it indents
# (about 10 us a record), and building 10,000 CertRecords first costs as much again.
_RECORD = """  {
    "id": %s,
    "serial": %s,
    "kind": %s,
    "subject": %s,
    "names": %s,
    "issuer": %s,
    "not_before": %s,
    "not_after": %s,
    "status": %s,
    "has_key": %s,
    "external": %s,
    "key_type": %s,
    "sha256": %s,
    "revoked_at": %s,
    "revocation_reason": %s,
    "renewed_by": %s,
    "origin": %s
  }"""
_NAME_GLUE = ",\n      "


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def json_text(rows: Iterable[tuple[tuple[Any, ...], Status]]) -> str:
    """The JSON `list --json` prints for `Store.listed` rows (columns in `_COLUMNS` order)."""
    out = []
    for row, status in rows:
        (
            cert_id,
            serial,
            kind,
            subject,
            names,
            issuer_id,
            not_before,
            not_after,
            key_id,
            key_type,
            external,
            sha256,
            revoked_at,
            reason,
            renewed_by,
            _created,
            origin,
        ) = row
        listed = (
            ("[\n      " + _NAME_GLUE.join(map(encode_basestring, names.split("\n"))) + "\n    ]")
            if names
            else "[]"
        )
        out.append(
            _RECORD
            % (
                encode_basestring(cert_id),
                encode_basestring(serial),
                encode_basestring(kind),
                encode_basestring(subject),
                listed,
                _text(issuer_id),
                encode_basestring(not_before),
                encode_basestring(not_after),
                encode_basestring(status.value),
                "false" if key_id is None else "true",
                "true" if external else "false",
                encode_basestring(key_type),
                encode_basestring(sha256),
                _text(revoked_at),
                _text(reason),
                _text(renewed_by),
                _text(origin),
            )
        )
    return "[\n" + ",\n".join(out) + "\n]" if out else "[]"


def write_json(
    batches: Iterable[Iterable[tuple[tuple[Any, ...], Status]]], write: Callable[[str], object]
) -> None:
    """Write `json_text` of every row, then a newline, a batch at a time (`listed_batches`)."""
    opened = False
    for batch in batches:
        text = json_text(batch)
        if text != "[]":
            # json_text's own brackets, "[\n" and "\n]", stay out: the records join as one list.
            write((",\n" if opened else "[\n") + text[2:-2])
            opened = True
    write("\n]\n" if opened else "[]\n")
