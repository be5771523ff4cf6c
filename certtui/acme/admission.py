"""What every ACME request passes: the answer's nonce, problems and log line, and the JWS
of a POST (its nonce, url and signature, and the account it names)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from certtui.acme import jws as jwsmod
from certtui.acme.context import PREFIX, Context, base, dumps
from certtui.acme.problems import Problem
from certtui.core import acme_state as state
from certtui.core import policy
from certtui.errors import CerttuiError


@dataclass
class Caller:
    """Who sent a verified request."""

    verified: jwsmod.Verified
    registration: state.Registration | None
    account: state.Account | None


def middleware(ctx: Context) -> Middleware:
    """Every answer: a problem document for what failed, a fresh nonce, one log line."""

    @web.middleware
    async def answer(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        request["who"] = "-"
        problem = ""
        try:
            response = await handler(request)
        except Problem as exc:
            response, problem = problem_response(exc), exc.typ
        except web.HTTPException as exc:
            typ = "malformed"
            if exc.status == 413:
                detail = f"the request is over {policy.ACME_MAX_REQUEST_BYTES} bytes"
            elif exc.status == 405:
                detail = "use POST with a JWS for this resource (RFC 8555 section 6.3)"
            else:
                detail = f"no such ACME resource ({exc.status})"
            response, problem = problem_response(Problem(typ, detail, status=exc.status)), typ
        except CerttuiError as exc:
            response, problem = problem_response(Problem("serverInternal", str(exc))), "serverInternal"
        except Exception as exc:  # one line, never the request body or a key
            ctx.log(f"internal error: {type(exc).__name__}: {str(exc)[:200]}")
            response = problem_response(Problem("serverInternal", "the server failed; see its log"))
            problem = "serverInternal"
        response.headers["Replay-Nonce"] = ctx.nonces.new()
        response.headers["Cache-Control"] = "no-store"
        response.headers.add("Link", f'<{base(request)}/directory>;rel="index"')
        ms = (time.monotonic() - started) * 1000
        ctx.log(
            f"{request.remote} {request.method} {request.path} {response.status} "
            f"account={request['who']}{' problem=' + problem if problem else ''} {ms:.0f}ms"
        )
        return response

    return answer


def problem_response(exc: Problem) -> web.Response:
    response = web.json_response(
        exc.to_json(), status=exc.status, content_type="application/problem+json", dumps=dumps
    )
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    if exc.location:
        response.headers["Location"] = exc.location
    return response


async def verify(ctx: Context, request: web.Request, *, key: str) -> Caller:
    """Check a POST's JWS: shape, algorithm, nonce, url, then the signature with the jwk
    (`key` "jwk"), the account's key (`key` "kid") or either ("any")."""
    if request.content_type != "application/jose+json":
        raise Problem("malformed", "the Content-Type must be application/jose+json", status=415)
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise Problem("malformed", "the request body is not JSON") from None
    header = jwsmod.protected_header(body, allowed=jwsmod.ALGORITHMS)
    nonce = header.get("nonce")
    if not isinstance(nonce, str):
        raise Problem("badNonce", "the protected header has no nonce; get one from newNonce")
    why = ctx.nonces.use(nonce)
    if why is not None:
        raise Problem("badNonce", why)
    url = f"https://{request.host}{request.raw_path}"
    if header.get("url") != url:
        raise Problem("unauthorized", f"the JWS url does not match the request URL {url}")
    has_jwk, has_kid = "jwk" in header, "kid" in header
    if has_jwk == has_kid:
        raise Problem("malformed", "the protected header needs exactly one of jwk and kid")
    if key == "jwk" and not has_jwk:
        raise Problem("malformed", "this request is signed with the account's new key: use jwk, not kid")
    if key == "kid" and not has_kid:
        raise Problem("malformed", "this request needs the account URL as kid, not a jwk")
    parsed = jwsmod.parse(body)
    registration = account = None
    if has_jwk:
        jwk = jwsmod.key_from_header(header)
    else:
        registration, account = _account_of_kid(ctx, request, header.get("kid"))
        jwk = jwsmod.load_jwk(json.loads(registration.jwk))
        request["who"] = account.name
    jwsmod.verify_signature(parsed, jwk, header["alg"])
    return Caller(
        jwsmod.Verified(parsed.payload, header, jwk if has_jwk else None, header.get("kid"), parsed),
        registration,
        account,
    )


def _account_of_kid(
    ctx: Context, request: web.Request, kid: object
) -> tuple[state.Registration, state.Account]:
    # The account URL's path names the account; the host is whichever name the client
    # used for the directory (the signature, not the URL, proves who is asking).
    path = urlsplit(kid).path if isinstance(kid, str) else ""
    prefix = f"{PREFIX}/acct/"
    if not path.startswith(prefix) or "/" in path[len(prefix) :]:
        raise Problem("accountDoesNotExist", "the kid is not an account URL of this server")
    reg = state.registration(ctx.store, path[len(prefix) :])
    if reg is None:
        raise Problem("accountDoesNotExist", "no account has this URL; register with newAccount")
    if reg.status != "valid":
        raise Problem("unauthorized", "this account key was deactivated; register a new one")
    try:
        account = state.account(ctx.store, reg.account)
    except CerttuiError:
        raise Problem("unauthorized", "the account was removed by the operator") from None
    if account.status != "active":
        raise Problem("unauthorized", f"account {account.name} is disabled; ask the operator")
    return reg, account


def post_as_get(caller: Caller) -> None:
    if caller.verified.payload != b"":
        raise Problem("malformed", "this is a POST-as-GET: the payload must be empty")


def caller_reg(caller: Caller) -> tuple[state.Registration, state.Account]:
    assert caller.registration is not None and caller.account is not None
    return caller.registration, caller.account
