"""certtui's speed beside mkcert, easy-rsa, openssl and the floors: one table, bench/results.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import peers
from stats import Row, Samples, markdown, ratio
from terminal import Pane, Terminal

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = Path(sys.executable)
CERTTUI = str(PYTHON.with_name("certtui"))

# The budgets README's Performance section states.
ISSUE_VS_FLOOR = 1.35
ISSUE_VS_EASYRSA = 0.85
INPROC_MS = 5.0
FROM_MS_PER_CERT = 10.0
LIST_FACTOR, LIST_EXTRA_MS = 2.0, 80.0
ROOT_ONLY_VS_MINIMAL = 1.5
BIG_VS_MINIMAL = 2.0
FILTER_KEY_MS = 50.0
PEAK_RSS_MB = 150.0
QR_MS = 300.0
# After the first rows, wait this long before typing: the TUI warms its slower imports in
# the background right after its first frame, and nobody types within a second of it.
SETTLE_S = 1.0
# Under the enrollment load, a key is pressed this often: the help screen it opens costs the
# TUI as much as the requests do, so probing back to back would halve what is served.
PROBE_PAUSE_S = 0.5


@dataclass(frozen=True)
class Plan:
    """How much to measure: a full run for the README, or a smoke run."""

    rounds: int
    """Interleaved rounds of every whole-process figure (1 and 3)."""
    from_sizes: tuple[int, int]
    from_runs: int
    inproc_count: int
    tui_runs: int
    keystrokes: int
    load_windows: int
    load_seconds: float
    kdf_runs: int


FULL = Plan(
    rounds=15,
    from_sizes=(1000, 10000),
    from_runs=3,
    inproc_count=300,
    tui_runs=5,
    keystrokes=10,
    load_windows=5,
    load_seconds=2.0,
    kdf_runs=7,
)
QUICK = Plan(
    rounds=3,
    from_sizes=(100, 1000),
    from_runs=1,
    inproc_count=30,
    tui_runs=2,
    keystrokes=4,
    load_windows=2,
    load_seconds=0.5,
    kdf_runs=2,
)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def child_env(**extra: str) -> dict[str, str]:
    """What every measured process gets: bytecode caches on (as an installed certtui has
    them), no passphrase file, no store location from the caller."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "CERTTUI_HOME", "CERTTUI_PASSPHRASE_FILE")
    }
    return {**env, **extra}


