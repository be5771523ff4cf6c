"""The checklist engine: each fail and warn rule on a certificate that breaks it and one that keeps it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from support.pki import issue_one

from certtui.core import checks
from certtui.core.checks import Finding, Severity
from certtui.core.issuance import init_store, plan
from certtui.core.models import InitRequest, IssueRequest, KeySpec, Kind
from certtui.core.store import Store
from certtui.paths import db_path

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
"""Every certificate here is dated around this instant, and every check runs at it."""

SERVER = [ExtendedKeyUsageOID.SERVER_AUTH]
CLIENT = [ExtendedKeyUsageOID.CLIENT_AUTH]
_KEYS: dict[str, object] = {}


def key(kind: str = "ec256") -> object:
    """A private key per type, made once: RSA generation is slow and the keys are only test data."""
    if kind not in _KEYS:
        _KEYS[kind] = {
            "ec256": lambda: ec.generate_private_key(ec.SECP256R1()),
            "ec521": lambda: ec.generate_private_key(ec.SECP521R1()),
            "rsa1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
            "ed25519": ed25519.Ed25519PrivateKey.generate,
        }[kind.split("#")[0]]()
    return _KEYS[kind]


@dataclass(frozen=True)
class Made:
    cert: x509.Certificate
    key: object


def _name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


def make(
    cn: str | None,
    *,
    issuer: Made | None = None,
    private: object | None = None,
    ca: bool | None = None,
    bc_critical: bool = True,
    path_length: int | None = None,
    ku: str | None = "default",
    ku_critical: bool = True,
    names: Sequence[str] = (),
    ips: Sequence[str] = (),
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    ski: bool = True,
    aki: bytes | bool = True,
    nc: x509.NameConstraints | None = None,
    not_before: datetime | None = None,
    days: float = 397,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
    san: bool = True,
) -> Made:
    """A certificate with exactly the extensions asked for (signed by `issuer`, else by itself)."""
    import ipaddress

    private = private or key()
    signer = issuer.key if issuer else private
    nb = not_before or NOW - timedelta(minutes=10)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(private.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(nb + timedelta(days=days))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), bc_critical)
    if ku is not None:
        cert_sign = bool(ca) if ku == "default" else "certsign" in ku
        crl_sign = bool(ca) if ku == "default" else "crlsign" in ku
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=cert_sign,
                crl_sign=crl_sign,
                encipher_only=False,
                decipher_only=False,
            ),
            ku_critical,
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
    if san and (names or ips):
        general = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(general), False)
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private.public_key()),
            False,  # type: ignore[attr-defined]
        )
    if issuer and aki is True:
        ski_value = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski_value), False
        )
    elif isinstance(aki, bytes):
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), False)
    if nc is not None:
        builder = builder.add_extension(nc, True)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical)
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Made(builder.sign(signer, algorithm), private)  # type: ignore[arg-type]


def root(cn: str | None = "Test Root", **kw: object) -> Made:
    kw.setdefault("days", 3650)
    return make(cn, ca=True, **kw)  # type: ignore[arg-type]


def intermediate(parent: Made, cn: str = "Test Intermediate", **kw: object) -> Made:
    kw.setdefault("days", 1826)
    kw.setdefault("path_length", 0)
    return make(cn, issuer=parent, ca=True, private=kw.pop("private", key("ec256#int")), **kw)  # type: ignore[arg-type]


def server(parent: Made, names: Sequence[str] = ("nas.home.arpa",), **kw: object) -> Made:
    kw.setdefault("eku", SERVER)
    kw.setdefault("ca", False)
    return make(
        names[0] if names else None,
        issuer=parent,
        names=names,
        private=kw.pop("private", key("ec256#leaf")),
        **kw,
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pki() -> tuple[Made, Made]:
    """A good root and intermediate, as certtui makes them."""
    r = root(private=key("ec256#root"))
    return r, intermediate(r)


def run(
    cert: x509.Certificate | Made, chain: Sequence[x509.Certificate | Made] = (), **kw: object
) -> dict[str, Finding]:
    c = cert.cert if isinstance(cert, Made) else cert
    rest = [m.cert if isinstance(m, Made) else m for m in chain]
    kw.setdefault("now", NOW)
    findings = checks.check(c, rest, **kw)  # type: ignore[arg-type]
    ids = [f.id for f in findings]
    assert len(ids) == len(set(ids)), ids
    assert set(ids) <= set(checks.TITLES), ids
    return {f.id: f for f in findings}


def severity(findings: dict[str, Finding], rule: str) -> Severity:
    assert rule in findings, (rule, sorted(findings))
    return findings[rule].severity


def problems(findings: dict[str, Finding]) -> dict[str, Severity]:
    return {i: f.severity for i, f in findings.items() if f.severity in (Severity.FAIL, Severity.WARN)}


# -- the rule contract ---------------------------------------------------------------------------


def test_every_rule_of_the_contract_has_a_title_and_nothing_else() -> None:
    # The contract lives in the repository, so this never skips; severities and titles are
    # compared by test_trust_fixes.py::test_trust_rules_document_matches_the_registry.
    text = Path(__file__).resolve().parents[1] / "docs" / "trust-rules.md"
    import re

    documented = set(re.findall(r"^\| `([a-z0-9]+\.[a-z0-9-]+)` \|", text.read_text(), re.MULTILINE))
    assert set(checks.TITLES) == documented


# -- a good PKI passes -----------------------------------------------------------------------------


def test_good_root_intermediate_and_leaf_have_no_fail_or_warn(pki: tuple[Made, Made]) -> None:
    r, i = pki
    leaf = server(i, ("nas.home.arpa",), ips=("192.168.1.10",))
    for cert, chain in ((r, []), (i, [r])):
        assert problems(run(cert, chain, roots=[r.cert])) == {}
    for cert, chain in ((leaf, [i, r]), (leaf, [i])):
        findings = run(cert, chain, roots=[r.cert], host="nas.home.arpa")
        assert problems(findings) == {}
    findings = run(leaf, [i], roots=[r.cert], host="192.168.1.10")
    assert severity(findings, "leaf.san-host") is Severity.PASS
    assert findings["chain.trusted"].detail == "verifies up to Test Root (3 certificate(s))"
    assert findings["leaf.san-present"].detail == "DNS:nas.home.arpa, IP:192.168.1.10"
    assert findings["chain.trusted"].fix == ""


def test_root_checklist_has_root_rules_and_no_leaf_rules(pki: tuple[Made, Made]) -> None:
    r, _ = pki
    findings = run(r, roots=[r.cert])
    assert set(findings) == {
        "root.ca-bc",
        "root.self-signed",
        "root.subject-cn",
        "root.key-usage",
        "root.key-strength",
        "root.validity",
        "root.path-len",
        "root.ski",
        "root.android-user-ca",
        "cert.critical-ext",
        "cert.ext-wellformed",
    }


def test_leaf_checklist_has_no_store_rules_and_of_root_rules_only_path_len(pki: tuple[Made, Made]) -> None:
    r, i = pki
    findings = run(server(i), [i], roots=[r.cert])
    assert not [f for f in findings if f.startswith(("store.", "client."))]
    assert {f for f in findings if f.startswith("root.")} == {"root.path-len"}
    assert "server.tls12" not in findings
    assert "leaf.san-host" not in findings  # no host given


# -- classification ------------------------------------------------------------------------------


def test_classification(pki: tuple[Made, Made]) -> None:
    r, i = pki
    assert checks.classify(r.cert) is Kind.ROOT
    assert checks.classify(i.cert) is Kind.INTERMEDIATE
    assert checks.classify(server(i).cert) is Kind.SERVER
    assert checks.classify(server(i, eku=None).cert) is Kind.SERVER
    client = server(i, ("laptop.home.arpa",), eku=CLIENT)
    assert checks.classify(client.cert) is Kind.CLIENT
    assert checks.classify(client.cert, host_given=True) is Kind.SERVER
    both = server(i, eku=[*SERVER, *CLIENT])
    assert checks.classify(both.cert) is Kind.SERVER


def test_self_signed_server_without_ca_true_is_held_to_the_root_rules() -> None:
    """The seed's case: a self-signed server certificate never gets the iOS trust switch."""
    leaf = make("nas.home.arpa", names=("nas.home.arpa",), eku=SERVER, ca=None, ku=None)
    assert checks.classify(leaf.cert) is Kind.SERVER
    findings = run(leaf, roots=[leaf.cert])
    assert severity(findings, "root.ca-bc") is Severity.FAIL
    assert "iOS 10.3+ never offers full trust" in findings["root.ca-bc"].detail
    assert "certtui issue" in findings["root.ca-bc"].fix
    assert severity(findings, "root.self-signed") is Severity.PASS
    assert severity(findings, "leaf.eku-serverauth") is Severity.PASS
    assert severity(findings, "leaf.not-ca") is Severity.WARN


