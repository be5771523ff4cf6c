"""Run the hardening tests and print their figures (kills, sessions, hostile inputs, abuse)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The hardening tests, and the one passwd test that kills a process mid-change.
TESTS = [
    "tests/test_hardening_crash.py",
    "tests/test_hardening_concurrency.py",
    "tests/test_hardening_names.py",
    "tests/test_hardening_files.py",
    "tests/test_hardening_store.py",
    "tests/test_hardening_secrets.py",
    "tests/test_hardening_enroll.py",
    "tests/test_passwd.py::test_a_process_killed_during_passwd_leaves_exactly_one_passphrase_working",
]
# KDF guesses timed for the cost per guess; the median is reported.
KDF_SAMPLES = 7


def kdf_ms() -> float:
    """What one passphrase guess costs: one Argon2id derivation with the store's parameters."""
    sys.path.insert(0, str(REPO))
    from certtui.core import keys

    times = []
    for _ in range(KDF_SAMPLES):
        start = time.perf_counter()
        keys.derive_kek("a guess", keys.KdfParams.fresh())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "figures.json"
        env = {**os.environ, "CERTTUI_HARDENING_REPORT": str(report)}
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *TESTS],
            cwd=REPO,
            env=env,
            check=False,
        )
        took = time.monotonic() - start
        f = json.loads(report.read_text()) if report.exists() else {}
    if done.returncode != 0:
        print(f"the hardening tests failed (exit {done.returncode}); no figures", file=sys.stderr)
        return 1
    g = f.get
    hostile = g("hostile_files_fixed", 0) + g("mutated_files", 0) + g("huge_file_readers_refused", 0)
    refused = g("hostile_files_fixed", 0) + g("mutated_files_refused", 0) + g("huge_file_readers_refused", 0)
    abuse = (
        g("enroll_idle_http_connections", 0)
        + g("enroll_idle_tls_connections", 0)
        + g("enroll_random_connections", 0)
        + g("enroll_oversized_requests", 0)
        + g("enroll_wrong_token_requests", 0)
    )
    worst = max(v for k, v in f.items() if k.startswith("enroll_") and k.endswith("_worst_ms"))
    rows = [
        (
            "SIGKILLs during `issue --from` (3,000 names), store whole after each",
            f"{g('kills_survived')} of 20; {g('kill_certificates_committed_before_kills'):,} certificates "
            f"committed before the kills, {g('kill_leaves_exported_with_key'):,} leaves exported with "
            "their key",
        ),
        (
            "SIGKILLs during `passwd`, store opens with exactly one passphrase",
            f"{g('passwd_kills_survived')} of 10 (old passphrase {g('passwd_kills_old_passphrase_won')}, "
            f"new {g('passwd_kills_survived', 0) - g('passwd_kills_old_passphrase_won', 0)})",
        ),
        (
            "Concurrent sessions",
            f"{g('concurrent_writers')} writers, {g('concurrent_certificates')} certificates, "
            f"{g('concurrent_lists')} lists, {g('concurrent_revocations')} revocations each in a fresh CRL; "
            f"{g('concurrent_errors')} errors, 0 lost",
        ),
        (
            "Writing commands meeting a lock held too long",
            f"{g('busy_commands_with_a_clear_message')} of 7 say so in one line (never `database is locked`)",
        ),
        (
            "Hostile names and issue requests (hypothesis)",
            f"{g('names_issue_requests')} requests: {g('names_issued_and_linted')} issued and linted by "
            f"pkilint, {g('names_issue_refused_cleanly')} refused in one line; none outside the constraints",
        ),
        (
            "Hostile files (truncated, junk, random, mutated, 100 MB)",
            f"{hostile} tried, {refused} refused in one line, "
            f"{g('mutated_files_judged', 0)} mutated certificates still decoded and were judged; "
            "store unchanged",
        ),
        (
            "Corrupt or foreign store (cut short, not SQLite, newer schema)",
            f"{3 * g('corrupt_store_truncated_commands_refused', 0)} commands refused in one line, "
            "nothing written",
        ),
        (
            "Enrollment server abuse on 127.0.0.1",
            f"{abuse:,} abusive connections and requests absorbed; a normal client served every 50 ms "
            f"throughout, the slowest in {worst} ms (limit 1,000 ms)",
        ),
        ("Argon2id cost per passphrase guess (64 MiB, t=3, p=4)", f"{kdf_ms():.0f} ms"),
    ]
    print()
    print("| what | result |")
    print("|---|---|")
    for what, result in rows:
        print(f"| {what} | {result} |")
    print(f"\n{len(TESTS)} test files, {took:.0f} s, Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
