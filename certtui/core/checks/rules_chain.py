"""The intermediate and chain rules: every CA on the way up may sign, and the path ends at a trusted root."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from cryptography import x509
from cryptography.x509 import verification as xv

from certtui.core.checks.facts import (
    Context,
    Rule,
    hash_verdict,
    issued_by,
    key_strength,
    label,
    self_signed,
    store_record,
)
from certtui.core.checks.findings import Finding, Severity, finding
from certtui.core.details import colon_hex
from certtui.core.extensions import extension


def _int_ca_bc(c: Context) -> Finding | None:
    if not c.intermediates:
        return None
    bad = []
    for ca in c.intermediates:
        bc = extension(ca, x509.BasicConstraints)
        ku = extension(ca, x509.KeyUsage)
        if bc is None or not bc.ca:
            bad.append(f"{label(ca)}: no basicConstraints CA:TRUE")
        elif ku is not None and not ku.key_cert_sign:
            bad.append(f"{label(ca)}: keyUsage lacks keyCertSign")
    if bad:
        return finding(
            "int.ca-bc",
            Severity.FAIL,
            "; ".join(bad),
            "only a CA may sign: issue intermediates with `certtui issue --intermediate`, "
            "and serve only real intermediates after the leaf",
        )
    return finding(
        "int.ca-bc",
        Severity.PASS,
        "; ".join(f"{label(ca)}: CA:TRUE, may sign certificates" for ca in c.intermediates),
    )


def _int_key_strength(c: Context) -> Finding | None:
    if not c.intermediates:
        return None
    return key_strength(
        "int.key-strength",
        c.intermediates,
        named=True,
        fix="replace the intermediate with one on RSA 2048+ or EC P-256/P-384 "
        "(`certtui issue --intermediate --key ec256`)",
    )


def _int_sig_hash(c: Context) -> Finding | None:
    return int_sig_hash_of(c.intermediates)


def int_sig_hash_of(intermediates: Sequence[x509.Certificate]) -> Finding | None:
    if not intermediates:
        return None
    verdicts = [(ca, *hash_verdict(ca)) for ca in intermediates]
    detail = "; ".join(f"{label(ca)}: {text}" for ca, _, text in verdicts)
    if all(ok for _, ok, _ in verdicts):
        return finding("int.sig-hash", Severity.PASS, detail)
    return finding(
        "int.sig-hash",
        Severity.FAIL,
        detail + "; iOS rejects SHA-1 and MD5 for TLS",
        "have the root sign a new intermediate with SHA-256 (`certtui issue --intermediate`)",
    )


def _chain_complete(c: Context) -> Finding:
    given = [c.cert, *c.chain]
    for child, parent in pairwise(given):
        if not issued_by(child, parent):
            return finding(
                "chain.complete",
                Severity.FAIL,
                f"{label(child)} is not issued by {label(parent)}, the next certificate given",
                "put the chain in order: the leaf first, then each issuer "
                "(`certtui export ID --format fullchain` writes it so)",
            )
    last = given[-1]
    if self_signed(last):
        return finding(
            "chain.complete", Severity.PASS, f"{len(given)} certificate(s), ending at the root {label(last)}"
        )
    if c.anchor is not None:
        return finding(
            "chain.complete",
            Severity.PASS,
            f"{len(given)} certificate(s); {label(last)} is issued by the trusted root {label(c.anchor)}",
        )
    return finding(
        "chain.complete",
        Severity.FAIL,
        f"ends at {label(last)}, whose issuer {last.issuer.rfc4514_string() or '(empty)'} "
        "was not sent and is not a trusted root: iOS reports a missing intermediate",
        "serve the leaf with its intermediates (`certtui export ID --format fullchain`); for "
        "a file, append the intermediate(s), or pass the root with --root",
    )


def _chain_aki_link(c: Context) -> Finding:
    links = 0
    for child, parent in pairwise(c.path):
        aki = extension(child, x509.AuthorityKeyIdentifier)
        ski = extension(parent, x509.SubjectKeyIdentifier)
        if aki is None or aki.key_identifier is None or ski is None:
            continue
        links += 1
        if aki.key_identifier != ski.digest:
            return finding(
                "chain.aki-link",
                Severity.FAIL,
                f"{label(child)}'s AKI {colon_hex(aki.key_identifier)} differs from "
                f"{label(parent)}'s SKI {colon_hex(ski.digest)}",
                "issue the certificate again from its real issuer (`certtui renew ID`)",
            )
    if not links:
        return finding("chain.aki-link", Severity.PASS, "no AKI/SKI pair to compare")
    return finding("chain.aki-link", Severity.PASS, f"AKI matches the issuer's SKI on {links} link(s)")


def _chain_trusted(c: Context) -> Finding:
    fix = "give the root your phone trusts with --root FILE, or issue the certificate from this store"
    if not c.roots:
        return finding(
            "chain.trusted", Severity.FAIL, "no trusted root to judge against: no store and no --root", fix
        )
    try:
        verifier = (
            xv.PolicyBuilder()
            .store(xv.Store(c.roots))
            .time(c.now)
            .extension_policies(
                ca_policy=xv.ExtensionPolicy.permit_all().require_present(
                    x509.BasicConstraints, xv.Criticality.AGNOSTIC, None
                ),
                ee_policy=xv.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        verified = verifier.verify(c.cert, c.chain)
    except (xv.VerificationError, ValueError, TypeError) as exc:
        anchors = ", ".join(label(r) for r in c.roots)
        return finding(
            "chain.trusted",
            Severity.FAIL,
            f"no valid path to a trusted root ({anchors}) through the certificates given: {exc}",
            fix,
        )
    return finding(
        "chain.trusted",
        Severity.PASS,
        f"verifies up to {label(verified.chain[-1])} ({len(verified.chain)} certificate(s))",
    )


def _chain_revoked(c: Context) -> Finding | None:
    if c.store is None:
        return None
    records = [(cert, store_record(c.store, cert)) for cert in c.path]
    known = [(cert, rec) for cert, rec in records if rec is not None]
    if not known:
        return None
    revoked = [
        f"{label(cert)} was revoked on {rec.revoked_at} ({rec.revocation_reason or 'unspecified'})"
        for cert, rec in known
        if rec.revoked_at
    ]
    if revoked:
        return finding(
            "chain.revoked",
            Severity.FAIL,
            "; ".join(revoked),
            "issue a new certificate (`certtui issue NAME...`) and install it on the server",
        )
    return finding(
        "chain.revoked",
        Severity.PASS,
        f"none of the {len(known)} certificate(s) this store knows on the chain is revoked",
    )


CHAIN_RULES: tuple[Rule, ...] = (
    _int_ca_bc,
    _int_key_strength,
    _int_sig_hash,
    _chain_complete,
    _chain_aki_link,
    _chain_trusted,
    _chain_revoked,
)
READS_EXTENSIONS: frozenset[Rule] = frozenset({_chain_aki_link})
"""The rules here that read the certificate's parsed extensions (skipped when they do not parse)."""
