"""Replay nonces (RFC 8555 section 6.5): single use, short-lived, tied to this run's epoch."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

from certtui.core import policy

# The name tests and callers use; the number lives in core/policy.py.
NONCE_LIFETIME_S = policy.ACME_NONCE_LIFETIME_S

# 128 random bits per nonce.
NONCE_BYTES = 16


class Nonces:
    """The nonces this process issued; `epoch` (kept in the store's meta) changes each start, so
    a nonce from before a restart is refused as stale rather than as unknown."""

    def __init__(self, epoch: int, clock: object = time.monotonic) -> None:
        self.prefix = f"{epoch:x}-"
        self._clock = clock
        self._live: OrderedDict[str, float] = OrderedDict()

    def new(self) -> str:
        now = self._clock()  # type: ignore[operator]
        nonce = self.prefix + secrets.token_urlsafe(NONCE_BYTES)
        self._live[nonce] = now + NONCE_LIFETIME_S
        while len(self._live) > policy.ACME_MAX_OUTSTANDING:
            self._live.popitem(last=False)
        return nonce

    def use(self, nonce: str) -> str | None:
        """None if the nonce is good (and now spent), else why it is not."""
        expires = self._live.pop(nonce, None)
        if expires is None:
            if not nonce.startswith(self.prefix) and "-" in nonce:
                return "the nonce is from before the server restarted; retry with the fresh one"
            return "the nonce is unknown or was used already; retry with the fresh one"
        if expires < self._clock():  # type: ignore[operator]
            return "the nonce expired; retry with the fresh one"
        return None
