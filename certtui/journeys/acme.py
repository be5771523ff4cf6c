"""The ACME journeys: issuing for an order or for the server itself, accounts, and revocation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from certtui.core import acme_state, ari, issuance, policy
from certtui.core import keys as keymod
from certtui.core.csr import plan_csr
from certtui.core.models import CertRecord, IssueRequest, KeySpec, Kind
from certtui.core.store import Store
from certtui.core.timefmt import parse, utcnow
from certtui.errors import CerttuiError, PolicyError
from certtui.journeys.issue import guardrail
from certtui.journeys.renew_due import renew_at

# The origin of the server's own HTTPS certificate in the store.
SERVER_ORIGIN = "acme-server"


def origin_of(account: str) -> str:
    return f"acme:{account}"


def issue(
    store: Store,
    *,
    names: Sequence[str],
    issuer_id: str,
    issuer_key: keymod.PrivateKey,
    days: int,
    origin: str,
    csr: x509.CertificateSigningRequest | None = None,
    key_spec: KeySpec = KeySpec.EC256,
    detail: str = "",
    inside_commit: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> CertRecord:
    """plan -> sign -> guardrail -> commit, the path `certtui issue` and `certtui sign` take.

    With `csr` the certificate certifies the CSR's key (which stays with the client; the CSR's
    other extensions are ignored, as `sign` does); without, a new key of `key_spec` is made and
    stored sealed. `inside_commit(cert_id)` runs inside the transaction that stores the
    certificate, so an order and its certificate change together or not at all.
    """
    now = now or utcnow()
    if csr is not None:
        plan = plan_csr(store, csr, kind=Kind.SERVER, days=days, issuer=issuer_id)
        public_key: object = csr.public_key()
        key = None
    else:
        plan = issuance.plan(
            store,
            IssueRequest(names=tuple(names), kind=Kind.SERVER, days=days, key=key_spec, issuer=issuer_id),
        )
        key = keymod.generate(key_spec)
        public_key = key.public_key()
    cert = issuance.build_certificate(
        plan,
        public_key,
        store.certificate(plan.issuer_id),
        issuer_key,
        issuance.fresh_serial(store),
        now,
        store.meta("crl_url"),
    )
    guardrail(store, [plan], force=False, now=now, signed=[cert])
    with store.write():
        cert_id = store.add_certificate(
            cert,
            kind=plan.kind,
            names=plan.names.values(),
            issuer_id=plan.issuer_id,
            key=key,
            action="issue",
            detail=detail or f"{origin}: {', '.join(plan.names.values())}",
            origin=origin,
        )
        if inside_commit is not None:
            inside_commit(cert_id)
    return store.get(cert_id)


def preview(store: Store, names: Sequence[str], issuer_id: str, days: int) -> None:
    """Raise PolicyError if a certificate for these names could not be issued (constraints, the
    iOS rules), judged on a preview before any validation happens."""
    plan = issuance.plan(
        store, IssueRequest(names=tuple(names), kind=Kind.SERVER, days=days, issuer=issuer_id)
    )
    guardrail(store, [plan], force=False)


# -- the signing CA --------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningCa:
    record: CertRecord
    root_only: bool


def signing_ca(store: Store, ref: str | None) -> SigningCa:
    """The CA that signs ACME certificates: `--ca`, else the store's issuing CA."""
    ca_id = store.resolve(ref).id if ref else store.default_issuer_id()
    if ca_id is None:
        raise CerttuiError("the store has no root yet; create one with `certtui init --name NAME`")
    rec = store.get(ca_id)
    if not rec.kind.is_ca or not rec.has_key:
        raise PolicyError(f"{rec.id} is not a CA whose key is in this store; give --ca an issuing CA")
    if rec.status.value in ("revoked", "expired"):
        raise PolicyError(f"CA {rec.id} is {rec.status.value}; give --ca a valid CA")
    return SigningCa(rec, rec.kind is Kind.ROOT)


# -- the server's own certificate ------------------------------------------------------------


def _fresh_enough(rec: CertRecord, now: datetime) -> bool:
    # Renewed on the schedule `renew --due` keeps (policy.RENEW_AT_FRACTION), as ACME clients do.
    return now < renew_at(rec)


