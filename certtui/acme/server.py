"""The ACME server's aiohttp app: RFC 8555 routes over HTTPS, state in the store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import josepy as jose
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certtui.acme import jws as jwsmod
from certtui.acme import validation
from certtui.acme.nonces import Nonces
from certtui.acme.policy import (
    ANY,
    RateLimiter,
    allowed,
    identifiers,
)
from certtui.acme.problems import Problem, error
from certtui.core import acme_state as state
from certtui.core import keys as keymod
from certtui.core import policy
from certtui.core.models import CertRecord
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError

PREFIX = "/acme"
# The challenge types offered: a DNS name gets all three, an IP no dns-01 (RFC 8738 section 7),
# a wildcard dns-01 only (RFC 8555 section 7.1.3: only the zone's owner may have every name).
CHALLENGE_TYPES = ("http-01", "tls-alpn-01", "dns-01")
IP_CHALLENGE_TYPES = ("http-01", "tls-alpn-01")
WILDCARD_CHALLENGE_TYPES = ("dns-01",)


def challenge_types(typ: str, value: str) -> tuple[str, ...]:
    if typ == "ip":
        return IP_CHALLENGE_TYPES
    return WILDCARD_CHALLENGE_TYPES if value.startswith("*.") else CHALLENGE_TYPES


# How often the server looks in the store for the operator's approvals (the TUI or the CLI
# decide in another process): a decision takes effect within a second or two.
APPROVAL_POLL_S = 1.0
# Seconds a client waiting for the operator is told to wait between polls.
APPROVAL_RETRY_AFTER_S = 5
# RFC 5280 reason codes a client may give revokeCert, by the names `certtui revoke` uses.
REVOCATION_REASONS = {
    0: "unspecified",
    1: "keyCompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
}


@dataclass(frozen=True)
class Settings:
    """What `certtui acme`'s flags decide."""

    days: int
    open_registration: bool = False
    validation: validation.ValidationPolicy = field(default_factory=validation.ValidationPolicy)
    orders_per_minute: int = policy.ACME_ORDERS_PER_MINUTE
    failures_per_hour: int = policy.ACME_FAILURES_PER_HOUR
    # `--approve new-names`: orders for names no certificate carried wait for the operator.
    approve_new_names: bool = False
    # The time certificates are signed at; tests inject a clock to age certificates.
    clock: Callable[[], datetime] = utcnow


@dataclass
class Caller:
    """Who sent a verified request."""

    verified: jwsmod.Verified
    registration: state.Registration | None
    account: state.Account | None


