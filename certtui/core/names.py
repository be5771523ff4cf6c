"""Parse host names, IPs, emails and URIs for certificates, and check them against name constraints."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from cryptography import x509

from certtui.core.models import Constraint, Names, NameType, SubjectName
from certtui.errors import BadName

__all__ = [
    "ACCEPTED_FORMS",
    "chain_constraint_violations",
    "common_name",
    "constraint_violations",
    "general_names",
    "name_constraints_extension",
    "parse_constraint",
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

MAX_INPUT = 2048
"""Longer input is refused before any parsing; no certificate name comes close."""

_SHOW_MAX = 60
_LDH = re.compile(r"[a-z0-9-]+")
_HEX_NUMBER = re.compile(r"0x[0-9a-f]*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_DOT_ATOM_CHARS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")
# RFC 3986: what a URI's path, query and fragment hold as they are (unreserved, sub-delims,
# ':', '@' and '/'); '?' too after the path, and '%' when two hex digits follow. Anything else
# ('[', a second '#', a stray '%', non-ASCII) is percent-encoded, so the SAN is a valid URI.
_URI_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------- messages


def _show(text: str, limit: int = _SHOW_MAX) -> str:
    """Quote `text` for a message: non-printable characters escaped, long text cut with '…'."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    shown = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in cut
    )
    return f"'{shown}'"


def _bad(orig: str, detail: str, what: str = "name") -> BadName:
    return BadName(f"bad {what} {_show(orig)}: {detail}")


def _char(ch: str) -> str:
    return f"{_show(ch)} (U+{ord(ch):04X})"


def _precheck(orig: str, what: str) -> None:
    """Refuse over-long input, control characters and inner whitespace."""
    if len(orig) > MAX_INPUT:
        raise _bad(
            orig,
            f"the input is {len(orig)} characters long, far more than any name can be; check what you pasted",
            what,
        )
    for ch in orig:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise _bad(orig, f"it contains the control character U+{ord(ch):04X}; remove it", what)
        if ch.isspace() or unicodedata.category(ch) in ("Zs", "Zl", "Zp"):
            raise _bad(
                orig,
                f"it contains whitespace {_char(ch)}; give one {what} at a time, or separate "
                "names with commas",
                what,
            )


# ---------------------------------------------------------------- DNS


def _dns_label(label: str, orig: str, what: str) -> str:
    """Check one UTS #46-mapped label and return it as an A-label."""
    for ch in label:
        if ch.isascii() and not _LDH.fullmatch(ch):
            raise _bad(
                orig,
                f"label {_show(label)} may only contain letters, digits and hyphens; "
                "fix the name and try again",
                what,
            )
    if label.startswith("-") or label.endswith("-"):
        raise _bad(
            orig,
            f"label {_show(label)} may not start or end with a hyphen; fix the name and try again",
            what,
        )
    if label.isascii():
        alabel = label
        if label.startswith("xn--"):
            import idna

            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                raise _bad(
                    orig,
                    f"label {_show(label)} starts with 'xn--' but is not a valid A-label "
                    "(Punycode); fix the name or type it in Unicode",
                    what,
                ) from None
    else:
        import idna

        alabel = "xn--" + label.encode("punycode").decode("ascii")
        if len(alabel) <= 63:
            try:
                alabel = idna.alabel(label).decode("ascii")
            except idna.InvalidCodepoint as err:
                bad = chr(err.codepoint) if err.codepoint is not None else ""
                detail = f"contains {_char(bad)}, which" if bad else "contains a character that"
                raise _bad(
                    orig,
                    f"label {_show(label)} {detail} IDNA 2008 does not allow in host names; "
                    "fix the name and try again",
                    what,
                ) from None
            except (idna.IDNAError, UnicodeError, ValueError) as err:
                reason = str(err).rstrip(".") or "it breaks an IDNA 2008 rule"
                raise _bad(
                    orig,
                    f"label {_show(label)} is not a valid internationalised label ({reason}); "
                    "fix the name and try again",
                    what,
                ) from None
    if len(alabel) > 63:
        long_form = "" if alabel == label else f" as the A-label {_show(alabel, 20)}"
        raise _bad(
            orig,
            f"label {_show(label, 20)} is {len(alabel)} characters long{long_form}; "
            "a label holds at most 63, so shorten it",
            what,
        )
    return alabel


