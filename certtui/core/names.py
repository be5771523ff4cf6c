"""Parse host names, IPs, emails and URIs for certificates, the way the user means them."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import quote

from cryptography import x509

from certtui.core.models import Names, NameType, SubjectName
from certtui.core.name_syntax import bad_name, parse_dns, parse_ip, precheck, show, try_ip
from certtui.errors import BadName

__all__ = [
    "ACCEPTED_FORMS",
    "common_name",
    "general_names",
    "parse_name",
    "parse_names",
]

ACCEPTED_FORMS: tuple[tuple[str, str], ...] = (
    ("nas.home.arpa", "a DNS name (lower-cased; one trailing dot is dropped)"),
    ("bücher.home.arpa", "an internationalised DNS name, stored as xn--bcher-kva.home.arpa"),
    ("*.home.arpa", "a wildcard: '*' as the whole left-most label, two or more labels after it"),
    ("localhost", "a single-label name"),
    ("192.168.1.10", "an IPv4 address"),
    ("fd00::1", "an IPv6 address (also [fd00::1]); stored compressed, no zone id"),
    ("user@home.arpa", "an email address (rfc822Name); plain local part, ASCII only"),
    ("https://nas.home.arpa:8443/x", "a URI with a host name or IP address"),
)
"""Examples of what `parse_name` accepts, each with what it means (for help texts)."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_DOT_ATOM_CHARS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+")
# RFC 3986: what a URI's path, query and fragment hold as they are (unreserved, sub-delims,
# ':', '@' and '/'); '?' too after the path, and '%' when two hex digits follow. Anything else
# ('[', a second '#', a stray '%', non-ASCII) is percent-encoded, so the SAN is a valid URI.
_URI_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


# ---------------------------------------------------------------- email and URI


