"""ACME Renewal Information (RFC 9773): an order's `replaces`, and the renewalInfo window."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from certtui.acme.context import Context, dumps
from certtui.acme.problems import Problem
from certtui.core import acme_state as state
from certtui.core.timefmt import iso


def ari_id(ctx: Context, cert_id: str) -> str:
    from certtui.core import ari

    return ari.cert_id(ctx.store.certificate(cert_id))


def replaced(ctx: Context, raw: object, account: state.Account) -> str | None:
    """RFC 9773 section 5: the store id of the certificate `replaces` names, if this
    account got it and nothing replaced it yet."""
    if raw is None:
        return None
    from certtui.core import ari

    if not isinstance(raw, str):
        raise Problem("malformed", "replaces must be an ARI certificate id (a string)")
    try:
        _, serial = ari.parse_cert_id(raw)
    except ValueError as exc:
        raise Problem("malformed", f"replaces: {exc}") from None
    cert_id = state.cert_by_serial(ctx.store, serial)
    owner = state.order_of_certificate(ctx.store, cert_id) if cert_id else None
    if cert_id is None or owner is None or owner[1].account != account.name:
        raise Problem("malformed", "replaces names no certificate this account got from this server")
    if ari.cert_id(ctx.store.certificate(cert_id)).split(".")[0] != raw.split(".")[0]:
        raise Problem("malformed", "replaces: the authority key identifier is not its issuer's")
    rec = ctx.store.get(cert_id)
    if rec.renewed_by is not None:
        raise Problem(
            "alreadyReplaced",
            f"certificate {cert_id} was already replaced by {rec.renewed_by}",
            status=409,
        )
    return cert_id


async def renewal_info(ctx: Context, request: web.Request) -> web.Response:
    """RFC 9773 section 4: a plain GET, no JWS: the suggested window and Retry-After."""
    from certtui.core import ari
    from certtui.journeys import acme as journey

    raw = request.match_info["id"]
    try:
        _, serial = ari.parse_cert_id(raw)
    except ValueError as exc:
        raise Problem("malformed", str(exc)) from None
    cert_id = state.cert_by_serial(ctx.store, serial)
    if cert_id is None or ari.cert_id(ctx.store.certificate(cert_id)) != raw:
        raise Problem("malformed", "no certificate of this server has this ARI id", status=404)
    win = journey.ari_window(ctx.store, cert_id, ctx.ca.id)
    body: dict[str, Any] = {"suggestedWindow": {"start": iso(win.start), "end": iso(win.end)}}
    response = web.json_response(body, dumps=dumps)
    response.headers["Retry-After"] = str(ari.RETRY_AFTER_S)
    return response
