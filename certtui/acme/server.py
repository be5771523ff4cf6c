"""The ACME server's aiohttp app: RFC 8555 routes over HTTPS, state in the store.

Each group of routes has its module: admission.py (nonces, problems, the JWS of a POST),
accounts.py, orders.py, challenges.py, certificates.py, renewal_info.py; approvals.py
applies the operator's decisions while the app runs.
"""

from __future__ import annotations

import asyncio
from functools import partial

from aiohttp import web

from certtui.acme import (
    accounts,
    admission,
    approvals,
    certificates,
    challenges,
    orders,
    renewal_info,
    validation,
)
from certtui.acme.context import PREFIX, Context, base, dumps
from certtui.core import acme_state as state
from certtui.core import policy


def application(ctx: Context) -> web.Application:
    """The app of one serving run; its startup takes up validations and watches approvals."""
    app = web.Application(
        client_max_size=policy.ACME_MAX_REQUEST_BYTES, middlewares=[admission.middleware(ctx)]
    )
    r = app.router
    r.add_get(f"{PREFIX}/directory", partial(directory, ctx))
    r.add_get(f"{PREFIX}/renewal-info/{{id}}", partial(renewal_info.renewal_info, ctx))
    r.add_route("HEAD", f"{PREFIX}/new-nonce", new_nonce)
    r.add_get(f"{PREFIX}/new-nonce", new_nonce, allow_head=False)
    posts = {
        "new-account": accounts.new_account,
        "new-order": orders.new_order,
        "revoke-cert": certificates.revoke_cert,
        "key-change": accounts.key_change,
        "acct/{id}": accounts.account,
        "acct/{id}/orders": accounts.account_orders,
        "order/{id}": orders.order,
        "order/{id}/finalize": certificates.finalize,
        "authz/{id}": challenges.authz,
        "chall/{id}": challenges.challenge,
        "cert/{id}": certificates.certificate,
    }
    for path, handler in posts.items():
        r.add_post(f"{PREFIX}/{path}", partial(handler, ctx))
    app.on_startup.append(partial(_startup, ctx))
    app.on_cleanup.append(partial(_cleanup, ctx))
    return app


async def _startup(ctx: Context, app: web.Application) -> None:
    ctx.session = validation.client_session()
    # Validations a previous run had started (a crash, a restart) are taken up again.
    for chall in state.processing_challenges(ctx.store):
        if not challenges.held(ctx, chall.authz_id):
            challenges.spawn(ctx, chall, "restart")
    ctx.keep(asyncio.get_running_loop().create_task(approvals.apply_decisions(ctx)))


async def _cleanup(ctx: Context, app: web.Application) -> None:
    for task in list(ctx.tasks):
        task.cancel()
    await asyncio.gather(*ctx.tasks, return_exceptions=True)
    if ctx.session is not None:
        await ctx.session.close()


async def directory(ctx: Context, request: web.Request) -> web.Response:
    root = base(request)
    return web.json_response(
        {
            "newNonce": f"{root}/new-nonce",
            "newAccount": f"{root}/new-account",
            "newOrder": f"{root}/new-order",
            "revokeCert": f"{root}/revoke-cert",
            "keyChange": f"{root}/key-change",
            "renewalInfo": f"{root}/renewal-info",
            "meta": {"externalAccountRequired": not ctx.settings.open_registration},
        },
        dumps=dumps,
    )


async def new_nonce(request: web.Request) -> web.Response:
    return web.Response(status=200 if request.method == "HEAD" else 204)
