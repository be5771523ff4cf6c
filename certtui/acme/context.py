"""One serving run of the ACME server: its settings and state, and the URLs and JSON it answers with."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from certtui.acme import validation
from certtui.acme.nonces import Nonces
from certtui.acme.policy import RateLimiter
from certtui.core import keys as keymod
from certtui.core import policy
from certtui.core.models import CertRecord
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow

PREFIX = "/acme"


@dataclass(frozen=True)
class Settings:
    """What `certtui acme`'s flags decide."""

    days: int
    open_registration: bool = False
    validation: validation.ValidationPolicy = field(default_factory=validation.ValidationPolicy)
    orders_per_minute: int = policy.ACME_ORDERS_PER_MINUTE
    failures_per_hour: int = policy.ACME_FAILURES_PER_HOUR
    # `--approve new-names`: orders for names no certificate carried wait for the operator.
    approve_new_names: bool = False
    # The time certificates are signed at; tests inject a clock to age certificates.
    clock: Callable[[], datetime] = utcnow


class Context:
    """One serving run: the store, the signing CA and its key, nonces, limits, live validations."""

    def __init__(
        self,
        store: Store,
        ca: CertRecord,
        ca_key: keymod.PrivateKey,
        settings: Settings,
        nonces: Nonces,
        log: Callable[[str], None],
    ) -> None:
        self.store = store
        self.ca = ca
        self.ca_key = ca_key
        self.settings = settings
        self.nonces = nonces
        self.log = log
        self.orders = RateLimiter(settings.orders_per_minute, 60, "new orders")
        self.failures = RateLimiter(settings.failures_per_hour, 3600, "failed validations")
        self.tasks: set[asyncio.Task[None]] = set()
        self.session: Any = None
        chain = [store.certificate(ca.id), *store.chain(ca.id)]
        # Leaf + intermediates: the root is what clients already trust, not sent.
        self.chain_pem = b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in chain if c.issuer != c.subject
        )

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold on to a background task until it ends; the app's cleanup cancels what is left."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def base(request: web.Request) -> str:
    return f"https://{request.host}{PREFIX}"


def url(request: web.Request, kind: str, ident: str) -> str:
    return f"{base(request)}/{kind}/{ident}"


def reply(body: dict[str, Any], status: int, location: str | None = None) -> web.Response:
    response = web.json_response(body, status=status, dumps=dumps)
    if location:
        response.headers["Location"] = location
    return response


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def stamp() -> str:
    return iso(utcnow())
