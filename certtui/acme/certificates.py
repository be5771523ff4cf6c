"""ACME certificates: finalize (the CSR checked against the order, then signed), the
certificate with its chain, and revokeCert (RFC 8555 sections 7.4, 7.4.2, 7.6)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certtui.acme import jws as jwsmod
from certtui.acme.admission import caller_reg, post_as_get, verify
from certtui.acme.context import Context, reply, url
from certtui.acme.orders import order_json, own_order
from certtui.acme.problems import Problem
from certtui.core import acme_state as state
from certtui.core.extensions import extension
from certtui.errors import CerttuiError

# RFC 5280 reason codes a client may give revokeCert, by the names `certtui revoke` uses.
REVOCATION_REASONS = {
    0: "unspecified",
    1: "keyCompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
}


async def finalize(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    _, account = caller_reg(caller)
    o = own_order(ctx, caller, request.match_info["id"])
    if o.status != "ready":
        raise Problem(
            "orderNotReady",
            f"the order is {o.status}; finalize once every authorization is valid (status ready)",
        )
    csr = _csr(caller.verified.json(), o)
    reg, _ = caller_reg(caller)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    account_key = jwsmod.raw_key(jwsmod.load_jwk(json.loads(reg.jwk)))
    if csr.public_key().public_bytes(*spki) == account_key.public_bytes(*spki):
        raise Problem("badCSR", "the CSR's key is the account key; use a separate key for the certificate")
    if not state.claim_for_finalize(ctx.store, o.id):
        raise Problem("orderNotReady", "the order is being finalized by another request")
    from certtui.journeys import acme as journey

    names = [v for _, v in o.identifiers]
    try:
        rec = journey.issue(
            ctx.store,
            names=names,
            issuer_id=ctx.ca.id,
            issuer_key=ctx.ca_key,
            days=ctx.settings.days,
            origin=journey.origin_of(account.name),
            csr=csr,
            detail=f"acme:{account.name} order {o.id}: {', '.join(names)}",
            inside_commit=lambda cert_id: state.order_issued(ctx.store, o.id, cert_id),
            now=ctx.settings.clock(),
        )
    except CerttuiError as exc:
        state.set_order(ctx.store, o.id, "ready")
        raise Problem("badCSR", f"the CSR cannot be signed: {exc}") from None
    except BaseException:
        state.set_order(ctx.store, o.id, "ready")
        raise
    ctx.log(f"issued {rec.id} to account {account.name}: {', '.join(names)}")
    done = state.order(ctx.store, o.id)
    assert done is not None
    return reply(order_json(ctx, request, done), 200, url(request, "order", o.id))


def _csr(payload: dict[str, Any], o: state.Order) -> x509.CertificateSigningRequest:
    der = jwsmod.b64decode(payload.get("csr"), "csr")
    try:
        csr = x509.load_der_x509_csr(der)
        sans = list(extension(csr, x509.SubjectAlternativeName, strict=True) or ())
    except (ValueError, x509.DuplicateExtension):
        raise Problem(
            "badCSR", "the CSR is not a DER certificate request with decodable extensions"
        ) from None
    from certtui.core.names import parse_name

    got: set[tuple[str, str]] = set()
    for gn in sans:
        if isinstance(gn, x509.DNSName):
            got.add(("dns", gn.value.lower().rstrip(".")))
        elif isinstance(gn, x509.IPAddress):
            got.add(("ip", str(gn.value)))
        else:
            raise Problem(
                "badCSR", f"the CSR asks for a {type(gn).__name__}; only DNS names and IPs are ordered"
            )
    for attr in csr.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME):
        cn = attr.value if isinstance(attr.value, str) else attr.value.decode("utf-8", "replace")
        try:
            parsed = parse_name(cn)
        except CerttuiError:
            raise Problem(
                "badCSR", f"the CSR's common name {cn[:64]!r} is not one of the order's names"
            ) from None
        got.add(("ip" if parsed.type.value == "ip" else "dns", parsed.value.lower()))
    want = set(o.identifiers)
    if got != want:
        extra = sorted(v for _, v in got - want)
        missing = sorted(v for _, v in want - got)
        parts = ([f"names not in the order: {', '.join(extra)}"] if extra else []) + (
            [f"order names missing: {', '.join(missing)}"] if missing else []
        )
        raise Problem("badCSR", f"the CSR's names must equal the order's ({'; '.join(parts)[:300]})")
    return csr


async def certificate(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    _, account = caller_reg(caller)
    post_as_get(caller)
    cert_id = request.match_info["id"]
    owner = state.order_of_certificate(ctx.store, cert_id)
    if owner is None or owner[1].account != account.name:
        raise Problem("unauthorized", "no such certificate for this account", status=404)
    pem = ctx.store.certificate(cert_id).public_bytes(serialization.Encoding.PEM)
    return web.Response(body=pem + _chain_of(ctx, cert_id), content_type="application/pem-certificate-chain")


def _chain_of(ctx: Context, cert_id: str) -> bytes:
    rec = ctx.store.get(cert_id)
    if rec.issuer_id == ctx.ca.id:
        return ctx.chain_pem
    chain = ctx.store.chain(cert_id)
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain if c.issuer != c.subject)


async def revoke_cert(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="any")
    payload = caller.verified.json()
    der = jwsmod.b64decode(payload.get("certificate"), "certificate")
    reason_code = payload.get("reason", 0)
    if reason_code not in REVOCATION_REASONS or isinstance(reason_code, bool):
        raise Problem(
            "badRevocationReason",
            f"reason {str(reason_code)[:10]} is not accepted; use one of {sorted(REVOCATION_REASONS)}",
        )
    import hashlib

    cert_id = ctx.store.find_sha256(hashlib.sha256(der).hexdigest())
    if cert_id is None:
        raise Problem("malformed", "this certificate was not issued by this server", status=404)
    rec = ctx.store.get(cert_id)
    if caller.verified.jwk is not None:
        cert = x509.load_der_x509_certificate(der)
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if cert.public_key().public_bytes(*spki) != jwsmod.raw_key(caller.verified.jwk).public_bytes(*spki):
            raise Problem("unauthorized", "the jwk is not this certificate's key")
        request["who"] = "certificate key"
    else:
        _, account = caller_reg(caller)
        owner = state.order_of_certificate(ctx.store, cert_id)
        if owner is None or owner[1].account != account.name:
            raise Problem("unauthorized", "this account did not order this certificate")
    if rec.revoked_at:
        raise Problem("alreadyRevoked", f"the certificate was revoked on {rec.revoked_at}")
    from certtui.journeys import acme as journey

    done = journey.revoke(ctx.store, cert_id, REVOCATION_REASONS[reason_code])
    ctx.log(f"revoked {done.id} ({done.revocation_reason}) for {request['who']}")
    return web.Response(status=200)
