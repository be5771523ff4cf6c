"""`renew --due`: what is due (two thirds of the lifetime, --min-days), what is skipped (revoked,
superseded, no target without --all), idempotence, and racing processes renewing each certificate once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from support.cli import Cli, Proc
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core import issuance, revocation
from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import parse, utcnow
from certtui.errors import AlreadyRenewed
from certtui.journeys import renew_due


def _issue(store: Store, name: str, age_days: int, days: int | None = None):  # type: ignore[no-untyped-def]
    return issue_one(store, IssueRequest(names=(name,), days=days), now=utcnow() - timedelta(days=age_days))


def test_due_means_two_thirds_of_the_lifetime_or_fewer_than_min_days(
    make_store: Callable[..., Store],
) -> None:
    store = make_store()
    rec = _issue(store, "a.home.arpa", 0, days=90)
    start = parse(rec.not_before)
    assert renew_due.renew_at(rec) == start + timedelta(days=60)
    assert not renew_due.is_due(rec, start + timedelta(days=59, hours=23))
    assert renew_due.is_due(rec, start + timedelta(days=60))
    # 89 days left: --min-days 90 makes it due at once.
    assert renew_due.is_due(rec, start + timedelta(days=1), min_days=90)
    assert not renew_due.is_due(rec, start + timedelta(days=1), min_days=80)


def test_all_renews_every_due_leaf_and_skips_revoked_superseded_and_young(
    make_store: Callable[..., Store], cli: Cli, passphrase_file: Path
) -> None:
    store = make_store(passphrase=PASSPHRASE)
    store.unlock(PASSPHRASE)
    due = _issue(store, "due.home.arpa", 300)
    young = _issue(store, "young.home.arpa", 10)
    gone = _issue(store, "revoked.home.arpa", 300)
    revocation.revoke(store, gone.id, "superseded")
    old = _issue(store, "old.home.arpa", 300)
    replaced = issuance.execute(store, issuance.plan_renewal(store, store.get(old.id)))
    # Without --all, only certificates with a deploy target count: none here.
    assert cli.ok("renew", "--due").stderr.strip() == "nothing is due"
    assert store.get(due.id).renewed_by is None
    done = cli.ok("renew", "--due", "--all")
    renewed = store.get(due.id).renewed_by
    assert renewed and f"renewed {due.id} -> {renewed}" in done.stdout
    for untouched in (young, gone, replaced):
        assert store.get(untouched.id).renewed_by is None
    assert store.get(old.id).renewed_by == replaced.id
    # Idempotent: the same day again does nothing.
    before = len(store.records())
    assert cli.ok("renew", "--due", "--all").stderr.strip() == "nothing is due"
    assert len(store.records()) == before
    # --min-days reaches the young one (387 days left < 400).
    cli.ok("renew", "--due", "--all", "--min-days", "400", "--quiet")
    assert store.get(young.id).renewed_by is not None


def test_due_flags_are_checked(make_store: Callable[..., Store], cli: Cli) -> None:
    make_store()
    assert "drop the ID" in cli.error("renew", "--due", "nas")
    assert "go with --due" in cli.error("renew", "--all")
    assert "go with --due" in cli.error("renew", "--min-days", "3")


def test_a_quiet_run_prints_only_failures(
    make_store: Callable[..., Store], cli: Cli, tmp_path: Path, passphrase_file: Path
) -> None:
    store = make_store(passphrase=PASSPHRASE)
    rec = _issue(store, "nas.home.arpa", 300)
    cli.ok("deploy", "add", rec.id, "--cert", str(tmp_path / "c.pem"))
    done = cli.ok("renew", "--due", "--quiet")
    assert done.stdout == "" and done.stderr == ""
    assert store.get(rec.id).renewed_by is not None
    assert (tmp_path / "c.pem").exists()


def test_racing_renew_due_runs_and_a_tui_issue_renew_each_certificate_once(
    make_store: Callable[..., Store], proc: Proc, tmp_path: Path, passphrase_file: Path, cli: Cli
) -> None:
    from certtui.tui import actions

    store = make_store(passphrase=PASSPHRASE)
    store.unlock(PASSPHRASE)
    olds = [_issue(store, f"host{i}.home.arpa", 300) for i in range(4)]
    for i, rec in enumerate(olds):
        cli.ok(
            "deploy",
            "add",
            rec.id,
            "--fullchain",
            str(tmp_path / f"{i}.pem"),
            "--key",
            str(tmp_path / f"{i}.key"),
        )
    runs = [proc.popen("renew", "--due") for _ in range(2)]
    issued: list[str] = []

    tui_renewed: list[str] = []
    refused: list[str] = []

    def tui_issue() -> None:
        # The TUI's issue path, in this process, while both runs renew...
        for i in range(3):
            req = IssueRequest(names=(f"tui{i}.home.arpa",))
            issued.append(actions.issue(store, req, utcnow()).id)
        # ...and its renew path (the palette's `cert: renew`) on one of the same certificates.
        try:
            tui_renewed.append(issuance.execute(store, issuance.plan_renewal(store, olds[0])).id)
        except AlreadyRenewed as exc:
            refused.append(exc.new_id)

    worker = threading.Thread(target=tui_issue)
    worker.start()
    outcomes = [(r.wait(timeout=120), r.communicate()) for r in runs]
    worker.join(timeout=120)
    assert all(code == 0 for code, _ in outcomes), outcomes
    records = {r.id: r for r in store.records()}
    for rec in olds:
        new = records[rec.id].renewed_by
        assert new is not None
        assert records[new].renewed_by is None
        same_names = [r for r in records.values() if r.names == rec.names]
        assert len(same_names) == 2, same_names
    assert len(issued) == 3 and all(i in records for i in issued)
    # Every target ends with the one renewed certificate deployed.
    for t in cli.json("deploy", "list", "--json"):
        assert t["last_ok"] is True and t["deployed_serial"] == records[t["current_cert_id"]].serial
    # The TUI renewed the first one, or was told it already was; the runs renewed the rest.
    assert len(tui_renewed) + len(refused) == 1
    assert (tui_renewed or refused) == [records[olds[0].id].renewed_by]
    said = [line for _, (out, _) in outcomes for line in out.splitlines()]
    assert sum(line.startswith("renewed ") for line in said) == 4 - len(tui_renewed)
