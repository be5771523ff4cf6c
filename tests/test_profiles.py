"""Every profile's extensions (value and criticality), serial, signature, validity and CN rule."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from support.pki import issue_one

from certtui.core import issuance
from certtui.core.models import CertRecord, IssueRequest, KeySpec, Kind
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.errors import PolicyError

MakeStore = Callable[..., Store]

BC = ExtensionOID.BASIC_CONSTRAINTS
KU = ExtensionOID.KEY_USAGE
EKU = ExtensionOID.EXTENDED_KEY_USAGE
SAN = ExtensionOID.SUBJECT_ALTERNATIVE_NAME
SKI = ExtensionOID.SUBJECT_KEY_IDENTIFIER
AKI = ExtensionOID.AUTHORITY_KEY_IDENTIFIER
NC = ExtensionOID.NAME_CONSTRAINTS

CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def leaf_key_usage(rsa_key: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=rsa_key,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture
def now() -> datetime:
    """The instant every certificate in a test is issued at (passed explicitly to the core)."""
    return utcnow()


def ext(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_oid(oid)


def ext_oids(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return {e.oid for e in cert.extensions}


def cn(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def ski_digest(cert: x509.Certificate) -> bytes:
    value = ext(cert, SKI).value
    assert isinstance(value, x509.SubjectKeyIdentifier)
    return value.digest


def assert_ski(cert: x509.Certificate) -> None:
    e = ext(cert, SKI)
    assert e.critical is False
    assert e.value == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())  # type: ignore[arg-type]


def assert_aki(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    e = ext(cert, AKI)
    assert e.critical is False
    assert isinstance(e.value, x509.AuthorityKeyIdentifier)
    assert e.value.key_identifier == ski_digest(issuer)
    assert e.value.authority_cert_issuer is None
    assert e.value.authority_cert_serial_number is None


def assert_serial(cert: x509.Certificate, rec: CertRecord) -> None:
    n = cert.serial_number
    # 128-bit random, positive, top nibble non-zero: every id has 12 real hex digits.
    assert 2**124 <= n < 2**128
    assert rec.serial == format(n, "x")
    assert len(rec.serial) == 32
    assert rec.id == rec.serial[:12]


def assert_validity(cert: x509.Certificate, now: datetime, days: int) -> None:
    assert cert.not_valid_before_utc == now - timedelta(minutes=10)
    assert cert.not_valid_after_utc == now - timedelta(minutes=10) + timedelta(days=days)


def assert_hash(cert: x509.Certificate, name: str) -> None:
    algorithm = cert.signature_hash_algorithm
    assert algorithm is not None
    assert algorithm.name == name


def assert_ca_core(cert: x509.Certificate, path_length: int | None) -> None:
    bc = ext(cert, BC)
    assert bc.critical is True
    assert bc.value == x509.BasicConstraints(ca=True, path_length=path_length)
    ku = ext(cert, KU)
    assert ku.critical is True
    assert ku.value == CA_KEY_USAGE
    assert_ski(cert)


def issue(store: Store, now: datetime, *names: str, **kw: object) -> tuple[CertRecord, x509.Certificate]:
    rec = issue_one(store, IssueRequest(names=names, **kw), now=now)  # type: ignore[arg-type]
    return rec, store.certificate(rec.id)


# ---------------------------------------------------------------- root


@pytest.mark.parametrize(
    ("spec", "hash_name"),
    [(KeySpec.EC256, "sha256"), (KeySpec.EC384, "sha384"), (KeySpec.RSA2048, "sha256")],
)
def test_root(make_store: MakeStore, now: datetime, spec: KeySpec, hash_name: str) -> None:
    store = make_store(key=spec, now=now)
    rec = store.get(store.root_id() or "")
    cert = store.certificate(rec.id)

    assert rec.kind is Kind.ROOT
    assert rec.issuer_id == rec.id
    assert cert.version is x509.Version.v3
    assert cn(cert) == "Test Root CA"
    assert cert.subject == cert.issuer == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Root CA")])
    assert_serial(cert, rec)
    assert_hash(cert, hash_name)
    assert_validity(cert, now, 3650)
    assert ext_oids(cert) == {BC, KU, SKI}
    assert_ca_core(cert, path_length=None)
    cert.verify_directly_issued_by(cert)

    key = cert.public_key()
    if spec.is_rsa:
        assert isinstance(key, rsa.RSAPublicKey)
        assert key.key_size == 2048
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.name == {KeySpec.EC256: "secp256r1", KeySpec.EC384: "secp384r1"}[spec]


def test_root_days(make_store: MakeStore, now: datetime) -> None:
    store = make_store(days=730, now=now)
    assert_validity(store.certificate(store.root_id() or ""), now, 730)


def test_root_with_name_constraints(make_store: MakeStore, now: datetime) -> None:
    store = make_store(permit=["home.arpa", "192.168.0.0/16"], now=now)
    cert = store.certificate(store.root_id() or "")

    assert ext_oids(cert) == {BC, KU, SKI, NC}
    assert_ca_core(cert, path_length=None)
    nc = ext(cert, NC)
    assert nc.critical is True
    assert nc.value == x509.NameConstraints(
        permitted_subtrees=[
            x509.DNSName("home.arpa"),
            x509.IPAddress(ipaddress.ip_network("192.168.0.0/16")),
        ],
        excluded_subtrees=None,
    )


@pytest.mark.parametrize(
    ("names", "bad"),
    [
        (("example.com",), "example.com"),
        (("nas.home.arpa", "10.0.0.1"), "10.0.0.1"),
        # An IPv4-only constraint leaves no room for IPv6 (RFC 5280 4.2.1.10).
        (("nas.home.arpa", "fd00::1"), "fd00::1"),
        (("home.arpa.example.com",), "home.arpa.example.com"),
    ],
)
def test_name_constraints_are_enforced_before_signing(
    make_store: MakeStore, now: datetime, names: tuple[str, ...], bad: str
) -> None:
    store = make_store(permit=["home.arpa", "192.168.0.0/16"], now=now)
    before = store.records()
    events = store.events()
    with pytest.raises(PolicyError, match=re.escape(f"'{bad}' is outside the permitted names")):
        issue_one(store, IssueRequest(names=names), now=now)
    assert store.records() == before
    assert store.events() == events
    assert store._query("SELECT count(*) FROM keys") == [(1,)]


def test_name_constraints_allow_names_inside(make_store: MakeStore, now: datetime) -> None:
    store = make_store(permit=["home.arpa", "192.168.0.0/16"], now=now)
    rec, _ = issue(store, now, "nas.home.arpa", "192.168.1.10", "home.arpa", "*.home.arpa")
    assert rec.names == ("nas.home.arpa", "home.arpa", "*.home.arpa", "192.168.1.10")


# ---------------------------------------------------------------- intermediate


def test_intermediate_from_init(make_store: MakeStore, now: datetime) -> None:
    store = make_store(intermediate=True, now=now)
    root_id = store.root_id() or ""
    root = store.certificate(root_id)
    inter_rec = store.get(store.default_issuer_id() or "")
    inter = store.certificate(inter_rec.id)

    assert inter_rec.kind is Kind.INTERMEDIATE
    assert inter_rec.issuer_id == root_id
    assert inter_rec.id != root_id
    assert cn(inter) == "Test Root CA Intermediate"
    assert inter.issuer == root.subject
    assert_serial(inter, inter_rec)
    assert_hash(inter, "sha256")
    assert_validity(inter, now, 1826)
    assert ext_oids(inter) == {BC, KU, SKI, AKI}
    assert_ca_core(inter, path_length=0)
    assert_aki(inter, root)
    inter.verify_directly_issued_by(root)


def test_intermediate_from_issue(make_store: MakeStore, now: datetime) -> None:
    """`issue --intermediate NAME`: CN NAME, no SAN, pathlen 0, signed by the root."""
    store = make_store(key=KeySpec.EC384, now=now)
    root = store.certificate(store.root_id() or "")
    rec, cert = issue(store, now, "Lab Issuing CA", kind=Kind.INTERMEDIATE, cn="Lab Issuing CA")

    assert rec.kind is Kind.INTERMEDIATE
    assert rec.names == ()
    assert rec.subject == "Lab Issuing CA"
    assert cert.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lab Issuing CA")])
    assert ext_oids(cert) == {BC, KU, SKI, AKI}
    assert_ca_core(cert, path_length=0)
    assert_aki(cert, root)
    assert_validity(cert, now, 1826)
    # The signer is the P-384 root, so SHA-384.
    assert_hash(cert, "sha384")
    # The new intermediate's own key follows --key (default P-256).
    assert rec.key_type == "EC P-256"
    cert.verify_directly_issued_by(root)


def test_intermediate_with_constraints(make_store: MakeStore, now: datetime) -> None:
    store = make_store(now=now)
    _, cert = issue(store, now, "Sub CA", kind=Kind.INTERMEDIATE, cn="Sub CA", permit=("sub.home.arpa",))
    nc = ext(cert, NC)
    assert nc.critical is True
    assert nc.value == x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("sub.home.arpa")], excluded_subtrees=None
    )
    assert ext_oids(cert) == {BC, KU, SKI, AKI, NC}


def test_pathlen_zero_intermediate_cannot_sign_a_ca(make_store: MakeStore, now: datetime) -> None:
    store = make_store(intermediate=True, now=now)
    inter_id = store.default_issuer_id() or ""
    before = store.records()
    with pytest.raises(PolicyError, match="path length 0"):
        issue(store, now, "Deeper CA", kind=Kind.INTERMEDIATE, cn="Deeper CA", issuer=inter_id)
    assert store.records() == before


# ---------------------------------------------------------------- leaves


@pytest.mark.parametrize("spec", [KeySpec.EC256, KeySpec.RSA2048])
def test_server_leaf(make_store: MakeStore, now: datetime, spec: KeySpec) -> None:
    store = make_store(now=now)
    root = store.certificate(store.root_id() or "")
    rec, cert = issue(store, now, "nas.home.arpa", "192.168.1.10", key=spec)

    assert rec.kind is Kind.SERVER
    assert rec.issuer_id == store.root_id()
    assert rec.names == ("nas.home.arpa", "192.168.1.10")
    assert cert.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nas.home.arpa")])
    assert cert.issuer == root.subject
    assert_serial(cert, rec)
    # Signed by the P-256 root whatever the leaf's own key: SHA-256.
    assert_hash(cert, "sha256")
    assert_validity(cert, now, 397)
    assert ext_oids(cert) == {BC, KU, EKU, SAN, SKI, AKI}

    bc = ext(cert, BC)
    assert (bc.critical, bc.value) == (True, x509.BasicConstraints(ca=False, path_length=None))
    ku = ext(cert, KU)
    assert (ku.critical, ku.value) == (True, leaf_key_usage(rsa_key=spec.is_rsa))
    eku = ext(cert, EKU)
    assert (eku.critical, eku.value) == (False, x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]))
    san = ext(cert, SAN)
    assert san.critical is False
    assert san.value == x509.SubjectAlternativeName(
        [x509.DNSName("nas.home.arpa"), x509.IPAddress(ipaddress.ip_address("192.168.1.10"))]
    )
    assert_ski(cert)
    assert_aki(cert, root)
    cert.verify_directly_issued_by(root)

    key = cert.public_key()
    if spec.is_rsa:
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
        assert rec.key_type == "RSA 2048"
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        assert rec.key_type == "EC P-256"


def test_client_leaf(make_store: MakeStore, now: datetime) -> None:
    store = make_store(now=now)
    root = store.certificate(store.root_id() or "")
    rec, cert = issue(store, now, "alice@home.arpa", kind=Kind.CLIENT)

    assert rec.kind is Kind.CLIENT
    assert rec.names == ("alice@home.arpa",)
    # No DNS name, so no CN: an empty subject and a critical SAN (docs/trust-rules.md, leaf.cn-not-dns).
    assert cn(cert) is None and cert.subject == x509.Name([])
    assert_serial(cert, rec)
    assert_hash(cert, "sha256")
    assert_validity(cert, now, 397)
    assert ext_oids(cert) == {BC, KU, EKU, SAN, SKI, AKI}
    bc = ext(cert, BC)
    assert (bc.critical, bc.value) == (True, x509.BasicConstraints(ca=False, path_length=None))
    ku = ext(cert, KU)
    assert (ku.critical, ku.value) == (True, leaf_key_usage(rsa_key=False))
    eku = ext(cert, EKU)
    assert (eku.critical, eku.value) == (False, x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]))
    san = ext(cert, SAN)
    assert (san.critical, san.value) == (
        True,
        x509.SubjectAlternativeName([x509.RFC822Name("alice@home.arpa")]),
    )
    assert_aki(cert, root)


def test_leaf_under_intermediate(make_store: MakeStore, now: datetime) -> None:
    store = make_store(intermediate=True, now=now)
    inter_id = store.default_issuer_id() or ""
    inter = store.certificate(inter_id)
    rec, cert = issue(store, now, "nas.home.arpa")
    assert rec.issuer_id == inter_id
    assert cert.issuer == inter.subject
    assert_aki(cert, inter)
    cert.verify_directly_issued_by(inter)
    # --issuer picks the root instead.
    root_id = store.root_id() or ""
    rec2, cert2 = issue(store, now, "nas.home.arpa", issuer=root_id)
    assert rec2.issuer_id == root_id
    assert_aki(cert2, store.certificate(root_id))


def test_leaf_under_p384_root_is_sha384(make_store: MakeStore, now: datetime) -> None:
    store = make_store(key=KeySpec.EC384, now=now)
    _, cert = issue(store, now, "nas.home.arpa")
    assert_hash(cert, "sha384")
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)


def test_leaf_days(make_store: MakeStore, now: datetime) -> None:
    store = make_store(now=now)
    _, cert = issue(store, now, "nas.home.arpa", days=30)
    assert_validity(cert, now, 30)


@pytest.mark.parametrize("days", [0, -1, 36501])
def test_days_out_of_range_is_refused(make_store: MakeStore, now: datetime, days: int) -> None:
    store = make_store(now=now)
    with pytest.raises(PolicyError, match=f"--days {days} is out of range"):
        issue(store, now, "nas.home.arpa", days=days)


def test_san_order_is_dns_ip_email_uri(make_store: MakeStore, now: datetime) -> None:
    store = make_store(now=now)
    rec, cert = issue(
        store,
        now,
        "https://nas.home.arpa/x",
        "alice@home.arpa",
        "fd00::1",
        "nas.home.arpa",
        "192.168.1.10",
        "files.home.arpa",
    )
    expected = [
        x509.DNSName("nas.home.arpa"),
        x509.DNSName("files.home.arpa"),
        x509.IPAddress(ipaddress.ip_address("fd00::1")),
        x509.IPAddress(ipaddress.ip_address("192.168.1.10")),
        x509.RFC822Name("alice@home.arpa"),
        x509.UniformResourceIdentifier("https://nas.home.arpa/x"),
    ]
    assert list(ext(cert, SAN).value) == expected  # type: ignore[call-overload]
    assert rec.names == (
        "nas.home.arpa",
        "files.home.arpa",
        "fd00::1",
        "192.168.1.10",
        "alice@home.arpa",
        "https://nas.home.arpa/x",
    )
    assert cn(cert) == "nas.home.arpa"


DNS_64 = "a" * 54 + ".home.arpa"
DNS_65 = "a" * 55 + ".home.arpa"
URI_LONG = "https://" + DNS_65 + "/"


@pytest.mark.parametrize(
    ("names", "expected_cn"),
    [
        ((DNS_64,), DNS_64),
        ((DNS_65, "short.home.arpa"), "short.home.arpa"),
        # Only a DNS name becomes the CN: OpenSSL and GnuTLS check any other CN against the
        # DNS name constraints (docs/trust-rules.md, leaf.cn-not-dns).
        ((DNS_65, "192.168.1.10"), None),
        (("192.168.1.10",), None),
        ((DNS_65, "fd00::1", "192.168.1.10"), None),
        ((DNS_65, "alice@home.arpa"), None),
        ((DNS_65, "https://nas.home.arpa/"), None),
        ((DNS_65,), None),
        ((DNS_65, URI_LONG), None),
    ],
)
def test_cn_rule(
    make_store: MakeStore, now: datetime, names: tuple[str, ...], expected_cn: str | None
) -> None:
    assert len(DNS_64) == 64 and len(DNS_65) == 65
    store = make_store(now=now)
    rec, cert = issue(store, now, *names)
    san = ext(cert, SAN)
    if expected_cn is None:
        # RFC 5280 4.2.1.6: an empty subject needs a critical SAN.
        assert cert.subject == x509.Name([])
        assert rec.subject == ""
        assert san.critical is True
    else:
        assert cert.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, expected_cn)])
        assert rec.subject == expected_cn
        assert san.critical is False


def test_every_serial_in_range_and_distinct(make_store: MakeStore, now: datetime) -> None:
    store = make_store(intermediate=True, now=now)
    for i in range(20):
        issue(store, now, f"host{i}.home.arpa")
    records = store.records()
    serials = [int(r.serial, 16) for r in records]
    assert len(set(serials)) == len(serials) == 22
    for r in records:
        assert_serial(store.certificate(r.id), r)


def test_record_matches_certificate(make_store: MakeStore, now: datetime) -> None:
    store = make_store(now=now)
    rec, cert = issue(store, now, "nas.home.arpa", "192.168.1.10")
    assert rec.not_before == iso(now - timedelta(minutes=10))
    assert rec.not_after == iso(now - timedelta(minutes=10) + timedelta(days=397))
    assert rec.not_before == iso(cert.not_valid_before_utc)
    assert rec.not_after == iso(cert.not_valid_after_utc)


def test_serial_whose_id_is_taken_is_drawn_again(
    make_store: MakeStore, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(now=now)
    first, _ = issue(store, now, "a.home.arpa")
    # Same 12-digit id as the first certificate, different serial: the store draws again.
    clash = int(first.serial, 16) ^ 1
    fresh = (0xF << 124) | 0x1234
    draws = iter([clash, fresh])
    monkeypatch.setattr(issuance, "new_serial", lambda: next(draws))
    second, cert = issue(store, now, "b.home.arpa")
    assert cert.serial_number == fresh
    assert second.id == format(fresh, "x")[:12] != first.id


def test_leaf_must_fit_every_constraint_along_the_chain(make_store: MakeStore, now: datetime) -> None:
    store = make_store(permit=["home.arpa"], now=now)
    sub, _ = issue(store, now, "Sub CA", kind=Kind.INTERMEDIATE, cn="Sub CA", permit=("lab.home.arpa",))
    ok, _ = issue(store, now, "nas.lab.home.arpa", issuer=sub.id)
    assert ok.issuer_id == sub.id
    before = store.records()
    # Inside the root's constraints but outside the intermediate's.
    outside = "'nas.home.arpa' is outside the permitted names lab.home.arpa"
    with pytest.raises(PolicyError, match=re.escape(outside)):
        issue(store, now, "nas.home.arpa", issuer=sub.id)
    # Inside neither.
    with pytest.raises(PolicyError, match=re.escape("'nas.example.com' is outside the permitted names")):
        issue(store, now, "nas.example.com", issuer=sub.id)
    assert store.records() == before
