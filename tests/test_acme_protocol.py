"""`certtui acme` speaks RFC 8555 and refuses what it must, each refusal a problem of the right type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import josepy as jose
import pytest
from acme_support import (
    ChallengeHost,
    Client,
    Response,
    Server,
    b64,
    child_env,
    csr_der,
    export_root,
    free_port,
    wait_for,
)
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.journeys import acme as journey
from certtui.paths import db_path

PASSPHRASE = "acme test passphrase"
PINNED = (
    "nas.home.arpa",
    "redir.home.arpa",
    "big.home.arpa",
    "port.home.arpa",
    "csr.home.arpa",
    "revoke.home.arpa",
    "keyrev.home.arpa",
    "dl.home.arpa",
)


@dataclass
class World:
    home: Path
    root: Path
    server: Server
    host: ChallengeHost
    kid: str
    hmac: str
    other_kid: str
    other_hmac: str

    def client(self) -> Client:
        return Client(self.server.directory, self.root)

    def member(self) -> Client:
        c = self.client()
        c.register(self.kid, self.hmac)
        return c


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("acme")
    home = base / "home"
    store, _ = init_store(
        db_path(home),
        InitRequest(name="ACME Test Root", intermediate=True, permit=("home.arpa", "127.0.0.0/8")),
        PASSPHRASE,
    )
    lab = journey.add_account(store, "lab", ["*.home.arpa", "127.0.0.1"])
    other = journey.add_account(store, "other", ["other.home.arpa"])
    store.close()
    (base / "pass").write_text(PASSPHRASE + "\n")
    (base / "pass").chmod(0o600)  # certtui refuses a passphrase file others can read
    root = export_root(home, base / "root.pem")
    host = ChallengeHost()
    args = ["--allow-loopback", "--http-01-port", str(host.port)]
    for name in PINNED:
        args += ["--resolve", f"{name}:127.0.0.1"]
    server = Server(home, base, tuple(args), child_env(CERTTUI_PASSPHRASE_FILE=str(base / "pass")))
    server.start()
    try:
        yield World(
            home,
            root,
            server,
            host,
            lab.account.kid or "",
            lab.hmac_b64,
            other.account.kid or "",
            other.hmac_b64,
        )
    finally:
        assert server.stop() == 0
        host.close()


def answer(world: World, client: Client, order: Response) -> str:
    """Serve the http-01 answer of the order's first authorization, trigger it, wait for it."""
    authz_url, chall = client.challenge_of(order)
    world.host.text(chall["token"], f"{chall['token']}.{client.thumbprint()}".encode())
    assert client.post(chall["url"], {}).status == 200
    assert client.wait_authz(authz_url)["status"] == "valid"
    return authz_url


# -- the protocol, end to end ----------------------------------------------------------------


