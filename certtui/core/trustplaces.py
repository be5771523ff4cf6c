"""Where a machine keeps trusted roots (system, NSS, Firefox policy, Java), and parsing their files."""

from __future__ import annotations

import configparser
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from certtui.errors import CerttuiError

# Every file, nickname and alias certtui writes starts with this, then a fingerprint prefix: a
# name says "certtui put this here", the fingerprint decides whether it is the root in hand.
NAME_PREFIX = "certtui"
# 16 hex digits (64 bits) of the SHA-256 fingerprint: unique among any user's roots, short
# enough to read in a file name; matching always compares the whole fingerprint.
FP_PREFIX_LEN = 16


@dataclass(frozen=True)
class SystemFamily:
    """One distribution family's system trust store: detected by its tool and its folders."""

    name: str
    tool: str
    """The refresh tool; the family is detected by it being installed."""
    marker: str
    """A folder only this family has (relative to the root)."""
    anchor_dir: str
    refresh: tuple[str, ...]
    bundle: str
    """The PEM bundle the refresh writes, which OpenSSL-based clients read."""
    refresh_removal: tuple[str, ...] = ()
    """The refresh after an anchor is removed, when it differs from `refresh`."""

    @property
    def refresh_after_removal(self) -> tuple[str, ...]:
        return self.refresh_removal or self.refresh


