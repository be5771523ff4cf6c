"""Issue 14: IP-only leaves without a CN, presented certificates judged as servers, intermediates
that carry the root's constraints, a CRL for every CA, and the rules as of December 2026."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.cli import Cli
from support.pki import issue_one

from certtui.core import checks, issuance, revocation
from certtui.core.models import InitRequest, IssueRequest, Kind
from certtui.core.store import Store
from certtui.paths import db_path

MakeStore = Callable[..., Store]
PEM = serialization.Encoding.PEM
OPENSSL = shutil.which("openssl")
CERTTOOL = shutil.which("certtool")
LINT = Path(sys.executable).parent / "lint_pkix_cert"
# The wizard's default constraints.
WIZARD = ("home.arpa", "lan", "192.168.0.0/16", "10.0.0.0/8", "fd00::/8")
# Every step here is on this machine and takes milliseconds; this only stops a hang.
TIMEOUT_S = 30


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(PEM)


def write(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(pem(c) for c in certs))
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def by_id(findings: list[checks.Finding]) -> dict[str, checks.Finding]:
    return {f.id: f for f in findings}


def issue(store: Store, *names: str, **kw: object) -> tuple[str, x509.Certificate]:
    rec = issue_one(store, IssueRequest(names=names, **kw))  # type: ignore[arg-type]
    return rec.id, store.certificate(rec.id)


# -- 1. IP-only leaves carry no CN ------------------------------------------------------------


@pytest.mark.parametrize("names", [("192.168.1.50",), ("fd00::50",), ("192.168.1.50", "fd00::50")])
def test_ip_only_leaf_has_an_empty_subject_and_a_critical_san(
    make_store: MakeStore, names: tuple[str, ...]
) -> None:
    store = make_store(permit=WIZARD, intermediate=True)
    _, cert = issue(store, *names)
    assert cert.subject == x509.Name([])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical is True


@pytest.mark.skipif(
    OPENSSL is None or CERTTOOL is None, reason="openssl and certtool are installed by the README"
)
def test_ip_only_leaf_passes_openssl_and_gnutls_under_dns_constraints(
    make_store: MakeStore, tmp_path: Path
) -> None:
    """The issue's reproduction: `verify -verify_ip` gave "permitted subtree violation"."""
    store = make_store(permit=WIZARD, intermediate=True)
    _, leaf = issue(store, "192.168.1.50")
    inter = store.certificate(store.default_issuer_id() or "")
    root = store.certificate(store.root_id() or "")
    root_pem = write(tmp_path / "root.pem", root)
    inter_pem = write(tmp_path / "inter.pem", inter)
    leaf_pem = write(tmp_path / "leaf.pem", leaf)
    done = run(
        "openssl", "verify", "-CAfile", str(root_pem), "-untrusted", str(inter_pem),
        "-verify_ip", "192.168.1.50", str(leaf_pem),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    chain = write(tmp_path / "chain.pem", leaf, inter)
    done = run("certtool", "--verify", "--load-ca-certificate", str(root_pem), "--infile", str(chain))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Chain verification output: Verified" in done.stdout


def test_signed_csr_with_ips_only_has_no_cn(cli: Cli, passphrase_file: Path, tmp_path: Path) -> None:
    cli.ok("init", "--name", "Home Root", *[a for p in WIZARD for a in ("--permit", p)])
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "192.168.1.60")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("192.168.1.60"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "dev.csr"
    path.write_bytes(csr.public_bytes(PEM))
    out = tmp_path / "dev.pem"
    cli.ok("sign", str(path), "--out", str(out))
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert cert.subject == x509.Name([])
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_trust_test_certificate_for_an_ip_has_no_cn(make_store: MakeStore) -> None:
    from certtui.enroll import trust

    store = make_store(permit=WIZARD, intermediate=True)
    planned = trust.plan_test(store, "192.168.1.20")
    assert planned.plan is not None, planned.skipped
    test = trust.sign_test(store, planned.plan)
    assert test.certificate.subject == x509.Name([])
    assert test.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


@pytest.mark.skipif(not LINT.exists(), reason="pkilint is not installed")
def test_ip_only_leaf_is_pkilint_clean(make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store(permit=WIZARD, intermediate=True)
    _, cert = issue(store, "192.168.1.50", "fd00::50")
    path = write(tmp_path / "leaf.pem", cert)
    done = run(str(LINT), "lint", "-s", "WARNING", str(path))
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout


def _leaf_with_cn(store: Store, cn: str, ip: str) -> x509.Certificate:
    """A leaf shaped as certtui issued IP-only leaves before issue 14: CN=IP, one iPAddress SAN."""
    import ipaddress

    issuer_id = store.default_issuer_id() or ""
    issuer = store.certificate(issuer_id)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    from certtui.core import profiles

    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=90))
    )
    san = [x509.IPAddress(ipaddress.ip_address(ip))]
    for ext, critical in profiles.leaf_extensions(
        Kind.SERVER, key.public_key(), issuer, san, empty_subject=False
    ):
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(store.private_key(issuer_id), hashes.SHA256())


