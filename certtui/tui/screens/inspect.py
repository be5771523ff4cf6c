"""Inspect: a certificate's details beside its iOS checklist; `v` shows the PEM."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from certtui.core.models import CertRecord
from certtui.core.printable import printable
from certtui.tui.widgets.checklist import ChecklistPanel

if TYPE_CHECKING:
    from datetime import datetime

    from certtui.core.store import Store
    from certtui.tui.jobs import Jobs

# Below this width the checklist goes under the details instead of beside them.
SIDE_BY_SIDE_MIN_WIDTH = 110


@dataclass(frozen=True)
class Inspection:
    """Everything the screen shows, read and checked in a worker."""

    rows: list[tuple[str, str]]
    extensions: list[tuple[str, str]]
    pem: str
    findings: list[Any]


def inspect_record(store: Store, rec: CertRecord, now: datetime) -> Inspection:
    """Details and findings for one stored certificate (runs in a worker): journeys/inspect."""
    from certtui.journeys.inspect import inspect

    found = inspect(store, rec, now)
    rows = found.screen_rows()
    # The deploy targets and scans sit between the head rows and the certificate's fields.
    at = len(rows) - len(found.fields)
    rows[at:at] = deploy_rows(store, rec)
    return Inspection(rows, found.extensions, found.pem, found.findings)


def deploy_rows(store: Store, rec: CertRecord) -> list[tuple[str, str]]:
    """Where this certificate's line is deployed, each target's last result, and the last scans."""
    from certtui.core import upkeep

    head = upkeep.lineage_head(store, rec.id)
    rows = []
    for t in upkeep.targets(store):
        if upkeep.lineage_head(store, t.cert_id) != head:
            continue
        files = ", ".join(f"{role} {path}" for role, path in t.paths())
        rows.append((f"Deploy {t.id}", files + (f"; verify {t.verify}" if t.verify else "")))
        if t.last_at is None:
            rows.append(("  last", "never deployed (d deploys now)"))
        else:
            state = "ok" if t.last_ok else f"FAILED at {t.last_stage}"
            rows.append(("  last", f"{t.last_at} {state}: {t.last_message or ''}"))
    for scan in upkeep.scans(store):
        if scan.cert_id == rec.id:
            rows.append(("Served at", f"{scan.endpoint} (scan of {scan.at}: {scan.verdict})"))
    return rows


class InspectScreen(Screen[None]):
    """Subject, issuer, serial, validity, SANs, key, signature, extensions, fingerprints."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="inspect.back", tooltip="Back to the list"),
        Binding("v", "toggle_pem", "PEM", id="inspect.pem", tooltip="Show or hide the PEM"),
        Binding(
            "c",
            "copy",
            "Copy PEM",
            id="inspect.copy",
            tooltip="Copy the certificate PEM to the clipboard (OSC 52)",
        ),
        Binding(
            "d",
            "deploy",
            "Deploy",
            # Off the footer, which is full at 80 columns (help and the palette list it); the
            # details say "d deploys now".
            show=False,
            id="inspect.deploy",
            tooltip="Deploy the newest certificate of this line to its targets now",
        ),
        Binding(
            "R",
            "renew",
            "Renew",
            id="inspect.renew",
            tooltip="Issue this certificate again: same names, new key, fresh lifetime",
        ),
    ]
    """The inspect screen's keys; remappable by id."""

    def __init__(self, jobs: Jobs, record: CertRecord) -> None:
        super().__init__()
        self.jobs = jobs
        self.record = record

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="inspect-body"):
            with VerticalScroll(id="details"):
                yield Static("", id="details-text")
                yield Static("", id="pem")
            yield ChecklistPanel(id="checklist")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = printable(self.record.subject or ", ".join(self.record.names) or self.record.id)
        self.query_one("#pem").display = False
        self.query_one("#inspect-body").loading = True
        self._check()

    def _check(self) -> None:
        """Read and check the certificate in a worker, then show it."""
        store, jobs, rec = self.jobs.store, self.jobs, self.record
        assert store is not None
        jobs.run_job(
            lambda: inspect_record(store, rec, jobs.clock()),
            self._show,
            description="Checking the certificate",
        )

    def _show(self, data: Inspection) -> None:
        width = max(len(k) for k, _ in data.rows)
        text = Text()
        for label, value in data.rows:
            text.append(label.ljust(width) + "  ", style="bold")
            text.append(printable(value) + "\n")
        text.append("\nExtensions\n", style="bold underline")
        for name, value in data.extensions:
            text.append(name + "\n", style="bold")
            text.append(f"  {printable(value)}\n")
        self.query_one("#details-text", Static).update(text)
        self.query_one("#pem", Static).update(Text(data.pem))
        self.query_one(ChecklistPanel).set_findings(data.findings)
        self.query_one("#inspect-body").loading = False

    def on_resize(self) -> None:
        self.query_one("#inspect-body").set_class(self.size.width < SIDE_BY_SIDE_MIN_WIDTH, "-stacked")

    def action_back(self) -> None:
        self.dismiss(None)

    def action_toggle_pem(self) -> None:
        pem = self.query_one("#pem")
        pem.display = not pem.display
        if pem.display:
            details = self.query_one("#details", VerticalScroll)
            # After the layout that gives the PEM its place: its BEGIN line at the top of the pane.
            self.call_after_refresh(lambda: details.scroll_to_widget(pem, top=True, animate=False))

    def action_renew(self) -> None:
        """Back to the list, on this certificate, and ask there (the list owns renewing)."""
        from certtui.tui.screens.cert_list import CertListScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, CertListScreen):
                self.dismiss(None)
                screen.table.select_id(self.record.id)
                screen.action_renew()
                return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "renew" and self.record.external)

    def action_copy(self) -> None:
        from certtui.tui.clipboard import copy_pem

        copy_pem(self.app, self.jobs, self.record)

    def action_deploy(self) -> None:
        from certtui.core import upkeep
        from certtui.journeys import deploy as journey

        app, jobs, store, rec = self.app, self.jobs, self.jobs.store, self.record
        assert store is not None
        head = upkeep.lineage_head(store, rec.id)
        targets = [t for t in upkeep.targets(store) if upkeep.lineage_head(store, t.cert_id) == head]
        if not targets:
            app.notify(f"{rec.id} has no deploy target; add one with `certtui deploy add {rec.id} ...`.")
            return

        def run() -> list[journey.DeployResult]:
            with journey.upkeep_lock(store):
                return [journey.deploy(store, t) for t in targets]

        def done(results: list[journey.DeployResult]) -> None:
            failed = [r for r in results if not r.ok]
            app.notify(
                "\n".join(printable(r.line()) for r in results),
                severity="error" if failed else "information",
                markup=False,
                timeout=10,
            )
            self.query_one("#inspect-body").loading = True
            self._check()

        def start() -> None:
            jobs.run_job(run, done, description="Deploying", write=True)

        if any(journey.needs_key(t) for t in targets):
            jobs.require_unlock(start)
        else:
            start()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("cert: show PEM", "Show or hide the PEM", self.action_toggle_pem)
        yield SystemCommand("cert: copy PEM", "Copy the PEM (OSC 52)", self.action_copy)
        yield SystemCommand(
            "cert: deploy now", "Deploy to this certificate's targets (d)", self.action_deploy
        )
