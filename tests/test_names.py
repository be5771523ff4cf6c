"""Tests for certtui.core.names and .constraints: parsing names and constraints, holding names to them."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from certtui.core.constraints import (
    chain_constraint_violations,
    constraint_violations,
    name_constraints_extension,
    parse_constraint,
)
from certtui.core.models import Constraint, Names, NameType, SubjectName
from certtui.core.name_syntax import wildcard_ok
from certtui.core.names import ACCEPTED_FORMS, common_name, general_names, parse_name, parse_names
from certtui.errors import BadName, CerttuiError

DNS, IP, EMAIL, URI = NameType.DNS, NameType.IP, NameType.EMAIL, NameType.URI

# ---------------------------------------------------------------- parse_name: good input

GOOD = [
    # DNS
    ("nas.home.arpa", DNS, "nas.home.arpa"),
    ("NAS.Home.Arpa", DNS, "nas.home.arpa"),
    ("  nas.home.arpa\t", DNS, "nas.home.arpa"),
    ("nas.home.arpa.", DNS, "nas.home.arpa"),
    ("bücher.home.arpa", DNS, "xn--bcher-kva.home.arpa"),
    ("BÜCHER.home.arpa", DNS, "xn--bcher-kva.home.arpa"),
    ("xn--bcher-kva.home.arpa", DNS, "xn--bcher-kva.home.arpa"),
    ("XN--BCHER-KVA.home.arpa", DNS, "xn--bcher-kva.home.arpa"),
    ("faß.home.arpa", DNS, "xn--fa-hia.home.arpa"),  # non-transitional: not "fass"
    ("\uff2e\uff21\uff33\uff0ehome\uff0earpa", DNS, "nas.home.arpa"),  # full-width letters and dots map
    ("nas\u3002home\u3002arpa", DNS, "nas.home.arpa"),  # ideographic full stop is a dot
    ("localhost", DNS, "localhost"),
    ("nas", DNS, "nas"),
    ("a-b.lan", DNS, "a-b.lan"),
    ("ab--cd.lan", DNS, "ab--cd.lan"),  # hyphens in 3rd/4th place: browsers accept it
    ("1nas.lan", DNS, "1nas.lan"),
    ("123.lan", DNS, "123.lan"),  # only the last label must not be a number
    ("host.0xyz", DNS, "host.0xyz"),  # not a hex number
    ("*.home.arpa", DNS, "*.home.arpa"),
    ("*.bücher.arpa", DNS, "*.xn--bcher-kva.arpa"),
    ("a" * 63 + ".lan", DNS, "a" * 63 + ".lan"),
    (".".join(["a" * 63] * 3 + ["b" * 61]), DNS, ".".join(["a" * 63] * 3 + ["b" * 61])),
    # IP
    ("192.168.1.10", IP, "192.168.1.10"),
    ("fd00::1", IP, "fd00::1"),
    ("fd00:0:0::1", IP, "fd00::1"),
    ("FD00:0000:0000:0000:0000:0000:0000:0001", IP, "fd00::1"),
    ("[fd00::1]", IP, "fd00::1"),
    ("::1", IP, "::1"),
    # email
    ("user@home.arpa", EMAIL, "user@home.arpa"),
    ("User.Name+tag@NAS.Home.Arpa", EMAIL, "User.Name+tag@nas.home.arpa"),
    ("user@bücher.home.arpa", EMAIL, "user@xn--bcher-kva.home.arpa"),
    ("root@localhost", EMAIL, "root@localhost"),
    ("!#$%&'*+/=?^_`{|}~-@x.lan", EMAIL, "!#$%&'*+/=?^_`{|}~-@x.lan"),
    # URI
    ("https://nas.home.arpa:8443/x", URI, "https://nas.home.arpa:8443/x"),
    ("https://nas.home.arpa", URI, "https://nas.home.arpa"),
    ("HTTPS://NAS.home.arpa/Path?Q=1#F", URI, "https://nas.home.arpa/Path?Q=1#F"),
    ("https://bücher.home.arpa/ü", URI, "https://xn--bcher-kva.home.arpa/%C3%BC"),
    ("http://[FD00:0::1]:80/", URI, "http://[fd00::1]:80/"),
    ("http://192.168.1.10/", URI, "http://192.168.1.10/"),
    ("spiffe://home.arpa/ns/web", URI, "spiffe://home.arpa/ns/web"),
    ("git+ssh://nas.lan/repo", URI, "git+ssh://nas.lan/repo"),
]


@pytest.mark.parametrize(("text", "kind", "value"), GOOD)
def test_parse_name_good(text: str, kind: NameType, value: str) -> None:
    assert parse_name(text) == SubjectName(kind, value)


def test_accepted_forms_all_parse() -> None:
    assert ACCEPTED_FORMS
    for example, meaning in ACCEPTED_FORMS:
        assert meaning
        parse_name(example)


# ---------------------------------------------------------------- parse_name: bad input

LABEL64 = "a" * 64
BAD = [
    (
        "bad_name!",
        "bad name 'bad_name!': label 'bad_name!' may only contain letters, digits and hyphens; "
        "fix the name and try again",
    ),
    (
        "-x.lan",
        "bad name '-x.lan': label '-x' may not start or end with a hyphen; fix the name and try again",
    ),
    ("x-.lan", "label 'x-' may not start or end with a hyphen"),
    (LABEL64 + ".lan", "is 64 characters long; a label holds at most 63"),
    ("ü" * 60 + ".lan", "is 66 characters long as the A-label 'xn--"),
    ("", "bad name '': empty name; give a host name, IP address, email or URI"),
    ("   ", "bad name '': empty name; give a host name, IP address, email or URI"),
    (
        "1.2.3.999",
        "bad name '1.2.3.999': the last label '999' is all digits, which browsers read as an IPv4 "
        "address; use a valid IP or a name ending in letters",
    ),
    ("host.123", "the last label '123' is all digits"),
    ("192.168.01.1", "the last label '1' is all digits"),
    ("host.0x1f", "the last label '0x1f' is a hexadecimal number"),
    ("*.lan", "a wildcard directly above a single-label domain ('*.lan') never matches"),
    ("a.*.b", "in label '*', '*' may only stand alone as the left-most label"),
    ("w*.b.c", "in label 'w*', '*' may only stand alone as the left-most label"),
    ("**.a.b", "in label '**', '*' may only stand alone"),
    ("*.*.a.b", "in label '*', '*' may only stand alone"),
    ("*", "a lone '*' matches nothing"),
    (
        "fe80::1%eth0",
        "bad name 'fe80::1%eth0': the zone id '%eth0' cannot go into a certificate; "
        "give the address without it ('fe80::1')",
    ),
    ("[fe80::1%eth0]", "the zone id '%eth0' cannot go into a certificate"),
    ("[1.2.3.4]", "brackets are only for IPv6 addresses"),
    ("[fd00::1", "its brackets do not match"),
    ("fd00::1::2", "it is not a valid IPv6 address"),
    ("nas.lan:8443", "a port cannot go into a certificate; give 'nas.lan' without ':8443'"),
    ('"quoted"@x.lan', "quoted local parts ('\"quoted\"') are not supported"),
    ("a@b@x.lan", "more than one '@'"),
    ("@x.lan", "there is nothing before the '@'"),
    ("user@", "there is no domain after the '@'"),
    ("jörg@x.lan", "the local part 'jörg' must be ASCII"),
    ("a..b@x.lan", "may not start or end with a dot or hold two dots in a row"),
    (".a@x.lan", "may not start or end with a dot"),
    ("a(b)@x.lan", "may not contain '('"),
    ("a" * 65 + "@x.lan", "the local part is 65 characters long; it holds at most 64"),
    ("user@*.home.arpa", "the domain of an email address may not hold a '*'"),
    ("user@1.2.3.4", "mail to an IP address cannot go into a certificate"),
    ("user@[fd00::1]", "mail to an IP address cannot go into a certificate"),
    ("user@bad_dom.lan", "label 'bad_dom' may only contain letters, digits and hyphens"),
    ("a\x00b.lan", "bad name 'a\\x00b.lan': it contains the control character U+0000; remove it"),
    ("nas\x01.lan", "control character U+0001"),
    ("nas\x7f.lan", "control character U+007F"),
    ("nas.lan\x1b[31m", "control character U+001B"),
    ("a b.lan", "it contains whitespace ' ' (U+0020)"),
    ("a\u00a0b.lan", "it contains whitespace"),
    (".".join(["a" * 50] * 6), "the name is 305 characters long; a host name holds at most 253"),
    ("a" * 300, "is 300 characters long; a label holds at most 63"),
    ("a" * 5000, "the input is 5000 characters long"),
    ("a..b", "it has an empty label (two dots in a row, or a leading dot)"),
    (".nas.lan", "it has an empty label"),
    ("nas.lan..", "it has an empty label"),
    (".", "there is no host name in it"),
    ("☃.lan", "label '☃' contains '☃' (U+2603), which IDNA 2008 does not allow in host names"),
    ("xn--zz.lan", "label 'xn--zz' starts with 'xn--' but is not a valid A-label"),
    ("xn--abc-.lan", "label 'xn--abc-' may not start or end with a hyphen"),
    ("\u200d.lan", "is not a valid internationalised label"),
    ("nas:x.lan", "label 'nas:x' may only contain letters, digits and hyphens"),
    ("1http://x.lan", "the scheme '1http' must start with a letter"),
    ("ht tp://x.lan", "it contains whitespace"),
    ("https://", "the URI has no host"),
    ("https:///path", "the URI has no host"),
    ("https://user:pw@nas.lan/", "may not carry a user name or password"),
    ("https://fd00::1/", "an IPv6 host in a URI goes in brackets"),
    ("https://[fd00::1/", "the '[' around its IPv6 host is never closed"),
    ("https://[fd00::1]x/", "after the host makes no sense"),
    ("https://nas.lan:99999/", "the port '99999' must be a number from 0 to 65535"),
    ("https://nas.lan:/", "the port '' must be a number from 0 to 65535"),
    ("https://*.nas.lan/", "the host of a URI may not hold a '*'"),
    ("https://bad_host.lan/", "label 'bad_host' may only contain letters, digits and hyphens"),
    ("https://1.2.3.999/", "the last label '999' is all digits"),
    ("https://[1.2.3.4]/", "brackets are only for IPv6 addresses"),
    ("https://[fe80::1%25eth0]/", "the zone id '%25eth0' cannot go into a certificate"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_parse_name_bad(text: str, message: str) -> None:
    with pytest.raises(BadName) as info:
        parse_name(text)
    text_of_error = str(info.value)
    assert message in text_of_error
    assert text_of_error.startswith("bad name '")
    assert "\n" not in text_of_error
    assert isinstance(info.value, CerttuiError)


def test_long_input_is_cut_in_the_message() -> None:
    with pytest.raises(BadName) as info:
        parse_name(LABEL64 + ".lan")
    assert str(info.value) == (
        f"bad name '{'a' * 60}…': label '{'a' * 20}…' is 64 characters long; "
        "a label holds at most 63, so shorten it"
    )


# ---------------------------------------------------------------- parse_names


def test_parse_names_groups_in_type_order() -> None:
    names = parse_names(
        [
            "https://nas.home.arpa/ user@home.arpa",
            "fd00::1, nas.home.arpa,192.168.1.10",
            "  *.home.arpa\tlocalhost\n",
        ]
    )
    assert names == Names(
        dns=("nas.home.arpa", "*.home.arpa", "localhost"),
        ip=("fd00::1", "192.168.1.10"),
        email=("user@home.arpa",),
        uri=("https://nas.home.arpa/",),
    )
    assert names.values() == (
        "nas.home.arpa",
        "*.home.arpa",
        "localhost",
        "fd00::1",
        "192.168.1.10",
        "user@home.arpa",
        "https://nas.home.arpa/",
    )


def test_parse_names_splits_one_string() -> None:
    assert parse_names(["nas.home.arpa, 192.168.1.10"]) == Names(dns=("nas.home.arpa",), ip=("192.168.1.10",))


def test_parse_names_drops_duplicates_after_normalising() -> None:
    names = parse_names(
        ["NAS.home.arpa", "nas.home.arpa.", "b.lan", "nas.home.arpa", "fd00:0::1", "[fd00::1]"]
    )
    assert names == Names(dns=("nas.home.arpa", "b.lan"), ip=("fd00::1",))
    assert parse_names(["bücher.lan xn--bcher-kva.lan"]).dns == ("xn--bcher-kva.lan",)


@pytest.mark.parametrize("texts", [[], [""], ["  ", ",", " , ,\t"]])
def test_parse_names_none(texts: list[str]) -> None:
    with pytest.raises(BadName, match=r"^no names given; "):
        parse_names(texts)


def test_parse_names_reports_the_bad_one() -> None:
    with pytest.raises(BadName, match=r"^bad name '-x\.lan': label '-x'"):
        parse_names(["nas.lan, -x.lan"])


# ---------------------------------------------------------------- common_name

LONG_DNS = ".".join(["a" * 30, "b" * 30, "lan"])  # 65 characters


def test_long_dns_is_long() -> None:
    assert len(LONG_DNS) == 65


@pytest.mark.parametrize(
    ("names", "cn"),
    [
        (Names(dns=("nas.home.arpa", "b.lan"), ip=("192.168.1.10",)), "nas.home.arpa"),
        (Names(dns=(LONG_DNS, "short.lan"), ip=("192.168.1.10",)), "short.lan"),
        (Names(dns=(LONG_DNS,), ip=("192.168.1.10",)), "192.168.1.10"),
        (Names(dns=("a" * 64,)), "a" * 64),
        (Names(ip=("fd00::1",), email=("u@x.lan",)), "fd00::1"),
        (Names(email=("u@x.lan",), uri=("https://x.lan/",)), "u@x.lan"),
        (Names(email=("a" * 60 + "@x.lan",), uri=("https://x.lan/",)), "https://x.lan/"),
        (Names(dns=(LONG_DNS,), uri=("https://" + LONG_DNS + "/",)), None),
        (Names(), None),
    ],
)
def test_common_name(names: Names, cn: str | None) -> None:
    assert common_name(names) == cn


# ---------------------------------------------------------------- general_names


def test_general_names_order_and_types() -> None:
    names = parse_names(["https://nas.lan/ u@nas.lan fd00::1 nas.lan 10.0.0.1 *.home.arpa"])
    assert general_names(names) == [
        x509.DNSName("nas.lan"),
        x509.DNSName("*.home.arpa"),
        x509.IPAddress(ipaddress.IPv6Address("fd00::1")),
        x509.IPAddress(ipaddress.IPv4Address("10.0.0.1")),
        x509.RFC822Name("u@nas.lan"),
        x509.UniformResourceIdentifier("https://nas.lan/"),
    ]


# ---------------------------------------------------------------- parse_constraint


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("home.arpa", DNS, "home.arpa"),
        (".home.arpa", DNS, "home.arpa"),
        ("Home.Arpa.", DNS, "home.arpa"),
        ("lan", DNS, "lan"),
        ("bücher.arpa", DNS, "xn--bcher-kva.arpa"),
        ("192.168.0.0/16", IP, "192.168.0.0/16"),
        ("fd00::/8", IP, "fd00::/8"),
        ("FD00:0::/8", IP, "fd00::/8"),
        ("10.0.0.0/255.0.0.0", IP, "10.0.0.0/8"),
        ("192.168.1.10", IP, "192.168.1.10/32"),
        ("fd00::1", IP, "fd00::1/128"),
        ("[fd00::1]", IP, "fd00::1/128"),
    ],
)
def test_parse_constraint_good(text: str, kind: NameType, value: str) -> None:
    assert parse_constraint(text) == Constraint(kind, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "192.168.1.0/16",
            "bad constraint '192.168.1.0/16': host bits are set after the prefix; "
            "did you mean 192.168.0.0/16?",
        ),
        ("fd00::1/8", "did you mean fd00::/8?"),
        ("192.168.0.0/33", "is not an IP network in CIDR form"),
        ("home.arpa/16", "is not an IP network in CIDR form"),
        ("", "bad constraint '': empty constraint"),
        ("*.home.arpa", "a constraint cannot hold a wildcard"),
        ("bad_name", "label 'bad_name' may only contain letters, digits and hyphens"),
        ("..home.arpa", "it has an empty label"),
        ("10", "the last label '10' is all digits"),
        ("user@home.arpa", "emails and URIs are not supported"),
        ("https://home.arpa/", "emails and URIs are not supported"),
        ("fe80::%eth0/64", "a zone id"),
        ("home\x00.arpa", "control character U+0000"),
    ],
)
def test_parse_constraint_bad(text: str, message: str) -> None:
    with pytest.raises(BadName) as info:
        parse_constraint(text)
    assert message in str(info.value)
    assert str(info.value).startswith("bad constraint '")


# ---------------------------------------------------------------- name_constraints_extension


def test_name_constraints_extension() -> None:
    nc = name_constraints_extension(
        [parse_constraint("home.arpa"), parse_constraint("192.168.0.0/16")],
        [parse_constraint("bad.home.arpa")],
    )
    assert nc.permitted_subtrees == [
        x509.DNSName("home.arpa"),
        x509.IPAddress(ipaddress.IPv4Network("192.168.0.0/16")),
    ]
    assert nc.excluded_subtrees == [x509.DNSName("bad.home.arpa")]


def test_name_constraints_extension_permitted_only() -> None:
    nc = name_constraints_extension([parse_constraint("fd00::/8")])
    assert nc.permitted_subtrees == [x509.IPAddress(ipaddress.IPv6Network("fd00::/8"))]
    assert nc.excluded_subtrees is None


def test_name_constraints_extension_needs_something() -> None:
    with pytest.raises(BadName, match="no name constraints given"):
        name_constraints_extension([])


# ---------------------------------------------------------------- constraint_violations


def _nc(
    permitted: list[x509.GeneralName] | None = None,
    excluded: list[x509.GeneralName] | None = None,
) -> x509.NameConstraints:
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded)


HOME_LAN_NET = _nc(
    [
        x509.DNSName("home.arpa"),
        x509.DNSName("lan"),
        x509.IPAddress(ipaddress.ip_network("192.168.0.0/16")),
    ]
)


@pytest.mark.parametrize(
    "text",
    [
        "home.arpa",  # equal to the base
        "nas.home.arpa",  # below
        "a.b.home.arpa",
        "NAS.HOME.ARPA",
        "*.a.home.arpa",  # a wildcard fits like the name
        "*.home.arpa",
        "nas.lan",
        "192.168.0.1",
        "192.168.255.255",
        "u@anything.example",  # no rfc822Name subtree: emails are not limited
        "https://evil.example/",  # no URI subtree either
    ],
)
def test_fits(text: str) -> None:
    assert constraint_violations(parse_names([text]), HOME_LAN_NET) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("evil.com", "'evil.com' is outside the permitted names home.arpa, lan"),
        ("xhome.arpa", "'xhome.arpa' is outside the permitted names home.arpa, lan"),
        ("arpa", "'arpa' is outside the permitted names home.arpa, lan"),
        ("home.arpa.evil.com", "'home.arpa.evil.com' is outside the permitted names home.arpa, lan"),
        ("*.example.com", "'*.example.com' is outside the permitted names home.arpa, lan"),
        ("10.0.0.1", "'10.0.0.1' is outside the permitted names 192.168.0.0/16"),
        ("192.169.0.1", "'192.169.0.1' is outside the permitted names 192.168.0.0/16"),
        ("fd00::1", "'fd00::1' is outside the permitted names 192.168.0.0/16"),
        # an IPv4-mapped IPv6 address is IPv6: it does not fit an IPv4 network
        ("::ffff:192.168.1.1", "'::ffff:c0a8:101' is outside the permitted names 192.168.0.0/16"),
    ],
)
def test_misfits(text: str, problem: str) -> None:
    assert constraint_violations(parse_names([text]), HOME_LAN_NET) == [problem]


def test_violations_one_per_bad_name_in_order() -> None:
    names = parse_names(["nas.home.arpa evil.com 192.168.1.1 10.0.0.1 fd00::1 x.lan"])
    assert constraint_violations(names, HOME_LAN_NET) == [
        "'evil.com' is outside the permitted names home.arpa, lan",
        "'10.0.0.1' is outside the permitted names 192.168.0.0/16",
        "'fd00::1' is outside the permitted names 192.168.0.0/16",
    ]


def test_dns_only_constraint_leaves_ips_free() -> None:
    nc = _nc([x509.DNSName("home.arpa")])
    assert constraint_violations(parse_names(["10.0.0.1 fd00::1 nas.home.arpa"]), nc) == []


def test_ip_only_constraint_leaves_dns_free() -> None:
    nc = _nc([x509.IPAddress(ipaddress.ip_network("fd00::/8"))])
    assert constraint_violations(parse_names(["evil.com fd12::1"]), nc) == []
    assert constraint_violations(parse_names(["192.168.1.1"]), nc) == [
        "'192.168.1.1' is outside the permitted names fd00::/8"
    ]


def test_leading_dot_base_means_strictly_below() -> None:
    nc = _nc([x509.DNSName(".home.arpa")])
    assert constraint_violations(parse_names(["nas.home.arpa"]), nc) == []
    assert constraint_violations(parse_names(["home.arpa"]), nc) == [
        "'home.arpa' is outside the permitted names .home.arpa"
    ]


def test_case_insensitive_base() -> None:
    nc = _nc([x509.DNSName("Home.ARPA")])
    assert constraint_violations(parse_names(["nas.home.arpa"]), nc) == []


def test_excluded_subtrees() -> None:
    nc = _nc(
        [x509.DNSName("home.arpa")],
        [x509.DNSName("bad.home.arpa"), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))],
    )
    names = parse_names(
        ["ok.home.arpa bad.home.arpa x.bad.home.arpa xbad.home.arpa *.home.arpa 10.1.1.1 11.0.0.1"]
    )
    assert constraint_violations(names, nc) == [
        "'bad.home.arpa' is inside the excluded names bad.home.arpa",
        "'x.bad.home.arpa' is inside the excluded names bad.home.arpa",
        # the wildcard would match bad.home.arpa itself
        "'*.home.arpa' is inside the excluded names bad.home.arpa",
        "'10.1.1.1' is inside the excluded names 10.0.0.0/8",
    ]


def test_excluded_and_outside_both_reported() -> None:
    nc = _nc([x509.DNSName("home.arpa")], [x509.DNSName("com")])
    assert constraint_violations(parse_names(["evil.com"]), nc) == [
        "'evil.com' is outside the permitted names home.arpa",
        "'evil.com' is inside the excluded names com",
    ]


def test_email_constraints() -> None:
    nc = _nc(
        [
            x509.RFC822Name("home.arpa"),
            x509.RFC822Name(".lan"),
            x509.RFC822Name("boss@corp.example"),
        ]
    )
    fit = parse_names(["a@home.arpa A@HOME.ARPA b@x.lan boss@corp.example nas.evil.com"])
    assert constraint_violations(fit, nc) == []
    misfit = parse_names(["a@x.home.arpa b@lan c@corp.example a@evil.com"])
    listed = "home.arpa, .lan, boss@corp.example"
    assert constraint_violations(misfit, nc) == [
        f"'a@x.home.arpa' is outside the permitted names {listed}",
        f"'b@lan' is outside the permitted names {listed}",
        f"'c@corp.example' is outside the permitted names {listed}",
        f"'a@evil.com' is outside the permitted names {listed}",
    ]


def test_uri_constraints() -> None:
    nc = _nc([x509.UniformResourceIdentifier("nas.home.arpa"), x509.UniformResourceIdentifier(".lan")])
    fit = parse_names(["https://nas.home.arpa:8443/x https://x.lan/ spiffe://a.b.lan/ns"])
    assert constraint_violations(fit, nc) == []
    misfit = parse_names(["https://other.home.arpa/ https://lan/ https://[fd00::1]/"])
    listed = "nas.home.arpa, .lan"
    assert constraint_violations(misfit, nc) == [
        f"'https://other.home.arpa/' is outside the permitted names {listed}",
        f"'https://lan/' is outside the permitted names {listed}",
        f"'https://[fd00::1]/' is outside the permitted names {listed}",
    ]


def test_chain_constraint_violations_concatenates() -> None:
    root = _nc([x509.DNSName("home.arpa"), x509.DNSName("lan")])
    intermediate = _nc([x509.DNSName("lab.home.arpa")])
    names = parse_names(["nas.lab.home.arpa nas.home.arpa x.lan"])
    assert chain_constraint_violations(names, [root, intermediate]) == [
        "'nas.home.arpa' is outside the permitted names lab.home.arpa",
        "'x.lan' is outside the permitted names lab.home.arpa",
    ]
    assert chain_constraint_violations(names, []) == []


def test_round_trip_through_parse_constraint() -> None:
    nc = name_constraints_extension([parse_constraint(".home.arpa"), parse_constraint("fd00::/8")])
    assert constraint_violations(parse_names(["home.arpa fd00::5"]), nc) == []
    assert constraint_violations(parse_names(["fe80::1"]), nc) == [
        "'fe80::1' is outside the permitted names fd00::/8"
    ]


# ---------------------------------------------------------------- fuzzing

HOSTISH = st.text(alphabet="abcXYZ019-_.*:@/[]%ßü\u3002\uff0e\x00 ", max_size=40)


def _parse_or_badname(text: str) -> None:
    try:
        result = parse_name(text)
    except BadName as err:
        assert str(err)
        assert "\n" not in str(err)
        return
    assert isinstance(result, SubjectName)
    assert result.value.isascii()
    assert result.value
    # the parsed value is a fixed point
    assert parse_name(result.value) == result


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_fuzz_any_text(text: str) -> None:
    _parse_or_badname(text)


@settings(max_examples=500, deadline=None)
@given(HOSTISH)
def test_fuzz_hostish_text(text: str) -> None:
    _parse_or_badname(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab1-.ü*", min_size=1, max_size=70), min_size=1, max_size=6))
def test_fuzz_dotted_labels(labels: list[str]) -> None:
    _parse_or_badname(".".join(labels))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_constraint(text: str) -> None:
    try:
        result = parse_constraint(text)
    except BadName:
        return
    assert isinstance(result, Constraint)
    assert result.value.isascii()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["*", "a", "lab", "*x", "home", "arpa"]), min_size=1, max_size=4))
def test_one_wildcard_rule_for_parsing_and_the_checklist(labels: list[str]) -> None:
    """`wildcard_ok` (the checklist's leaf.wildcard) accepts a wildcard exactly when parse_name does."""
    name = ".".join(labels)
    if "*" not in name:
        assert not wildcard_ok(name)
        return
    try:
        parse_name(name)
    except BadName:
        assert not wildcard_ok(name), name
    else:
        assert wildcard_ok(name), name