def test_stored_leaf_with_an_ip_cn_under_dns_constraints_warns(make_store: MakeStore) -> None:
    store = make_store(permit=WIZARD, intermediate=True)
    cert = _leaf_with_cn(store, "192.168.1.50", "192.168.1.50")
    issuer_id = store.default_issuer_id() or ""
    chain = [store.certificate(issuer_id), *store.chain(issuer_id)]
    found = by_id(checks.check(cert, chain, store=store, host="192.168.1.50"))
    warn = found["leaf.cn-not-dns"]
    assert warn.severity is checks.Severity.WARN
    assert "OpenSSL" in warn.detail and "GnuTLS" in warn.detail
    assert "renew" in warn.fix
    # The same leaf without DNS constraints above it, and a leaf from today's issue, pass.
    _, good = issue(store, "192.168.1.51")
    assert by_id(checks.check(good, chain, store=store))["leaf.cn-not-dns"].severity is checks.Severity.PASS


def test_cn_rule_ignores_a_cn_no_client_reads_as_a_host(make_store: MakeStore) -> None:
    """OpenSSL only checks a CN that looks like a host name; an email address is not one."""
    store = make_store(permit=WIZARD, intermediate=True)
    cert = _leaf_with_cn(store, "alice@home.arpa", "192.168.1.53")
    issuer_id = store.default_issuer_id() or ""
    chain = [store.certificate(issuer_id), *store.chain(issuer_id)]
    assert by_id(checks.check(cert, chain, store=store))["leaf.cn-not-dns"].severity is checks.Severity.PASS


@pytest.mark.skipif(OPENSSL is None, reason="openssl is installed by the README")
def test_check_of_an_imported_router_id_agrees_with_the_tui(
    cli: Cli, passphrase_file: Path, tmp_path: Path
) -> None:
    cli.ok("init", "--name", "Home Root")
    crt, _ = _router(tmp_path)
    cli.ok("import", str(crt))
    [rec] = [
        r for r in cli.json("list", "--json") if r["kind"] == "root" and r["subject"] == "router.home.arpa"
    ]
    result = cli("check", rec["id"], "--json")
    assert result.exit_code == 1, result.stdout
    import json

    [out] = json.loads(result.stdout)
    assert out["kind"] == "server"
    assert {f["id"]: f["severity"] for f in out["findings"]}["leaf.san-present"] == "fail"


def test_cn_rule_passes_a_cn_inside_the_dns_constraints(make_store: MakeStore) -> None:
    store = make_store(permit=WIZARD, intermediate=True)
    cert = _leaf_with_cn(store, "nas.home.arpa", "192.168.1.52")
    issuer_id = store.default_issuer_id() or ""
    chain = [store.certificate(issuer_id), *store.chain(issuer_id)]
    assert by_id(checks.check(cert, chain, store=store))["leaf.cn-not-dns"].severity is checks.Severity.PASS


# -- 2. a presented or named certificate is judged as a server certificate ---------------------


class TlsServer:
    """A TLS server on 127.0.0.1 (port 0) in a thread, handshaking every connection."""

    def __init__(self, chain_pem: Path, key_pem: Path) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(chain_pem, key_pem)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(TIMEOUT_S)
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(TIMEOUT_S)


