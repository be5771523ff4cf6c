"""ACME orders (RFC 8555 section 7.4): newOrder within the account's patterns, an order's
state, and the order that has waited past its expiry."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from certtui.acme.admission import Caller, caller_reg, post_as_get, verify
from certtui.acme.context import Context, reply, stamp, url
from certtui.acme.policy import allowed, identifiers
from certtui.acme.problems import Problem, error
from certtui.acme.renewal_info import ari_id, replaced
from certtui.core import acme_state as state
from certtui.core import policy
from certtui.core.timefmt import utcnow
from certtui.errors import CerttuiError

# The challenge types offered: a DNS name gets all three, an IP no dns-01 (RFC 8738 section 7),
# a wildcard dns-01 only (RFC 8555 section 7.1.3: only the zone's owner may have every name).
CHALLENGE_TYPES = ("http-01", "tls-alpn-01", "dns-01")
IP_CHALLENGE_TYPES = ("http-01", "tls-alpn-01")
WILDCARD_CHALLENGE_TYPES = ("dns-01",)


def challenge_types(typ: str, value: str) -> tuple[str, ...]:
    if typ == "ip":
        return IP_CHALLENGE_TYPES
    return WILDCARD_CHALLENGE_TYPES if value.startswith("*.") else CHALLENGE_TYPES


def order_json(ctx: Context, request: web.Request, o: state.Order) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": o.status,
        "expires": o.expires,
        "identifiers": [{"type": t, "value": v} for t, v in o.identifiers],
        "authorizations": [url(request, "authz", a.id) for a in state.authorizations(ctx.store, o.id)],
        "finalize": url(request, "order", o.id) + "/finalize",
    }
    if o.cert_id and o.status == "valid":
        out["certificate"] = url(request, "cert", o.cert_id)
    if o.error and o.status == "invalid":
        out["error"] = o.error
    if o.replaces:
        out["replaces"] = ari_id(ctx, o.replaces)
    return out


async def new_order(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    reg, account = caller_reg(caller)
    payload = caller.verified.json()
    if "notBefore" in payload or "notAfter" in payload:
        raise Problem(
            "malformed",
            f"notBefore and notAfter are not supported; certificates last {ctx.settings.days} days",
        )
    ctx.orders.hit(f"account {account.name}", f"address {request.remote}")
    wanted = identifiers(payload.get("identifiers"))
    replaces = replaced(ctx, payload.get("replaces"), account)
    outside = [i.value for i in wanted if not allowed(i.type, i.value, account.patterns)]
    if outside:
        raise Problem(
            "rejectedIdentifier",
            f"account {account.name} may not order {', '.join(outside)[:300]}: its patterns are "
            f"{', '.join(account.patterns)}; ask the operator to widen them",
        )
    from certtui.journeys import acme as journey

    try:
        journey.preview(ctx.store, [i.value for i in wanted], ctx.ca.id, ctx.settings.days)
    except CerttuiError as exc:
        raise Problem("rejectedIdentifier", f"the CA will not sign this: {exc}") from None
    waiting = state.new_names(ctx.store, [i.value for i in wanted]) if ctx.settings.approve_new_names else []
    o = state.create_order(
        ctx.store,
        reg.id,
        [(i.type, i.value) for i in wanted],
        utcnow() + policy.ACME_ORDER_LIFETIME,
        challenge_types,
        replaces,
        waiting,
    )
    if waiting:
        ctx.log(f"order {o.id} of {account.name} waits for approval: {', '.join(waiting)[:300]}")
    return reply(order_json(ctx, request, o), 201, url(request, "order", o.id))


def own_order(ctx: Context, caller: Caller, order_id: str) -> state.Order:
    reg, _ = caller_reg(caller)
    o = state.order(ctx.store, order_id)
    if o is None or o.registration != reg.id:
        raise Problem("unauthorized", "no such order for this account", status=404)
    if o.status in ("pending", "ready") and o.expires < stamp():
        state.set_order(
            ctx.store, o.id, "invalid", error=error("malformed", "the order expired; place a new one")
        )
        o = state.order(ctx.store, o.id) or o
    return o


async def order(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    post_as_get(caller)
    o = own_order(ctx, caller, request.match_info["id"])
    response = reply(order_json(ctx, request, o), 200)
    if o.status == "processing":
        response.headers["Retry-After"] = str(policy.ACME_POLL_AFTER_S)
    return response