# Order matters: Arch and Fedora both ship update-ca-trust and p11-kit's trust, so the marker
# folder decides; openSUSE and Debian both ship update-ca-certificates (different scripts).
FAMILIES: tuple[SystemFamily, ...] = (
    SystemFamily(
        "Fedora/RHEL",
        "update-ca-trust",
        "etc/pki/ca-trust/source",
        "etc/pki/ca-trust/source/anchors",
        ("update-ca-trust", "extract"),
        "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    ),
    SystemFamily(
        "Arch",
        "trust",
        "etc/ca-certificates/trust-source",
        "etc/ca-certificates/trust-source/anchors",
        ("trust", "extract-compat"),
        "etc/ssl/certs/ca-certificates.crt",
    ),
    SystemFamily(
        "openSUSE",
        "update-ca-certificates",
        "usr/share/pki/trust",
        "usr/share/pki/trust/anchors",
        ("update-ca-certificates",),
        "var/lib/ca-certificates/ca-bundle.pem",
    ),
    SystemFamily(
        "Debian/Ubuntu/Alpine",
        "update-ca-certificates",
        "usr/share/ca-certificates",
        # Debian's script only picks up files ending .crt in this folder.
        "usr/local/share/ca-certificates",
        ("update-ca-certificates",),
        "etc/ssl/certs/ca-certificates.crt",
        # Without --fresh, Debian's script rebuilds the bundle but leaves the removed anchor's
        # links in /etc/ssl/certs and never tells ca-certificates-java, so Java keeps trusting it.
        ("update-ca-certificates", "--fresh"),
    ),
)

# Where a tool counts as installed under a --root-dir tree (and on the machine itself).
BIN_DIRS = ("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin")


def tool_in_tree(root: Path, tool: str) -> Path | None:
    for folder in BIN_DIRS:
        path = root / folder / tool
        if path.is_file():
            return path
    return None


def detect_family(root: Path) -> SystemFamily | None:
    """The first family whose refresh tool is installed under `root` and whose folder exists."""
    for family in FAMILIES:
        if tool_in_tree(root, family.tool) and (root / family.marker).is_dir():
            return family
    return None


def fp_prefix(fingerprint: str) -> str:
    return fingerprint[:FP_PREFIX_LEN]


def anchor_name(fingerprint: str) -> str:
    """`certtui-<fingerprint prefix>.crt`: Debian's update-ca-certificates needs `.crt`."""
    return f"{NAME_PREFIX}-{fp_prefix(fingerprint)}.crt"


def is_our_file(name: str) -> bool:
    return re.fullmatch(rf"{NAME_PREFIX}-[0-9a-f]{{{FP_PREFIX_LEN}}}\.(crt|pem)", name) is not None


def nss_nickname(common_name: str, fingerprint: str) -> str:
    """`certtui <root CN> <fingerprint prefix>`; quotes and controls dropped so certutil takes it."""
    cn = re.sub(r"[\x00-\x1f\x7f\"]", "", common_name).strip() or "root"
    return f"{NAME_PREFIX} {cn} {fp_prefix(fingerprint)}"


def java_alias(fingerprint: str) -> str:
    return f"{NAME_PREFIX}-{fp_prefix(fingerprint)}"


# -- NSS --------------------------------------------------------------------------------------

# certutil -L prints a header, then one line per certificate: the nickname, padding, then the
# trust attributes as three comma-separated fields (SSL, S/MIME, code signing).
_TRUST_LINE = re.compile(r"^(?P<nick>.*?)\s+(?P<trust>[a-zA-Z]*,[a-zA-Z]*,[a-zA-Z]*)\s*$")


def parse_certutil_list(text: str) -> list[tuple[str, str]]:
    """(nickname, trust) for each line of `certutil -L`; a nickname may repeat."""
    out = []
    for line in text.splitlines():
        match = _TRUST_LINE.match(line)
        if match and match["nick"].strip() and not line.startswith("Certificate Nickname"):
            out.append((match["nick"].strip(), match["trust"]))
    return out


def trusted_for_tls(trust: str) -> bool:
    """`C` (trusted CA) in the SSL field; `T` alone is for client certificates."""
    return "C" in trust.split(",")[0]


# -- Firefox profiles ---------------------------------------------------------------------------

# Every folder holding a profiles.ini, relative to $HOME: the classic path, the XDG path of
# Firefox 147+ (Debian's firefox-esr 153 creates it), snap and flatpak.
FIREFOX_BASES: tuple[tuple[str, str], ...] = (
    ("Firefox", ".mozilla/firefox"),
    ("Firefox (XDG)", ".config/mozilla/firefox"),
    ("Firefox (snap)", "snap/firefox/common/.mozilla/firefox"),
    ("Firefox (flatpak)", ".var/app/org.mozilla.firefox/.mozilla/firefox"),
)
# Chromium and Chrome on Linux share one NSS database per user; snap Chromium has its own.
CHROMIUM_DBS: tuple[tuple[str, str], ...] = (
    ("Chromium/Chrome", ".pki/nssdb"),
    ("Chromium (snap)", "snap/chromium/current/.pki/nssdb"),
)


def parse_profiles_ini(text: str, base: Path) -> list[Path]:
    """Every profile folder a profiles.ini names ([Profile*] and [Install*] Default=), in order."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise CerttuiError(f"{base / 'profiles.ini'} is not a valid profiles.ini ({exc.message})") from None
    found: list[Path] = []
    for section in parser.sections():
        values = parser[section]
        if section.startswith("Profile") and "Path" in values:
            raw = values["Path"]
            relative = values.get("IsRelative", "1").strip() != "0"
        elif section.startswith("Install") and "Default" in values:
            # Install sections always name a path relative to the base.
            raw, relative = values["Default"], True
        else:
            continue
        path = base / raw if relative else Path(raw)
        if relative and ".." in PurePosixPath(raw).parts:
            continue  # a relative path that climbs out of the base is not a profile of it
        if path not in found:
            found.append(path)
    return found


# -- Firefox enterprise policy --------------------------------------------------------------------

# Firefox on Linux reads /etc/<application name>/policies/policies.json: /etc/firefox for
# Mozilla's builds, /etc/firefox-esr for Debian's firefox-esr.
FIREFOX_POLICY_APPS = ("firefox", "firefox-esr")


def policy_with(policy: dict[str, Any], cert_path: str, *, enterprise_roots: bool) -> dict[str, Any]:
    """`policy` with `cert_path` in policies.Certificates.Install (and ImportEnterpriseRoots)."""
    out = json.loads(json.dumps(policy))
    certs = out.setdefault("policies", {}).setdefault("Certificates", {})
    if not isinstance(certs, dict):
        raise CerttuiError("policies.json's Certificates is not an object; fix the file by hand")
    install = certs.setdefault("Install", [])
    if not isinstance(install, list):
        raise CerttuiError("policies.json's Certificates.Install is not a list; fix the file by hand")
    if cert_path not in install:
        install.append(cert_path)
    if enterprise_roots:
        certs["ImportEnterpriseRoots"] = True
    return out  # type: ignore[no-any-return]


def policy_without(policy: dict[str, Any], cert_paths: set[str]) -> dict[str, Any]:
    """`policy` without those paths in Certificates.Install; empty containers are dropped."""
    out = json.loads(json.dumps(policy))
    policies = out.get("policies", {})
    certs = policies.get("Certificates") if isinstance(policies, dict) else None
    if isinstance(certs, dict) and isinstance(certs.get("Install"), list):
        certs["Install"] = [p for p in certs["Install"] if p not in cert_paths]
        if not certs["Install"]:
            del certs["Install"]
        if not certs:
            del policies["Certificates"]
    return out  # type: ignore[no-any-return]


def policy_installs(policy: dict[str, Any]) -> list[str]:
    policies = policy.get("policies", {})
    certs = policies.get("Certificates", {}) if isinstance(policies, dict) else {}
    install = certs.get("Install", []) if isinstance(certs, dict) else []
    return [p for p in install if isinstance(p, str)] if isinstance(install, list) else []


# -- Java -----------------------------------------------------------------------------------------

# keytool prints each entry's SHA-256 as colon-separated hex after the alias line.
_KEYTOOL_ENTRY = re.compile(
    r"^(?P<alias>[^,\n]+),[^\n]*\n\s*Certificate fingerprint \(SHA-256\): (?P<fp>[0-9A-F:]+)", re.M
)


def parse_keytool_list(text: str) -> list[tuple[str, str]]:
    """(alias, lowercase hex SHA-256) for each entry of `keytool -list`."""
    return [(m["alias"].strip(), m["fp"].replace(":", "").lower()) for m in _KEYTOOL_ENTRY.finditer(text)]


# -- which clients check a root's own name constraints -------------------------------------------

# For a name-constrained root installed as it is. OpenSSL (curl, Python, wget), GnuTLS, NSS
# (Firefox), Chromium's verifier, Go and Apple apply constraints found on the trust anchor; Java's
# PKIX (sun.security.provider.certpath) ignores them on a trust anchor and checks them only on
# intermediates (`certtui init --intermediate`, which copies the constraints onto the
# intermediate), so Java trusts any name under such a root.
NAME_CONSTRAINT_CLIENTS: tuple[tuple[str, bool], ...] = (
    ("OpenSSL (curl, Python, wget)", True),
    ("GnuTLS", True),
    ("NSS (Firefox)", True),
    ("Chromium", True),
    ("Go crypto/tls", True),
    ("Apple (iOS 13+, macOS)", True),
    ("Java", False),
)


# -- PEM ------------------------------------------------------------------------------------------

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----")


def pem_fingerprints(data: bytes) -> list[str]:
    """The SHA-256 of each PEM certificate in `data` (a bundle, an anchor, certutil -a output)."""
    import base64
    import binascii
    import hashlib

    out = []
    for match in _PEM_CERT.finditer(data):
        try:
            der = base64.b64decode(b"".join(match[1].split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        out.append(hashlib.sha256(der).hexdigest())
    return out