# -- root rules --------------------------------------------------------------------------------


def test_root_ca_bc() -> None:
    assert severity(run(root(bc_critical=False)), "root.ca-bc") is Severity.WARN
    no_ca = make("Not A CA", ca=False, ku="certsign crlsign")
    findings = run(no_ca, kind=Kind.ROOT)
    assert severity(findings, "root.ca-bc") is Severity.FAIL
    assert findings["root.ca-bc"].detail.startswith("basicConstraints CA:FALSE")
    assert severity(run(root()), "root.ca-bc") is Severity.PASS


def test_root_self_signed(pki: tuple[Made, Made]) -> None:
    r, i = pki
    findings = run(i, [r], kind=Kind.ROOT, roots=[r.cert])
    assert severity(findings, "root.self-signed") is Severity.FAIL
    assert "not by itself" in findings["root.self-signed"].detail
    # Same name as issuer, but signed by another key: self-issued, not self-signed.
    other = Made(r.cert, key("ec256#other"))
    forged = make("Test Root", issuer=other, ca=True, private=key("ec256#forged"), aki=False)
    findings = run(forged, kind=Kind.ROOT)
    assert severity(findings, "root.self-signed") is Severity.FAIL
    assert "does not verify" in findings["root.self-signed"].detail
    assert severity(run(r), "root.self-signed") is Severity.PASS


