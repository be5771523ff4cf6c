"""Certificates, keys, chains, PKCS#12, PKCS#7, profiles and CRLs as bytes, and the atomic writer."""

from __future__ import annotations

import hashlib
import os
import plistlib
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from certtui.core import keys as keymod
from certtui.core.models import CertRecord, Kind
from certtui.core.revocation import crl_blocker, latest_crl
from certtui.core.store import Store
from certtui.errors import CerttuiError, PolicyError

# Anything holding a private key is readable by its owner only; everything else is public
# and world-readable, so a web server's user can read it. Both set explicitly, whatever the umask.
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
# PBKDF2 rounds for the modern PKCS#12: 50 times OpenSSL's 2,048, while the key bag, the
# certificate bag and the MAC together stay under the 600,000 total .NET's loader accepts.
P12_KDF_ROUNDS = 100_000
# 2,048 rounds for the legacy PKCS#12: what `openssl pkcs12 -export -legacy` writes, the files
# iPhones and macOS were reported to import (rules `client.p12-compat`).
P12_LEGACY_KDF_ROUNDS = 2048
# The namespace of the profile UUIDs: uuid5 over the certificate's SHA-256 under it gives the
# same UUIDs on every export, so installing again replaces the profile instead of adding one.
PROFILE_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "certtui.invalid")
PROFILE_ID_PREFIX = "certtui"


class Format(StrEnum):
    """The export formats; the value is what `--format` takes."""

    PEM = "pem"
    DER = "der"
    KEY = "key"
    FULLCHAIN = "fullchain"
    P12 = "p12"
    P12_LEGACY = "p12-legacy"
    P7B = "p7b"
    MOBILECONFIG = "mobileconfig"
    CRL = "crl"


# mkcert-style file name endings: NAME.pem, NAME-key.pem, NAME-fullchain.pem...
SUFFIXES: dict[Format, str] = {
    Format.PEM: ".pem",
    Format.DER: ".der",
    Format.KEY: "-key.pem",
    Format.FULLCHAIN: "-fullchain.pem",
    Format.P12: ".p12",
    Format.P12_LEGACY: "-legacy.p12",
    Format.P7B: ".p7b",
    Format.MOBILECONFIG: ".mobileconfig",
    Format.CRL: ".crl",
}
WITH_ROOT_FORMATS = (Format.FULLCHAIN, Format.P12, Format.P12_LEGACY, Format.P7B)
_PEM = serialization.Encoding.PEM
_DER = serialization.Encoding.DER
_UNSAFE = re.compile(r"[^\w.@+=-]")


# -- the bytes --------------------------------------------------------------------------


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(_PEM)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(_DER)


def _secret(password: str | None, what: str) -> bytes:
    if not password:
        raise PolicyError(f"{what} needs a non-empty password; give one at the prompt or in --password-file")
    return password.encode("utf-8")


def key_pem(key: keymod.PrivateKey, password: str | None, *, unencrypted: bool = False) -> bytes:
    """Encrypted PKCS#8 PEM (BestAvailableEncryption); in the clear only if `unencrypted`."""
    if unencrypted:
        algorithm: serialization.KeySerializationEncryption = serialization.NoEncryption()
    else:
        algorithm = serialization.BestAvailableEncryption(
            _secret(password, "an encrypted key (or --unencrypted-key)")
        )
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, algorithm)


def fullchain_pem(
    leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], root: x509.Certificate | None = None
) -> bytes:
    """The leaf, then its intermediates nearest first, then the root if given."""
    certs = [leaf, *intermediates] + ([root] if root is not None else [])
    return b"".join(cert_pem(c) for c in certs)


