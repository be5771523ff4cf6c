"""The approval queue: with `--approve new-names` an order for a name no certificate carried
waits for the operator, who approves or refuses it from another process (CLI here, TUI too)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from acme_support import ChallengeHost, Client, Response, Server, b64, child_env, csr_der, export_root

from certtui.core.acme_state import WAITING
from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.journeys import acme as journey
from certtui.paths import db_path

pytestmark = pytest.mark.slow


@dataclass
class World:
    home: Path
    root: Path
    server: Server
    host: ChallengeHost
    kid: str
    hmac: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "certtui", "--home", str(self.home), "acme", *args],
            capture_output=True,
            text=True,
            check=False,
        )

    def member(self) -> Client:
        c = Client(self.server.directory, self.root)
        c.register(self.kid, self.hmac)
        return c

    def trigger(self, c: Client, order: Response) -> tuple[str, str]:
        authz_url, chall = c.challenge_of(order)
        self.host.text(chall["token"], f"{chall['token']}.{c.thumbprint()}".encode())
        assert c.post(chall["url"], {}).status == 200
        return authz_url, chall["token"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("approve")
    home = base / "home"
    store, _ = init_store(
        db_path(home),
        InitRequest(name="Approve Root", intermediate=True, permit=("home.arpa", "127.0.0.0/8")),
        None,
    )
    lab = journey.add_account(store, "lab", ["*.home.arpa"])
    # A name a certificate of the store carried already: its orders do not wait.
    ca = store.default_issuer_id() or ""
    journey.issue(
        store,
        names=["known.home.arpa"],
        issuer_id=ca,
        issuer_key=store.private_key(ca),
        days=90,
        origin="test",
    )
    store.close()
    root = export_root(home, base / "root.pem")
    host = ChallengeHost()
    args = ["--allow-loopback", "--http-01-port", str(host.port), "--approve", "new-names"]
    for name in ("known.home.arpa", "new.home.arpa", "nope.home.arpa"):
        args += ["--resolve", f"{name}:127.0.0.1"]
    server = Server(home, base, tuple(args), child_env()).start()
    try:
        yield World(home, root, server, host, lab.account.kid or "", lab.hmac_b64)
    finally:
        assert server.stop() == 0
        host.close()


def test_a_new_name_waits_until_approved_and_a_known_one_does_not(world: World) -> None:
    c = world.member()
    waiting = c.order("new.home.arpa")
    assert waiting.status == 201, waiting.body
    authz = c.post(waiting.json()["authorizations"][0], None)
    assert authz.json()["status"] == "pending" and authz.json()["detail"] == WAITING
    assert authz.headers["retry-after"] == "5"
    held_url, held_token = world.trigger(c, waiting)
    listed = json.loads(world.cli("pending", "--json").stdout)
    order_id = waiting.headers["location"].rsplit("/", 1)[-1]
    assert [(p["order"], p["names"], p["account"]) for p in listed] == [(order_id, ["new.home.arpa"], "lab")]
    # A name the store knows goes through at once; by then the held one was not even fetched.
    known = c.order("known.home.arpa")
    assert "detail" not in c.post(known.json()["authorizations"][0], None).json()
    known_url, _ = world.trigger(c, known)
    assert c.wait_authz(known_url)["status"] == "valid"
    assert c.post(held_url, None).json()["status"] == "pending"
    assert not any(held_token in hit for hit in world.host.hits)
    # The operator approves from another process; the server picks it up and validates.
    done = world.cli("approve", order_id[:8])
    assert done.returncode == 0 and "approved order" in done.stdout, done.stderr
    assert c.wait_authz(held_url)["status"] == "valid"
    der, _ = csr_der(["new.home.arpa"])
    final = c.post(waiting.json()["finalize"], {"csr": b64(der)}).json()
    assert final["status"] == "valid", final
    assert json.loads(world.cli("pending", "--json").stdout) == []
    # Deciding twice, or on an unknown order, is one clear error.
    again = world.cli("approve", order_id)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "Traceback" not in again.stderr
    assert world.cli("refuse", "nosuchorder").returncode == 2


def test_a_refused_order_is_invalid_with_the_operators_reason(world: World) -> None:
    c = world.member()
    order = c.order("nope.home.arpa")
    order_url = order.headers["location"]
    authz_url, token = world.trigger(c, order)
    done = world.cli("refuse", order_url.rsplit("/", 1)[-1], "--reason", "not a host of this lab")
    assert done.returncode == 0, done.stderr
    assert c.wait_authz(authz_url)["status"] == "invalid"
    body = c.post(order_url, None).json()
    assert body["status"] == "invalid"
    assert body["error"]["type"] == "urn:ietf:params:acme:error:rejectedIdentifier"
    assert "nope.home.arpa" in body["error"]["detail"] and "not a host of this lab" in body["error"]["detail"]
    chall = c.post(authz_url, None).json()["challenges"][0]
    assert chall["status"] == "invalid" and "not a host of this lab" in chall["error"]["detail"]
    assert not any(token in hit for hit in world.host.hits)