def _parse_dns(text: str, orig: str, what: str = "name", no_wildcard: str | None = None) -> str:
    """Map `text` like a browser (IDNA 2008, UTS #46 non-transitional) and return its A-label form.

    `no_wildcard`, when given, is the message for a name that holds a '*'.
    """
    if text.isascii():
        # UTS #46 (non-transitional, STD3 rules off) maps every ASCII character to itself or
        # its lower case, so idna (about 2 ms to import, on every `certtui issue`) is loaded
        # only for a name that holds another character or an xn-- label.
        mapped = text.lower()
    else:
        import idna

        try:
            mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except idna.InvalidCodepoint as err:
            bad = chr(err.codepoint) if err.codepoint is not None else ""
            detail = f"it contains {_char(bad)}" if bad else "it contains a character"
            raise _bad(orig, f"{detail}, which cannot appear in a host name; remove it", what) from None
        except (idna.IDNAError, UnicodeError, ValueError) as err:
            raise _bad(
                orig,
                f"it cannot be mapped to a host name ({err}); fix the name and try again",
                what,
            ) from None
    mapped = mapped.removesuffix(".")
    if not mapped:
        raise _bad(orig, "there is no host name in it; give a name such as 'nas.home.arpa'", what)
    labels = mapped.split(".")
    alabels: list[str] = []
    for i, label in enumerate(labels):
        if not label:
            raise _bad(
                orig,
                "it has an empty label (two dots in a row, or a leading dot); remove the extra dot",
                what,
            )
        if "*" in label:
            if no_wildcard is not None:
                raise _bad(orig, no_wildcard, what)
            if label != "*" or i != 0:
                raise _bad(
                    orig,
                    f"in label {_show(label)}, '*' may only stand alone as the left-most label, "
                    "as in '*.home.arpa'; fix the name and try again",
                    what,
                )
            if len(labels) == 1:
                raise _bad(
                    orig,
                    "a lone '*' matches nothing; give a wildcard such as '*.home.arpa'",
                    what,
                )
            if len(labels) == 2:
                raise _bad(
                    orig,
                    f"a wildcard directly above a single-label domain ('*.{labels[1]}') never "
                    f"matches on iOS or in browsers; name the host itself (e.g. 'nas.{labels[1]}') "
                    f"or put the wildcard deeper (e.g. '*.home.{labels[1]}')",
                    what,
                )
            alabels.append("*")
            continue
        alabels.append(_dns_label(label, orig, what))
    name = ".".join(alabels)
    if len(name) > 253:
        raise _bad(
            orig,
            f"the name is {len(name)} characters long; a host name holds at most 253, so shorten it",
            what,
        )
    last = alabels[-1]
    if last.isdigit():
        raise _bad(
            orig,
            f"the last label {_show(last)} is all digits, which browsers read as an IPv4 address; "
            "use a valid IP or a name ending in letters",
            what,
        )
    if _HEX_NUMBER.fullmatch(last):
        raise _bad(
            orig,
            f"the last label {_show(last)} is a hexadecimal number, which browsers read as an "
            "IPv4 address; use a valid IP or a name ending in letters",
            what,
        )
    return name


# ---------------------------------------------------------------- IP


def _zone_id_error(orig: str, text: str, what: str) -> BadName:
    addr, _, zone = text.partition("%")
    return _bad(
        orig,
        f"the zone id {_show('%' + zone)} cannot go into a certificate; "
        f"give the address without it ({_show(addr)})",
        what,
    )


