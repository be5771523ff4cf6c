"""ACME accounts (RFC 8555 section 7.3): newAccount with its external account binding, an
account's own URL and order list, and keyChange."""

from __future__ import annotations

import json
from typing import Any

import josepy as jose
from aiohttp import web

from certtui.acme import jws as jwsmod
from certtui.acme.admission import caller_reg, post_as_get, verify
from certtui.acme.context import Context, reply, url
from certtui.acme.policy import ANY
from certtui.acme.problems import Problem
from certtui.core import acme_state as state


def _account_json(request: web.Request, reg: state.Registration) -> dict[str, Any]:
    return {
        "status": reg.status,
        "contact": list(reg.contact),
        "orders": url(request, "acct", reg.id) + "/orders",
    }


def _contact(payload: dict[str, Any]) -> tuple[str, ...]:
    contact = payload.get("contact", [])
    if not isinstance(contact, list) or not all(isinstance(c, str) for c in contact):
        raise Problem("malformed", "contact must be a list of mailto: URLs")
    for c in contact:
        if not c.startswith("mailto:") or len(c) > 254 or "," in c:
            raise Problem("invalidContact", f"contact {c[:80]!r} is not a single mailto: URL")
    return tuple(contact)


async def new_account(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="jwk")
    payload = caller.verified.json()
    jwk = caller.verified.jwk
    assert jwk is not None
    thumb = jwsmod.thumbprint(jwk)
    existing = state.registration_by_thumbprint(ctx.store, thumb)
    if existing is not None:
        if existing.status != "valid":
            raise Problem("unauthorized", "this account key was deactivated; register a new one")
        request["who"] = existing.account
        return reply(_account_json(request, existing), 200, url(request, "acct", existing.id))
    if payload.get("onlyReturnExisting") is True:
        raise Problem("accountDoesNotExist", "no account has this key")
    contact = _contact(payload)
    eab = payload.get("externalAccountBinding")
    if ctx.settings.open_registration and eab is None:
        name = "open-" + thumb[:10]
        reg = state.add_registration(
            ctx.store, name, thumb, jwsmod.jwk_json(jwk), contact, open_account=(ANY,)
        )
    else:
        if eab is None:
            raise Problem(
                "externalAccountRequired",
                "this server registers invited accounts only: give the EAB key id and HMAC key "
                "from `certtui acme account add`",
            )
        account = _check_eab(ctx, request, eab, jwk)
        reg = state.add_registration(ctx.store, account.name, thumb, jwsmod.jwk_json(jwk), contact)
    request["who"] = reg.account
    return reply(_account_json(request, reg), 201, url(request, "acct", reg.id))


def _check_eab(ctx: Context, request: web.Request, eab: Any, jwk: jose.JWK) -> state.Account:
    what = "the external account binding"
    header = jwsmod.protected_header(eab, allowed=jwsmod.EAB_ALGORITHMS, what=what)
    if "nonce" in header:
        raise Problem("malformed", f"{what} must not carry a nonce (RFC 8555 section 7.3.4)")
    if header.get("url") != f"https://{request.host}{request.raw_path}":
        raise Problem("unauthorized", f"{what}'s url is not the newAccount URL")
    kid = header.get("kid")
    found = state.account_by_kid(ctx.store, kid) if isinstance(kid, str) else None
    if found is None:
        raise Problem("unauthorized", f"{what} names an unknown key id; check --eab-kid")
    account, hmac = found
    try:
        inner = jose.JWS.from_json(eab)
        good = inner.verify(jose.JWKOct(key=hmac))
    except (jose.Error, ValueError, TypeError, KeyError, AssertionError):
        good = False
    if not good:
        raise Problem("unauthorized", f"{what}'s MAC is wrong; check the HMAC key of {account.name}")
    try:
        bound = jwsmod.load_jwk(json.loads(inner.payload))
    except (jose.Error, ValueError, TypeError):
        raise Problem("malformed", f"{what}'s payload is not the account's JWK") from None
    if not jwsmod.same_key(bound, jwk):
        raise Problem("unauthorized", f"{what} binds a different key than the one signing the request")
    if account.status != "active":
        raise Problem("unauthorized", f"account {account.name} is disabled; ask the operator")
    return account


async def account(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    reg, _ = caller_reg(caller)
    if reg.id != request.match_info["id"]:
        raise Problem("unauthorized", "the kid is not this account's URL")
    if caller.verified.payload:
        payload = caller.verified.json()
        if payload.get("status") == "deactivated":
            reg = state.update_registration(ctx.store, reg.id, status="deactivated")
        elif "status" in payload and payload["status"] != reg.status:
            raise Problem("malformed", "the only status a client may set is deactivated")
        if "contact" in payload:
            reg = state.update_registration(ctx.store, reg.id, contact=_contact(payload))
    return reply(_account_json(request, reg), 200, url(request, "acct", reg.id))


async def account_orders(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    reg, _ = caller_reg(caller)
    post_as_get(caller)
    if reg.id != request.match_info["id"]:
        raise Problem("unauthorized", "the kid is not this account's URL")
    urls = [url(request, "order", o.id) for o in state.orders_of(ctx.store, reg.id)]
    return reply({"orders": urls}, 200)


async def key_change(ctx: Context, request: web.Request) -> web.Response:
    caller = await verify(ctx, request, key="kid")
    reg, _ = caller_reg(caller)
    body = caller.verified.json()
    what = "the inner JWS of keyChange"
    header = jwsmod.protected_header(body, allowed=jwsmod.ALGORITHMS, what=what)
    if "jwk" not in header or "kid" in header:
        raise Problem("malformed", f"{what} must carry the new key as jwk")
    if header.get("url") != caller.verified.protected.get("url"):
        raise Problem("malformed", f"{what}'s url differs from the outer request's")
    inner = jwsmod.parse(body, what)
    new_key = jwsmod.key_from_header(header)
    jwsmod.verify_signature(inner, new_key, header["alg"], what)
    try:
        payload = json.loads(inner.payload)
        old = jwsmod.load_jwk(payload["oldKey"])
    except (ValueError, TypeError, KeyError, jose.Error):
        raise Problem("malformed", f"{what}'s payload needs account and oldKey") from None
    if payload.get("account") != caller.verified.kid:
        raise Problem("malformed", f"{what}'s account is not the outer kid")
    if jwsmod.thumbprint(old) != reg.thumbprint:
        raise Problem("unauthorized", f"{what}'s oldKey is not the account's current key")
    thumb = jwsmod.thumbprint(new_key)
    other = state.registration_by_thumbprint(ctx.store, thumb)
    if other is not None:
        raise Problem(
            "malformed",
            "the new key belongs to another account already",
            status=409,
            location=url(request, "acct", other.id),
        )
    reg = state.update_registration(ctx.store, reg.id, key=(thumb, jwsmod.jwk_json(new_key)))
    return reply(_account_json(request, reg), 200, url(request, "acct", reg.id))
