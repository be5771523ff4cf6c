"""RFC 7807 problem documents with ACME's error types (RFC 8555 section 6.7)."""

from __future__ import annotations

from typing import Any

PREFIX = "urn:ietf:params:acme:error:"

# The HTTP status of each ACME error type this server sends (RFC 8555 section 6.7 and the
# statuses Let's Encrypt's Boulder uses, which clients are written against).
STATUS: dict[str, int] = {
    "malformed": 400,
    "badNonce": 400,
    "badSignatureAlgorithm": 400,
    "badPublicKey": 400,
    "badCSR": 400,
    "badRevocationReason": 400,
    "alreadyRevoked": 400,
    "accountDoesNotExist": 400,
    "rejectedIdentifier": 400,
    "unsupportedIdentifier": 400,
    "invalidContact": 400,
    "unauthorized": 403,
    "externalAccountRequired": 403,
    "orderNotReady": 403,
    "userActionRequired": 403,
    "connection": 400,
    "incorrectResponse": 403,
    "tls": 400,
    "dns": 400,
    # RFC 9773 section 7.4
    "alreadyReplaced": 409,
    "rateLimited": 429,
    "serverInternal": 500,
}


class Problem(Exception):
    """An ACME error: its type (without the URN prefix), a detail a person can act on, extras."""

    def __init__(
        self,
        typ: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.typ = typ
        self.detail = detail
        self.status = status or STATUS.get(typ, 400)
        self.retry_after = retry_after
        self.extra = extra or {}
        self.location = location

    def to_json(self) -> dict[str, Any]:
        return {"type": PREFIX + self.typ, "detail": self.detail, "status": self.status, **self.extra}


def error(typ: str, detail: str) -> dict[str, Any]:
    """A problem object as it sits inside a challenge or an order."""
    return {"type": PREFIX + typ, "detail": detail, "status": STATUS.get(typ, 400)}