class AcmeApp:
    """One serving run: the store, the signing CA and its key, nonces, limits, live validations."""

    def __init__(
        self,
        store: Store,
        ca: CertRecord,
        ca_key: keymod.PrivateKey,
        settings: Settings,
        nonces: Nonces,
        log: Callable[[str], None],
    ) -> None:
        self.store = store
        self.ca = ca
        self.ca_key = ca_key
        self.settings = settings
        self.nonces = nonces
        self.log = log
        self.orders = RateLimiter(settings.orders_per_minute, 60, "new orders")
        self.failures = RateLimiter(settings.failures_per_hour, 3600, "failed validations")
        self.tasks: set[asyncio.Task[None]] = set()
        self.session: Any = None
        chain = [store.certificate(ca.id), *store.chain(ca.id)]
        # Leaf + intermediates: the root is what clients already trust, not sent.
        self.chain_pem = b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in chain if c.issuer != c.subject
        )

    # -- the app ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=policy.ACME_MAX_REQUEST_BYTES, middlewares=[self._middleware])
        r = app.router
        r.add_get(f"{PREFIX}/directory", self.directory)
        r.add_get(f"{PREFIX}/renewal-info/{{id}}", self.renewal_info)
        r.add_route("HEAD", f"{PREFIX}/new-nonce", self.new_nonce)
        r.add_get(f"{PREFIX}/new-nonce", self.new_nonce, allow_head=False)
        posts: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
            "new-account": self.new_account,
            "new-order": self.new_order,
            "revoke-cert": self.revoke_cert,
            "key-change": self.key_change,
            "acct/{id}": self.account,
            "acct/{id}/orders": self.account_orders,
            "order/{id}": self.order,
            "order/{id}/finalize": self.finalize,
            "authz/{id}": self.authz,
            "chall/{id}": self.challenge,
            "cert/{id}": self.certificate,
        }
        for path, handler in posts.items():
            r.add_post(f"{PREFIX}/{path}", handler)
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _startup(self, app: web.Application) -> None:
        self.session = validation.client_session()
        # Validations a previous run had started (a crash, a restart) are taken up again.
        for chall in state.processing_challenges(self.store):
            if not self._held(chall.authz_id):
                self._spawn(chall, "restart")
        self._keep(asyncio.get_running_loop().create_task(self._approvals()))

    def _keep(self, task: asyncio.Task[None]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _held(self, authz_id: str) -> bool:
        """Whether the authorization's order waits for the operator's approval."""
        authz = state.authorization(self.store, authz_id)
        found = state.approval(self.store, authz.order_id) if authz else None
        return found is not None and found.status == "waiting"

    async def _approvals(self) -> None:
        """Apply the operator's decisions, which another process writes into the store."""
        while True:
            try:
                for decision in state.decided(self.store):
                    if decision.status == "approved":
                        for chall in state.waiting_challenges(self.store, decision.order_id):
                            self._spawn(chall, "approved")
                        state.applied(self.store, decision.order_id)
                        self.log(f"order {decision.order_id} approved: {', '.join(decision.names)}")
                    else:
                        why = decision.reason or "no reason given"
                        state.refuse_order(
                            self.store,
                            decision.order_id,
                            error(
                                "rejectedIdentifier",
                                f"the operator refused {', '.join(decision.names)[:200]}: {why[:300]}",
                            ),
                        )
                        self.log(f"order {decision.order_id} refused: {', '.join(decision.names)}")
            except Exception as exc:  # a busy store, say: one line, and the loop goes on
                self.log(f"could not apply approvals: {type(exc).__name__}: {str(exc)[:200]}")
            await asyncio.sleep(APPROVAL_POLL_S)

    async def _cleanup(self, app: web.Application) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.monotonic()
        request["who"] = "-"
        problem = ""
        try:
            response = await handler(request)
        except Problem as exc:
            response, problem = self._problem(exc), exc.typ
        except web.HTTPException as exc:
            typ = "malformed"
            if exc.status == 413:
                detail = f"the request is over {policy.ACME_MAX_REQUEST_BYTES} bytes"
            elif exc.status == 405:
                detail = "use POST with a JWS for this resource (RFC 8555 section 6.3)"
            else:
                detail = f"no such ACME resource ({exc.status})"
            response, problem = self._problem(Problem(typ, detail, status=exc.status)), typ
        except CerttuiError as exc:
            response, problem = self._problem(Problem("serverInternal", str(exc))), "serverInternal"
        except Exception as exc:  # one line, never the request body or a key
            self.log(f"internal error: {type(exc).__name__}: {str(exc)[:200]}")
            response = self._problem(Problem("serverInternal", "the server failed; see its log"))
            problem = "serverInternal"
        response.headers["Replay-Nonce"] = self.nonces.new()
        response.headers["Cache-Control"] = "no-store"
        response.headers.add("Link", f'<{self._base(request)}/directory>;rel="index"')
        ms = (time.monotonic() - started) * 1000
        self.log(
            f"{request.remote} {request.method} {request.path} {response.status} "
            f"account={request['who']}{' problem=' + problem if problem else ''} {ms:.0f}ms"
        )
        return response

    def _problem(self, exc: Problem) -> web.Response:
        response = web.json_response(
            exc.to_json(), status=exc.status, content_type="application/problem+json", dumps=_dumps
        )
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        if exc.location:
            response.headers["Location"] = exc.location
        return response

    # -- URLs ------------------------------------------------------------------------------

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"https://{request.host}{PREFIX}"

    def _url(self, request: web.Request, kind: str, ident: str) -> str:
        return f"{self._base(request)}/{kind}/{ident}"

    # -- the JWS of every POST -------------------------------------------------------------

    async def _verify(self, request: web.Request, *, key: str) -> Caller:
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
        why = self.nonces.use(nonce)
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
            registration, account = self._account_of_kid(request, header.get("kid"))
            jwk = jwsmod.load_jwk(json.loads(registration.jwk))
            request["who"] = account.name
        jwsmod.verify_signature(parsed, jwk, header["alg"])
        return Caller(
            jwsmod.Verified(parsed.payload, header, jwk if has_jwk else None, header.get("kid"), parsed),
            registration,
            account,
        )

    def _account_of_kid(self, request: web.Request, kid: object) -> tuple[state.Registration, state.Account]:
        # The account URL's path names the account; the host is whichever name the client
        # used for the directory (the signature, not the URL, proves who is asking).
        path = urlsplit(kid).path if isinstance(kid, str) else ""
        prefix = f"{PREFIX}/acct/"
        if not path.startswith(prefix) or "/" in path[len(prefix) :]:
            raise Problem("accountDoesNotExist", "the kid is not an account URL of this server")
        reg = state.registration(self.store, path[len(prefix) :])
        if reg is None:
            raise Problem("accountDoesNotExist", "no account has this URL; register with newAccount")
        if reg.status != "valid":
            raise Problem("unauthorized", "this account key was deactivated; register a new one")
        try:
            account = state.account(self.store, reg.account)
        except CerttuiError:
            raise Problem("unauthorized", "the account was removed by the operator") from None
        if account.status != "active":
            raise Problem("unauthorized", f"account {account.name} is disabled; ask the operator")
        return reg, account

    @staticmethod
    def _post_as_get(caller: Caller) -> None:
        if caller.verified.payload != b"":
            raise Problem("malformed", "this is a POST-as-GET: the payload must be empty")

    # -- directory and nonces --------------------------------------------------------------

    async def directory(self, request: web.Request) -> web.Response:
        base = self._base(request)
        return web.json_response(
            {
                "newNonce": f"{base}/new-nonce",
                "newAccount": f"{base}/new-account",
                "newOrder": f"{base}/new-order",
                "revokeCert": f"{base}/revoke-cert",
                "keyChange": f"{base}/key-change",
                "renewalInfo": f"{base}/renewal-info",
                "meta": {"externalAccountRequired": not self.settings.open_registration},
            },
            dumps=_dumps,
        )

    async def new_nonce(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if request.method == "HEAD" else 204)

    # -- accounts --------------------------------------------------------------------------

    def _account_json(self, request: web.Request, reg: state.Registration) -> dict[str, Any]:
        return {
            "status": reg.status,
            "contact": list(reg.contact),
            "orders": self._url(request, "acct", reg.id) + "/orders",
        }

    @staticmethod
    def _contact(payload: dict[str, Any]) -> tuple[str, ...]:
        contact = payload.get("contact", [])
        if not isinstance(contact, list) or not all(isinstance(c, str) for c in contact):
            raise Problem("malformed", "contact must be a list of mailto: URLs")
        for c in contact:
            if not c.startswith("mailto:") or len(c) > 254 or "," in c:
                raise Problem("invalidContact", f"contact {c[:80]!r} is not a single mailto: URL")
        return tuple(contact)

    async def new_account(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="jwk")
        payload = caller.verified.json()
        jwk = caller.verified.jwk
        assert jwk is not None
        thumb = jwsmod.thumbprint(jwk)
        existing = state.registration_by_thumbprint(self.store, thumb)
        if existing is not None:
            if existing.status != "valid":
                raise Problem("unauthorized", "this account key was deactivated; register a new one")
            request["who"] = existing.account
            return self._json(
                request, self._account_json(request, existing), 200, self._url(request, "acct", existing.id)
            )
        if payload.get("onlyReturnExisting") is True:
            raise Problem("accountDoesNotExist", "no account has this key")
        contact = self._contact(payload)
        eab = payload.get("externalAccountBinding")
        if self.settings.open_registration and eab is None:
            name = "open-" + thumb[:10]
            reg = state.add_registration(
                self.store, name, thumb, jwsmod.jwk_json(jwk), contact, open_account=(ANY,)
            )
        else:
            if eab is None:
                raise Problem(
                    "externalAccountRequired",
                    "this server registers invited accounts only: give the EAB key id and HMAC key "
                    "from `certtui acme account add`",
                )
            account = self._check_eab(request, eab, jwk)
            reg = state.add_registration(self.store, account.name, thumb, jwsmod.jwk_json(jwk), contact)
        request["who"] = reg.account
        return self._json(request, self._account_json(request, reg), 201, self._url(request, "acct", reg.id))

    def _check_eab(self, request: web.Request, eab: Any, jwk: jose.JWK) -> state.Account:
        what = "the external account binding"
        header = jwsmod.protected_header(eab, allowed=jwsmod.EAB_ALGORITHMS, what=what)
        if "nonce" in header:
            raise Problem("malformed", f"{what} must not carry a nonce (RFC 8555 section 7.3.4)")
        if header.get("url") != f"https://{request.host}{request.raw_path}":
            raise Problem("unauthorized", f"{what}'s url is not the newAccount URL")
        kid = header.get("kid")
        found = state.account_by_kid(self.store, kid) if isinstance(kid, str) else None
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

    def _caller_reg(self, caller: Caller) -> tuple[state.Registration, state.Account]:
        assert caller.registration is not None and caller.account is not None
        return caller.registration, caller.account

    async def account(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        reg, _ = self._caller_reg(caller)
        if reg.id != request.match_info["id"]:
            raise Problem("unauthorized", "the kid is not this account's URL")
        if caller.verified.payload:
            payload = caller.verified.json()
            if payload.get("status") == "deactivated":
                reg = state.update_registration(self.store, reg.id, status="deactivated")
            elif "status" in payload and payload["status"] != reg.status:
                raise Problem("malformed", "the only status a client may set is deactivated")
            if "contact" in payload:
                reg = state.update_registration(self.store, reg.id, contact=self._contact(payload))
        return self._json(request, self._account_json(request, reg), 200, self._url(request, "acct", reg.id))

    async def account_orders(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        reg, _ = self._caller_reg(caller)
        self._post_as_get(caller)
        if reg.id != request.match_info["id"]:
            raise Problem("unauthorized", "the kid is not this account's URL")
        urls = [self._url(request, "order", o.id) for o in state.orders_of(self.store, reg.id)]
        return self._json(request, {"orders": urls}, 200)

    async def key_change(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        reg, _ = self._caller_reg(caller)
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
        other = state.registration_by_thumbprint(self.store, thumb)
        if other is not None:
            raise Problem(
                "malformed",
                "the new key belongs to another account already",
                status=409,
                location=self._url(request, "acct", other.id),
            )
        reg = state.update_registration(self.store, reg.id, key=(thumb, jwsmod.jwk_json(new_key)))
        return self._json(request, self._account_json(request, reg), 200, self._url(request, "acct", reg.id))

    # -- orders ----------------------------------------------------------------------------

    def _order_json(self, request: web.Request, o: state.Order) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": o.status,
            "expires": o.expires,
            "identifiers": [{"type": t, "value": v} for t, v in o.identifiers],
            "authorizations": [
                self._url(request, "authz", a.id) for a in state.authorizations(self.store, o.id)
            ],
            "finalize": self._url(request, "order", o.id) + "/finalize",
        }
        if o.cert_id and o.status == "valid":
            out["certificate"] = self._url(request, "cert", o.cert_id)
        if o.error and o.status == "invalid":
            out["error"] = o.error
        if o.replaces:
            out["replaces"] = self._ari_id(o.replaces)
        return out

    def _ari_id(self, cert_id: str) -> str:
        from certtui.core import ari

        return ari.cert_id(self.store.certificate(cert_id))

    def _replaced(self, raw: object, account: state.Account) -> str | None:
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
        cert_id = state.cert_by_serial(self.store, serial)
        owner = state.order_of_certificate(self.store, cert_id) if cert_id else None
        if cert_id is None or owner is None or owner[1].account != account.name:
            raise Problem("malformed", "replaces names no certificate this account got from this server")
        if ari.cert_id(self.store.certificate(cert_id)).split(".")[0] != raw.split(".")[0]:
            raise Problem("malformed", "replaces: the authority key identifier is not its issuer's")
        rec = self.store.get(cert_id)
        if rec.renewed_by is not None:
            raise Problem(
                "alreadyReplaced",
                f"certificate {cert_id} was already replaced by {rec.renewed_by}",
                status=409,
            )
        return cert_id

    async def renewal_info(self, request: web.Request) -> web.Response:
        """RFC 9773 section 4: a plain GET, no JWS: the suggested window and Retry-After."""
        from certtui.core import ari
        from certtui.journeys import acme as journey

        raw = request.match_info["id"]
        try:
            _, serial = ari.parse_cert_id(raw)
        except ValueError as exc:
            raise Problem("malformed", str(exc)) from None
        cert_id = state.cert_by_serial(self.store, serial)
        if cert_id is None or ari.cert_id(self.store.certificate(cert_id)) != raw:
            raise Problem("malformed", "no certificate of this server has this ARI id", status=404)
        win = journey.ari_window(self.store, cert_id, self.ca.id)
        body: dict[str, Any] = {"suggestedWindow": {"start": iso(win.start), "end": iso(win.end)}}
        response = web.json_response(body, dumps=_dumps)
        response.headers["Retry-After"] = str(ari.RETRY_AFTER_S)
        return response

    async def new_order(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        reg, account = self._caller_reg(caller)
        payload = caller.verified.json()
        if "notBefore" in payload or "notAfter" in payload:
            raise Problem(
                "malformed",
                f"notBefore and notAfter are not supported; certificates last {self.settings.days} days",
            )
        self.orders.hit(f"account {account.name}", f"address {request.remote}")
        wanted = identifiers(payload.get("identifiers"))
        replaces = self._replaced(payload.get("replaces"), account)
        outside = [i.value for i in wanted if not allowed(i.type, i.value, account.patterns)]
        if outside:
            raise Problem(
                "rejectedIdentifier",
                f"account {account.name} may not order {', '.join(outside)[:300]}: its patterns are "
                f"{', '.join(account.patterns)}; ask the operator to widen them",
            )
        from certtui.journeys import acme as journey

        try:
            journey.preview(self.store, [i.value for i in wanted], self.ca.id, self.settings.days)
        except CerttuiError as exc:
            raise Problem("rejectedIdentifier", f"the CA will not sign this: {exc}") from None
        waiting = (
            state.new_names(self.store, [i.value for i in wanted]) if self.settings.approve_new_names else []
        )
        o = state.create_order(
            self.store,
            reg.id,
            [(i.type, i.value) for i in wanted],
            utcnow() + policy.ACME_ORDER_LIFETIME,
            challenge_types,
            replaces,
            waiting,
        )
        if waiting:
            self.log(f"order {o.id} of {account.name} waits for approval: {', '.join(waiting)[:300]}")
        return self._json(request, self._order_json(request, o), 201, self._url(request, "order", o.id))

    def _own_order(self, caller: Caller, order_id: str) -> state.Order:
        reg, _ = self._caller_reg(caller)
        o = state.order(self.store, order_id)
        if o is None or o.registration != reg.id:
            raise Problem("unauthorized", "no such order for this account", status=404)
        if o.status in ("pending", "ready") and o.expires < stamp():
            state.set_order(
                self.store, o.id, "invalid", error=error("malformed", "the order expired; place a new one")
            )
            o = state.order(self.store, o.id) or o
        return o

    async def order(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        self._post_as_get(caller)
        o = self._own_order(caller, request.match_info["id"])
        response = self._json(request, self._order_json(request, o), 200)
        if o.status == "processing":
            response.headers["Retry-After"] = str(policy.ACME_POLL_AFTER_S)
        return response

    async def finalize(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        _, account = self._caller_reg(caller)
        o = self._own_order(caller, request.match_info["id"])
        if o.status != "ready":
            raise Problem(
                "orderNotReady",
                f"the order is {o.status}; finalize once every authorization is valid (status ready)",
            )
        csr = self._csr(caller.verified.json(), o)
        reg, _ = self._caller_reg(caller)
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        account_key = jwsmod.raw_key(jwsmod.load_jwk(json.loads(reg.jwk)))
        if csr.public_key().public_bytes(*spki) == account_key.public_bytes(*spki):
            raise Problem(
                "badCSR", "the CSR's key is the account key; use a separate key for the certificate"
            )
        if not state.claim_for_finalize(self.store, o.id):
            raise Problem("orderNotReady", "the order is being finalized by another request")
        from certtui.journeys import acme as journey

        names = [v for _, v in o.identifiers]
        try:
            rec = journey.issue(
                self.store,
                names=names,
                issuer_id=self.ca.id,
                issuer_key=self.ca_key,
                days=self.settings.days,
                origin=journey.origin_of(account.name),
                csr=csr,
                detail=f"acme:{account.name} order {o.id}: {', '.join(names)}",
                inside_commit=lambda cert_id: state.order_issued(self.store, o.id, cert_id),
                now=self.settings.clock(),
            )
        except CerttuiError as exc:
            state.set_order(self.store, o.id, "ready")
            raise Problem("badCSR", f"the CSR cannot be signed: {exc}") from None
        except BaseException:
            state.set_order(self.store, o.id, "ready")
            raise
        self.log(f"issued {rec.id} to account {account.name}: {', '.join(names)}")
        done = state.order(self.store, o.id)
        assert done is not None
        return self._json(request, self._order_json(request, done), 200, self._url(request, "order", o.id))

    @staticmethod
    def _csr(payload: dict[str, Any], o: state.Order) -> x509.CertificateSigningRequest:
        der = jwsmod.b64decode(payload.get("csr"), "csr")
        try:
            csr = x509.load_der_x509_csr(der)
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = []
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

    # -- authorizations and challenges -----------------------------------------------------

    def _own_authz(self, caller: Caller, authz_id: str) -> state.Authorization:
        authz = state.authorization(self.store, authz_id)
        if authz is None:
            raise Problem("malformed", "no such authorization", status=404)
        self._own_order(caller, authz.order_id)
        return authz

    def _chall_json(self, request: web.Request, c: state.Challenge) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": c.type,
            "url": self._url(request, "chall", c.id),
            "token": c.token,
            "status": c.status,
        }
        if c.validated:
            out["validated"] = c.validated
        if c.error:
            out["error"] = c.error
        return out

    async def authz(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        authz = self._own_authz(caller, request.match_info["id"])
        if caller.verified.payload:
            if caller.verified.json().get("status") != "deactivated":
                raise Problem("malformed", "an authorization can only be deactivated")
            state.deactivate_authorization(self.store, authz.id)
            authz = state.authorization(self.store, authz.id) or authz
        body: dict[str, Any] = {
            # RFC 8555 section 7.1.4: a wildcard's authorization names the zone, flagged wildcard.
            "identifier": {"type": authz.type, "value": authz.value.removeprefix("*.")},
            "status": authz.status,
            "expires": authz.expires,
            "challenges": [self._chall_json(request, c) for c in state.challenges(self.store, authz.id)],
        }
        if authz.value.startswith("*."):
            body["wildcard"] = True
        held = authz.status == "pending" and self._held(authz.id)
        if held:
            # Not an RFC 8555 field: clients ignore it, a person reading the JSON sees why.
            body["detail"] = state.WAITING
        response = self._json(request, body, 200)
        if held:
            response.headers["Retry-After"] = str(APPROVAL_RETRY_AFTER_S)
        return response

    async def challenge(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        _reg, account = self._caller_reg(caller)
        chall = state.challenge(self.store, request.match_info["id"])
        if chall is None:
            raise Problem("malformed", "no such challenge", status=404)
        authz = self._own_authz(caller, chall.authz_id)
        if caller.verified.payload:
            caller.verified.json()
            if chall.status == "pending" and authz.status == "pending":
                self.failures.check(f"account {account.name}", f"address {request.remote}")
                if state.start_challenge(self.store, chall.id) and not self._held(authz.id):
                    self._spawn(chall, f"{request.remote}|{account.name}")
                chall = state.challenge(self.store, chall.id) or chall
        response = self._json(request, self._chall_json(request, chall), 200)
        response.headers.add("Link", f'<{self._url(request, "authz", authz.id)}>;rel="up"')
        if chall.status == "processing":
            response.headers["Retry-After"] = str(policy.ACME_POLL_AFTER_S)
        return response

    def _spawn(self, chall: state.Challenge, who: str) -> None:
        self._keep(asyncio.get_running_loop().create_task(self._validate(chall, who)))

    async def _validate(self, chall: state.Challenge, who: str) -> None:
        authz = state.authorization(self.store, chall.authz_id)
        o = state.order(self.store, authz.order_id) if authz else None
        reg = state.registration(self.store, o.registration) if o else None
        if authz is None or reg is None:
            return
        try:
            await validation.validate(
                chall.type,
                authz.type,
                authz.value,
                chall.token,
                reg.thumbprint,
                self.settings.validation,
                self.session,
            )
        except Problem as exc:
            state.finish_challenge(
                self.store,
                chall,
                error(exc.typ, exc.detail),
                f"{chall.type} {authz.value} for {reg.account}: failed, {exc.detail}",
            )
            address, _, name = who.partition("|")
            self.failures.record(f"account {reg.account}", *([f"address {address}"] if name else []))
            self.log(f"validation failed: {chall.type} {authz.value} ({reg.account}): {exc.detail}")
            return
        state.finish_challenge(
            self.store, chall, None, f"{chall.type} {authz.value} for {reg.account}: valid"
        )
        self.log(f"validated {chall.type} {authz.value} for account {reg.account}")

    # -- certificates ----------------------------------------------------------------------

    async def certificate(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="kid")
        _, account = self._caller_reg(caller)
        self._post_as_get(caller)
        cert_id = request.match_info["id"]
        owner = state.order_of_certificate(self.store, cert_id)
        if owner is None or owner[1].account != account.name:
            raise Problem("unauthorized", "no such certificate for this account", status=404)
        pem = self.store.certificate(cert_id).public_bytes(serialization.Encoding.PEM)
        return web.Response(
            body=pem + self._chain_of(cert_id), content_type="application/pem-certificate-chain"
        )

    def _chain_of(self, cert_id: str) -> bytes:
        rec = self.store.get(cert_id)
        if rec.issuer_id == self.ca.id:
            return self.chain_pem
        chain = self.store.chain(cert_id)
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain if c.issuer != c.subject)

    async def revoke_cert(self, request: web.Request) -> web.Response:
        caller = await self._verify(request, key="any")
        payload = caller.verified.json()
        der = jwsmod.b64decode(payload.get("certificate"), "certificate")
        reason_code = payload.get("reason", 0)
        if reason_code not in REVOCATION_REASONS or isinstance(reason_code, bool):
            raise Problem(
                "badRevocationReason",
                f"reason {str(reason_code)[:10]} is not accepted; use one of {sorted(REVOCATION_REASONS)}",
            )
        import hashlib

        cert_id = self.store.find_sha256(hashlib.sha256(der).hexdigest())
        if cert_id is None:
            raise Problem("malformed", "this certificate was not issued by this server", status=404)
        rec = self.store.get(cert_id)
        if caller.verified.jwk is not None:
            cert = x509.load_der_x509_certificate(der)
            spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            if cert.public_key().public_bytes(*spki) != jwsmod.raw_key(caller.verified.jwk).public_bytes(
                *spki
            ):
                raise Problem("unauthorized", "the jwk is not this certificate's key")
            request["who"] = "certificate key"
        else:
            _, account = self._caller_reg(caller)
            owner = state.order_of_certificate(self.store, cert_id)
            if owner is None or owner[1].account != account.name:
                raise Problem("unauthorized", "this account did not order this certificate")
        if rec.revoked_at:
            raise Problem("alreadyRevoked", f"the certificate was revoked on {rec.revoked_at}")
        from certtui.journeys import acme as journey

        done = journey.revoke(self.store, cert_id, REVOCATION_REASONS[reason_code])
        self.log(f"revoked {done.id} ({done.revocation_reason}) for {request['who']}")
        return web.Response(status=200)

    # -- responses -------------------------------------------------------------------------

    def _json(
        self, request: web.Request, body: dict[str, Any], status: int, location: str | None = None
    ) -> web.Response:
        response = web.json_response(body, status=status, dumps=_dumps)
        if location:
            response.headers["Location"] = location
        return response


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def stamp() -> str:
    return iso(utcnow())
