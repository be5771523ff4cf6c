"""`check`: which rules apply to a certificate, run in their order, into findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from certtui.core.checks import rules_cert, rules_chain, rules_leaf, rules_root, rules_store
from certtui.core.checks.facts import Context, Rule, classify, store_roots
from certtui.core.checks.findings import Finding
from certtui.core.models import Kind
from certtui.core.store import Store
from certtui.core.timefmt import utcnow

# Rules that read the certificate's parsed extensions; skipped when cert.ext-wellformed fails.
_NEEDS_EXTENSIONS: frozenset[Rule] = (
    rules_root.READS_EXTENSIONS
    | rules_leaf.READS_EXTENSIONS
    | rules_cert.READS_EXTENSIONS
    | rules_chain.READS_EXTENSIONS
)
_EVERY_CERT_RULES: tuple[Rule, ...] = rules_cert.CERT_RULES + rules_store.STORE_RULES


def _rules_for(c: Context) -> list[Rule]:
    # Any self-signed certificate is held to the root rules: a phone can only trust it as a root.
    as_root = c.kind is Kind.ROOT or c.is_self_signed
    rules = list(rules_root.ROOT_RULES if as_root else rules_root.DESCENDANT_RULES)
    if c.kind is not Kind.ROOT:
        rules += rules_chain.CHAIN_RULES
    if c.kind in (Kind.SERVER, Kind.CLIENT):
        rules += rules_leaf.LEAF_RULES
    rules += {Kind.SERVER: rules_leaf.SERVER_RULES, Kind.CLIENT: rules_leaf.CLIENT_RULES}.get(c.kind, ())
    return rules + list(_EVERY_CERT_RULES)


def check(
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    *,
    host: str | None = None,
    store: Store | None = None,
    roots: Sequence[x509.Certificate] = (),
    now: datetime | None = None,
    kind: Kind | None = None,
    served: bool = False,
    tls_version: str | None = None,
) -> list[Finding]:
    """Every applicable rule's finding for `cert` and the chain that came with it (leaf first).

    Trust is judged against the store's roots plus `roots`. `kind` overrides `classify`.
    `served` says the chain came from a live server (`tls_version` is what it negotiated).
    """
    trusted = list(roots) + (store_roots(store) if store is not None else [])
    ctx = Context(
        cert=cert,
        chain=list(chain),
        kind=kind or classify(cert, store=store, host_given=bool(host) or served),
        now=now or utcnow(),
        host=host,
        store=store,
        roots=trusted,
        served=served,
        tls_version=tls_version,
    )
    findings = []
    for rule in _rules_for(ctx):
        if ctx.ext_error and rule in _NEEDS_EXTENSIONS:
            continue
        finding = rule(ctx)
        if finding is not None:
            findings.append(finding)
    return findings
