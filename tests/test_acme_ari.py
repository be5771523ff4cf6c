"""ACME Renewal Information (RFC 9773): the window's arithmetic, renewalInfo, replaces, and
certbot (PyPI, with ARI) renewing when the window opens, not before, and after renew-early."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from acme_support import ChallengeHost, Client, Server, b64, child_env, csr_der, export_root, free_port
from cryptography import x509

from certtui.core import ari
from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.journeys import acme as journey
from certtui.paths import db_path

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# A certbot install takes a minute on a fresh machine; a stuck index is not waited on longer.
PIP_TIMEOUT_S = 600
# A certbot run takes a few seconds here; a minute and a half is a hung client.
CLIENT_TIMEOUT_S = 90
HERE = Path(__file__).parent


# -- the window's arithmetic -----------------------------------------------------------------


def test_the_default_window_is_the_middle_third_of_the_last_third() -> None:
    w = ari.window(T0, T0 + timedelta(days=90))
    assert (w.start, w.end, w.early) == (T0 + timedelta(days=70), T0 + timedelta(days=80), False)
    w = ari.window(T0, T0 + timedelta(days=9))
    assert (w.start, w.end) == (T0 + timedelta(days=7), T0 + timedelta(days=8))


def test_an_early_mark_puts_the_window_in_the_hour_before_it() -> None:
    marked = T0 + timedelta(days=10)
    w = ari.window(T0, T0 + timedelta(days=90), marked, "marked")
    assert (w.start, w.end, w.early, w.why) == (marked - timedelta(hours=1), marked, True, "marked")
    # Never before the certificate's life began.
    w = ari.window(T0, T0 + timedelta(days=90), T0 + timedelta(minutes=10))
    assert (w.start, w.end) == (T0, T0 + timedelta(minutes=10))
    # A mark after the default window changes nothing.
    late = ari.window(T0, T0 + timedelta(days=90), T0 + timedelta(days=85))
    assert (late.start, late.early) == (T0 + timedelta(days=70), False)


def test_the_cert_id_is_aki_dot_serial_with_a_sign_byte() -> None:
    # RFC 9773 section 4.1's example: serial 0x87654321 needs a leading zero byte.
    assert ari.serial_bytes(0x87654321) == b"\x00\x87\x65\x43\x21"
    assert ari.serial_bytes(0x7F) == b"\x7f"
    aki, serial = ari.parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    assert serial == 0x87654321 and aki.hex() == "69885b6b87464041e1b37b847ba0ae2cde01c8d4"
    for bad in ("nodot", ".AIdlQyE", "aYhb.", "aYhb.gA", "aYhb.AIdlQyE="):
        with pytest.raises(ValueError):
            ari.parse_cert_id(bad)


def test_the_window_moves_for_a_replaced_or_marked_ca_and_renew_early_refuses_nonsense(
    tmp_path: Path,
) -> None:
    from certtui.errors import CerttuiError

    store, recs = init_store(db_path(tmp_path / "h"), InitRequest(name="Win Root", intermediate=True), None)
    try:
        root_id, ca_id = recs[0].id, store.default_issuer_id() or ""
        assert ca_id != root_id
        with pytest.raises(CerttuiError, match="nothing to mark"):
            journey.renew_early(store, None, every=True)
        with pytest.raises(CerttuiError, match="not both"):
            journey.renew_early(store, ca_id, every=True)
        leaf = journey.issue(
            store,
            names=["w.home.arpa"],
            issuer_id=ca_id,
            issuer_key=store.private_key(ca_id),
            days=90,
            origin="acme:lab",
        )
        assert not journey.ari_window(store, leaf.id, ca_id).early
        # The server now signs with another CA: this certificate should move over early.
        moved = journey.ari_window(store, leaf.id, root_id)
        assert moved.early and "replaced by" in moved.why and moved.end <= datetime.now(UTC)
        # A rollover: marking the intermediate moves everything it signed.
        assert journey.renew_early(store, ca_id, every=False) == [ca_id]
        marked = journey.ari_window(store, leaf.id, ca_id)
        assert marked.early and f"its CA {ca_id} is being replaced" == marked.why
    finally:
        store.close()


# -- a server, certbot and a small client ----------------------------------------------------


@dataclass
class World:
    base: Path
    home: Path
    root: Path
    server: Server
    clock: Path
    http_port: int
    kid: str
    hmac: str
    certbot: Path

    def store(self) -> Store:
        return Store.open(db_path(self.home))

    def run_certbot(self, *args: str) -> subprocess.CompletedProcess[str]:
        dirs = ["--config-dir", str(self.base / "cb"), "--work-dir", str(self.base / "cbw")]
        dirs += ["--logs-dir", str(self.base / "cbl")]
        env = child_env(REQUESTS_CA_BUNDLE=str(self.root))
        return subprocess.run(
            [str(self.certbot), *args, *dirs, "--non-interactive"],
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT_S,
            env=env,
            check=False,
        )

    def certonly(self, name: str, days_ago: int) -> None:
        self.clock.write_text(str(days_ago))
        done = self.run_certbot(
            "certonly",
            "--standalone",
            "--http-01-port",
            str(self.http_port),
            "--http-01-address",
            "127.0.0.1",
            "--server",
            self.server.directory,
            "--eab-kid",
            self.kid,
            "--eab-hmac-key",
            self.hmac,
            "--agree-tos",
            "-m",
            "admin@home.arpa",
            "-d",
            name,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def renew(self, name: str) -> subprocess.CompletedProcess[str]:
        # Without a TTY certbot first sleeps up to 8 minutes to spread load on the CA.
        done = self.run_certbot("renew", "--no-random-sleep-on-renew", "--cert-name", name)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def versions(self, name: str) -> int:
        return len(list((self.base / "cb" / "archive" / name).glob("cert*.pem")))

    def forget_retry_after(self, name: str) -> None:
        """certbot keeps ARI's Retry-After (6 h) in the renewal conf: as if that time passed."""
        conf = self.base / "cb" / "renewal" / f"{name}.conf"
        lines = conf.read_text().splitlines()
        conf.write_text("\n".join(line for line in lines if not line.startswith("ari_retry_after")) + "\n")