@pytest.fixture
def serve() -> Iterator[Callable[[Path, Path], TlsServer]]:
    servers: list[TlsServer] = []

    def start(chain: Path, key: Path) -> TlsServer:
        servers.append(TlsServer(chain, key))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _export(cli: Cli, ref: str, fmt: str, path: Path) -> Path:
    cli.ok(
        "export", ref, "--format", fmt, "--out", str(path), *(["--unencrypted-key"] if fmt == "key" else [])
    )
    return path


def test_connect_judges_a_stored_client_certificate_as_a_server(
    cli: Cli, passphrase_file: Path, tmp_path: Path, serve: Callable[[Path, Path], TlsServer]
) -> None:
    """The issue's case: a `--client` certificate served on a port passed with 17 passes."""
    cli.ok("init", "--name", "Home Root", "--permit", "home.arpa", "--permit", "127.0.0.0/8")
    rec = cli.json("issue", "--client", "mail.home.arpa", "--json")
    chain = _export(cli, rec["id"], "fullchain", tmp_path / "chain.pem")
    key = _export(cli, rec["id"], "key", tmp_path / "key.pem")
    server = serve(chain, key)
    result = cli(
        "check", "--connect", f"127.0.0.1:{server.port}", "--servername", "wrong.home.arpa", "--json"
    )
    assert result.exit_code == 1, result.stdout
    import json

    [out] = json.loads(result.stdout)
    assert out["kind"] == "server"
    got = {f["id"]: f["severity"] for f in out["findings"]}
    assert got["leaf.eku-serverauth"] == "fail"
    assert got["leaf.san-host"] == "fail"
    assert "client.eku" not in got


def _router(tmp_path: Path) -> tuple[Path, Path]:
    """A router's self-signed certificate made the usual way: CA:TRUE, no SAN, ten years."""
    crt, key = tmp_path / "router.crt", tmp_path / "router.key"
    done = run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
        "-out", str(crt), "-subj", "/CN=router.home.arpa", "-days", "3650",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return crt, key


@pytest.mark.skipif(OPENSSL is None, reason="openssl is installed by the README")
def test_router_certificate_with_host_fails_san_present(cli: Cli, tmp_path: Path) -> None:
    crt, _ = _router(tmp_path)
    result = cli("check", str(crt), "--host", "router.home.arpa", "--json")
    assert result.exit_code == 1, result.stdout
    import json

    [out] = json.loads(result.stdout)
    got = {f["id"]: f for f in out["findings"]}
    assert got["leaf.san-present"]["severity"] == "fail"
    assert "certtui sign" in got["leaf.san-present"]["fix"]
    assert "fullchain" in got["leaf.san-present"]["fix"]
    # Held to the root rules too, and exempt from the lifetime limit as its own anchor.
    assert got["root.ca-bc"]["severity"] == "pass"
    assert got["leaf.lifetime-825"]["severity"] == "pass"
    assert "anchor" in got["leaf.lifetime-825"]["detail"]


@pytest.mark.skipif(OPENSSL is None, reason="openssl is installed by the README")
def test_router_certificate_over_connect_fails_san_present(
    cli: Cli, tmp_path: Path, serve: Callable[[Path, Path], TlsServer]
) -> None:
    crt, key = _router(tmp_path)
    server = serve(crt, key)
    result = cli(
        "check", "--connect", f"127.0.0.1:{server.port}", "--servername", "router.home.arpa", "--json"
    )
    assert result.exit_code == 1, result.stdout
    import json

    [out] = json.loads(result.stdout)
    got = {f["id"]: f["severity"] for f in out["findings"]}
    assert got["leaf.san-present"] == "fail"
    assert got["root.ca-bc"] == "pass"


def test_lifetime_over_825_days_still_fails_below_a_root(make_store: MakeStore) -> None:
    """The anchor exemption is for a self-signed leaf only."""
    store = make_store(permit=WIZARD)
    _, cert = issue(store, "nas.home.arpa", days=900, force=True)
    found = by_id(checks.check(cert, store.chain(store.root_id() or ""), store=store, host="nas.home.arpa"))
    assert found["leaf.lifetime-825"].severity is checks.Severity.FAIL