def _parse_ip(text: str, orig: str, what: str = "name") -> _IPAddress | None:
    """The address `text` stands for; None when it is not meant as an IP at all."""
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise _bad(orig, "its brackets do not match; write an IPv6 address as '[fd00::1]'", what)
        inner = text[1:-1]
        if "%" in inner:
            raise _zone_id_error(orig, inner, what)
        try:
            addr = ipaddress.ip_address(inner)
        except ValueError:
            raise _bad(
                orig,
                f"{_show(inner)} is not a valid IPv6 address; fix the address and try again",
                what,
            ) from None
        if addr.version != 6:
            raise _bad(orig, "brackets are only for IPv6 addresses; drop them", what)
        return addr
    if "%" in text:
        try:
            ipaddress.ip_address(text.partition("%")[0])
        except ValueError:
            return None
        raise _zone_id_error(orig, text, what)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if text.count(":") >= 2 and _IPV6_CHARS.fullmatch(text):
        raise _bad(
            orig,
            "it is not a valid IPv6 address; fix the address and try again",
            what,
        )
    host, sep, port = text.rpartition(":")
    if sep and host and port.isdigit():
        raise _bad(
            orig,
            f"a port cannot go into a certificate; give {_show(host)} without ':{port}'",
            what,
        )
    return None


# ---------------------------------------------------------------- email and URI