def test_directory_nonces_and_a_whole_order(world: World) -> None:
    c = world.client()
    assert c.dir["meta"]["externalAccountRequired"] is True
    head = c.request("HEAD", c.dir["newNonce"])
    get = c.request("GET", c.dir["newNonce"])
    assert (head.status, get.status) == (200, 204)
    assert head.headers["replay-nonce"] != get.headers["replay-nonce"]
    c.register(world.kid, world.hmac)
    order = c.order("nas.home.arpa", "127.0.0.1", typ="dns")
    # 127.0.0.1 sent as a dns identifier is not a DNS name: malformed, and nothing created.
    assert order.problem == "malformed"
    order = c.post(
        c.dir["newOrder"],
        {"identifiers": [{"type": "dns", "value": "nas.home.arpa"}, {"type": "ip", "value": "127.0.0.1"}]},
    )
    assert order.status == 201, order.body
    body = order.json()
    assert body["status"] == "pending" and len(body["authorizations"]) == 2
    for authz_url in body["authorizations"]:
        authz = c.post(authz_url, None).json()
        offered = {ch["type"] for ch in authz["challenges"]}
        # dns-01 for a DNS name, never for an IP (RFC 8738 section 7).
        ip = authz["identifier"]["type"] == "ip"
        assert offered == {"http-01", "tls-alpn-01"} | (set() if ip else {"dns-01"})
        chall = next(ch for ch in authz["challenges"] if ch["type"] == "http-01")
        world.host.text(chall["token"], f"{chall['token']}.{c.thumbprint()}\n".encode())
        assert c.post(chall["url"], {}).status == 200
        assert c.wait_authz(authz_url)["status"] == "valid"
    order_url = order.headers["location"]
    assert c.post(order_url, None).json()["status"] == "ready"
    der, _ = csr_der(["nas.home.arpa", "127.0.0.1"], cn="nas.home.arpa")
    done = c.post(body["finalize"], {"csr": b64(der)})
    assert done.status == 200 and done.json()["status"] == "valid", done.body
    pem = c.post(done.json()["certificate"], None)
    assert pem.headers["content-type"].startswith("application/pem-certificate-chain")
    chain = x509.load_pem_x509_certificates(pem.body)
    assert len(chain) == 2  # leaf + intermediate, not the root
    leaf = chain[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["nas.home.arpa"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    days = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days
    assert 90 <= days <= 91  # 90 days plus the 10-minute backdate
    # The store lists it with its origin, and the audit log says who asked.
    store = Store.open(db_path(world.home))
    try:
        rec = next(r for r in store.records() if r.serial == format(leaf.serial_number, "x"))
        assert rec.origin == "acme:lab" and not rec.has_key
        assert any("acme:lab" in e[4] for e in store.events(rec.id))
    finally:
        store.close()
    # A second finalize is refused: the order is valid already.
    assert c.post(body["finalize"], {"csr": b64(der)}).problem == "orderNotReady"


def test_every_response_has_a_fresh_nonce_and_no_secret(world: World) -> None:
    c = world.member()
    c.order("nas.home.arpa")
    c.post(c.dir["newOrder"], {"identifiers": "x"})
    nonces = [r.headers.get("replay-nonce") for r in c.responses]
    assert all(nonces) and len(set(nonces)) == len(nonces)
    for r in c.responses:
        assert b"PRIVATE KEY" not in r.body and world.hmac.encode() not in r.body
    log = world.server.stderr() + world.server.stdout()
    assert "PRIVATE KEY" not in log and world.hmac not in log and world.other_hmac not in log
    # One log line per request, with the account and no payload.
    assert any("POST /acme/new-order 201 account=lab" in line for line in log.splitlines())


# -- JWS -------------------------------------------------------------------------------------


def test_reused_nonce_is_bad_nonce_with_a_fresh_one(world: World) -> None:
    c = world.member()
    nonce = c.nonce()
    first = c.post(c.kid or "", None, nonce=nonce)
    assert first.status == 200
    again = c.post(c.kid or "", None, nonce=nonce)
    assert again.problem == "badNonce" and again.status == 400
    assert again.headers["replay-nonce"] and again.headers["replay-nonce"] != nonce
    assert c.post(c.kid or "", None, nonce="made-up").problem == "badNonce"


def test_url_mismatch_is_unauthorized(world: World) -> None:
    c = world.member()
    r = c.post(
        c.dir["newOrder"],
        {"identifiers": [{"type": "dns", "value": "nas.home.arpa"}]},
        signed_url=c.dir["revokeCert"],
    )
    assert r.problem == "unauthorized" and "url" in r.json()["detail"]


def test_hs256_and_none_at_top_level_are_refused(world: World) -> None:
    c = world.member()
    # HS256 with the EAB key as MAC key: a valid MAC, still refused outside EAB.
    hs = c.signed(c.kid or "", None)
    header = json.loads(jose.b64.b64decode(hs["protected"]))
    header["alg"] = "HS256"
    hs["protected"] = b64(json.dumps(header).encode())
    hs["signature"] = b64(
        jose.HS256.sign(jose.b64.b64decode(world.hmac), f"{hs['protected']}.{hs['payload']}".encode())
    )
    r = c.request("POST", c.kid or "", json.dumps(hs).encode())
    assert r.problem == "badSignatureAlgorithm" and "HS256" in r.json()["detail"]
    assert "ES256" in r.json()["algorithms"]
    header["alg"] = "none"
    none = {"protected": b64(json.dumps(header).encode()), "payload": "", "signature": ""}
    assert c.request("POST", c.kid or "", json.dumps(none).encode()).problem == "badSignatureAlgorithm"


def test_jws_shape_key_and_signature_rules(world: World) -> None:
    c = world.member()
    good = c.signed(c.kid or "", None)
    # An unprotected header, and the general serialization, are refused.
    assert c.request("POST", c.kid or "", json.dumps({**good, "header": {}}).encode()).problem == "malformed"
    # The wrong content type.
    r = c.request(
        "POST", c.kid or "", json.dumps(c.signed(c.kid or "", None)).encode(), ctype="application/json"
    )
    assert r.status == 415 and r.problem == "malformed"
    # A signature by another key than the account's.
    other = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    assert c.post(c.kid or "", None, key=other).problem == "malformed"
    # ES384 with a P-256 key.
    assert c.post(c.kid or "", None, alg=jose.ES384).problem == "badPublicKey"
    # newAccount signed with kid, and an order signed with jwk, are refused.
    assert c.post(c.dir["newAccount"], {}, use_jwk=False).problem == "malformed"
    assert c.post(c.dir["newOrder"], {"identifiers": []}, use_jwk=True).problem == "malformed"
    # An account URL nobody has.
    stranger = world.client()
    stranger.kid = c.kid.rsplit("/", 1)[0] + "/nobody" if c.kid else ""
    assert stranger.post(c.dir["newOrder"], {"identifiers": []}).problem == "accountDoesNotExist"


def test_rsa_and_ps256_account_keys_work(world: World) -> None:
    for alg in (jose.RS256, jose.PS256):
        c = world.client()
        c.key = jose.JWKRSA(key=rsa.generate_private_key(65537, 2048))
        r = c.post(c.dir["newAccount"], {"externalAccountBinding": c.eab(world.kid, world.hmac)}, alg=alg)
        assert r.status == 201, r.body


# -- accounts and EAB ------------------------------------------------------------------------


def test_eab_is_required_and_checked(world: World) -> None:
    c = world.client()
    assert c.post(c.dir["newAccount"], {"termsOfServiceAgreed": True}).problem == "externalAccountRequired"
    wrong = b64(b"\x00" * 32)
    r = c.post(c.dir["newAccount"], {"externalAccountBinding": c.eab(world.kid, wrong)})
    assert r.problem == "unauthorized" and "MAC" in r.json()["detail"]
    r = c.post(c.dir["newAccount"], {"externalAccountBinding": c.eab("no-such-kid", world.hmac)})
    assert r.problem == "unauthorized"
    # A binding for another account's URL, or one signed with HS256 elsewhere, does not pass.
    r = c.post(
        c.dir["newAccount"], {"externalAccountBinding": c.eab(world.kid, world.hmac, url=c.dir["newOrder"])}
    )
    assert r.problem == "unauthorized"
    # A binding of some other key than the one signing the request.
    thief = world.client()
    stolen = c.eab(world.kid, world.hmac)
    assert thief.post(thief.dir["newAccount"], {"externalAccountBinding": stolen}).problem == "unauthorized"
    # The right one works, and the same key again returns the same account (200).
    first = c.post(c.dir["newAccount"], {"externalAccountBinding": c.eab(world.kid, world.hmac)})
    assert first.status == 201
    again = c.post(c.dir["newAccount"], {"onlyReturnExisting": True})
    assert again.status == 200 and again.headers["location"] == first.headers["location"]
    nobody = world.client()
    assert (
        nobody.post(nobody.dir["newAccount"], {"onlyReturnExisting": True}).problem == "accountDoesNotExist"
    )


def test_account_update_key_change_and_deactivation(world: World) -> None:
    c = world.member()
    r = c.post(c.kid or "", {"contact": ["mailto:admin@home.arpa"]})
    assert r.json()["contact"] == ["mailto:admin@home.arpa"]
    assert c.post(c.kid or "", {"contact": ["tel:123"]}).problem == "invalidContact"
    new = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    url = c.dir["keyChange"]
    inner_protected = b64(
        json.dumps({"alg": "ES256", "jwk": new.public_key().to_partial_json(), "url": url}).encode()
    )
    inner_payload = b64(
        json.dumps({"account": c.kid, "oldKey": c.key.public_key().to_partial_json()}).encode()
    )
    sig = jose.ES256.sign(new.key, f"{inner_protected}.{inner_payload}".encode())
    inner = {"protected": inner_protected, "payload": inner_payload, "signature": b64(sig)}
    assert c.post(url, inner).status == 200
    # The old key no longer signs for the account; the new one does.
    assert c.post(c.kid or "", None).problem == "malformed"
    old, c.key = c.key, new
    assert c.post(c.kid or "", None).status == 200
    assert c.post(c.kid or "", {"status": "deactivated"}).json()["status"] == "deactivated"
    assert c.order("nas.home.arpa").problem == "unauthorized"
    del old


# -- orders and policy -----------------------------------------------------------------------


def test_names_outside_patterns_constraints_wildcards_and_too_many(world: World) -> None:
    c = world.member()
    r = c.order("nas.example.com")
    assert r.problem == "rejectedIdentifier" and "nas.example.com" in r.json()["detail"]
    o = world.client()
    o.register(world.other_kid, world.other_hmac)
    # nas.home.arpa is inside the CA's constraints but not in account "other"'s patterns.
    assert o.order("nas.home.arpa").problem == "rejectedIdentifier"
    # 127.0.0.2 is inside the constraints (127/8) but not lab's patterns (127.0.0.1 only).
    assert c.order("127.0.0.2", typ="ip").problem == "rejectedIdentifier"
    # A wildcard the patterns do not cover ("other" may order one name), and one iOS never
    # matches (leaf.wildcard: '*' directly above a single label).
    assert o.order("*.home.arpa").problem == "rejectedIdentifier"
    r = c.order("*.arpa")
    assert r.problem == "rejectedIdentifier" and "never" in r.json()["detail"]
    r = c.order(*[f"h{i}.home.arpa" for i in range(101)])
    assert r.problem == "rejectedIdentifier" and "100" in r.json()["detail"]
    assert c.post(
        c.dir["newOrder"], {"identifiers": [{"type": "email", "value": "a@home.arpa"}]}
    ).problem == ("unsupportedIdentifier")


def test_outside_the_constraints_is_refused_at_new_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store, _ = init_store(db_path(home), InitRequest(name="C Root", intermediate=True, permit=("lan",)), None)
    wide = journey.add_account(store, "wide", ["*"])
    store.close()
    root = export_root(home, tmp_path / "root.pem")
    server = Server(home, tmp_path, ("--allow-loopback",), child_env(), dns_name="acme.lan").start()
    try:
        c = Client(server.directory, root)
        c.register(wide.account.kid or "", wide.hmac_b64)
        r = c.order("nas.home.arpa")
        assert r.problem == "rejectedIdentifier" and "constraint" in r.json()["detail"]
        # A wildcard the account's "*" allows is still held to the CA's constraints.
        r = c.order("*.home.arpa")
        assert r.problem == "rejectedIdentifier" and "constraint" in r.json()["detail"]
        assert c.order("*.lab.lan").status == 201
    finally:
        assert server.stop() == 0


def test_csr_with_an_extra_name_is_bad_csr(world: World) -> None:
    c = world.member()
    order = c.order("csr.home.arpa")
    answer(world, c, order)
    finalize = order.json()["finalize"]
    extra, _ = csr_der(["csr.home.arpa", "nas.home.arpa"])
    r = c.post(finalize, {"csr": b64(extra)})
    assert r.problem == "badCSR" and "nas.home.arpa" in r.json()["detail"]
    cn, _ = csr_der(["csr.home.arpa"], cn="evil.home.arpa")
    assert c.post(finalize, {"csr": b64(cn)}).problem == "badCSR"
    same_as_account, _ = csr_der(["csr.home.arpa"], c.key.key._wrapped)  # type: ignore[attr-defined]
    r = c.post(finalize, {"csr": b64(same_as_account)})
    assert r.problem == "badCSR" and "account key" in r.json()["detail"]
    weak_key = ec.generate_private_key(ec.SECP256R1())
    bad_sig = bytearray(csr_der(["csr.home.arpa"], weak_key)[0])
    bad_sig[-3] ^= 0xFF
    assert c.post(finalize, {"csr": b64(bytes(bad_sig))}).problem == "badCSR"
    # The order is still ready: a good CSR then finalizes it.
    good, _ = csr_der(["csr.home.arpa"])
    assert c.post(finalize, {"csr": b64(good)}).json()["status"] == "valid"


# -- validation ------------------------------------------------------------------------------


def failed(world: World, c: Client, name: str, serve: str, target: str | bytes) -> dict[str, object]:
    order = c.order(name)
    assert order.status == 201, order.body
    authz_url, chall = c.challenge_of(order)
    if serve == "redirect":
        assert isinstance(target, str)
        world.host.redirect(chall["token"], target.format(token=chall["token"]))
    else:
        assert isinstance(target, bytes)
        world.host.text(chall["token"], target)
    c.post(chall["url"], {})
    authz = c.wait_authz(authz_url)
    assert authz["status"] == "invalid"
    err = next(ch for ch in authz["challenges"] if ch["type"] == "http-01")["error"]
    assert c.post(order.headers["location"], None).json()["status"] == "invalid"
    return err


def test_redirect_to_another_port_is_refused(world: World) -> None:
    c = world.member()
    port = free_port()
    err = failed(
        world,
        c,
        "port.home.arpa",
        "redirect",
        f"http://port.home.arpa:{port}/.well-known/acme-challenge/{{token}}",
    )
    assert err["type"] == "urn:ietf:params:acme:error:connection"
    assert f"port {world.host.port}" in str(err["detail"])


def test_redirect_to_loopback_for_another_identifier_is_refused(world: World) -> None:
    c = world.member()
    hits = len(world.host.hits)
    err = failed(
        world,
        c,
        "redir.home.arpa",
        "redirect",
        f"http://127.0.0.1:{world.host.port}/.well-known/acme-challenge/{{token}}",
    )
    assert err["type"] == "urn:ietf:params:acme:error:connection"
    assert "leaves redir.home.arpa" in str(err["detail"])
    # The redirect target was never fetched: one request, the first one.
    assert len(world.host.hits) == hits + 1


def test_a_10_mb_body_is_refused_and_never_echoed(world: World) -> None:
    c = world.member()
    marker = b"SECRET-LAN-CONTENT-"
    err = failed(world, c, "big.home.arpa", "text", marker * (10 * 1024 * 1024 // len(marker)))
    assert err["type"] == "urn:ietf:params:acme:error:incorrectResponse"
    assert "4096" in str(err["detail"]) and "SECRET" not in json.dumps(err)
    wrong = failed(world, c, "big.home.arpa", "text", marker + b"not the key authorization")
    assert wrong["type"] == "urn:ietf:params:acme:error:unauthorized" and "SECRET" not in json.dumps(wrong)
    assert "SECRET" not in world.server.stderr()


def test_a_name_that_does_not_resolve_fails_cleanly(world: World) -> None:
    c = world.member()
    order = c.order("unknown-host.home.arpa")
    authz_url, chall = c.challenge_of(order)
    c.post(chall["url"], {})
    authz = c.wait_authz(authz_url)
    err = next(ch for ch in authz["challenges"] if ch["type"] == "http-01")["error"]
    assert err["type"] == "urn:ietf:params:acme:error:dns"


# -- revocation ------------------------------------------------------------------------------


def _issued(world: World, c: Client, name: str) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    order = c.order(name)
    answer(world, c, order)
    der, key = csr_der([name])
    done = c.post(order.json()["finalize"], {"csr": b64(der)}).json()
    pem = c.post(done["certificate"], None).body
    from cryptography.hazmat.primitives import serialization

    return x509.load_pem_x509_certificates(pem)[0].public_bytes(serialization.Encoding.DER), key


def test_revoke_by_account_and_by_certificate_key(world: World) -> None:
    from certtui.core import revocation

    c = world.member()
    cert, _ = _issued(world, c, "revoke.home.arpa")
    # Another account cannot revoke it.
    o = world.client()
    o.register(world.other_kid, world.other_hmac)
    assert o.post(o.dir["revokeCert"], {"certificate": b64(cert)}).problem == "unauthorized"
    assert (
        c.post(c.dir["revokeCert"], {"certificate": b64(cert), "reason": 7}).problem == "badRevocationReason"
    )
    assert c.post(c.dir["revokeCert"], {"certificate": b64(cert), "reason": 4}).status == 200
    assert c.post(c.dir["revokeCert"], {"certificate": b64(cert)}).problem == "alreadyRevoked"
    cert2, key2 = _issued(world, c, "keyrev.home.arpa")
    anyone = world.client()
    holder = jose.JWKEC(key=key2)
    r = anyone.post(
        anyone.dir["revokeCert"], {"certificate": b64(cert2), "reason": 1}, key=holder, use_jwk=True
    )
    assert r.status == 200, r.body
    serials = {x509.load_der_x509_certificate(d).serial_number for d in (cert, cert2)}
    store = Store.open(db_path(world.home))
    try:
        ca_id = store.default_issuer_id() or ""
        crl = revocation.latest_crl(store, ca_id)
        assert crl is not None
        listed = {r.serial_number: r for r in crl.crl()}
        assert serials <= set(listed)
        reason = listed[x509.load_der_x509_certificate(cert2).serial_number].extensions
        assert reason.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    finally:
        store.close()


def test_certificate_download_only_for_its_account(world: World) -> None:
    c = world.member()
    order = c.order("dl.home.arpa")
    answer(world, c, order)
    der, _ = csr_der(["dl.home.arpa"])
    url = c.post(order.json()["finalize"], {"csr": b64(der)}).json()["certificate"]
    o = world.client()
    o.register(world.other_kid, world.other_hmac)
    assert o.post(url, None).problem == "unauthorized"
    assert o.post(order.headers["location"], None).problem == "unauthorized"


# -- rate limits -----------------------------------------------------------------------------


def test_rate_limits_and_loopback_refused_by_default(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store, _ = init_store(
        db_path(home), InitRequest(name="R Root", intermediate=True, permit=("home.arpa",)), None
    )
    lab = journey.add_account(store, "lab", ["*.home.arpa"])
    store.close()
    root = export_root(home, tmp_path / "root.pem")
    # No --allow-loopback here: b.home.arpa, pinned to 127.0.0.1, must not be validated.
    args = ("--orders-per-minute", "3", "--failures-per-hour", "2", "--resolve", "b.home.arpa:127.0.0.1")
    server = Server(home, tmp_path, args, child_env()).start()
    try:
        c = Client(server.directory, root)
        c.register(lab.account.kid or "", lab.hmac_b64)
        orders = [c.order(f"{n}.home.arpa") for n in "abc"]
        assert [o.status for o in orders] == [201, 201, 201]
        r = c.order("d.home.arpa")
        assert r.problem == "rateLimited" and r.status == 429
        assert 1 <= int(r.headers["retry-after"]) <= 61
        # a.home.arpa resolves nowhere; b.home.arpa is loopback: two failed validations.
        errors = []
        for o in orders[:2]:
            authz_url, chall = c.challenge_of(o)
            c.post(chall["url"], {})
            authz = c.wait_authz(authz_url)
            assert authz["status"] == "invalid"
            errors.append(next(ch for ch in authz["challenges"] if ch["status"] == "invalid")["error"])
        assert errors[0]["type"].endswith(":dns")
        assert errors[1]["type"].endswith(":connection") and "loopback" in errors[1]["detail"]
        # That was the hour's allowance of failures.
        _, chall = c.challenge_of(orders[2])
        r = c.post(chall["url"], {})
        assert r.problem == "rateLimited" and "failed validations" in r.json()["detail"]
        assert int(r.headers["retry-after"]) > 3000
        wait_for(lambda: "problem=rateLimited" in server.stderr(), what="the log line")
    finally:
        assert server.stop() == 0


def test_disabled_and_removed_accounts_are_refused(world: World) -> None:
    import subprocess
    import sys

    env = child_env(CERTTUI_PASSPHRASE_FILE=str(world.server.folder / "pass"))

    def certtui(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "certtui", "--home", str(world.home), "acme", "account", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    # Another certtui process invites an account while the server runs: the server sees it.
    made = json.loads(certtui("add", "temp", "--allow", "t.home.arpa", "--json"))
    c = world.client()
    c.register(made["kid"], made["hmac"])
    assert c.order("t.home.arpa").status == 201
    certtui("disable", "temp")
    r = c.order("t.home.arpa")
    assert r.problem == "unauthorized" and "disabled" in r.json()["detail"]
    late = world.client()
    assert late.post(
        late.dir["newAccount"], {"externalAccountBinding": late.eab(made["kid"], made["hmac"])}
    ).problem == ("unauthorized")
    certtui("remove", "temp")
    assert c.order("t.home.arpa").problem in ("unauthorized", "accountDoesNotExist")
