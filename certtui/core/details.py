"""A certificate's details as labelled lines, for `certtui show` and the inspect screen."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certtui.core import keys as keymod
from certtui.core.timefmt import iso


def colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def pem_text(der: bytes) -> str:
    """A certificate's DER as PEM text."""
    cert = x509.load_der_x509_certificate(der)
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _general_name(name: x509.GeneralName) -> str:
    label = {
        x509.DNSName: "DNS",
        x509.IPAddress: "IP",
        x509.RFC822Name: "email",
        x509.UniformResourceIdentifier: "URI",
        x509.DirectoryName: "dirName",
    }.get(type(name), type(name).__name__)
    value = name.value
    if isinstance(name, x509.DirectoryName):
        value = name.value.rfc4514_string()
    return f"{label}:{value}"


def _flags(obj: object, names: list[str]) -> str:
    out = []
    for n in names:
        try:
            if getattr(obj, n):
                out.append(n)
        except ValueError:  # encipher_only without key_agreement
            pass
    return ", ".join(out)


def describe_extension(ext: x509.Extension[x509.ExtensionType]) -> str:
    v = ext.value
    if isinstance(v, x509.BasicConstraints):
        text = f"CA:{'TRUE' if v.ca else 'FALSE'}"
        return text + (f", pathlen:{v.path_length}" if v.path_length is not None else "")
    if isinstance(v, x509.KeyUsage):
        return _flags(
            v,
            [
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ],
        )
    if isinstance(v, x509.ExtendedKeyUsage):
        return ", ".join(getattr(o, "_name", o.dotted_string) for o in v)
    if isinstance(v, x509.SubjectAlternativeName):
        return ", ".join(_general_name(n) for n in v)
    if isinstance(v, x509.SubjectKeyIdentifier):
        return colon_hex(v.digest)
    if isinstance(v, x509.AuthorityKeyIdentifier):
        return colon_hex(v.key_identifier) if v.key_identifier else "(no key id)"
    if isinstance(v, x509.NameConstraints):
        parts = []
        if v.permitted_subtrees:
            parts.append("permit " + ", ".join(_general_name(n) for n in v.permitted_subtrees))
        if v.excluded_subtrees:
            parts.append("exclude " + ", ".join(_general_name(n) for n in v.excluded_subtrees))
        return "; ".join(parts)
    if isinstance(v, x509.CRLDistributionPoints):
        return ", ".join(_general_name(n) for p in v for n in (p.full_name or []))
    return type(v).__name__


def fields(cert: x509.Certificate) -> list[tuple[str, str]]:
    """Subject, issuer, serial, validity, key, signature and fingerprints."""
    der = cert.public_bytes(serialization.Encoding.DER)
    sig = cert.signature_hash_algorithm
    return [
        ("Subject", cert.subject.rfc4514_string() or "(empty)"),
        ("Issuer", cert.issuer.rfc4514_string() or "(empty)"),
        ("Serial", format(cert.serial_number, "x")),
        ("Not before", iso(cert.not_valid_before_utc)),
        ("Not after", iso(cert.not_valid_after_utc)),
        ("Key", keymod.describe(cert.public_key())),
        ("Signature", f"{cert.signature_algorithm_oid._name}" + (f" ({sig.name})" if sig else "")),
        ("SHA-256", colon_hex(hashlib.sha256(der).digest())),
        ("SHA-1", colon_hex(hashlib.sha1(der).digest())),
    ]


def extensions(cert: x509.Certificate) -> list[tuple[str, str]]:
    """Every extension as (name, with ' (critical)' when it is, value); one row if unparseable."""
    try:
        exts = list(cert.extensions)
    except (ValueError, x509.DuplicateExtension) as exc:
        return [("Extensions", f"cannot be parsed: {exc}")]
    rows = []
    for ext in exts:
        name = getattr(ext.oid, "_name", ext.oid.dotted_string)
        flag = " (critical)" if ext.critical else ""
        rows.append((f"{name}{flag}", describe_extension(ext)))
    return rows


def details(cert: x509.Certificate) -> list[tuple[str, str]]:
    """Fields, then every extension: what `certtui show` prints."""
    return fields(cert) + extensions(cert)
