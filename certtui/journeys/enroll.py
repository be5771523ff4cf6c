"""Phone enrollment: plan (the address, whether a trust test can work), sign the test
certificate, start the session. `certtui enroll` and the TUI's `p` both go through here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from certtui.core import policy
from certtui.core.store import Store
from certtui.core.timefmt import utcnow

if TYPE_CHECKING:
    from certtui.core.issuance import IssuePlan
    from certtui.enroll.server import EnrollmentSession
    from certtui.enroll.trust import TrustCertificate


@dataclass(frozen=True)
class EnrollOptions:
    """The `certtui enroll` flags: where the session listens and the host the QR code names
    (the TUI gets them from `certtui [--bind ...]`; tests fix the token)."""

    bind: str = policy.ENROLL_BIND
    port: int = policy.ENROLL_PORT
    tls_port: int = policy.ENROLL_TLS_PORT
    advertise: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class EnrollmentPlan:
    """Where the phone will connect, and the test certificate to sign (None: no trust test)."""

    host: str
    test_plan: IssuePlan | None
    skipped: str | None


def plan(store: Store, advertise: str | None, bind: str) -> EnrollmentPlan:
    """Pick the advertised host and check the trust test can work; needs no key."""
    from certtui.enroll import trust
    from certtui.enroll.prepare import advertised_host

    host = advertised_host(advertise, bind)
    planned = trust.plan_test(store, host)
    return EnrollmentPlan(host, planned.plan, planned.skipped)


def sign_trust_test(store: Store, p: EnrollmentPlan, now: datetime | None = None) -> TrustCertificate | None:
    """The one-day test certificate, in memory only (the store must be unlocked); None
    when the plan has no trust test."""
    from certtui.enroll import trust

    return trust.sign_test(store, p.test_plan, now) if p.test_plan is not None else None


def new_session(
    store: Store,
    p: EnrollmentPlan,
    test: TrustCertificate | None,
    listen: EnrollOptions,
    seconds: float,
    clock: Callable[[], datetime] = utcnow,
) -> EnrollmentSession:
    """The session, not listening yet: `run()` it (the CLI) or `await start()` (the TUI).

    `clock` (default: the real time) stamps its events and its expiry."""
    from certtui.enroll.server import EnrollmentSession, RootInfo

    return EnrollmentSession(
        RootInfo.from_store(store),
        advertise=p.host,
        bind=listen.bind,
        port=listen.port,
        tls_port=listen.tls_port,
        timeout=seconds,
        trust=test,
        trust_skipped=p.skipped,
        token=listen.token,
        clock=clock,
    )


async def start(
    store: Store,
    p: EnrollmentPlan,
    test: TrustCertificate | None,
    listen: EnrollOptions,
    seconds: float,
    clock: Callable[[], datetime] = utcnow,
) -> EnrollmentSession:
    """Start the session on the running loop (the app's) and return it, listening."""
    session = new_session(store, p, test, listen, seconds, clock)
    await session.start()
    return session
