"""What an account may order: its name patterns, identifier rules and rate limits."""

from __future__ import annotations

import ipaddress
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from certtui.acme.problems import Problem
from certtui.core import names as namesmod
from certtui.core.models import NameType
from certtui.core.policy import ACME_MAX_IDENTIFIERS
from certtui.errors import BadName, CerttuiError

# A pattern that allows every name the CA's constraints allow (open registration uses it).
ANY = "*"


def check_pattern(text: str) -> str:
    """`nas.home.arpa`, `*.home.arpa` (every name under it), `192.168.1.10`, `192.168.1.0/24`, `*`."""
    text = text.strip()
    if text == ANY:
        return ANY
    if "/" in text:
        try:
            return str(ipaddress.ip_network(text, strict=True))
        except ValueError:
            raise CerttuiError(
                f"--allow {text!r} is not a network in CIDR form "
                "(host bits must be zero, e.g. 192.168.1.0/24)"
            ) from None
    try:
        parsed = namesmod.parse_name(text[2:] if text.startswith("*.") else text)
    except BadName as exc:
        raise CerttuiError(f"--allow {text!r}: {exc}") from None
    if parsed.type not in (NameType.DNS, NameType.IP):
        raise CerttuiError(f"--allow {text!r} is not a host name, a *.zone, an IP or a CIDR network")
    if text.startswith("*.") and parsed.type is not NameType.DNS:
        raise CerttuiError(f"--allow {text!r}: a *. pattern needs a DNS zone after it")
    return ("*." if text.startswith("*.") else "") + parsed.value.lower()


def allowed(typ: str, value: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == ANY:
            return True
        if typ == "ip":
            if "/" in pattern:
                if ipaddress.ip_address(value) in ipaddress.ip_network(pattern):
                    return True
            elif _is_ip(pattern) and ipaddress.ip_address(pattern) == ipaddress.ip_address(value):
                return True
        elif pattern.startswith("*."):
            if value.endswith(pattern[1:]):
                return True
        elif value == pattern:
            return True
    return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Identifier:
    type: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}


def identifiers(raw: object) -> list[Identifier]:
    """The order's identifiers, normalized (A-labels, compressed IPs) and deduplicated."""
    if not isinstance(raw, list) or not raw:
        raise Problem("malformed", "the order needs a non-empty list of identifiers")
    if len(raw) > ACME_MAX_IDENTIFIERS:
        raise Problem(
            "rejectedIdentifier",
            f"the order has {len(raw)} identifiers; this server signs at most {ACME_MAX_IDENTIFIERS}",
        )
    out: list[Identifier] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise Problem("malformed", "each identifier needs a type and a string value")
        typ, value = item.get("type"), item["value"]
        if typ == "dns":
            try:
                parsed = namesmod.parse_name(value)
            except BadName as exc:
                raise Problem("rejectedIdentifier", f"dns identifier {value[:80]!r}: {exc}") from None
            if parsed.type is not NameType.DNS:
                raise Problem("malformed", f"{value[:80]} is not a DNS name; send IPs as type ip (RFC 8738)")
            ident = Identifier("dns", parsed.value.lower())
        elif typ == "ip":
            try:
                ident = Identifier("ip", str(ipaddress.ip_address(value)))
            except ValueError:
                raise Problem("malformed", f"ip identifier {value[:80]!r} is not an IP address") from None
        else:
            raise Problem(
                "unsupportedIdentifier", f"identifier type {str(typ)[:20]!r} is not supported; use dns or ip"
            )
        if ident not in out:
            out.append(ident)
    return out


class RateLimiter:
    """Sliding windows of events per key: `hit` records one and refuses past `limit`."""

    def __init__(self, limit: int, window_s: float, what: str, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window_s
        self.what = what
        self._clock = clock
        self._events: defaultdict[str, deque[float]] = defaultdict(deque)

    def _trim(self, key: str) -> deque[float]:
        events = self._events[key]
        cutoff = self._clock() - self.window
        while events and events[0] <= cutoff:
            events.popleft()
        return events

    def check(self, *keys: str) -> None:
        """Refuse (rateLimited, with Retry-After) if any key is at its limit."""
        for key in keys:
            events = self._trim(key)
            if len(events) >= self.limit:
                wait = max(1, int(events[0] + self.window - self._clock()) + 1)
                raise Problem(
                    "rateLimited",
                    f"too many {self.what} for {key} ({self.limit} in {int(self.window)} s); "
                    f"retry after {wait} s",
                    retry_after=wait,
                )

    def record(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._events[key].append(now)

    def hit(self, *keys: str) -> None:
        self.check(*keys)
        self.record(*keys)