def test_root_subject_cn() -> None:
    findings = run(root(cn=None))
    assert severity(findings, "root.subject-cn") is Severity.FAIL
    assert "--name" in findings["root.subject-cn"].fix
    assert run(root()).get("root.subject-cn") == Finding(
        "root.subject-cn", Severity.PASS, checks.TITLES["root.subject-cn"], "CN=Test Root", ""
    )


def test_root_key_usage() -> None:
    assert severity(run(root(ku="digitalsignature")), "root.key-usage") is Severity.FAIL
    mkcert_style = run(root(ku="certsign"))
    assert severity(mkcert_style, "root.key-usage") is Severity.WARN
    assert "cRLSign" in mkcert_style["root.key-usage"].detail
    assert severity(run(root(ku_critical=False)), "root.key-usage") is Severity.WARN
    assert severity(run(root(ku=None)), "root.key-usage") is Severity.PASS
    assert severity(run(root()), "root.key-usage") is Severity.PASS


def test_root_key_strength() -> None:
    weak = run(root(private=key("rsa1024")))
    assert severity(weak, "root.key-strength") is Severity.FAIL
    assert weak["root.key-strength"].detail == "RSA 1024 bits; Apple requires at least 2048"
    assert severity(run(root(private=key("ec521"))), "root.key-strength") is Severity.WARN
    assert severity(run(root(private=key("ed25519"))), "root.key-strength") is Severity.FAIL
    assert severity(run(root()), "root.key-strength") is Severity.PASS


def test_root_validity() -> None:
    expired = run(root(not_before=NOW - timedelta(days=400), days=365))
    assert severity(expired, "root.validity") is Severity.FAIL
    assert expired["root.validity"].detail.startswith("expired on 2026-")
    assert severity(run(root(not_before=NOW + timedelta(days=1))), "root.validity") is Severity.FAIL
    ending = run(root(not_before=NOW - timedelta(days=300), days=330))
    assert severity(ending, "root.validity") is Severity.WARN
    assert "in 30 days" in ending["root.validity"].detail
    assert severity(run(root()), "root.validity") is Severity.PASS


def test_root_path_len() -> None:
    """An mkcert-style root (pathLen 0) cannot have an intermediate below it."""
    mkcert = root(path_length=0, private=key("ec256#mk"))
    inter = intermediate(mkcert)
    leaf = server(inter)
    findings = run(leaf, [inter, mkcert], roots=[mkcert.cert])
    assert severity(findings, "root.path-len") is Severity.FAIL
    assert findings["root.path-len"].detail == "Test Root has pathLen 0 but 1 intermediate level(s) below it"
    assert severity(findings, "chain.trusted") is Severity.FAIL
    assert severity(run(inter, [mkcert], roots=[mkcert.cert]), "root.path-len") is Severity.FAIL
    # Leaves straight under it are fine, and the rule does not apply without an intermediate.
    assert "root.path-len" not in run(server(mkcert), [mkcert], roots=[mkcert.cert])
    assert severity(run(mkcert), "root.path-len") is Severity.PASS
    good = root(private=key("ec256#pl"))
    gi = intermediate(good)
    assert severity(run(server(gi), [gi], roots=[good.cert]), "root.path-len") is Severity.PASS


def test_root_ski() -> None:
    findings = run(root(ski=False))
    assert severity(findings, "root.ski") is Severity.WARN
    assert severity(run(root()), "root.ski") is Severity.PASS


