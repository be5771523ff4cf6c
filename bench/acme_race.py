"""Figure 8: lego against Pebble and against `certtui acme`, interleaved, http-01 on 127.0.0.1.

One order start to certificate (a fresh lego account each time, both sides alike), then 20
orders from 5 concurrent clients; certtui's server RSS. Writes bench/acme_results.json and
prints the Markdown rows. Needs lego, pebble and pebble-challtestsrv (Debian `lego`, `pebble`).

    .venv/bin/python bench/acme_race.py [--rounds N]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stats import Row, Samples, markdown, ratio

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
# The budgets of issue 19.
VS_PEBBLE = 1.0
RSS_MB = 120.0
TUI_KEY_MS = 100.0
# A key is pressed this often in the TUI while the orders run (as figure 6 does).
PROBE_PAUSE_S = 0.5
CONCURRENT_CLIENTS, CONCURRENT_ORDERS = 5, 20
# A lego run takes well under a second here; a minute is a hung one.
LEGO_TIMEOUT_S = 60
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(cond: object, what: str, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"error: timed out waiting for {what}")
        time.sleep(0.05)


def pebble_tls(folder: Path) -> tuple[Path, Path, Path]:
    """A small CA and a 127.0.0.1 certificate for Pebble's HTTPS listener."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench pebble CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    import ipaddress

    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "pebble-ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "pebble-cert.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "pebble-key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "pebble-ca.pem", folder / "pebble-cert.pem", folder / "pebble-key.pem"


