"""Before and after: two versions of certtui interleaved in the same rounds, beside their floors.

Issue 15's table: `certtui issue` (EC P-256, a `--no-passphrase` store) against `bench/floor.py`,
and `certtui list --json` of 10,000 certificates against `python -c "import sqlite3, json"`, for
the checkout this script is in ("after") and an earlier commit ("before", checked out into a
temporary folder with `git archive`). Both run as `python -m certtui` with their own tree first
on PYTHONPATH and bytecode compiled, in rounds of before, after, floor (rotating).

    .venv/bin/python bench/ab.py [--before REV] [--rounds N] [--size N]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from peers import floor
from run import child_env, interleaved, load_average, machine, names_file, timed_ms
from stats import Samples, ratio

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = Path(sys.executable)
# The commit this round of work started from (before issue 15's layer and splits).
BEFORE = "a9560aa"


def compile_tree(tree: Path) -> None:
    """Bytecode caches, as `pip install` leaves them for an installed certtui."""
    argv = [str(PYTHON), "-m", "compileall", "-q", str(tree / "certtui")]
    subprocess.run(argv, check=True, env=child_env())


def checkout(rev: str, where: Path) -> Path:
    """`rev`'s tree (certtui/ only) unpacked into `where`, bytecode compiled."""
    tar = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "certtui"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(where, filter="data")
    subprocess.run(
        [str(PYTHON), "-m", "compileall", "-q", str(where / "certtui")], check=True, env=child_env()
    )
    return where


def certtui(*args: str) -> list[str]:
    """The command line of `python -m certtui ARGS` (which tree runs is `env_for`'s PYTHONPATH)."""
    return [str(PYTHON), "-m", "certtui", *args]


def env_for(tree: Path) -> dict[str, str]:
    return child_env(PYTHONPATH=str(tree))


def stores(tree: Path, work: Path, size: int) -> tuple[Path, Path]:
    """An EC P-256 store for `issue`, and one with `size` certificates for `list --json`."""
    env = env_for(tree)
    small, big = work / "issue", work / "list"
    for home in (small, big):
        subprocess.run(
            certtui("--home", str(home), "init", "--name", "AB Root", "--no-passphrase"),
            env=env,
            cwd=work,  # not the repository: `-m certtui` would find the checkout's own package first
            check=True,
            capture_output=True,
        )
    names = names_file(work / "names.txt", size)
    subprocess.run(
        certtui("--home", str(big), "issue", "--from", str(names)),
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    return small, big


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help=f"the earlier commit (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--size", type=int, default=10000, help="certificates in the list store")
    opts = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="certtui-ab-") as folder:
        work = Path(folder)
        trees = {"before": checkout(opts.before, work / "before-tree"), "after": REPO}
        subprocess.run(
            [str(PYTHON), "-m", "compileall", "-q", str(REPO / "certtui")], check=True, env=child_env()
        )
        homes = {}
        for name, tree in trees.items():
            (work / name).mkdir()
            homes[name] = stores(tree, work / name, opts.size)
        floor_issue = floor(PYTHON, work, child_env(), BENCH)

        def issue(name: str) -> Callable[[int], float]:
            tree, (small, _) = trees[name], homes[name]
            return lambda n: timed_ms(
                certtui("--home", str(small), "issue", f"{name}{n + 1}.home.arpa"), env_for(tree), work
            )

        def listing(name: str) -> Callable[[int], float]:
            tree, (_, big) = trees[name], homes[name]
            return lambda n: timed_ms(certtui("--home", str(big), "list", "--json"), env_for(tree), work)

        issued = interleaved(
            {
                "before": issue("before"),
                "after": issue("after"),
                "floor": lambda n: timed_ms(floor_issue.argv(n), floor_issue.env, floor_issue.cwd),
            },
            opts.rounds,
        )
        listed = interleaved(
            {
                "before": listing("before"),
                "after": listing("after"),
                "floor": lambda n: timed_ms([str(PYTHON), "-c", "import sqlite3, json"], child_env(), work),
            },
            opts.rounds,
        )

    def row(label: str, s: dict[str, Samples]) -> str:
        b, a, f = s["before"], s["after"], s["floor"]
        return (
            f"| {label} | {opts.rounds} | {b.median:.0f} ms | {a.median:.0f} ms | {f.median:.0f} ms "
            f"| {ratio(b, f):.2f}x | {ratio(a, f):.2f}x | {ratio(a, b):.2f}x |"
        )

    print(f"before: {opts.before}; after: the working tree of {REPO.name}")
    print(
        "| measurement | rounds | before | after | floor | before / floor | after / floor | after / before |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(row("`certtui issue`, EC P-256 (floor: `bench/floor.py`)", issued))
    print(row(f"`certtui list --json`, {opts.size:,} certificates (floor: `import sqlite3, json`)", listed))
    m = machine()
    print(
        f"\n{m['cpu']}, {m['cores']} cores; Python {m['python']}; {m['os']}. "
        f"Load average {load_before} before, {load_average()} after."
    )


if __name__ == "__main__":
    main()