def test_root_name_constraints() -> None:
    nc = x509.NameConstraints(permitted_subtrees=[x509.DNSName("home.arpa")], excluded_subtrees=None)
    r = root(nc=nc, private=key("ec256#nc"))
    own = run(r)
    assert severity(own, "root.name-constraints") is Severity.INFO
    assert own["root.name-constraints"].detail == "permitted: home.arpa; excluded: none"
    assert "root.name-constraints" not in run(root())
    outside = run(server(r, ("shop.example.com",)), [r], roots=[r.cert])
    assert severity(outside, "root.name-constraints") is Severity.FAIL
    detail = outside["root.name-constraints"].detail
    assert "'shop.example.com' is outside the permitted names home.arpa" in detail
    assert severity(outside, "chain.trusted") is Severity.FAIL
    inside = run(server(r, ("nas.home.arpa",)), [r], roots=[r.cert])
    assert severity(inside, "root.name-constraints") is Severity.PASS
    assert severity(inside, "chain.trusted") is Severity.PASS
    assert inside["root.name-constraints"].detail == "nas.home.arpa fit the constraints of Test Root"
    below = run(intermediate(r), [r], roots=[r.cert])["root.name-constraints"]
    assert (below.severity, below.detail) == (
        Severity.PASS,
        "no subjectAltName names to hold against the constraints of Test Root",
    )
    odd = x509.NameConstraints(
        permitted_subtrees=[x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")],
        excluded_subtrees=None,
    )
    assert severity(run(root(nc=odd)), "root.name-constraints") is Severity.FAIL


# -- intermediate and chain rules ---------------------------------------------------------------


def test_int_ca_bc(pki: tuple[Made, Made]) -> None:
    r, _ = pki
    no_sign = intermediate(r, ku="digitalsignature crlsign")
    findings = run(server(no_sign), [no_sign], roots=[r.cert])
    assert severity(findings, "int.ca-bc") is Severity.FAIL
    assert findings["int.ca-bc"].detail == "Test Intermediate: keyUsage lacks keyCertSign"
    assert severity(run(no_sign, [r], roots=[r.cert]), "int.ca-bc") is Severity.FAIL
    assert "int.ca-bc" not in run(server(r), [r], roots=[r.cert])


def test_int_key_strength(pki: tuple[Made, Made]) -> None:
    r, i = pki
    weak = intermediate(r, private=key("rsa1024"))
    findings = run(server(weak), [weak], roots=[r.cert])
    assert severity(findings, "int.key-strength") is Severity.FAIL
    assert findings["int.key-strength"].detail == (
        "Test Intermediate: RSA 1024 bits; Apple requires at least 2048"
    )
    assert severity(run(server(i), [i], roots=[r.cert]), "int.key-strength") is Severity.PASS


def _pem(path: Path, obj: x509.Certificate | object) -> Path:
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            obj.private_bytes(  # type: ignore[attr-defined]
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path


def openssl_sha1(
    tmp_path: Path, issuer: Made, subject_key: object, cn: str, extensions: str
) -> x509.Certificate:
    """A certificate signed with SHA-1 by the real `openssl` CLI (cryptography refuses to)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl CLI is not installed (apt-get install openssl)")
    ca_pem, ca_key = _pem(tmp_path / "ca.pem", issuer.cert), _pem(tmp_path / "ca.key", issuer.key)
    sub_key = _pem(tmp_path / f"{cn}.key", subject_key)
    (tmp_path / "ext.cnf").write_text(f"[v3]\n{extensions}\n")
    csr, out = tmp_path / f"{cn}.csr", tmp_path / f"{cn}.pem"
    subprocess.run(
        [openssl, "req", "-new", "-key", str(sub_key), "-subj", f"/CN={cn}", "-out", str(csr)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            openssl,
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_pem),
            "-CAkey",
            str(ca_key),
            "-set_serial",
            "4660",
            "-days",
            "30",
            "-sha1",
            "-extfile",
            str(tmp_path / "ext.cnf"),
            "-extensions",
            "v3",
            "-out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA1)
    return cert


def test_sig_hash_rules_with_sha1_from_openssl(tmp_path: Path, pki: tuple[Made, Made]) -> None:
    r, i = pki
    inter = openssl_sha1(
        tmp_path,
        r,
        key("ec256#sha1int"),
        "SHA1 Intermediate",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid",
    )
    mid = Made(inter, key("ec256#sha1int"))
    findings = run(server(mid), [mid], roots=[r.cert])
    assert severity(findings, "int.sig-hash") is Severity.FAIL
    assert findings["int.sig-hash"].detail.startswith("SHA1 Intermediate: ecdsa-with-SHA1")
    leaf = openssl_sha1(
        tmp_path,
        i,
        key("ec256#sha1leaf"),
        "old.home.arpa",
        "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:old.home.arpa\nauthorityKeyIdentifier=keyid",
    )
    findings = run(leaf, [i], roots=[r.cert])
    assert severity(findings, "leaf.sig-hash") is Severity.FAIL
    assert "SHA1" in findings["leaf.sig-hash"].detail
    assert severity(findings, "int.sig-hash") is Severity.PASS
    assert severity(run(server(i), [i], roots=[r.cert]), "leaf.sig-hash") is Severity.PASS


def test_chain_complete(pki: tuple[Made, Made]) -> None:
    r, i = pki
    leaf = server(i)
    missing = run(leaf, [], roots=[r.cert])
    assert severity(missing, "chain.complete") is Severity.FAIL
    assert "missing intermediate" in missing["chain.complete"].detail
    assert "fullchain" in missing["chain.complete"].fix
    misordered = run(leaf, [r, i], roots=[r.cert])
    assert severity(misordered, "chain.complete") is Severity.FAIL
    assert misordered["chain.complete"].detail == (
        "nas.home.arpa is not issued by Test Root, the next certificate given"
    )
    assert severity(run(leaf, [i], roots=[r.cert]), "chain.complete") is Severity.PASS
    assert severity(run(leaf, [i, r]), "chain.complete") is Severity.PASS


def test_chain_aki_link(pki: tuple[Made, Made]) -> None:
    r, i = pki
    wrong = run(server(i, aki=b"\x01" * 20), [i], roots=[r.cert])
    assert severity(wrong, "chain.aki-link") is Severity.FAIL
    assert "differs from Test Intermediate's SKI" in wrong["chain.aki-link"].detail
    assert severity(run(server(i, aki=False), [i], roots=[r.cert]), "chain.aki-link") is Severity.PASS
    assert severity(run(server(i), [i], roots=[r.cert]), "chain.aki-link") is Severity.PASS


def test_chain_trusted(pki: tuple[Made, Made]) -> None:
    r, i = pki
    leaf = server(i)
    assert severity(run(leaf, [i]), "chain.trusted") is Severity.FAIL
    stranger = root("Stranger Root", private=key("ec256#stranger"))
    other = run(leaf, [i], roots=[stranger.cert])
    assert severity(other, "chain.trusted") is Severity.FAIL
    assert "Stranger Root" in other["chain.trusted"].detail
    assert "--root" in other["chain.trusted"].fix
    expired = server(i, not_before=NOW - timedelta(days=30), days=10)
    assert severity(run(expired, [i], roots=[r.cert]), "chain.trusted") is Severity.FAIL
    assert severity(run(leaf, [i], roots=[r.cert]), "chain.trusted") is Severity.PASS


# -- leaf rules ---------------------------------------------------------------------------------


def test_leaf_san_present(pki: tuple[Made, Made]) -> None:
    r, i = pki
    assert severity(run(server(i, san=False), [i], roots=[r.cert]), "leaf.san-present") is Severity.FAIL
    empty = make(
        "nas.home.arpa", issuer=i, ca=False, eku=SERVER, extra=[(x509.SubjectAlternativeName([]), False)]
    )
    findings = run(empty, [i], roots=[r.cert])
    assert severity(findings, "leaf.san-present") is Severity.FAIL
    assert findings["leaf.san-present"].detail.startswith("an empty subjectAltName")
    assert severity(run(server(i), [i], roots=[r.cert]), "leaf.san-present") is Severity.PASS


@pytest.mark.parametrize(
    ("names", "ips", "host", "expected", "evidence"),
    [
        (("nas.home.arpa",), (), "nas.home.arpa", Severity.PASS, "matches the DNS name nas.home.arpa"),
        (("NAS.home.arpa",), (), "nas.HOME.arpa", Severity.PASS, "matches"),
        (("*.home.arpa",), (), "nas.home.arpa", Severity.PASS, "matches the DNS name *.home.arpa"),
        (("*.home.arpa",), (), "a.b.home.arpa", Severity.FAIL, "not among the DNS names"),
        (("nas.home.arpa",), ("192.168.1.10",), "192.168.1.10", Severity.PASS, "iPAddress entry"),
        (("192.168.1.10",), (), "192.168.1.10", Severity.FAIL, "written as a DNS name"),
        (("nas.home.arpa",), (), "other.home.arpa", Severity.FAIL, "not among the DNS names"),
    ],
)
def test_leaf_san_host(
    pki: tuple[Made, Made],
    names: tuple[str, ...],
    ips: tuple[str, ...],
    host: str,
    expected: Severity,
    evidence: str,
) -> None:
    r, i = pki
    findings = run(server(i, names, ips=ips), [i], roots=[r.cert], host=host)
    assert severity(findings, "leaf.san-host") is expected
    assert evidence in findings["leaf.san-host"].detail


def test_leaf_san_host_ignores_the_common_name(pki: tuple[Made, Made]) -> None:
    r, i = pki
    cn_only = make("nas.home.arpa", issuer=i, ca=False, eku=SERVER, names=("other.home.arpa",))
    findings = run(cn_only, [i], roots=[r.cert], host="nas.home.arpa")
    assert severity(findings, "leaf.san-host") is Severity.FAIL
    assert "only the common name holds it" in findings["leaf.san-host"].detail


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("*.lan", Severity.FAIL),
        ("*.local", Severity.FAIL),
        ("w*.home.arpa", Severity.FAIL),
        ("nas.*.arpa", Severity.FAIL),
        # Chromium refuses a wildcard right under home.arpa (tests/test_interop_clients.py).
        ("*.home.arpa", Severity.WARN),
        ("*.lab.home.arpa", Severity.PASS),
        ("nas.home.arpa", Severity.PASS),
    ],
)
def test_leaf_wildcard(pki: tuple[Made, Made], name: str, expected: Severity) -> None:
    r, i = pki
    assert severity(run(server(i, (name,)), [i], roots=[r.cert]), "leaf.wildcard") is expected


def test_leaf_eku_serverauth(pki: tuple[Made, Made]) -> None:
    r, i = pki
    none = run(server(i, eku=None), [i], roots=[r.cert])
    assert severity(none, "leaf.eku-serverauth") is Severity.FAIL
    assert none["leaf.eku-serverauth"].detail == "no extendedKeyUsage extension"
    # A client certificate checked for a host is judged as the server certificate asked about.
    client_only = run(server(i, eku=CLIENT), [i], roots=[r.cert], host="nas.home.arpa")
    assert severity(client_only, "leaf.eku-serverauth") is Severity.FAIL
    assert client_only["leaf.eku-serverauth"].detail == "clientAuth, without serverAuth"
    assert severity(run(server(i), [i], roots=[r.cert]), "leaf.eku-serverauth") is Severity.PASS


def test_leaf_lifetime_825_counts_backdating(pki: tuple[Made, Made]) -> None:
    r, i = pki
    long = run(server(i, days=826), [i], roots=[r.cert])
    assert severity(long, "leaf.lifetime-825") is Severity.FAIL
    assert long["leaf.lifetime-825"].detail == "valid for 826 days; limit 825, backdating included"
    assert "--days 397" in long["leaf.lifetime-825"].fix
    backdated = server(i, not_before=NOW - timedelta(days=2), days=826)
    assert severity(run(backdated, [i], roots=[r.cert]), "leaf.lifetime-825") is Severity.FAIL
    assert severity(run(server(i, days=825), [i], roots=[r.cert]), "leaf.lifetime-825") is Severity.PASS


def test_leaf_lifetime_398_is_only_info(pki: tuple[Made, Made]) -> None:
    r, i = pki
    findings = run(server(i, days=400), [i], roots=[r.cert])
    assert severity(findings, "leaf.lifetime-398") is Severity.INFO
    assert problems(findings) == {}
    assert severity(run(server(i, days=397), [i], roots=[r.cert]), "leaf.lifetime-398") is Severity.PASS


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rsa1024", Severity.FAIL),
        ("ed25519", Severity.FAIL),
        ("ec521", Severity.WARN),
        ("ec256", Severity.PASS),
    ],
)
def test_leaf_key_strength(pki: tuple[Made, Made], kind: str, expected: Severity) -> None:
    r, i = pki
    findings = run(server(i, private=key(kind)), [i], roots=[r.cert])
    assert severity(findings, "leaf.key-strength") is expected


def test_leaf_validity(pki: tuple[Made, Made]) -> None:
    r, i = pki

    def verdict(**kw: object) -> Finding:
        return run(server(i, ("nas.home.arpa",), **kw), [i], roots=[r.cert])["leaf.validity"]

    expired = verdict(not_before=NOW - timedelta(days=100), days=90)
    assert (expired.severity, expired.detail) == (Severity.FAIL, "expired on 2026-05-22T12:00:00Z")
    assert "certtui renew" in expired.fix
    assert verdict(not_before=NOW + timedelta(hours=2)).severity is Severity.FAIL
    ending = verdict(not_before=NOW - timedelta(days=380), days=397)
    assert ending.severity is Severity.WARN
    assert "in 17 days" in ending.detail
    fresh = verdict(not_before=NOW - timedelta(minutes=1))
    assert fresh.severity is Severity.WARN
    assert "slow clock" in fresh.detail
    assert verdict().severity is Severity.PASS


def test_leaf_not_ca(pki: tuple[Made, Made]) -> None:
    r, i = pki
    findings = run(server(i, ca=None), [i], roots=[r.cert])
    assert severity(findings, "leaf.not-ca") is Severity.WARN
    assert severity(run(server(i), [i], roots=[r.cert]), "leaf.not-ca") is Severity.PASS


def test_client_eku(pki: tuple[Made, Made]) -> None:
    r, i = pki
    client = server(i, ("laptop.home.arpa",), eku=CLIENT)
    good = run(client, [i], roots=[r.cert])
    assert severity(good, "client.eku") is Severity.PASS
    assert problems(good) == {}
    assert "leaf.eku-serverauth" not in good and "leaf.san-present" not in good
    shared = {"leaf.key-strength", "leaf.sig-hash", "leaf.validity", "leaf.not-ca", "chain.trusted"}
    assert shared <= set(good)
    # A store that says "client" about a certificate without clientAuth.
    findings = run(server(i), [i], roots=[r.cert], kind=Kind.CLIENT)
    assert severity(findings, "client.eku") is Severity.WARN
    assert findings["client.eku"].detail == "serverAuth, without clientAuth"


# -- every certificate -----------------------------------------------------------------------------


def test_cert_critical_ext(pki: tuple[Made, Made]) -> None:
    r, i = pki
    private = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    findings = run(server(i, extra=[(private, True)]), [i], roots=[r.cert])
    assert severity(findings, "cert.critical-ext") is Severity.FAIL
    assert "1.3.6.1.4.1.55555.1" in findings["cert.critical-ext"].detail
    findings = run(server(i, extra=[(private, False)]), [i], roots=[r.cert])
    assert severity(findings, "cert.critical-ext") is Severity.PASS
    assert findings["cert.critical-ext"].detail == "critical: basicConstraints, keyUsage"


def duplicate_san(parent: Made) -> x509.Certificate:
    """A leaf with two SAN extensions: a same-length private OID renamed in the DER into the SAN's."""
    general = x509.SubjectAlternativeName([x509.DNSName("evil.home.arpa")]).public_bytes()
    decoy = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), general)
    der = server(parent, extra=[(decoy, False)]).cert.public_bytes(serialization.Encoding.DER)
    assert der.count(b"\x06\x03\x55\x1d\x63") == 1
    return x509.load_der_x509_certificate(der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x11"))


def malformed_san(parent: Made) -> x509.Certificate:
    bad = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x04\x01\x00")
    return make("nas.home.arpa", issuer=parent, ca=False, eku=SERVER, extra=[(bad, False)]).cert


def test_cert_ext_wellformed(pki: tuple[Made, Made]) -> None:
    r, i = pki
    dup = duplicate_san(i)
    with pytest.raises(x509.DuplicateExtension):
        list(dup.extensions)
    findings = run(dup, [i], roots=[r.cert], host="nas.home.arpa")
    assert severity(findings, "cert.ext-wellformed") is Severity.FAIL
    detail = findings["cert.ext-wellformed"].detail
    assert detail.startswith("subjectAltName (2.5.29.17) appears more than once")
    # The extension rules are skipped, not guessed; the rest still run.
    assert "leaf.san-present" not in findings and "leaf.san-host" not in findings
    assert severity(findings, "leaf.lifetime-825") is Severity.PASS
    assert checks.classify(dup) is Kind.SERVER
    bad = run(malformed_san(i), [i], roots=[r.cert])
    assert severity(bad, "cert.ext-wellformed") is Severity.FAIL
    assert "does not parse" in bad["cert.ext-wellformed"].detail
    assert severity(run(server(i), [i], roots=[r.cert]), "cert.ext-wellformed") is Severity.PASS


def test_server_tls12_only_for_a_served_chain(pki: tuple[Made, Made]) -> None:
    r, i = pki
    leaf = server(i)
    assert "server.tls12" not in run(leaf, [i], roots=[r.cert])
    old = run(leaf, [i], roots=[r.cert], served=True, tls_version="TLSv1.1")
    assert severity(old, "server.tls12") is Severity.WARN
    assert "TLSv1.1" in old["server.tls12"].detail
    new = run(leaf, [i], roots=[r.cert], served=True, tls_version="TLSv1.3")
    assert severity(new, "server.tls12") is Severity.PASS


def test_ordered_puts_fails_first(pki: tuple[Made, Made]) -> None:
    _, i = pki
    findings = checks.ordered(checks.check(server(i, days=900).cert, [], now=NOW))
    ranks = [f.severity.rank for f in findings]
    assert ranks == sorted(ranks)
    assert findings[0].severity is Severity.FAIL and findings[-1].severity is Severity.PASS


# -- the store: default certificates, store rules, revocation, preview --------------------------


@pytest.fixture
def store_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CERTTUI_HOME", str(home))
    return home


def _store(home: Path, passphrase: str | None, **req: object) -> Store:
    store, _ = init_store(db_path(home), InitRequest(name="Home Root", **req), passphrase)  # type: ignore[arg-type]
    return store


@pytest.fixture
def plain_store(store_home: Path) -> Iterator[Store]:
    store = _store(store_home, None, intermediate=True)
    yield store
    store.close()


def store_findings(store: Store, cert_id: str, **kw: object) -> dict[str, Finding]:
    return run(store.certificate(cert_id), store.chain(cert_id), store=store, now=None, **kw)


def test_default_certificates_have_no_fail_or_warn(plain_store: Store) -> None:
    server_rec = issue_one(plain_store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))
    client_rec = issue_one(plain_store, IssueRequest(names=("me@home.arpa",), kind=Kind.CLIENT))
    rsa_rec = issue_one(plain_store, IssueRequest(names=("rsa.home.arpa",), key=KeySpec.RSA2048))
    root_id, int_id = plain_store.root_id(), plain_store.default_issuer_id()
    assert root_id and int_id and root_id != int_id
    root_findings = store_findings(plain_store, root_id)
    assert problems(root_findings) == {"store.key-unencrypted": Severity.WARN}
    assert "certtui passwd" in root_findings["store.key-unencrypted"].fix
    assert severity(root_findings, "store.no-name-constraints") is Severity.INFO
    assert problems(store_findings(plain_store, int_id)) == {}
    for rec in (server_rec, rsa_rec):
        findings = store_findings(plain_store, rec.id, host=rec.names[0])
        assert problems(findings) == {}
        assert severity(findings, "chain.revoked") is Severity.PASS
        assert not [f for f in findings if f.startswith("store.")]
    client = store_findings(plain_store, client_rec.id)
    assert problems(client) == {}
    assert severity(client, "client.eku") is Severity.PASS