@pytest.mark.skipif(OPENSSL is None, reason="openssl is installed by the README")
def test_tui_judges_an_imported_router_certificate_as_a_server(
    cli: Cli, passphrase_file: Path, tmp_path: Path
) -> None:
    from certtui.tui.checking import findings_for

    cli.ok("init", "--name", "Home Root")
    crt, _ = _router(tmp_path)
    cli.ok("import", str(crt))
    store = Store.open(db_path(Path(__import__("os").environ["CERTTUI_HOME"])))
    try:
        [rec] = [r for r in store.records() if r.external]
        found = by_id(findings_for(store, rec, datetime.now(UTC)))
        assert found["leaf.san-present"].severity is checks.Severity.FAIL
        assert found["root.ca-bc"].severity is checks.Severity.PASS
        # The store's own root is still a root, not a server.
        root = store.get(store.root_id() or "")
        assert "leaf.san-present" not in by_id(findings_for(store, root, datetime.now(UTC)))
    finally:
        store.close()


# -- 3. intermediates carry the root's constraints -------------------------------------------


def _nc(cert: x509.Certificate) -> x509.NameConstraints:
    ext = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    return ext.value


def test_init_intermediate_carries_the_roots_constraints(make_store: MakeStore) -> None:
    store = make_store(permit=WIZARD, intermediate=True)
    root = store.certificate(store.root_id() or "")
    inter = store.certificate(store.default_issuer_id() or "")
    assert _nc(inter) == _nc(root)


def test_issue_intermediate_carries_the_roots_constraints(make_store: MakeStore) -> None:
    store = make_store(permit=WIZARD)
    rec = issue_one(store, IssueRequest(kind=Kind.INTERMEDIATE, cn="Second CA"))
    assert _nc(store.certificate(rec.id)) == _nc(store.certificate(store.root_id() or ""))


def test_narrower_permit_keeps_the_roots_other_types(make_store: MakeStore) -> None:
    store = make_store(permit=WIZARD)
    rec = issue_one(store, IssueRequest(kind=Kind.INTERMEDIATE, cn="Lab CA", permit=("lab.home.arpa",)))
    nc = _nc(store.certificate(rec.id))
    permitted = nc.permitted_subtrees or []
    assert x509.DNSName("lab.home.arpa") in permitted
    assert x509.DNSName("home.arpa") not in permitted
    # The root's IP subtrees still bind the intermediate: its key cannot sign any IP.
    assert [n for n in permitted if isinstance(n, x509.IPAddress)] == [
        n
        for n in (_nc(store.certificate(store.root_id() or "")).permitted_subtrees or [])
        if isinstance(n, x509.IPAddress)
    ]


@pytest.mark.parametrize("permit", ["example.com", "10.0.0.0/7", "172.16.0.0/12"])
def test_permit_outside_the_roots_is_refused(cli: Cli, passphrase_file: Path, permit: str) -> None:
    cli.ok("init", "--name", "Home Root", *[a for p in WIZARD for a in ("--permit", p)])
    message = cli.error("issue", "--intermediate", "Bad CA", "--permit", permit)
    assert permit in message and "outside" in message
    assert [r["kind"] for r in cli.json("list", "--json")] == ["root"]


def test_permit_outside_the_roots_is_refused_at_init(cli: Cli, passphrase_file: Path) -> None:
    """init --intermediate takes the root's own --permit: nothing to be outside of; the
    intermediate gets exactly the root's."""
    cli.ok("init", "--name", "Home Root", "--permit", "home.arpa", "--intermediate")
    listed = cli.json("list", "--json")
    assert [r["kind"] for r in listed] == ["root", "intermediate"]


# -- 4. a CRL for every CA, each certificate pointing at its issuer's -------------------------


def test_init_signs_a_first_crl_for_every_ca(make_store: MakeStore) -> None:
    store = make_store(intermediate=True)
    for ca_id in (store.root_id() or "", store.default_issuer_id() or ""):
        stored = revocation.latest_crl(store, ca_id)
        assert stored is not None, ca_id
        crl = stored.crl()
        assert crl.is_signature_valid(store.certificate(ca_id).public_key())  # type: ignore[arg-type]
        assert len(crl) == 0