class Webroot:
    """One HTTP server on 127.0.0.1 serving lego's --http.webroot for every concurrent client."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

        handler = partial(Quiet, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Side:
    """One ACME server and the lego command line that uses it."""

    def __init__(self, name: str, directory: str, ca: Path, extra: list[str], proc: subprocess.Popen[bytes]):
        self.name, self.directory, self.ca, self.extra, self.proc = name, directory, ca, extra, proc
        self.counter = 0
        self.lock = threading.Lock()

    def order(self, work: Path, webroot: Path) -> tuple[float, bool]:
        with self.lock:
            self.counter += 1
            n = self.counter
        path = work / f"lego-{self.name}-{n}"
        domain = f"{self.name}-{n}.home.arpa"
        cmd = ["lego", "--path", str(path), "--server", self.directory, "--accept-tos", "--email"]
        cmd += ["bench@home.arpa", *self.extra, "--http", "--http.webroot", str(webroot), "-d", domain, "run"]
        env = dict(os.environ, LEGO_CA_CERTIFICATES=str(self.ca))
        started = time.perf_counter()
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=LEGO_TIMEOUT_S, env=env, check=False
        )
        elapsed = (time.perf_counter() - started) * 1000
        ok = done.returncode == 0 and (path / "certificates" / f"{domain}.crt").exists()
        if not ok:
            sys.stderr.write(f"{self.name} order failed: {done.stderr[-400:]}\n")
        return elapsed, ok

    def rss_mb(self) -> float:
        """The peak resident set (VmHWM) of the server process."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def start_pebble(work: Path, http_port: int, dns_port: int) -> Side:
    ca, cert, key = pebble_tls(work)
    port, mgmt, tls = free_port(), free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{mgmt}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": http_port,
            "tlsPort": tls,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (work / "pebble.json").write_text(json.dumps(config))
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    log = open(work / "pebble.log", "wb")
    proc = subprocess.Popen(
        ["pebble", "-config", str(work / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )

    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait(up, "pebble to listen")
    return Side("pebble", f"https://127.0.0.1:{port}/dir", ca, [], proc)


def start_certtui(work: Path, http_port: int, names: list[str]) -> Side:
    home = work / "certtui-home"
    env = dict(os.environ, CERTTUI_HOME=str(home))
    run = partial(subprocess.run, check=True, capture_output=True, text=True, env=env)
    certtui = [PYTHON, "-m", "certtui"]
    run([*certtui, "init", "--name", "Bench ACME Root", "--intermediate", "--no-passphrase"])
    made = json.loads(
        run([*certtui, "acme", "account", "add", "bench", "--allow", "*.home.arpa", "--json"]).stdout
    )
    root_id = json.loads(run([*certtui, "list", "--json"]).stdout)[0]["id"]
    run([*certtui, "export", root_id, "--format", "pem", "--out", str(work / "root.pem")])
    port = free_port()
    args = ["acme", "--bind", "127.0.0.1", "--port", str(port), "--hostname", "127.0.0.1"]
    args += ["--allow-loopback", "--http-01-port", str(http_port), "--orders-per-minute", "1000"]
    for name in names:
        args += ["--resolve", f"{name}:127.0.0.1"]
    out = open(work / "certtui-out.txt", "wb")
    proc = subprocess.Popen(
        [*certtui, *args], stdout=out, stderr=open(work / "certtui-err.txt", "wb"), env=env
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"error: certtui acme exited: {(work / 'certtui-err.txt').read_text()[-400:]}")
        return "certtui acme: serving" in (work / "certtui-out.txt").read_text()

    wait(up, "certtui acme to listen")
    extra = ["--eab", "--kid", made["kid"], "--hmac", made["hmac"]]
    return Side("certtui", f"https://127.0.0.1:{port}/acme/directory", work / "root.pem", extra, proc)


def tui_on(work: Path, idle: Probes) -> Any:
    """The TUI in tmux on certtui's store, settled, with a few idle probes timed."""
    from run import CERTTUI, SETTLE_S, child_env, first_screen
    from terminal import Terminal

    term = Terminal()
    pane = term.start([CERTTUI, "--home", str(work / "certtui-home")], child_env(TERM="xterm-256color"))
    first_screen(pane, "Bench ACME Root")
    time.sleep(SETTLE_S)
    for _ in range(3):
        probe(pane, idle)
    return pane


@dataclass
class Probes:
    """Two kinds of key press: a filter keystroke (the budget) and `?` opening the help."""

    filter: Samples = field(default_factory=lambda: Samples("ms"))
    help: Samples = field(default_factory=lambda: Samples("ms"))


def probe(pane: Any, into: Probes) -> None:
    """`?` until the help shows; then in the filter `certtui-`, one more key, `1`, until the rows
    of certtui-2... leave the screen, and backspace until they are back (both timed)."""
    from run import help_round_trip, keystroke_ms

    into.help.add(float(help_round_trip(pane)))
    other = "certtui-2.home.arpa"
    pane.keys("/")
    pane.typed("certtui-")
    pane.wait(lambda s: other in s, "the filter certtui-")
    into.filter.add(keystroke_ms_typed(pane, "1", lambda s: other not in s, "the filter certtui-1"))
    into.filter.add(float(keystroke_ms(pane, "BSpace", lambda s: other in s, "the filter certtui- again")))
    pane.keys("Escape")
    pane.wait(lambda s: other in s and "Bench ACME Root" in s, "the filter cleared")


def keystroke_ms_typed(pane: Any, text: str, predicate: Any, what: str) -> float:
    sent = pane.typed(text)
    return float((pane.wait(predicate, what) - sent) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="Interleaved single-order rounds.")
    opts = parser.parse_args()
    for tool in ("lego", "pebble", "pebble-challtestsrv"):
        if shutil.which(tool) is None:
            raise SystemExit(f"error: {tool} is not installed (apt-get install lego pebble)")
    work = Path(tempfile.mkdtemp(prefix="certtui-acme-bench-"))
    webroot = Webroot(work / "webroot")
    dns_port, mgmt = free_port(), free_port()
    # Pebble resolves every name through this: A 127.0.0.1 for any name, no AAAA.
    dns = subprocess.Popen(
        ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}", "-management", f"127.0.0.1:{mgmt}"]
        + ["-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    total = opts.rounds + CONCURRENT_ORDERS + 2
    names = [f"certtui-{i}.home.arpa" for i in range(1, total + 1)]
    sides: list[Side] = []
    try:
        sides = [start_pebble(work, webroot.port, dns_port), start_certtui(work, webroot.port, names)]
        certtui = sides[1]
        for side in sides:  # one warm-up order each (lego's and the servers' first-use costs)
            side.order(work, webroot.folder)
        single = {s.name: Samples("ms") for s in sides}
        ok = {s.name: 0 for s in sides}
        for _ in range(opts.rounds):
            for side in sides:
                ms, good = side.order(work, webroot.folder)
                single[side.name].add(ms)
                ok[side.name] += good
        concurrent = {s.name: Samples("ms") for s in sides}
        wall = {s.name: Samples("ms") for s in sides}
        done_ok = {s.name: 0 for s in sides}
        idle_key, loaded_key = Probes(), Probes()
        for side in sides:
            pane = tui_on(work, idle_key) if side is certtui and shutil.which("tmux") else None
            started = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
                jobs = [pool.submit(side.order, work, webroot.folder) for _ in range(CONCURRENT_ORDERS)]
                while pane is not None and not all(job.done() for job in jobs):
                    probe(pane, loaded_key)
                    time.sleep(PROBE_PAUSE_S)
                results = [job.result() for job in jobs]
            wall[side.name].add((time.perf_counter() - started) * 1000)
            if pane is not None:
                pane.close()
                pane.terminal.close()
            for ms, good in results:
                concurrent[side.name].add(ms)
                done_ok[side.name] += good
        rss = Samples("MB", [certtui.rss_mb()])
        vs = ratio(single["certtui"], single["pebble"])
        per_conc = concurrent["certtui"].median / concurrent["pebble"].median
        rows = [
            Row("8", "one order, lego → Pebble", single["pebble"], f"{ok['pebble']}/{opts.rounds} ok"),
            Row(
                "8",
                "one order, lego → certtui acme",
                single["certtui"],
                f"{vs:.2f}x Pebble, {ok['certtui']}/{opts.rounds} ok",
                f"≤ {VS_PEBBLE:.1f}x Pebble",
                vs <= VS_PEBBLE,
            ),
            Row(
                "8",
                "20 orders / 5 clients, per order, Pebble",
                concurrent["pebble"],
                f"{done_ok['pebble']}/20 ok",
            ),
            Row(
                "8",
                "20 orders / 5 clients, per order, certtui",
                concurrent["certtui"],
                f"{per_conc:.2f}x Pebble, {done_ok['certtui']}/20 ok",
                "20/20 succeed",
                done_ok["certtui"] == CONCURRENT_ORDERS,
            ),
            Row("8", "20 orders / 5 clients, wall, Pebble", wall["pebble"]),
            Row("8", "20 orders / 5 clients, wall, certtui", wall["certtui"]),
            Row("8", "certtui acme peak RSS", rss, "", f"< {RSS_MB:.0f} MB", rss.median < RSS_MB),
        ]
        if loaded_key.filter.values:
            rows.append(
                Row(
                    "8",
                    "TUI filter keystroke on the same store while certtui's 20 orders run",
                    loaded_key.filter,
                    f"idle: {idle_key.filter.median:.0f} ms",
                    f"≤ {TUI_KEY_MS:.0f} ms",
                    loaded_key.filter.median <= TUI_KEY_MS,
                )
            )
            rows.append(
                Row(
                    "8",
                    "TUI `?` until the help is drawn, same time",
                    loaded_key.help,
                    f"idle: {idle_key.help.median:.0f} ms",
                )
            )
        print(markdown(rows))
        out = {
            "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
            "rows": [r.to_json() for r in rows],
        }
        (BENCH / "acme_results.json").write_text(json.dumps(out, indent=2) + "\n")
    finally:
        for side in sides:
            side.proc.send_signal(signal.SIGTERM)
            side.proc.wait(timeout=30)
        dns.terminate()
        dns.wait(timeout=30)
        webroot.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