def server_certificate(
    store: Store,
    hostnames: Sequence[str],
    ca: CertRecord,
    ca_key: keymod.PrivateKey,
    *,
    now: datetime | None = None,
) -> tuple[CertRecord, bool]:
    """The server's HTTPS certificate for `hostnames` from `ca`: the stored one while more
    than a third of its life is left, else a new one (True when it was issued now)."""
    now = now or utcnow()
    from certtui.core.names import parse_names

    wanted = set(parse_names(hostnames).values())
    for rec in reversed(store.records(now=now)):
        if (
            rec.origin == SERVER_ORIGIN
            and rec.issuer_id == ca.id
            and rec.revoked_at is None
            and set(rec.names) == wanted
            and rec.has_key
            and _fresh_enough(rec, now)
        ):
            return rec, False
    rec = issue(
        store,
        names=hostnames,
        issuer_id=ca.id,
        issuer_key=ca_key,
        days=policy.ACME_DAYS,
        origin=SERVER_ORIGIN,
        detail=f"certtui acme's own certificate: {', '.join(hostnames)}",
        now=now,
    )
    return rec, True


def renew_due(rec: CertRecord, now: datetime | None = None) -> bool:
    return not _fresh_enough(rec, now or utcnow())


def next_check(rec: CertRecord, now: datetime | None = None) -> timedelta:
    """How long until the server's certificate should be looked at again (at most a day)."""
    now = now or utcnow()
    due = renew_at(rec)
    return max(timedelta(seconds=60), min(due - now, timedelta(days=1)))


# -- accounts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    """What `account add` shows once: the EAB key id and MAC key (base64url)."""

    account: acme_state.Account
    hmac_b64: str


def add_account(store: Store, name: str, patterns: Sequence[str]) -> NewAccount:
    from certtui.acme.policy import check_pattern

    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise CerttuiError(
            f"account name {name[:64]!r} is not usable; use up to 64 letters, digits, '-', '_' or '.'"
        )
    if not patterns:
        raise CerttuiError("give the names this account may order with --allow (e.g. --allow '*.home.arpa')")
    checked = tuple(dict.fromkeys(check_pattern(p) for p in patterns))
    account, hmac = acme_state.add_account(store, name, checked, invited=True)
    import base64

    return NewAccount(account, base64.urlsafe_b64encode(hmac).rstrip(b"=").decode())


def accounts(store: Store) -> list[acme_state.Account]:
    return acme_state.accounts(store)


def disable_account(store: Store, name: str) -> acme_state.Account:
    """Refuse the account's requests from the next one on; its certificates stay valid."""
    return acme_state.set_account_status(store, name, "disabled")


def remove_account(store: Store, name: str) -> None:
    """Delete the account, its client keys and orders; its certificates stay in the store."""
    acme_state.remove_account(store, name)


def revoke(store: Store, cert_id: str, reason: str) -> CertRecord:
    """Revoke and re-sign the issuer's CRL, as `certtui revoke` does."""
    from certtui.core import revocation

    return revocation.revoke(store, cert_id, reason).record


# -- renewal information (RFC 9773) ----------------------------------------------------------


def ari_window(store: Store, cert_id: str, signing_ca_id: str | None = None) -> ari.Window:
    """The renewal window ARI suggests for a certificate: the default one, or an earlier one if
    it or a CA above it was marked (`renew-early`), or its CA is no longer the signing CA."""
    rec = store.get(cert_id)
    marks = acme_state.renew_early_marks(store)
    early: datetime | None = None
    why = ""
    current: str | None = rec.id
    seen: set[str] = set()
    while current and current not in seen:
        seen.add(current)
        if current in marks:
            early, why = (
                parse(marks[current]),
                ("marked for early renewal" if current == rec.id else f"its CA {current} is being replaced"),
            )
            break
        current = store.get(current).issuer_id
    if early is None and signing_ca_id and rec.issuer_id and rec.issuer_id != signing_ca_id:
        ca = store.get(signing_ca_id)
        early, why = parse(ca.not_before), f"its CA {rec.issuer_id} is replaced by {signing_ca_id}"
    if early is None and rec.issuer_id and store.get(rec.issuer_id).revoked_at:
        early, why = parse(store.get(rec.issuer_id).revoked_at or ""), f"its CA {rec.issuer_id} was revoked"
    return ari.window(parse(rec.not_before), parse(rec.not_after), early, why)