def timed_ms(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall time of one whole process, output discarded."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def interleaved(contenders: dict[str, Callable[[int], float]], rounds: int) -> dict[str, Samples]:
    """One warm-up round, then `rounds` rounds of A B C ..., each starting one further on."""
    names = list(contenders)
    for name in names:
        contenders[name](-1)
    out = {name: Samples("ms") for name in names}
    for r in range(rounds):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            out[name].add(contenders[name](r))
    return out


# -- figure 1 ---------------------------------------------------------------------------


def _run_contender(c: peers.Contender, n: int) -> float:
    return timed_ms(c.argv(n), c.env, c.cwd)


def figure_1(plan: Plan, work: Path, skipped: list[str]) -> list[Row]:
    env = child_env()
    floor_contender = peers.floor(PYTHON, work, env, BENCH)
    contenders = [*peers.certtui(PYTHON, work, env), floor_contender]
    for peer, make in (("mkcert", peers.mkcert), ("easy-rsa", peers.easyrsa), ("openssl", peers.openssl)):
        if peers.available(peer):
            contenders += make(work, env)
        else:
            skipped.append(f"{peer}: not installed; `{peers.INSTALL[peer]}` adds it")
    say(f"figure 1: {len(contenders)} contenders, {plan.rounds} interleaved rounds")
    samples = interleaved({c.label: partial(_run_contender, c) for c in contenders}, plan.rounds)
    by = {c.label: samples[c.label] for c in contenders}
    floor = samples[floor_contender.label]
    rows = [
        Row("1", c.label, samples[c.label], f"{ratio(samples[c.label], floor):.2f}x floor")
        for c in contenders
    ]
    ec, rsa = rows[0], rows[1]
    ec.budget, ec.met = f"<= {ISSUE_VS_FLOOR}x floor", ratio(ec.samples, floor) <= ISSUE_VS_FLOOR
    for row, key in ((ec, "EC P-256"), (rsa, "RSA 2048")):
        easy = by.get(f"easy-rsa build-server-full, {key}")
        if easy is not None:
            r = ratio(row.samples, easy)
            row.compared += f"; {r:.2f}x easy-rsa"
            # The EC row has issue 15's budget against easy-rsa; RSA key generation dominates the other.
            limit = ISSUE_VS_EASYRSA if key == "EC P-256" else 1.0
            row.budget = (row.budget + "; " if row.budget else "") + f"<= {limit:g}x easy-rsa"
            row.met = (row.met is not False) and r <= limit
    mkcert_rsa = by.get("mkcert (RSA 2048, its default)")
    if mkcert_rsa is not None:
        ec.compared += f"; {ratio(ec.samples, mkcert_rsa):.2f}x mkcert (RSA)"
        ec.budget += "; aim <= 1x mkcert (RSA)"
    return rows


# -- figure 2 ---------------------------------------------------------------------------


def new_store(home: Path, *extra: str) -> None:
    subprocess.run(
        [CERTTUI, "--home", str(home), "init", "--name", "Bench Root CA", "--no-passphrase", *extra],
        env=child_env(),
        check=True,
        capture_output=True,
    )


def names_file(path: Path, count: int) -> Path:
    """`host0.home.arpa 10.0.0.1` ...: one server certificate per line, two names each."""
    path.write_text(
        "".join(f"host{i}.home.arpa 10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}\n" for i in range(count))
    )
    return path


def figure_2(plan: Plan, work: Path) -> tuple[list[Row], Path]:
    say(f"figure 2: {plan.inproc_count} certificates in one process")
    home = work / "inproc"
    new_store(home)
    out = subprocess.run(
        [str(PYTHON), str(BENCH / "inproc.py"), "issue", str(home), str(plan.inproc_count)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    inproc = Samples("ms", json.loads(out))
    rows = [
        Row(
            "2",
            "in-process issuance (the TUI's path), EC P-256, commit included",
            inproc,
            "per certificate",
            f"<= {INPROC_MS:g} ms",
            inproc.median <= INPROC_MS,
        )
    ]
    per_cert = {n: Samples("ms") for n in plan.from_sizes}
    rate = {n: Samples("certs/s") for n in plan.from_sizes}
    big = work / "big"
    for run in range(plan.from_runs):
        for n in plan.from_sizes:
            say(f"figure 2: issue --from with {n:,} names (run {run + 1} of {plan.from_runs})")
            home = work / f"from-{n}-{run}"
            new_store(home)
            ms = timed_ms(
                [
                    CERTTUI,
                    "--home",
                    str(home),
                    "issue",
                    "--from",
                    str(names_file(work / f"names-{n}.txt", n)),
                ],
                child_env(),
                work,
            )
            per_cert[n].add(ms / n)
            rate[n].add(n / ms * 1000)
            if n == max(plan.from_sizes):
                shutil.rmtree(big, ignore_errors=True)
                home.rename(big)
            else:
                shutil.rmtree(home)
    for n in plan.from_sizes:
        s = per_cert[n]
        rows.append(
            Row(
                "2",
                f"`issue --from` with {n:,} names",
                s,
                f"{rate[n].median:,.0f} certs/s",
                f"<= {FROM_MS_PER_CERT:g} ms per cert",
                s.median <= FROM_MS_PER_CERT,
            )
        )
    return rows, big


# -- figure 3 ---------------------------------------------------------------------------


def figure_3(plan: Plan, big: Path, size: int, work: Path) -> list[Row]:
    say(f"figure 3: list --json with {size:,} certificates, {plan.rounds} interleaved rounds")
    env = child_env()
    samples = interleaved(
        {
            "list": lambda n: timed_ms([CERTTUI, "--home", str(big), "list", "--json"], env, work),
            "bare": lambda n: timed_ms([str(PYTHON), "-c", "import sqlite3, json"], env, work),
        },
        plan.rounds,
    )
    bare, listing = samples["bare"], samples["list"]
    limit = LIST_FACTOR * bare.median + LIST_EXTRA_MS
    return [
        Row("3", 'floor: `python -c "import sqlite3, json"`', bare),
        Row(
            "3",
            f"`certtui list --json`, {size:,} certificates",
            listing,
            f"{ratio(listing, bare):.2f}x floor",
            f"<= {LIST_FACTOR:g}x floor + {LIST_EXTRA_MS:g} ms ({limit:.0f} ms)",
            listing.median <= limit,
        ),
    ]


# -- figures 4 and 5 ----------------------------------------------------------------------


def tui_argv(home: Path, *extra: str) -> list[str]:
    return [CERTTUI, "--home", str(home), *extra]


def first_screen(pane: Pane, marker: str) -> float:
    """Milliseconds from starting the session to `marker` on screen."""
    seen = pane.wait(lambda s: marker in s, repr(marker))
    return (seen - pane.started) * 1000


def shows(text: str, screen: str) -> bool:
    return text in screen


def keystroke_ms(pane: Pane, key: str, predicate: Callable[[str], bool], what: str) -> float:
    sent = pane.keys(key)
    return (pane.wait(predicate, what) - sent) * 1000


def figure_4_5(plan: Plan, term: Terminal, small: Path, big: Path, size: int) -> list[Row]:
    env = child_env(TERM="xterm-256color")
    newest = f"host{size - 1}.home.arpa"

    def hosts(screen: str) -> set[str]:
        return set(re.findall(r"host(\d+)\.home\.arpa", screen))

    # The filter `host12`, then one more key, `3`, and back: the rows of hosts numbered 12...
    # but not 123... leave the screen and come back (the highlighted row stays in view).
    def narrowed(screen: str) -> bool:
        found = hosts(screen)
        return bool(found) and all(n.startswith("123") for n in found)

    def widened(screen: str) -> bool:
        found = hosts(screen)
        return all(n.startswith("12") for n in found) and any(not n.startswith("123") for n in found)

    minimal, root_only, big_start = Samples("ms"), Samples("ms"), Samples("ms")
    minimal_key, filter_key = Samples("ms"), Samples("ms")
    rss, minimal_rss = Samples("MB"), Samples("MB")
    for run in range(plan.tui_runs + 1):
        warm = run == 0
        say(
            f"figures 4-5: TUI starts in tmux, round {run} of {plan.tui_runs}"
            + (" (warm-up)" if warm else "")
        )
        pane = term.start([str(PYTHON), str(BENCH / "minimal_app.py")], env)
        ms = first_screen(pane, "minimal app ready")
        time.sleep(SETTLE_S)
        for k in range(plan.keystrokes):
            key = "3" if k % 2 == 0 else "4"
            t = keystroke_ms(pane, key, partial(shows, f"pressed {key}"), f"pressed {key}")
            if not warm:
                minimal_key.add(t)
        if not warm:
            minimal.add(ms)
            minimal_rss.add(pane.peak_rss_mb())
        pane.close()

        pane = term.start(tui_argv(small), env)
        ms = first_screen(pane, "Bench Root CA")
        if not warm:
            root_only.add(ms)
        pane.close()

        pane = term.start(tui_argv(big), env)
        ms = first_screen(pane, newest)
        time.sleep(SETTLE_S)
        pane.typed("/")
        pane.wait(lambda s: "filter: name or SAN" in s, "the filter field")
        pane.typed("host12")
        pane.wait(widened, "the list filtered by host12")
        for k in range(plan.keystrokes):
            if k % 2 == 0:
                t = keystroke_ms(pane, "3", narrowed, "the filter host123")
            else:
                t = keystroke_ms(pane, "BSpace", widened, "the filter host12")
            if not warm:
                filter_key.add(t)
        if not warm:
            big_start.add(ms)
            rss.add(pane.peak_rss_mb())
        pane.close()
    r_small, r_big = ratio(root_only, minimal), ratio(big_start, minimal)
    return [
        Row("4", "floor: minimal Textual app, one label on screen", minimal),
        Row(
            "4",
            "TUI first rows, store with its root only",
            root_only,
            f"{r_small:.2f}x minimal app",
            f"<= {ROOT_ONLY_VS_MINIMAL}x minimal app",
            r_small <= ROOT_ONLY_VS_MINIMAL,
        ),
        Row(
            "4",
            f"TUI first rows, {size:,} certificates",
            big_start,
            f"{r_big:.2f}x minimal app",
            f"<= {BIG_VS_MINIMAL:g}x minimal app",
            r_big <= BIG_VS_MINIMAL,
        ),
        Row("4", "floor: minimal Textual app, one key press to screen", minimal_key),
        Row(
            "4",
            f"filter keystroke on {size:,} rows, to screen",
            filter_key,
            f"{ratio(filter_key, minimal_key):.2f}x minimal app",
            f"<= {FILTER_KEY_MS:g} ms",
            filter_key.median <= FILTER_KEY_MS,
        ),
        Row(
            "5",
            f"peak RSS of the TUI, {size:,} certificates",
            rss,
            f"minimal app: {minimal_rss.median:.0f} MB",
            f"<= {PEAK_RSS_MB:g} MB",
            rss.median <= PEAK_RSS_MB,
        ),
    ]


# -- figure 6 ---------------------------------------------------------------------------


def qr_on_screen(screen: str) -> bool:
    return "http://127.0.0.1:" in screen and screen.count("█") + screen.count("▀") > 100


def figure_6(plan: Plan, term: Terminal, small: Path) -> list[Row]:
    from enroll_load import requests_per_second

    env = child_env(TERM="xterm-256color")
    # Loopback only: the server listens on 127.0.0.1 and the QR names it.
    argv = tui_argv(
        small, "--bind", "127.0.0.1", "--port", "0", "--tls-port", "0", "--advertise", "127.0.0.1"
    )
    qr = Samples("ms")
    landing, profile = Samples("req/s"), Samples("req/s")
    idle_key, loaded_key = Samples("ms"), Samples("ms")
    for run in range(plan.tui_runs + 1):
        say(f"figure 6: p to QR, round {run} of {plan.tui_runs}" + (" (warm-up)" if run == 0 else ""))
        pane = term.start(argv, env)
        first_screen(pane, "Bench Root CA")
        time.sleep(SETTLE_S)
        sent = pane.keys("p")
        seen = pane.wait(qr_on_screen, "the QR code")
        if run:
            qr.add((seen - sent) * 1000)
        if run == plan.tui_runs:
            url = next(w for w in pane.screen().split() if w.startswith("http://127.0.0.1:"))
            for _ in range(plan.keystrokes // 2 or 1):
                idle_key.add(help_round_trip(pane))
            say(f"figure 6: {plan.load_windows} windows of {plan.load_seconds:g} s per route on {url}")
            for _ in range(plan.load_windows):
                for route, samples in (("", landing), ("root.mobileconfig", profile)):
                    samples.add(
                        loaded(pane, partial(requests_per_second, url + route, plan.load_seconds), loaded_key)
                    )
        pane.close()
    return [
        Row("6", "enrollment: landing page, local aiohttp client on 127.0.0.1", landing),
        Row("6", "enrollment: iOS profile (.mobileconfig)", profile),
        Row(
            "6",
            "TUI key press (`?` help) while serving that load",
            loaded_key,
            f"idle: {idle_key.median:.0f} ms",
        ),
        Row(
            "6",
            "`p` until the QR code is on screen, unlocked store",
            qr,
            "",
            f"<= {QR_MS:g} ms",
            qr.median <= QR_MS,
        ),
    ]


# The help screen's own row for `?`, near its top at any size (its guide, "Three journeys", is
# below the keys, off a 40-row screen).
HELP_MARK = "Help: Every key"


def help_round_trip(pane: Pane) -> float:
    """`?` until the help shows (then esc closes it): how responsive the TUI is."""
    ms = keystroke_ms(pane, "?", lambda s: HELP_MARK in s, "the help screen")
    pane.keys("Escape")
    pane.wait(lambda s: HELP_MARK not in s, "the help closed")
    return ms


def loaded(pane: Pane, load: Callable[[], float], keys: Samples) -> float:
    """Run `load` in a thread while pressing `?` in the TUI; returns the load's figure."""
    import threading

    result: list[float] = []
    worker = threading.Thread(target=lambda: result.append(load()))
    worker.start()
    time.sleep(0.1)
    while worker.is_alive():
        keys.add(help_round_trip(pane))
        time.sleep(PROBE_PAUSE_S)
    worker.join()
    return result[0]


# -- figure 7 ---------------------------------------------------------------------------


def figure_7(plan: Plan) -> list[Row]:
    say("figure 7: the KDF per passphrase check")
    out = json.loads(
        subprocess.run(
            [str(PYTHON), str(BENCH / "inproc.py"), "kdf", str(plan.kdf_runs)],
            env=child_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    params = f"Argon2id, {out['memory_kib'] // 1024} MiB, {out['iterations']} passes, {out['lanes']} lanes"
    return [
        Row(
            "7",
            "unlock: one passphrase check (KDF + check value)",
            Samples("ms", out["ms"]),
            params,
            "higher costs an attacker more",
        )
    ]


# -- the run ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    os_name = platform.platform()
    try:
        with open("/etc/os-release", encoding="utf-8") as release:
            os_name = next(
                line.split("=", 1)[1].strip().strip('"')
                for line in release
                if line.startswith("PRETTY_NAME=")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": os_name,
        "kernel": platform.release(),
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few rounds, small stores")
    parser.add_argument(
        "--only",
        type=int,
        nargs="+",
        choices=range(1, 8),
        metavar="N",
        help="measure only these figures (1-7); the README's table has all",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    only = set(args.only or range(1, 8))
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed for the TUI figures: sudo apt-get install -y tmux")
    # Bytecode caches, as `pip install` leaves them for an installed certtui.
    subprocess.run(
        [str(PYTHON), "-m", "compileall", "-q", str(REPO / "certtui")], check=True, env=child_env()
    )
    started, load_before = time.strftime("%Y-%m-%dT%H:%M:%S%z"), load_average()
    skipped: list[str] = []
    term = Terminal()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="certtui-bench-") as folder:
        work = Path(folder)
        size = max(plan.from_sizes)
        big = work / "big"
        small = work / "small"
        try:
            if 1 in only:
                rows += figure_1(plan, work, skipped)
            if 2 in only:
                fig2, big = figure_2(plan, work)
                rows += fig2
            elif only & {3, 4, 5}:
                new_store(big)
                subprocess.run(
                    [
                        CERTTUI,
                        "--home",
                        str(big),
                        "issue",
                        "--from",
                        str(names_file(work / "names.txt", size)),
                    ],
                    env=child_env(),
                    check=True,
                    capture_output=True,
                )
            if 3 in only:
                rows += figure_3(plan, big, size, work)
            if only & {4, 5, 6}:
                new_store(small)
            if only & {4, 5}:
                rows += figure_4_5(plan, term, small, big, size)
            if 6 in only:
                rows += figure_6(plan, term, small)
            if 7 in only:
                rows += figure_7(plan)
        finally:
            term.close()
    info = machine()
    command = " ".join(["python bench/run.py", *sys.argv[1:]])
    result = {
        "command": command,
        "started": started,
        "machine": info,
        "plan": asdict(plan),
        "load_average": {"before": load_before, "after": load_average()},
        "skipped": skipped,
        "rows": [row.to_json() for row in rows],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(rows))
    print()
    print(
        f"{info['cpu']}, {info['cores']} cores; Python {info['python']}; {info['os']} "
        f"(kernel {info['kernel']}). Load average {load_before} before, {load_average()} after."
    )
    for line in skipped:
        print(f"skipped {line}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