def test_store_rules_on_an_encrypted_constrained_store(store_home: Path) -> None:
    store = _store(store_home, "correct horse battery staple", permit=("home.arpa", "192.168.0.0/16"))
    try:
        findings = store_findings(store, store.root_id() or "")
        assert problems(findings) == {}
        assert severity(findings, "store.key-unencrypted") is Severity.PASS
        assert severity(findings, "store.no-name-constraints") is Severity.PASS
        assert severity(findings, "root.name-constraints") is Severity.INFO
        assert "home.arpa" in findings["root.name-constraints"].detail
        # The store's rules belong to its own root only, not to a stranger's.
        assert not [f for f in run(root(), store=store) if f.startswith("store.")]
    finally:
        store.close()


def test_root_path_len_counts_the_stores_intermediates(plain_store: Store) -> None:
    findings = store_findings(plain_store, plain_store.root_id() or "")
    assert findings["root.path-len"].detail == "Home Root: no pathLen limit, 1 intermediate level(s) below"


def test_chain_revoked(plain_store: Store) -> None:
    rec = issue_one(plain_store, IssueRequest(names=("nas.home.arpa",)))
    assert severity(store_findings(plain_store, rec.id), "chain.revoked") is Severity.PASS
    with plain_store.write() as conn:
        conn.execute(
            "UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE id = ?",
            ("2026-05-01T00:00:00Z", "keyCompromise", rec.id),
        )
    findings = store_findings(plain_store, rec.id)
    assert severity(findings, "chain.revoked") is Severity.FAIL
    assert findings["chain.revoked"].detail == (
        "nas.home.arpa was revoked on 2026-05-01T00:00:00Z (keyCompromise)"
    )
    # Without a store there is no CRL to consult: the rule does not apply.
    assert "chain.revoked" not in run(plain_store.certificate(rec.id), plain_store.chain(rec.id))