def _parse_email(text: str, orig: str) -> str:
    local, _, domain = text.rpartition("@")
    if '"' in local:
        raise _bad(
            orig,
            f"quoted local parts ({_show(local)}) are not supported; "
            "use a plain address such as 'user@home.arpa'",
        )
    if "@" in local:
        raise _bad(orig, "it holds more than one '@'; give one email address at a time")
    if not local:
        raise _bad(orig, "there is nothing before the '@'; give an address such as 'user@home.arpa'")
    if not domain:
        raise _bad(orig, "there is no domain after the '@'; give an address such as 'user@home.arpa'")
    if not local.isascii():
        raise _bad(
            orig,
            f"the local part {_show(local)} must be ASCII; internationalised mailboxes "
            "cannot go into the certificate",
        )
    if len(local) > 64:
        raise _bad(
            orig,
            f"the local part is {len(local)} characters long; it holds at most 64, so shorten it",
        )
    if not _DOT_ATOM_CHARS.fullmatch(local):
        bad = next(ch for ch in local if not _DOT_ATOM_CHARS.fullmatch(ch))
        raise _bad(
            orig,
            f"the local part {_show(local)} may not contain {_show(bad)}; use letters, digits, "
            "dots and !#$%&'*+/=?^_`{|}~-",
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise _bad(
            orig,
            f"the local part {_show(local)} may not start or end with a dot or hold two dots "
            "in a row; fix the address and try again",
        )
    if domain.startswith("[") or _try_ip(domain) is not None:
        raise _bad(
            orig,
            "mail to an IP address cannot go into a certificate; give a domain after the '@'",
        )
    host = _parse_dns(
        domain,
        orig,
        no_wildcard="the domain of an email address may not hold a '*'; give the exact domain",
    )
    return f"{local}@{host}"


def _try_ip(text: str) -> _IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


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
        raise _bad(
            orig,
            f"the scheme {_show(scheme)} must start with a letter and hold only letters, digits, "
            "'+', '-' and '.', as in 'https'",
        )
    cut = len(rest)
    for sep in "/?#":
        pos = rest.find(sep)
        if pos != -1:
            cut = min(cut, pos)
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        raise _bad(
            orig,
            "a URI in a certificate may not carry a user name or password; drop the part before the '@'",
        )
    port: str | None = None
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise _bad(orig, "the '[' around its IPv6 host is never closed; add the ']'")
        hostpart, after = authority[: close + 1], authority[close + 1 :]
        if after:
            if not after.startswith(":"):
                raise _bad(orig, f"{_show(after)} after the host makes no sense; remove it")
            port = after[1:]
    else:
        if authority.count(":") > 1:
            raise _bad(
                orig,
                "an IPv6 host in a URI goes in brackets, as in 'https://[fd00::1]/'; add them",
            )
        hostpart, colon, after = authority.partition(":")
        if colon:
            port = after
    if not hostpart:
        raise _bad(
            orig,
            "the URI has no host; a URI in a certificate needs a host name or IP address",
        )
    if port is not None and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise _bad(orig, f"the port {_show(port)} must be a number from 0 to 65535")
    if hostpart.startswith("["):
        host = f"[{_parse_ip(hostpart, orig)}]"
    else:
        addr = _try_ip(hostpart)
        if addr is not None:
            host = str(addr)
        elif "%" in hostpart:
            raise _bad(orig, f"the host {_show(hostpart)} may not contain '%'; fix the URI")
        else:
            host = _parse_dns(
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
        raise _bad(orig, "empty name; give a host name, IP address, email or URI")
    _precheck(orig, "name")
    if "://" in orig:
        return SubjectName(NameType.URI, _parse_uri(orig, orig))
    if "@" in orig:
        return SubjectName(NameType.EMAIL, _parse_email(orig, orig))
    addr = _parse_ip(orig, orig)
    if addr is not None:
        return SubjectName(NameType.IP, str(addr))
    return SubjectName(NameType.DNS, _parse_dns(orig, orig))


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


# ---------------------------------------------------------------- constraints


def parse_constraint(text: str) -> Constraint:
    """Parse a `--permit` value: a DNS suffix ('home.arpa') or an IP network ('192.168.0.0/16')."""
    what = "constraint"
    orig = text.strip()
    if not orig:
        raise _bad(
            orig,
            "empty constraint; give a DNS suffix such as 'home.arpa' or a network such as '192.168.0.0/16'",
            what,
        )
    _precheck(orig, what)
    if "%" in orig:
        raise _bad(orig, "a zone id ('%…') cannot go into a certificate; remove it", what)
    if "://" in orig or "@" in orig:
        raise _bad(
            orig,
            "a constraint is a DNS suffix such as 'home.arpa' or an IP network such as "
            "'192.168.0.0/16'; emails and URIs are not supported",
            what,
        )
    if "/" in orig:
        try:
            network: _IPNetwork = ipaddress.ip_network(orig, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(orig, strict=False)
            except ValueError:
                raise _bad(
                    orig,
                    "it is not an IP network in CIDR form such as '192.168.0.0/16' or "
                    "'fd00::/8'; fix it and try again",
                    what,
                ) from None
            raise _bad(orig, f"host bits are set after the prefix; did you mean {loose}?", what) from None
        return Constraint(NameType.IP, str(network))
    addr = _parse_ip(orig, orig, what)
    if addr is not None:
        return Constraint(NameType.IP, str(ipaddress.ip_network(addr)))
    suffix = orig.removeprefix(".")
    return Constraint(
        NameType.DNS,
        _parse_dns(
            suffix,
            orig,
            what,
            no_wildcard="a constraint cannot hold a wildcard; give the domain itself, as in 'home.arpa'",
        ),
    )


def _constraint_general_name(c: Constraint) -> x509.GeneralName:
    if c.type is NameType.DNS:
        return x509.DNSName(c.value)
    if c.type is NameType.IP:
        return x509.IPAddress(ipaddress.ip_network(c.value))
    if c.type is NameType.EMAIL:
        return x509.RFC822Name(c.value)
    return x509.UniformResourceIdentifier(c.value)


def name_constraints_extension(
    permitted: Sequence[Constraint], excluded: Sequence[Constraint] = ()
) -> x509.NameConstraints:
    """The NameConstraints extension for a CA with these permitted and excluded subtrees."""
    if not permitted and not excluded:
        raise BadName("no name constraints given; give at least one DNS suffix or IP network to permit")
    return x509.NameConstraints(
        permitted_subtrees=[_constraint_general_name(c) for c in permitted] or None,
        excluded_subtrees=[_constraint_general_name(c) for c in excluded] or None,
    )


def _dns_fits(name: str, base: str) -> bool:
    """RFC 5280 dNSName: `base` itself or anything below it; '.base' means strictly below."""
    name = name.lower().rstrip(".")
    base = base.lower().rstrip(".")
    if base.startswith("."):
        return name.endswith(base)
    if not base:
        return True
    return name == base or name.endswith("." + base)


def _wildcard_may_hit(name: str, base: str) -> bool:
    """Whether the wildcard `name` ('*.x') matches a host equal to the excluded `base`."""
    name = name.lower()
    base = base.lower().rstrip(".")
    if not name.startswith("*.") or base.startswith("."):
        return False
    parent = name[2:]
    head, dot, rest = base.partition(".")
    return bool(dot) and bool(head) and rest == parent


def _host_fits(host: str, base: str) -> bool:
    """RFC 5280 rfc822Name domain / URI host: 'host' matches exactly, '.host' strictly below."""
    host = host.lower().rstrip(".")
    base = base.lower().rstrip(".")
    if base.startswith("."):
        return host.endswith(base)
    return host == base


def _email_fits(email: str, base: str) -> bool:
    if "@" in base:
        return email.lower() == base.lower()
    return _host_fits(email.rpartition("@")[2], base)


def _uri_host(uri: str) -> str:
    rest = uri.partition("://")[2]
    for sep in "/?#":
        rest = rest.partition(sep)[0]
    if rest.startswith("["):
        return rest[1 : rest.find("]")] if "]" in rest else rest[1:]
    return rest.partition(":")[0]


def _ip_fits(value: str, base: object) -> bool:
    if not isinstance(base, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return False
    addr = ipaddress.ip_address(value)
    return addr.version == base.version and addr in base


def _fits(kind: NameType, value: str, base: object, *, excluding: bool) -> bool:
    """Whether the name `value` of type `kind` falls in the subtree `base`."""
    if kind is NameType.DNS:
        hit = _dns_fits(value, str(base))
        return hit or (excluding and _wildcard_may_hit(value, str(base)))
    if kind is NameType.IP:
        return _ip_fits(value, base)
    if kind is NameType.EMAIL:
        return _email_fits(value, str(base))
    return _host_fits(_uri_host(value), str(base))


_SUBTREE_TYPES: dict[NameType, type[x509.GeneralName]] = {
    NameType.DNS: x509.DNSName,
    NameType.IP: x509.IPAddress,
    NameType.EMAIL: x509.RFC822Name,
    NameType.URI: x509.UniformResourceIdentifier,
}


def constraint_violations(names: Names, nc: x509.NameConstraints) -> list[str]:
    """One line per name that does not fit `nc`, with RFC 5280 semantics (case-insensitive).

    A type with no permitted subtree of its own is not limited by the permitted subtrees;
    a name inside any excluded subtree of its type is a violation.
    """
    permitted = list(nc.permitted_subtrees or ())
    excluded = list(nc.excluded_subtrees or ())
    problems: list[str] = []
    for name in names.all():
        kind = _SUBTREE_TYPES[name.type]
        allowed = [g.value for g in permitted if isinstance(g, kind)]
        denied = [g.value for g in excluded if isinstance(g, kind)]
        if allowed and not any(_fits(name.type, name.value, b, excluding=False) for b in allowed):
            listed = ", ".join(str(b) for b in allowed)
            problems.append(f"'{name.value}' is outside the permitted names {listed}")
        hits = [b for b in denied if _fits(name.type, name.value, b, excluding=True)]
        if hits:
            listed = ", ".join(str(b) for b in hits)
            problems.append(f"'{name.value}' is inside the excluded names {listed}")
    return problems


def chain_constraint_violations(names: Names, ncs: Iterable[x509.NameConstraints]) -> list[str]:
    """The violations of every NameConstraints along a chain, one after the other."""
    problems: list[str] = []
    for nc in ncs:
        problems.extend(constraint_violations(names, nc))
    return problems