def _parse_email(text: str, orig: str) -> str:
    local, _, domain = text.rpartition("@")
    if '"' in local:
        raise bad_name(
            orig,
            f"quoted local parts ({show(local)}) are not supported; "
            "use a plain address such as 'user@home.arpa'",
        )
    if "@" in local:
        raise bad_name(orig, "it holds more than one '@'; give one email address at a time")
    if not local:
        raise bad_name(orig, "there is nothing before the '@'; give an address such as 'user@home.arpa'")
    if not domain:
        raise bad_name(orig, "there is no domain after the '@'; give an address such as 'user@home.arpa'")
    if not local.isascii():
        raise bad_name(
            orig,
            f"the local part {show(local)} must be ASCII; internationalised mailboxes "
            "cannot go into the certificate",
        )
    if len(local) > 64:
        raise bad_name(
            orig,
            f"the local part is {len(local)} characters long; it holds at most 64, so shorten it",
        )
    if not _DOT_ATOM_CHARS.fullmatch(local):
        bad = next(ch for ch in local if not _DOT_ATOM_CHARS.fullmatch(ch))
        raise bad_name(
            orig,
            f"the local part {show(local)} may not contain {show(bad)}; use letters, digits, "
            "dots and !#$%&'*+/=?^_`{|}~-",
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise bad_name(
            orig,
            f"the local part {show(local)} may not start or end with a dot or hold two dots "
            "in a row; fix the address and try again",
        )
    if domain.startswith("[") or try_ip(domain) is not None:
        raise bad_name(
            orig,
            "mail to an IP address cannot go into a certificate; give a domain after the '@'",
        )
    host = parse_dns(
        domain,
        orig,
        no_wildcard="the domain of an email address may not hold a '*'; give the exact domain",
    )
    return f"{local}@{host}"


def _uri_part(text: str, also: str) -> str:
    """A URI path, query or fragment with every character RFC 3986 does not allow there encoded."""
    out = []
    for i, ch in enumerate(text):
        escape = ch == "%" and len(text) > i + 2 and {text[i + 1], text[i + 2]} <= _HEX_DIGITS
        out.append(ch if ch in _URI_KEEP or ch in also or escape else quote(ch, safe=""))
    return "".join(out)


def _parse_uri(text: str, orig: str) -> str:
    scheme, _, rest = text.partition("://")
    if not _SCHEME.fullmatch(scheme):
        raise bad_name(
            orig,
            f"the scheme {show(scheme)} must start with a letter and hold only letters, digits, "
            "'+', '-' and '.', as in 'https'",
        )
    cut = len(rest)
    for sep in "/?#":
        pos = rest.find(sep)
        if pos != -1:
            cut = min(cut, pos)
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        raise bad_name(
            orig,
            "a URI in a certificate may not carry a user name or password; drop the part before the '@'",
        )
    port: str | None = None
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise bad_name(orig, "the '[' around its IPv6 host is never closed; add the ']'")
        hostpart, after = authority[: close + 1], authority[close + 1 :]
        if after:
            if not after.startswith(":"):
                raise bad_name(orig, f"{show(after)} after the host makes no sense; remove it")
            port = after[1:]
    else:
        if authority.count(":") > 1:
            raise bad_name(
                orig,
                "an IPv6 host in a URI goes in brackets, as in 'https://[fd00::1]/'; add them",
            )
        hostpart, colon, after = authority.partition(":")
        if colon:
            port = after
    if not hostpart:
        raise bad_name(
            orig,
            "the URI has no host; a URI in a certificate needs a host name or IP address",
        )
    if port is not None and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise bad_name(orig, f"the port {show(port)} must be a number from 0 to 65535")
    if hostpart.startswith("["):
        host = f"[{parse_ip(hostpart, orig)}]"
    else:
        addr = try_ip(hostpart)
        if addr is not None:
            host = str(addr)
        elif "%" in hostpart:
            raise bad_name(orig, f"the host {show(hostpart)} may not contain '%'; fix the URI")
        else:
            host = parse_dns(
                hostpart,
                orig,
                no_wildcard="the host of a URI may not hold a '*'; give the exact host",
            )
    path, hashmark, fragment = tail.partition("#")
    path, mark, query = path.partition("?")
    tail = _uri_part(path, "") + mark + _uri_part(query, "?") + hashmark + _uri_part(fragment, "?")
    port_text = "" if port is None else f":{port}"
    return f"{scheme.lower()}://{host}{port_text}{tail}"


# ---------------------------------------------------------------- public parsing


def parse_name(text: str) -> SubjectName:
    """Parse one host name, IP address, email address or URI the way the user means it.

    Raises BadName, with one sentence saying what is wrong and what to do, for anything
    that cannot go into a certificate's subjectAltName.
    """
    orig = text.strip()
    if not orig:
        raise bad_name(orig, "empty name; give a host name, IP address, email or URI")
    precheck(orig, "name")
    if "://" in orig:
        return SubjectName(NameType.URI, _parse_uri(orig, orig))
    if "@" in orig:
        return SubjectName(NameType.EMAIL, _parse_email(orig, orig))
    addr = parse_ip(orig, orig)
    if addr is not None:
        return SubjectName(NameType.IP, str(addr))
    return SubjectName(NameType.DNS, parse_dns(orig, orig))


_SPLIT = re.compile(r"[,\s]+")


def parse_names(texts: Iterable[str]) -> Names:
    """Parse names separated by commas and/or whitespace; group DNS, IP, email, URI; drop repeats."""
    groups: dict[NameType, list[str]] = {t: [] for t in NameType}
    for text in texts:
        for part in _SPLIT.split(text):
            if not part:
                continue
            name = parse_name(part)
            group = groups[name.type]
            if name.value not in group:
                group.append(name.value)
    names = Names(
        dns=tuple(groups[NameType.DNS]),
        ip=tuple(groups[NameType.IP]),
        email=tuple(groups[NameType.EMAIL]),
        uri=tuple(groups[NameType.URI]),
    )
    if not names:
        raise BadName(
            "no names given; give at least one host name, IP address, email or URI (e.g. 'nas.home.arpa')"
        )
    return names


def common_name(names: Names) -> str | None:
    """The subject CN: the first DNS name of at most 64 characters, else any such name, else None."""
    for value in names.dns:
        if len(value) <= 64:
            return value
    for value in names.ip + names.email + names.uri:
        if len(value) <= 64:
            return value
    return None


def general_names(names: Names) -> list[x509.GeneralName]:
    """The subjectAltName entries, in the order DNS, IP, email, URI."""
    result: list[x509.GeneralName] = [x509.DNSName(v) for v in names.dns]
    result += [x509.IPAddress(ipaddress.ip_address(v)) for v in names.ip]
    result += [x509.RFC822Name(v) for v in names.email]
    result += [x509.UniformResourceIdentifier(v) for v in names.uri]
    return result