def certbot_with_ari() -> Path:
    """certbot >= 4.1 from PyPI in a venv of its own, cached between runs."""
    cache = Path(os.environ.get("CERTTUI_TEST_CACHE", Path.home() / ".cache" / "certtui-tests"))
    venv = cache / "certbot-ari"
    exe = venv / "bin" / "certbot"
    if not exe.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=PIP_TIMEOUT_S)
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "certbot>=4.1,<6"],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.skip(f"could not install certbot >= 4.1 from PyPI: {done.stderr[-300:]}")
    return exe


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    certbot = certbot_with_ari()
    base = tmp_path_factory.mktemp("ari")
    home = base / "home"
    store, _ = init_store(
        db_path(home),
        InitRequest(name="ARI Root", intermediate=True, permit=("home.arpa", "127.0.0.0/8")),
        None,
        # The CAs predate the aged certificates the injected clock signs.
        now=datetime.now(UTC).replace(microsecond=0) - timedelta(days=120),
    )
    lab = journey.add_account(store, "lab", ["*.home.arpa"])
    store.close()
    root = export_root(home, base / "root.pem")
    clock = base / "clock.txt"
    clock.write_text("0")
    http_port = free_port()
    args = ["--allow-loopback", "--http-01-port", str(http_port)]
    for name in ("soon.home.arpa", "due.home.arpa", "swap.home.arpa"):
        args += ["--resolve", f"{name}:127.0.0.1"]
    server = Server(
        home,
        base,
        tuple(args),
        child_env(CERTTUI_TEST_CLOCK_FILE=str(clock)),
        launcher=(str(HERE / "clocked_acme.py"),),
    ).start()
    try:
        yield World(base, home, root, server, clock, http_port, lab.account.kid or "", lab.hmac_b64, certbot)
    finally:
        assert server.stop() == 0


def _cert_of(world: World, name: str) -> str:
    store = world.store()
    try:
        ids = [r.id for r in store.records() if r.names == (name,) and r.renewed_by is None]
    finally:
        store.close()
    assert len(ids) == 1, ids
    return ids[0]


@pytest.mark.slow
def test_certbot_renews_when_the_window_opens_not_before_and_after_renew_early(world: World) -> None:
    # Signed 65 days ago: certbot's own rule (two thirds of 90 days) would renew; ARI's window
    # (days 70-80) has not opened, and ARI decides.
    world.certonly("soon.home.arpa", 65)
    done = world.renew("soon.home.arpa")
    assert world.versions("soon.home.arpa") == 1, done.stdout + done.stderr
    assert "not yet due" in done.stdout + done.stderr
    # Signed 85 days ago: the window (days 70-80) is behind us.
    world.certonly("due.home.arpa", 85)
    world.clock.write_text("0")
    done = world.renew("due.home.arpa")
    assert world.versions("due.home.arpa") == 2, done.stdout + done.stderr
    # renew-early moves the window of "soon" into the past: the next check renews.
    cert_id = _cert_of(world, "soon.home.arpa")
    marked = subprocess.run(
        [sys.executable, "-m", "certtui", "--home", str(world.home), "acme", "renew-early", cert_id],
        capture_output=True,
        text=True,
        check=False,
    )
    assert marked.returncode == 0 and cert_id in marked.stdout, marked.stderr
    world.forget_retry_after("soon.home.arpa")
    done = world.renew("soon.home.arpa")
    assert world.versions("soon.home.arpa") == 2, done.stdout + done.stderr


