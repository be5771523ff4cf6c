"""The syntax of one host name or IP address, the one wildcard rule, and the sentences that refuse a name."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Sequence

from certtui.errors import BadName

MAX_INPUT = 2048
"""Longer input is refused before any parsing; no certificate name comes close."""

_SHOW_MAX = 60
_LDH = re.compile(r"[a-z0-9-]+")
_HEX_NUMBER = re.compile(r"0x[0-9a-f]*")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# ---------------------------------------------------------------- messages


def show(text: str, limit: int = _SHOW_MAX) -> str:
    """Quote `text` for a message: non-printable characters escaped, long text cut with '…'.

    It escapes more than core/printable.py, which escapes what a terminal would act on: every
    character `str.isprintable` refuses, a no-break space included, is shown as its escape:
    a message about a bad name has to show the character that makes it bad.
    """
    cut = text if len(text) <= limit else text[:limit] + "…"
    shown = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in cut
    )
    return f"'{shown}'"


def bad_name(orig: str, detail: str, what: str = "name") -> BadName:
    """The refusal of the input `orig` (a name, or a `what` such as "constraint"), saying why."""
    return BadName(f"bad {what} {show(orig)}: {detail}")


def char(ch: str) -> str:
    """One character for a message: quoted, with its code point."""
    return f"{show(ch)} (U+{ord(ch):04X})"


def precheck(orig: str, what: str) -> None:
    """Refuse over-long input, control characters and inner whitespace."""
    if len(orig) > MAX_INPUT:
        raise bad_name(
            orig,
            f"the input is {len(orig)} characters long, far more than any name can be; check what you pasted",
            what,
        )
    for ch in orig:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise bad_name(orig, f"it contains the control character U+{ord(ch):04X}; remove it", what)
        if ch.isspace() or unicodedata.category(ch) in ("Zs", "Zl", "Zp"):
            raise bad_name(
                orig,
                f"it contains whitespace {char(ch)}; give one {what} at a time, or separate "
                "names with commas",
                what,
            )


# ---------------------------------------------------------------- DNS


def _dns_label(label: str, orig: str, what: str) -> str:
    """Check one UTS #46-mapped label and return it as an A-label."""
    for ch in label:
        if ch.isascii() and not _LDH.fullmatch(ch):
            raise bad_name(
                orig,
                f"label {show(label)} may only contain letters, digits and hyphens; "
                "fix the name and try again",
                what,
            )
    if label.startswith("-") or label.endswith("-"):
        raise bad_name(
            orig,
            f"label {show(label)} may not start or end with a hyphen; fix the name and try again",
            what,
        )
    if label.isascii():
        alabel = label
        if label.startswith("xn--"):
            import idna

            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                raise bad_name(
                    orig,
                    f"label {show(label)} starts with 'xn--' but is not a valid A-label "
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
                detail = f"contains {char(bad)}, which" if bad else "contains a character that"
                raise bad_name(
                    orig,
                    f"label {show(label)} {detail} IDNA 2008 does not allow in host names; "
                    "fix the name and try again",
                    what,
                ) from None
            except (idna.IDNAError, UnicodeError, ValueError) as err:
                reason = str(err).rstrip(".") or "it breaks an IDNA 2008 rule"
                raise bad_name(
                    orig,
                    f"label {show(label)} is not a valid internationalised label ({reason}); "
                    "fix the name and try again",
                    what,
                ) from None
    if len(alabel) > 63:
        long_form = "" if alabel == label else f" as the A-label {show(alabel, 20)}"
        raise bad_name(
            orig,
            f"label {show(label, 20)} is {len(alabel)} characters long{long_form}; "
            "a label holds at most 63, so shorten it",
            what,
        )
    return alabel


def _wildcard_fault(labels: Sequence[str], i: int) -> str | None:
    """What is wrong with the '*' in label `i` of a name split at its dots; None if nothing."""
    label = labels[i]
    if label != "*" or i != 0:
        return (
            f"in label {show(label)}, '*' may only stand alone as the left-most label, "
            "as in '*.home.arpa'; fix the name and try again"
        )
    if len(labels) == 1:
        return "a lone '*' matches nothing; give a wildcard such as '*.home.arpa'"
    if len(labels) == 2:
        return (
            f"a wildcard directly above a single-label domain ('*.{labels[1]}') never "
            f"matches on iOS or in browsers; name the host itself (e.g. 'nas.{labels[1]}') "
            f"or put the wildcard deeper (e.g. '*.home.{labels[1]}')"
        )
    return None


def wildcard_ok(name: str) -> bool:
    """Whether `name` is a wildcard iOS (SecDNSMatch) and browsers match: '*' is the whole
    left-most label, two or more labels follow it, and no other label holds a '*'.

    The one wildcard rule: `parse_name` refuses any other '*' (saying which part is wrong),
    and the checklist's `leaf.wildcard` fails a certificate that carries one.
    """
    labels = name.split(".")
    return "*" in name and all(
        _wildcard_fault(labels, i) is None for i, part in enumerate(labels) if "*" in part
    )


def parse_dns(text: str, orig: str, what: str = "name", no_wildcard: str | None = None) -> str:
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
            detail = f"it contains {char(bad)}" if bad else "it contains a character"
            raise bad_name(orig, f"{detail}, which cannot appear in a host name; remove it", what) from None
        except (idna.IDNAError, UnicodeError, ValueError) as err:
            raise bad_name(
                orig,
                f"it cannot be mapped to a host name ({err}); fix the name and try again",
                what,
            ) from None
    mapped = mapped.removesuffix(".")
    if not mapped:
        raise bad_name(orig, "there is no host name in it; give a name such as 'nas.home.arpa'", what)
    labels = mapped.split(".")
    alabels: list[str] = []
    for i, label in enumerate(labels):
        if not label:
            raise bad_name(
                orig,
                "it has an empty label (two dots in a row, or a leading dot); remove the extra dot",
                what,
            )
        if "*" in label:
            if no_wildcard is not None:
                raise bad_name(orig, no_wildcard, what)
            fault = _wildcard_fault(labels, i)
            if fault is not None:
                raise bad_name(orig, fault, what)
            alabels.append("*")
            continue
        alabels.append(_dns_label(label, orig, what))
    name = ".".join(alabels)
    if len(name) > 253:
        raise bad_name(
            orig,
            f"the name is {len(name)} characters long; a host name holds at most 253, so shorten it",
            what,
        )
    last = alabels[-1]
    if last.isdigit():
        raise bad_name(
            orig,
            f"the last label {show(last)} is all digits, which browsers read as an IPv4 address; "
            "use a valid IP or a name ending in letters",
            what,
        )
    if _HEX_NUMBER.fullmatch(last):
        raise bad_name(
            orig,
            f"the last label {show(last)} is a hexadecimal number, which browsers read as an "
            "IPv4 address; use a valid IP or a name ending in letters",
            what,
        )
    return name


# ---------------------------------------------------------------- IP


def _zone_id_error(orig: str, text: str, what: str) -> BadName:
    addr, _, zone = text.partition("%")
    return bad_name(
        orig,
        f"the zone id {show('%' + zone)} cannot go into a certificate; "
        f"give the address without it ({show(addr)})",
        what,
    )


def parse_ip(text: str, orig: str, what: str = "name") -> IPAddress | None:
    """The address `text` stands for; None when it is not meant as an IP at all."""
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise bad_name(orig, "its brackets do not match; write an IPv6 address as '[fd00::1]'", what)
        inner = text[1:-1]
        if "%" in inner:
            raise _zone_id_error(orig, inner, what)
        try:
            addr = ipaddress.ip_address(inner)
        except ValueError:
            raise bad_name(
                orig,
                f"{show(inner)} is not a valid IPv6 address; fix the address and try again",
                what,
            ) from None
        if addr.version != 6:
            raise bad_name(orig, "brackets are only for IPv6 addresses; drop them", what)
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
        raise bad_name(
            orig,
            "it is not a valid IPv6 address; fix the address and try again",
            what,
        )
    host, sep, port = text.rpartition(":")
    if sep and host and port.isdigit():
        raise bad_name(
            orig,
            f"a port cannot go into a certificate; give {show(host)} without ':{port}'",
            what,
        )
    return None


def try_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