def test_issue_intermediate_signs_its_first_crl(make_store: MakeStore) -> None:
    store = make_store()
    rec = issue_one(store, IssueRequest(kind=Kind.INTERMEDIATE, cn="Second CA"))
    assert revocation.latest_crl(store, rec.id) is not None


def _crldp(cert: x509.Certificate) -> list[str]:
    dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return [str(n.value) for dp in dps for n in dp.full_name or []]


def test_each_certificate_points_at_its_own_issuers_crl(home: Path, tmp_path: Path) -> None:
    req = InitRequest(name="Home Root", intermediate=True, crl_url="http://nas.home.arpa/crl/")
    store, (root, inter) = issuance.init_store(db_path(home), req, None)
    try:
        leaf = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
        assert _crldp(store.certificate(inter.id)) == [f"http://nas.home.arpa/crl/{root.id}.crl"]
        assert _crldp(store.certificate(leaf.id)) == [f"http://nas.home.arpa/crl/{inter.id}.crl"]
        with pytest.raises(x509.ExtensionNotFound):
            store.certificate(root.id).extensions.get_extension_for_class(x509.CRLDistributionPoints)
    finally:
        store.close()


def test_crl_all_writes_every_ca_under_the_url_names(cli: Cli, passphrase_file: Path, tmp_path: Path) -> None:
    cli.ok("init", "--name", "Home Root", "--intermediate", "--crl-url", "http://nas.home.arpa/crl/")
    ids = [r["id"] for r in cli.json("list", "--json")]
    leaf = cli.json("issue", "nas.home.arpa", "--json")
    out = tmp_path / "crl"
    result = cli.ok("crl", "--all", "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{i}.crl" for i in ids)
    names = _crldp(x509.load_pem_x509_certificate(cli.ok("show", leaf["id"], "--pem").stdout.encode()))
    assert next(n.rsplit("/", 1)[1] for n in names) in {p.name for p in out.iterdir()}
    for p in out.iterdir():
        x509.load_der_x509_crl(p.read_bytes())
        assert str(p) in result.stdout
    assert "--all" in cli.error("crl", "--all")