def test_classification_uses_the_stores_kind(plain_store: Store) -> None:
    rec = issue_one(plain_store, IssueRequest(names=("nas.home.arpa",), kind=Kind.CLIENT))
    cert = plain_store.certificate(rec.id)
    assert checks.classify(cert, store=plain_store) is Kind.CLIENT
    # With a host it is judged as the server certificate it is presented as (issue 14).
    assert checks.classify(cert, store=plain_store, host_given=True) is Kind.SERVER
    assert checks.classify(cert, host_given=True) is Kind.SERVER


def test_preview_needs_no_unlock_writes_nothing_and_matches_check(store_home: Path) -> None:
    _store(store_home, "correct horse battery staple", intermediate=True).close()
    store = Store.open(db_path(store_home))
    try:
        assert not store.unlocked
        before = (len(store.records()), len(store.events()))

        def preview(**req: object) -> dict[str, Finding]:
            p = plan(store, IssueRequest(**req))  # type: ignore[arg-type]
            return {f.id: f for f in checks.preview_findings(store, p)}

        good = preview(names=("nas.home.arpa",))
        assert problems(good) == {}
        assert severity(good, "chain.trusted") is Severity.PASS
        assert severity(good, "chain.complete") is Severity.PASS
        assert good["leaf.lifetime-825"].detail == "valid for 397 days; limit 825"
        long = preview(names=("x.home.arpa",), days=900)
        assert problems(long) == {"leaf.lifetime-825": Severity.FAIL}
        short = preview(names=("x.home.arpa",), days=10)
        assert problems(short) == {"leaf.validity": Severity.WARN}
        assert (len(store.records()), len(store.events())) == before
    finally:
        store.close()


