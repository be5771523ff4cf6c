"""dns-01 and wildcards: lego's exec DNS provider writes into pebble-challtestsrv on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from acme_support import Client, Server, child_env, export_root
from cryptography import x509
from dns_support import DnsServer

from certtui.acme.validation import dns01_digest
from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.journeys import acme as journey
from certtui.paths import db_path

pytestmark = pytest.mark.slow

# A lego run takes a few seconds; a minute and a half is a hung client.
CLIENT_TIMEOUT_S = 90


@dataclass
class World:
    base: Path
    root: Path
    server: Server
    dns: DnsServer
    kid: str
    hmac: str
    narrow_kid: str
    narrow_hmac: str

    def member(self, kid: str = "", hmac: str = "") -> Client:
        c = Client(self.server.directory, self.root)
        c.register(kid or self.kid, hmac or self.hmac)
        return c

    def lego(self, path: Path, *domains: str) -> subprocess.CompletedProcess[str]:
        cmd = ["lego", "--path", str(path), "--server", self.server.directory, "--accept-tos"]
        cmd += ["--email", "admin@home.arpa", "--eab", "--kid", self.kid, "--hmac", self.hmac]
        cmd += ["--dns", "exec", "--dns.resolvers", self.dns.resolver, "--dns.disable-cp"]
        for d in domains:
            cmd += ["-d", d]
        env = child_env(
            LEGO_CA_CERTIFICATES=str(self.root),
            EXEC_PATH=str(self.dns.script),
            EXEC_PROPAGATION_TIMEOUT="30",
            EXEC_POLLING_INTERVAL="1",
            # The exec provider waits this long between two authorizations (default 60 s).
            EXEC_SEQUENCE_INTERVAL="1",
        )
        return subprocess.run(
            [*cmd, "run"], capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, env=env, check=False
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("dns01")
    home = base / "home"
    store, _ = init_store(
        db_path(home),
        InitRequest(name="DNS Root", intermediate=True, permit=("home.arpa", "127.0.0.0/8")),
        None,
    )
    lab = journey.add_account(store, "lab", ["*.home.arpa"])
    narrow = journey.add_account(store, "narrow", ["nas.home.arpa", "*.lab.home.arpa"])
    store.close()
    root = export_root(home, base / "root.pem")
    dns = DnsServer(base)
    server = Server(home, base, ("--dns-resolver", dns.resolver, "--orders-per-minute", "500"), child_env())
    try:
        server.start()
        yield World(
            base,
            root,
            server,
            dns,
            lab.account.kid or "",
            lab.hmac_b64,
            narrow.account.kid or "",
            narrow.hmac_b64,
        )
    finally:
        if server.proc is not None:
            assert server.stop() == 0
        dns.close()


def sans(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificates(path.read_bytes())[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName))


def test_lego_gets_a_wildcard_and_a_plain_certificate_over_dns01(world: World) -> None:
    if shutil.which("lego") is None:
        pytest.skip("not installed: lego (the README's apt-get line installs it)")
    done = world.lego(world.base / "lego-wild", "*.wild.home.arpa", "wild.home.arpa")
    assert done.returncode == 0, done.stdout + done.stderr
    cert = world.base / "lego-wild" / "certificates" / "_.wild.home.arpa.crt"
    assert sans(cert) == {"*.wild.home.arpa", "wild.home.arpa"}
    done = world.lego(world.base / "lego-plain", "plain.home.arpa")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sans(world.base / "lego-plain" / "certificates" / "plain.home.arpa.crt") == {"plain.home.arpa"}


def test_a_wildcard_gets_only_dns01_and_is_named_by_its_zone(world: World) -> None:
    c = world.member()
    order = c.order("*.zone.home.arpa")
    assert order.status == 201, order.body
    authz = c.post(order.json()["authorizations"][0], None).json()
    assert authz["identifier"] == {"type": "dns", "value": "zone.home.arpa"}
    assert authz["wildcard"] is True
    assert [ch["type"] for ch in authz["challenges"]] == ["dns-01"]


def test_wildcards_outside_the_patterns_or_the_ios_rule_are_refused(world: World) -> None:
    c = world.member(world.narrow_kid, world.narrow_hmac)
    # "narrow" may order nas.home.arpa and names under lab.home.arpa: not every name under home.arpa.
    r = c.order("*.home.arpa")
    assert r.problem == "rejectedIdentifier" and "narrow may not order *.home.arpa" in r.json()["detail"]
    assert c.order("*.lab.home.arpa").status == 201
    r = world.member().order("*.arpa")
    assert r.problem == "rejectedIdentifier" and "never matches on iOS" in r.json()["detail"]


def _dns_challenge(world: World, name: str) -> tuple[Client, str, dict[str, str]]:
    c = world.member()
    order = c.order(name)
    assert order.status == 201, order.body
    authz_url, chall = c.challenge_of(order, "dns-01")
    return c, authz_url, chall


def test_a_missing_txt_record_is_unauthorized(world: World) -> None:
    c, authz_url, chall = _dns_challenge(world, "missing.home.arpa")
    assert c.post(chall["url"], {}).status == 200
    assert c.wait_authz(authz_url)["status"] == "invalid"
    err = next(ch for ch in c.post(authz_url, None).json()["challenges"] if ch["type"] == "dns-01")["error"]
    assert err["type"] == "urn:ietf:params:acme:error:unauthorized"
    assert "_acme-challenge.missing.home.arpa" in err["detail"] and "no TXT record" in err["detail"]


def test_a_wrong_txt_record_is_unauthorized(world: World) -> None:
    c, authz_url, chall = _dns_challenge(world, "wrong.home.arpa")
    fqdn = "_acme-challenge.wrong.home.arpa."
    # The digest of another key authorization (the right token, another account's thumbprint).
    world.dns.set_txt(fqdn, dns01_digest(f"{chall['token']}.not-this-account"))
    try:
        assert c.post(chall["url"], {}).status == 200
        assert c.wait_authz(authz_url)["status"] == "invalid"
    finally:
        world.dns.clear(fqdn)
    err = next(ch for ch in c.post(authz_url, None).json()["challenges"] if ch["type"] == "dns-01")["error"]
    assert err["type"] == "urn:ietf:params:acme:error:unauthorized"
    assert "none of the 1 TXT record(s) at _acme-challenge.wrong.home.arpa" in err["detail"]


def test_the_right_txt_record_validates(world: World) -> None:
    c, authz_url, chall = _dns_challenge(world, "right.home.arpa")
    fqdn = "_acme-challenge.right.home.arpa."
    world.dns.set_txt(fqdn, dns01_digest(f"{chall['token']}.{c.thumbprint()}"))
    try:
        assert c.post(chall["url"], {}).status == 200
        assert c.wait_authz(authz_url)["status"] == "valid"
    finally:
        world.dns.clear(fqdn)


def test_a_bad_dns_resolver_is_one_clear_error(world: World) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "certtui",
            "--home",
            str(world.server.home),
            "acme",
            "--dns-resolver",
            "nope:x",
        ],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: --dns-resolver 'nope:x'"), done.stderr
    assert "Traceback" not in done.stderr