def pkcs12_bytes(
    key: keymod.PrivateKey,
    cert: x509.Certificate,
    cas: Sequence[x509.Certificate],
    password: str | None,
    name: str,
    *,
    legacy: bool = False,
) -> bytes:
    """PKCS#12: PBES2/PBKDF2/AES-256-CBC with a SHA-256 MAC, or PBE-SHA1-3DES with a SHA-1 MAC."""
    builder = serialization.PrivateFormat.PKCS12.encryption_builder()
    if legacy:
        builder = (
            builder.kdf_rounds(P12_LEGACY_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
        )
    else:
        builder = (
            builder.kdf_rounds(P12_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
        )
    algorithm = builder.build(_secret(password, "a PKCS#12 file"))
    return pkcs12.serialize_key_and_certificates(name.encode("utf-8"), key, cert, list(cas), algorithm)


def p7b_bytes(certs: Sequence[x509.Certificate]) -> bytes:
    """A degenerate PKCS#7 SignedData holding the certificates, in DER."""
    return pkcs7.serialize_certificates(list(certs), _DER)


def _profile_ids(cert: x509.Certificate, role: str) -> tuple[str, str, str, str]:
    """(profile id, profile UUID, payload id, payload UUID), all from the cert's SHA-256."""
    fp = hashlib.sha256(cert_der(cert)).hexdigest()
    base = f"{PROFILE_ID_PREFIX}.{role}.{fp}"
    return (
        base,
        str(uuid.uuid5(PROFILE_UUID_NAMESPACE, base)).upper(),
        f"{base}.payload",
        str(uuid.uuid5(PROFILE_UUID_NAMESPACE, f"{base}.payload")).upper(),
    )


def _profile(
    cert: x509.Certificate,
    role: str,
    display: str,
    description: str,
    payload: dict[str, Any],
    target_device_type: int | None,
) -> bytes:
    profile_id, profile_uuid, payload_id, payload_uuid = _profile_ids(cert, role)
    payload = {
        **payload,
        "PayloadVersion": 1,
        "PayloadIdentifier": payload_id,
        "PayloadUUID": payload_uuid,
    }
    top: dict[str, Any] = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": profile_id,
        "PayloadUUID": profile_uuid,
        "PayloadDisplayName": display,
        "PayloadDescription": description,
        "PayloadContent": [payload],
    }
    if target_device_type is not None:
        top["TargetDeviceType"] = target_device_type
    return plistlib.dumps(top, fmt=plistlib.FMT_XML, sort_keys=True)


def _cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def root_profile(
    root: x509.Certificate, file_stem: str = "root", target_device_type: int | None = None
) -> bytes:
    """A `com.apple.security.root` profile as docs/trust-rules.md describes it.

    `target_device_type` is left out of exported files so a Mac installs them too; the
    enrollment server passes 1 (iPhone/iPad) for an iOS user agent.
    """
    name = _cn(root) or "certtui root CA"
    fp = hashlib.sha256(cert_der(root)).hexdigest().upper()
    return _profile(
        root,
        "root",
        name,
        f"Installs the root CA {name} (SHA-256 {fp}). After installing, turn on full trust "
        "in Settings > General > About > Certificate Trust Settings.",
        {
            "PayloadType": "com.apple.security.root",
            "PayloadContent": cert_der(root),
            "PayloadCertificateFileName": f"{file_stem}.cer",
        },
        target_device_type,
    )


def client_profile(
    key: keymod.PrivateKey,
    cert: x509.Certificate,
    cas: Sequence[x509.Certificate],
    password: str | None,
    file_stem: str,
    target_device_type: int | None = None,
) -> bytes:
    """A `com.apple.security.pkcs12` identity profile holding the legacy PKCS#12.

    It has no Password key: the device asks for the password when it installs.
    """
    name = _cn(cert) or file_stem
    return _profile(
        cert,
        "identity",
        name,
        f"Installs the client certificate {name} and its private key; you will be asked for "
        "the password it was exported with.",
        {
            "PayloadType": "com.apple.security.pkcs12",
            "PayloadContent": pkcs12_bytes(key, cert, cas, password, name, legacy=True),
            "PayloadCertificateFileName": f"{file_stem}.p12",
        },
        target_device_type,
    )


def crl_pem(der: bytes) -> bytes:
    return x509.load_der_x509_crl(der).public_bytes(_PEM)


# -- names and files --------------------------------------------------------------------


def base_name(rec: CertRecord) -> str:
    """mkcert-style NAME: the first name (`*` as `_wildcard`), or a CA's CN with `-` for spaces."""
    if rec.kind.is_ca or not rec.names:
        raw = (rec.subject or rec.id).replace(" ", "-")
    else:
        raw = rec.names[0].replace("*", "_wildcard")
    # Path separators, `:` of IPv6 and URIs, and other odd characters become `_`.
    safe = _UNSAFE.sub("_", raw).lstrip(".")
    return safe or rec.id


def file_name(rec: CertRecord, fmt: Format) -> str:
    return base_name(rec) + SUFFIXES[fmt]


def target_path(out: Path, default: str) -> Path:
    """`out` itself, or `out/default` when `out` is an existing folder."""
    return out / default if out.is_dir() else out


def write_atomic(path: Path, data: bytes, *, private: bool) -> None:
    """Write via a temp file in the same folder, fsync, rename; mode 0600 or 0644 whatever the umask."""
    mode = PRIVATE_MODE if private else PUBLIC_MODE
    folder = path.parent
    if not folder.is_dir():
        raise CerttuiError(f"the folder {folder} does not exist; create it or choose another --out")
    tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        # Created owner-only, so a private key is never readable by others, even for a moment.
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE)
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CerttuiError(
            f"cannot write {path} ({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# -- from the store ---------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    """One export's bytes, its default file name, and whether it holds a private key."""

    data: bytes
    filename: str
    private: bool


def holds_key(rec: CertRecord, fmt: Format) -> bool:
    """Whether this export contains the private key (so it needs the store unlocked, and 0600)."""
    return fmt in (Format.KEY, Format.P12, Format.P12_LEGACY) or (
        fmt is Format.MOBILECONFIG and rec.kind is Kind.CLIENT
    )


def needs_password(rec: CertRecord, fmt: Format, *, unencrypted_key: bool = False) -> bool:
    return holds_key(rec, fmt) and not (fmt is Format.KEY and unencrypted_key)


def check(rec: CertRecord, fmt: Format, *, with_root: bool = False, unencrypted_key: bool = False) -> None:
    """Refuse, before any prompt, an export this certificate or these options cannot make."""
    label = f"{rec.id} is {kind_label(rec.kind)}"
    if with_root and fmt not in WITH_ROOT_FORMATS:
        raise PolicyError(f"--with-root applies to fullchain, p12 and p12-legacy only; drop it for {fmt}")
    if unencrypted_key and fmt is not Format.KEY:
        raise PolicyError(f"--unencrypted-key applies to --format key only; drop it for {fmt}")
    if holds_key(rec, fmt) and not rec.has_key:
        raise PolicyError(
            f"{rec.id} has no private key in the store, so it cannot be exported as {fmt}; "
            "export pem or fullchain instead"
        )
    if fmt is Format.MOBILECONFIG and rec.kind in (Kind.SERVER, Kind.INTERMEDIATE):
        raise PolicyError(
            f"{label}, and profiles carry roots and client identities only; export the root's "
            "mobileconfig for phones, and fullchain + key for the server"
        )
    if fmt is Format.CRL and not rec.kind.is_ca:
        raise PolicyError(f"{label}, and only a CA has a CRL; give the id of the CA that issued it")


def kind_label(kind: Kind) -> str:
    """'a server certificate', 'an intermediate CA'... for error messages."""
    return {
        Kind.ROOT: "the root CA",
        Kind.INTERMEDIATE: "an intermediate CA",
        Kind.SERVER: "a server certificate",
        Kind.CLIENT: "a client certificate",
    }[kind]


def _chain(store: Store, rec: CertRecord) -> tuple[list[x509.Certificate], x509.Certificate | None]:
    """(intermediates nearest first, root or None) above a certificate in the store."""
    if rec.kind is Kind.ROOT:
        return [], None
    issuers = store.chain(rec.id)
    if issuers and issuers[-1].subject == issuers[-1].issuer:
        return issuers[:-1], issuers[-1]
    return issuers, None


def render(
    store: Store,
    rec: CertRecord,
    fmt: Format,
    *,
    password: str | None = None,
    with_root: bool = False,
    unencrypted_key: bool = False,
    target_device_type: int | None = None,
) -> Exported:
    """The bytes of one export (the store must be unlocked for formats holding the key)."""
    check(rec, fmt, with_root=with_root, unencrypted_key=unencrypted_key)
    cert = store.certificate(rec.id)
    stem = base_name(rec)
    key = store.private_key(rec.id) if holds_key(rec, fmt) else None
    intermediates, root = _chain(store, rec)
    if with_root and rec.kind is not Kind.ROOT and root is None:
        raise PolicyError(f"the root above {rec.id} is not in this store, so --with-root cannot add it")
    extra_root = [root] if with_root and root is not None else []
    data: bytes
    if fmt is Format.PEM:
        data = cert_pem(cert)
    elif fmt is Format.DER:
        data = cert_der(cert)
    elif fmt is Format.KEY:
        assert key is not None
        data = key_pem(key, password, unencrypted=unencrypted_key)
    elif fmt is Format.FULLCHAIN:
        data = fullchain_pem(cert, intermediates, extra_root[0] if extra_root else None)
    elif fmt in (Format.P12, Format.P12_LEGACY):
        assert key is not None
        data = pkcs12_bytes(
            key,
            cert,
            intermediates + extra_root,
            password,
            _cn(cert) or stem,
            legacy=fmt is Format.P12_LEGACY,
        )
    elif fmt is Format.P7B:
        data = p7b_bytes([cert, *intermediates] + ([root] if root is not None else []))
    elif fmt is Format.MOBILECONFIG and rec.kind is Kind.ROOT:
        data = root_profile(cert, stem, target_device_type)
    elif fmt is Format.MOBILECONFIG:
        assert key is not None
        data = client_profile(key, cert, intermediates, password, stem, target_device_type)
    else:
        stored = latest_crl(store, rec.id)
        blocker = crl_blocker(store, rec)
        if stored is None and blocker:
            raise PolicyError(blocker)
        if stored is None:
            raise PolicyError(f"CA {rec.id} has no CRL yet; sign one with `certtui crl --issuer {rec.id}`")
        data = stored.der
    return Exported(data, file_name(rec, fmt), holds_key(rec, fmt))


# The key file a fullchain is usually deployed beside, by the names this module writes.
_KEY_SUFFIX = SUFFIXES[Format.KEY]


def key_mismatch_warning(cert: x509.Certificate, path: Path) -> str | None:
    """Warn when `path` (a fullchain or certificate) sits beside a key of another certificate.

    That is the renew case: nginx then refuses to start with "key values mismatch". A key that
    is encrypted cannot be compared without its password, so it is not judged.
    """
    name = path.name
    for suffix in (SUFFIXES[Format.FULLCHAIN], SUFFIXES[Format.PEM]):
        if name.endswith(suffix):
            key_path = path.with_name(name[: -len(suffix)] + _KEY_SUFFIX)
            break
    else:
        return None
    try:
        data = key_path.read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError):
        return None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki):
        return None
    return (
        f"{key_path} holds the key of another certificate; a server given {path} and "
        f'that key refuses to start ("key values mismatch"): export the key too'
    )
