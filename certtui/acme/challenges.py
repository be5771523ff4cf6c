"""ACME authorizations and challenges (RFC 8555 sections 7.5, 8): their state, a client's
go-ahead, and the validations that run while the server serves."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from certtui.acme import validation
from certtui.acme.admission import Caller, caller_reg, verify
from certtui.acme.context import Context, reply, url
from certtui.acme.orders import own_order
from certtui.acme.problems import Problem, error
from certtui.core import acme_state as state
from certtui.core import policy

# Seconds a client waiting for the operator is told to wait between polls.
APPROVAL_RETRY_AFTER_S = 5


def held(ctx: Context, authz_id: str) -> bool:
    """Whether the authorization's order waits for the operator's approval."""
    authz = state.authorization(ctx.store, authz_id)
    found = state.approval(ctx.store, authz.order_id) if authz else None
    return found is not None and found.status == "waiting"


def own_authz(ctx: Context, caller: Caller, authz_id: str) -> state.Authorization:
    authz = state.authorization(ctx.store, authz_id)
    if authz is None:
        raise Problem("malformed", "no such authorization", status=404)
    own_order(ctx, caller, authz.order_id)
    return authz


def chall_json(request: web.Request, c: state.Challenge) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": c.type,
        "url": url(request, "chall", c.id),
        "token": c.token,
        "status": c.status,
    }
    if c.validated:
        out["validated"] = c.validated
    if c.error:
        out["error"] = c.error
    return out


async def authz(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    authz = own_authz(ctx, caller, request.match_info["id"])
    if caller.verified.payload:
        if caller.verified.json().get("status") != "deactivated":
            raise Problem("malformed", "an authorization can only be deactivated")
        state.deactivate_authorization(ctx.store, authz.id)
        authz = state.authorization(ctx.store, authz.id) or authz
    body: dict[str, Any] = {
        # RFC 8555 section 7.1.4: a wildcard's authorization names the zone, flagged wildcard.
        "identifier": {"type": authz.type, "value": authz.value.removeprefix("*.")},
        "status": authz.status,
        "expires": authz.expires,
        "challenges": [chall_json(request, c) for c in state.challenges(ctx.store, authz.id)],
    }
    if authz.value.startswith("*."):
        body["wildcard"] = True
    on_hold = authz.status == "pending" and held(ctx, authz.id)
    if on_hold:
        # Not an RFC 8555 field: clients ignore it, a person reading the JSON sees why.
        body["detail"] = state.WAITING
    response = reply(body, 200)
    if on_hold:
        response.headers["Retry-After"] = str(APPROVAL_RETRY_AFTER_S)
    return response


async def challenge(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    _reg, account = caller_reg(caller)
    chall = state.challenge(ctx.store, request.match_info["id"])
    if chall is None:
        raise Problem("malformed", "no such challenge", status=404)
    authz = own_authz(ctx, caller, chall.authz_id)
    if caller.verified.payload:
        caller.verified.json()
        if chall.status == "pending" and authz.status == "pending":
            ctx.failures.check(f"account {account.name}", f"address {request.remote}")
            if state.start_challenge(ctx.store, chall.id) and not held(ctx, authz.id):
                spawn(ctx, chall, f"{request.remote}|{account.name}")
            chall = state.challenge(ctx.store, chall.id) or chall
    response = reply(chall_json(request, chall), 200)
    response.headers.add("Link", f'<{url(request, "authz", authz.id)}>;rel="up"')
    if chall.status == "processing":
        response.headers["Retry-After"] = str(policy.ACME_POLL_AFTER_S)
    return response


def spawn(ctx: Context, chall: state.Challenge, who: str) -> None:
    ctx.keep(asyncio.get_running_loop().create_task(_validate(ctx, chall, who)))


async def _validate(ctx: Context, chall: state.Challenge, who: str) -> None:
    authz = state.authorization(ctx.store, chall.authz_id)
    o = state.order(ctx.store, authz.order_id) if authz else None
    reg = state.registration(ctx.store, o.registration) if o else None
    if authz is None or reg is None:
        return
    try:
        await validation.validate(
            chall.type,
            authz.type,
            authz.value,
            chall.token,
            reg.thumbprint,
            ctx.settings.validation,
            ctx.session,
        )
    except Problem as exc:
        state.finish_challenge(
            ctx.store,
            chall,
            error(exc.typ, exc.detail),
            f"{chall.type} {authz.value} for {reg.account}: failed, {exc.detail}",
        )
        address, _, name = who.partition("|")
        ctx.failures.record(f"account {reg.account}", *([f"address {address}"] if name else []))
        ctx.log(f"validation failed: {chall.type} {authz.value} ({reg.account}): {exc.detail}")
        return
    state.finish_challenge(ctx.store, chall, None, f"{chall.type} {authz.value} for {reg.account}: valid")
    ctx.log(f"validated {chall.type} {authz.value} for account {reg.account}")