def renew_early(store: Store, ref: str | None, *, every: bool) -> list[str]:
    """Mark one certificate (or a CA, for a rollover: everything it signed) or every ACME
    certificate for early renewal; the ids marked."""
    if every == (ref is not None):
        raise CerttuiError("give a certificate id or --all, not both and not neither")
    if every:
        ids = []
        for cert_id in acme_state.acme_certificates(store):
            rec = store.get(cert_id)
            if rec.revoked_at is None and rec.renewed_by is None:
                ids.append(cert_id)
        if not ids:
            raise CerttuiError("no certificate issued over ACME is in use; nothing to mark")
    else:
        assert ref is not None
        ids = [store.resolve(ref).id]
    acme_state.mark_renew_early(store, ids)
    return ids


# -- the approval queue ----------------------------------------------------------------------

# A refusal's reason reaches the client in the order's error: one short line.
MAX_REASON = 300


def waiting(store: Store) -> list[acme_state.Approval]:
    """Orders waiting for the operator (`--approve new-names`), oldest first."""
    return acme_state.approvals(store)


def decide(store: Store, ref: str, *, approve: bool, reason: str) -> acme_state.Approval:
    """Approve or refuse a waiting order (its id or a unique prefix); the server applies it."""
    from certtui.core.printable import printable

    reason = " ".join(printable(reason).split())
    if len(reason) > MAX_REASON:
        raise CerttuiError(f"the reason is {len(reason)} characters; keep it under {MAX_REASON}")
    found = acme_state.find_waiting(store, ref)
    return acme_state.decide(store, found.order_id, approve, reason)


# -- what the TUI's ACME screen shows --------------------------------------------------------

# The live orders shown: the newest few hundred (a home lab places a few a day).
SHOWN_ORDERS = 300


@dataclass(frozen=True)
class OrderRow:
    id: str
    account: str
    names: tuple[str, ...]
    status: str
    """pending, waiting (for approval), ready, processing, valid, invalid."""
    reason: str
    """Why it failed, or why it waits, in words; empty otherwise."""
    cert_id: str | None
    replaces: str | None
    created_at: str


@dataclass(frozen=True)
class AccountRow:
    account: acme_state.Account
    orders: int
    certificates: tuple[str, ...]


@dataclass(frozen=True)
class Overview:
    accounts: list[AccountRow]
    orders: list[OrderRow]

    @property
    def waiting(self) -> list[OrderRow]:
        return [o for o in self.orders if o.status == "waiting"]


def _reason(o: acme_state.Order, waiting: bool) -> str:
    if waiting:
        return acme_state.WAITING
    if o.status == "invalid" and o.error:
        detail = str(o.error.get("detail", ""))
        typ = str(o.error.get("type", "")).rsplit(":", 1)[-1]
        return f"{typ}: {detail}" if detail else typ
    if o.status == "pending":
        return "waiting for the client to answer a challenge"
    return ""


def overview(store: Store) -> Overview:
    """Accounts with their order and certificate counts, and the newest orders, from the store
    (the server is another process: this reads only what it wrote)."""
    waiting = {a.order_id for a in acme_state.approvals(store)}
    rows = store.acme.newest_orders(SHOWN_ORDERS)
    orders: list[OrderRow] = []
    for order_id, account_name in rows:
        o = acme_state.order(store, order_id)
        if o is None:
            continue
        held = o.id in waiting
        orders.append(
            OrderRow(
                o.id,
                account_name,
                tuple(v for _, v in o.identifiers),
                "waiting" if held else o.status,
                _reason(o, held),
                o.cert_id,
                o.replaces,
                o.created_at,
            )
        )
    counts = store.acme.order_counts()
    certs = store.acme.certificates_by_account()
    accounts = [
        AccountRow(a, int(counts.get(a.name, 0)), tuple(certs.get(a.name, ())))
        for a in acme_state.accounts(store)
    ]
    return Overview(accounts, orders)