@pytest.mark.skipif(OPENSSL is None, reason="openssl is installed by the README")
def test_openssl_crl_check_all_accepts_valid_and_rejects_revoked(
    cli: Cli, passphrase_file: Path, tmp_path: Path
) -> None:
    cli.ok("init", "--name", "Home Root", "--intermediate", "--permit", "home.arpa")
    good = cli.json("issue", "good.home.arpa", "--json")
    bad = cli.json("issue", "bad.home.arpa", "--json")
    cli.ok("revoke", bad["id"])
    out = tmp_path / "crl"
    cli.ok("crl", "--all", "--out", str(out))
    crls = tmp_path / "crls.pem"
    crls.write_bytes(
        b"".join(x509.load_der_x509_crl(p.read_bytes()).public_bytes(PEM) for p in sorted(out.iterdir()))
    )
    listed = cli.json("list", "--json")
    root = next(r for r in listed if r["kind"] == "root")
    inter = next(r for r in listed if r["kind"] == "intermediate")
    root_pem = tmp_path / "root.pem"
    root_pem.write_text(cli.ok("show", root["id"], "--pem").stdout)
    inter_pem = tmp_path / "inter.pem"
    inter_pem.write_text(cli.ok("show", inter["id"], "--pem").stdout)

    def verify(rec: dict[str, str]) -> subprocess.CompletedProcess[str]:
        leaf = tmp_path / f"{rec['id']}.pem"
        leaf.write_text(cli.ok("show", rec["id"], "--pem").stdout)
        return run(
            "openssl", "verify", "-crl_check_all", "-CAfile", str(root_pem), "-untrusted", str(inter_pem),
            "-CRLfile", str(crls), str(leaf),
        )  # fmt: skip

    ok = verify(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    revoked = verify(bad)
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr


# -- 5. the rules as of December 2026 -----------------------------------------------------------


def test_lifetime_398_cites_sc081v3(make_store: MakeStore) -> None:
    store = make_store()
    _, cert = issue(store, "nas.home.arpa", days=500)
    f = by_id(checks.check(cert, store.chain(store.root_id() or ""), store=store))["leaf.lifetime-398"]
    assert f.severity is checks.Severity.INFO
    for needle in (
        "SC-081v3",
        "200 days",
        "2026-03-15",
        "100 days",
        "2027-03-15",
        "47 days",
        "2029-03-15",
        "825",
    ):
        assert needle in f.detail, needle


def test_root_checklist_tells_about_android_user_cas(make_store: MakeStore) -> None:
    store = make_store()
    root = store.certificate(store.root_id() or "")
    f = by_id(checks.check(root, store=store))["root.android-user-ca"]
    assert f.severity is checks.Severity.INFO
    assert "API 24" in f.detail and "network security config" in f.detail
    assert "Firefox 120" in f.detail


DOC = Path(__file__).resolve().parent.parent / "docs" / "trust-rules.md"
ROW = re.compile(r"^\| `([a-z0-9.-]+)` \| ([a-z /]+) \| ([^|]+) \| ([^|]*) \| ([^|]+) \|$")


def test_trust_rules_document_matches_the_registry() -> None:
    """docs/trust-rules.md and checks.RULES name the same rules, severities and titles (never skips)."""
    rows = [
        m.groups() for m in (ROW.match(line) for line in DOC.read_text(encoding="utf-8").splitlines()) if m
    ]
    documented = {
        rule: (severity.strip(), title.strip(), source.strip()) for rule, severity, title, _, source in rows
    }
    assert len(documented) == len(rows), "a rule id appears twice in docs/trust-rules.md"
    assert set(documented) == set(checks.TITLES)
    for rule, (severity, title, source) in documented.items():
        assert severity == checks.SEVERITIES[rule], rule
        assert title == checks.TITLES[rule], rule
        assert source, rule


def test_every_severity_the_engine_gives_is_documented(make_store: MakeStore) -> None:
    """The registry's severities hold: no finding is worse than its documented severity."""
    store = make_store(permit=WIZARD, intermediate=True)
    _, cert = issue(store, "nas.home.arpa", days=500)
    found = checks.check(
        cert,
        store.chain(store.default_issuer_id() or "")
        and [
            store.certificate(store.default_issuer_id() or ""),
            *store.chain(store.default_issuer_id() or ""),
        ],
        store=store,
    )
    for f in found:
        allowed = {s.strip() for s in checks.SEVERITIES[f.id].split("/")} | {"pass"}
        assert f.severity.value in allowed, f


def test_wildcard_right_under_home_arpa_warns(make_store: MakeStore) -> None:
    """Chromium refuses it (tests/test_interop_clients.py::test_chromium); one level deeper passes."""
    store = make_store(permit=WIZARD)
    chain = store.chain(store.root_id() or "")
    _, top = issue(store, "*.home.arpa")
    f = by_id(checks.check(top, [store.certificate(store.root_id() or "")], store=store))["leaf.wildcard"]
    assert f.severity is checks.Severity.WARN and "Chromium" in f.detail
    assert "*.lab.home.arpa" in f.fix
    _, deeper = issue(store, "*.lab.home.arpa")
    assert by_id(checks.check(deeper, chain, store=store))["leaf.wildcard"].severity is checks.Severity.PASS


def test_tui_intermediate_carries_the_roots_constraints_and_a_first_crl(make_store: MakeStore) -> None:
    """The TUI's issue action (tui/actions.py) goes through the same plan and commit."""
    from certtui.tui import actions

    store = make_store(permit=WIZARD)
    req = IssueRequest(kind=Kind.INTERMEDIATE, cn="TUI CA")
    rec = actions.issue(store, req, datetime.now(UTC))
    assert _nc(store.certificate(rec.id)) == _nc(store.certificate(store.root_id() or ""))
    assert revocation.latest_crl(store, rec.id) is not None
    refused = actions.preview(
        store, IssueRequest(kind=Kind.INTERMEDIATE, cn="Bad CA", permit=("example.com",)), datetime.now(UTC)
    )
    assert refused.error is not None and "outside" in refused.error