def test_preview_follows_the_key_type_and_name_constraints(store_home: Path) -> None:
    store = _store(store_home, None, permit=("home.arpa",), key=KeySpec.EC384)
    try:
        findings = {
            f.id: f
            for f in checks.preview_findings(
                store, plan(store, IssueRequest(names=("nas.home.arpa",), key=KeySpec.RSA2048))
            )
        }
        assert findings["leaf.key-strength"].detail == "RSA 2048"
        assert findings["leaf.sig-hash"].detail == "ecdsa-with-SHA384"
        assert severity(findings, "root.name-constraints") is Severity.PASS
        assert problems(findings) == {}
    finally:
        store.close()


def test_core_checks_stay_pure() -> None:
    code = (
        "import sys, certtui.core.checks, certtui.core.tlsprobe; "
        "print(sorted(m for m in ('textual', 'rich', 'click', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_findings_import_no_cryptography() -> None:
    """The TUI types its rows with `checks.findings` before any certificate is read."""
    code = (
        "import sys, certtui.core.checks.findings; "
        "print(sorted(m for m in ('cryptography', 'certtui.core.checks.facts') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_name_the_checks_package_offers_resolves() -> None:
    for name in checks.__all__:
        assert getattr(checks, name) is not None, name
    with pytest.raises(AttributeError):
        _ = checks.no_such_name  # type: ignore[attr-defined]
