"""The trust test's HTTPS certificate: one day, for the advertised address, signed in memory, never stored."""

from __future__ import annotations

import contextvars
import os
import ssl
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certtui.core import issuance
from certtui.core import keys as keymod
from certtui.core.constraints import chain_constraint_violations, chain_constraints
from certtui.core.issuance import IssuePlan
from certtui.core.models import IssueRequest, KeySpec, Kind
from certtui.core.names import parse_names
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, PolicyError

# One day: longer than any enrollment session (15 minutes by default), and short enough that
# the key, which only ever lives in this process, is worthless by tomorrow.
TEST_CERT_DAYS = 1
# EC P-256: every phone accepts it (HT210176) and it takes a millisecond to make.
TEST_KEY = KeySpec.EC256
# iOS 14+ needs TLS 1.2 or later (docs/trust-rules.md, server.tls12); nothing older is offered.
MIN_TLS = ssl.TLSVersion.TLSv1_2
# The audit log's action for the test certificate, the only trace it leaves in the store.
AUDIT_ACTION = "enroll-test-cert"


@dataclass(frozen=True)
class TrustPlan:
    """Either a plan for the test certificate, or the one line saying why there is no test."""

    plan: IssuePlan | None
    skipped: str | None = None


@dataclass(frozen=True)
class TrustCertificate:
    """The signed test certificate, the intermediates served after it, and its in-memory key."""

    certificate: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    key: keymod.PrivateKey
    host: str


def plan_test(store: Store, host: str) -> TrustPlan:
    """Check that a certificate for `host` could be trusted at all; needs no private key."""
    if not hasattr(os, "memfd_create"):
        return TrustPlan(
            None,
            "trust test skipped: this system has no memfd_create, and certtui "
            "never writes the test key to disk",
        )
    names = parse_names([host])
    issuer_id = store.default_issuer_id()
    if issuer_id is None:
        raise CerttuiError("the store has no root yet; create one with `certtui init --name NAME`")
    chain = [store.certificate(issuer_id), *store.chain(issuer_id)]
    if chain_constraint_violations(names, chain_constraints(chain)):
        return TrustPlan(
            None,
            f"trust test skipped: {host} is outside the CA's name constraints, "
            "so the phone would reject any certificate for it, whatever it trusts",
        )
    try:
        plan = issuance.plan(
            store, IssueRequest(names=(host,), kind=Kind.SERVER, days=TEST_CERT_DAYS, key=TEST_KEY)
        )
    except PolicyError as exc:
        return TrustPlan(None, f"trust test skipped: {exc}")
    return TrustPlan(plan)


def sign_test(store: Store, plan: IssuePlan, now: datetime | None = None) -> TrustCertificate:
    """Sign the test certificate with the issuing CA; the store must be unlocked.

    Nothing but an audit event is written: the certificate and its key stay in memory.
    """
    now = now or utcnow()
    key = keymod.generate(plan.key)
    issuer_cert = store.certificate(plan.issuer_id)
    issuer_key = store.private_key(plan.issuer_id)
    serial = issuance.new_serial()
    cert = issuance.build_certificate(plan, key.public_key(), issuer_cert, issuer_key, serial, now)
    chain = [issuer_cert, *store.chain(plan.issuer_id)]
    intermediates = tuple(c for c in chain if c.issuer != c.subject)
    host = plan.names.values()[0]
    with store.write():
        store.event(
            AUDIT_ACTION,
            plan.issuer_id,
            f"one-day HTTPS test certificate for {host}, serial {serial:x}, "
            f"expires {iso(cert.not_valid_after_utc)}; kept in memory, not stored",
        )
    return TrustCertificate(cert, intermediates, key, host)


@dataclass
class Handshake:
    """What one connection's TLS handshake got to; `WatchedContext` fills it in."""

    hello: bool = False
    """OpenSSL parsed a real ClientHello (and answered it, unless it raised its own error)."""


HANDSHAKE: contextvars.ContextVar[Handshake] = contextvars.ContextVar("certtui_handshake")
"""Set by the task handing a socket to asyncio: the handshake its connection reports into."""


class WatchedContext(ssl.SSLContext):
    """A server context that tells each connection's `Handshake` when its ClientHello parsed.

    asyncio builds the connection's SSLObject inside the task that accepted the socket, so the
    task's `HANDSHAKE` is tied to the object there; OpenSSL's server-name callback, which runs
    for every parsed ClientHello (with or without SNI), then marks it.
    """

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        obj = super().wrap_bio(*args, **kwargs)
        handshake = HANDSHAKE.get(None)
        if handshake is not None:
            _HANDSHAKES[obj] = handshake
        return obj


_HANDSHAKES: weakref.WeakKeyDictionary[ssl.SSLObject, Handshake] = weakref.WeakKeyDictionary()


def _hello_parsed(obj: ssl.SSLSocket | ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext) -> None:
    handshake = _HANDSHAKES.get(obj) if isinstance(obj, ssl.SSLObject) else None
    if handshake is not None:
        handshake.hello = True


def server_context(test: TrustCertificate) -> ssl.SSLContext:
    """A TLS server context holding the test chain, loaded from a memfd so the key never hits disk."""
    pem = b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in (test.certificate, *test.intermediates)
    ) + test.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ctx = WatchedContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MIN_TLS
    ctx.sni_callback = _hello_parsed
    # load_cert_chain only takes paths; an anonymous memory file has one under /proc.
    fd = os.memfd_create("certtui-trust-test", os.MFD_CLOEXEC)
    try:
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view) :]
        ctx.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    return ctx