@pytest.mark.slow
def test_renewal_info_and_replaces_link_the_new_certificate_to_the_old(world: World) -> None:
    world.clock.write_text("0")
    c = Client(world.server.directory, world.root)
    assert c.dir["renewalInfo"].endswith("/acme/renewal-info")
    c.register(world.kid, world.hmac)
    host = ChallengeHost(world.http_port)
    try:

        def issue(payload_extra: dict[str, str]) -> x509.Certificate:
            order = c.post(
                c.dir["newOrder"],
                {"identifiers": [{"type": "dns", "value": "swap.home.arpa"}], **payload_extra},
            )
            assert order.status == 201, order.body
            authz_url, chall = c.challenge_of(order)
            host.text(chall["token"], f"{chall['token']}.{c.thumbprint()}".encode())
            assert c.post(chall["url"], {}).status == 200
            assert c.wait_authz(authz_url)["status"] == "valid"
            der, _ = csr_der(["swap.home.arpa"])
            done = c.post(order.json()["finalize"], {"csr": b64(der)}).json()
            assert done["status"] == "valid", done
            if payload_extra:
                assert done["replaces"] == payload_extra["replaces"]
            pem = c.post(done["certificate"], None).body
            return x509.load_pem_x509_certificates(pem)[0]

        old = issue({})
        old_ari = ari.cert_id(old)
        info = c.request("GET", f"{c.dir['renewalInfo']}/{old_ari}")
        assert info.status == 200 and int(info.headers["retry-after"]) == ari.RETRY_AFTER_S
        window = info.json()["suggestedWindow"]
        life = old.not_valid_after_utc - old.not_valid_before_utc
        start = datetime.strptime(window["start"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs(start - (old.not_valid_before_utc + life * 7 / 9)) < timedelta(seconds=2)
        assert c.request("GET", f"{c.dir['renewalInfo']}/{old_ari[:-2]}AA").status == 404
        assert c.request("GET", f"{c.dir['renewalInfo']}/nonsense").status == 400
        new = issue({"replaces": old_ari})
        # The store links them as `certtui renew` does: list --json and inspect show it.
        old_id = format(old.serial_number, "x")[:12]
        listed = subprocess.run(
            [sys.executable, "-m", "certtui", "--home", str(world.home), "list", "--json"],
            capture_output=True,
            text=True,
            check=True,
        )

        rows = {r["id"]: r for r in json.loads(listed.stdout)}
        new_id = format(new.serial_number, "x")[:12]
        assert rows[old_id]["renewed_by"] == new_id
        text = subprocess.run(
            [sys.executable, "-m", "certtui", "--home", str(world.home), "list"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        old_line = next(line for line in text.splitlines() if line.startswith(old_id))
        assert f"[acme:lab]  [renewed by {new_id}]" in old_line
        shown = subprocess.run(
            [sys.executable, "-m", "certtui", "--home", str(world.home), "show", new_id],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines = {
            key: line
            for line in shown.splitlines()
            for key in ("ACME account", "Replaces", "ARI window")
            if line.startswith(key)
        }
        assert "lab" in lines["ACME account"] and old_id in lines["Replaces"], shown
        assert "middle third" in lines["ARI window"], shown
        # A second replacement of the same certificate is refused.
        again = c.post(
            c.dir["newOrder"],
            {"identifiers": [{"type": "dns", "value": "swap.home.arpa"}], "replaces": old_ari},
        )
        assert again.status == 409 and again.problem == "alreadyReplaced"
        # Renew-early of the CA above it moves the new certificate's window into the past.
        store = world.store()
        try:
            issuer = store.get(old_id).issuer_id or ""
        finally:
            store.close()
        subprocess.run(
            [sys.executable, "-m", "certtui", "--home", str(world.home), "acme", "renew-early", issuer],
            check=True,
            capture_output=True,
        )
        win = c.request("GET", f"{c.dir['renewalInfo']}/{ari.cert_id(new)}").json()["suggestedWindow"]
        end = datetime.strptime(win["end"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert end <= datetime.now(UTC)
    finally:
        host.close()
