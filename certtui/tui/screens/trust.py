"""Trust on this machine: where the root is trusted, installing it for this user's browsers (NSS)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from certtui.core.printable import printable
from certtui.journeys import trust as tj

if TYPE_CHECKING:
    from certtui.tui.jobs import Jobs


class TrustScreen(ModalScreen[None]):
    """The `trust status` table; `i`/`u` install or remove the NSS part; the system part is a command."""

    CSS_PATH = "trust.tcss"
    BINDINGS = [
        Binding(
            "i", "install", "Install NSS", id="trust.install", tooltip="Add the root to this user's browsers"
        ),
        Binding("u", "uninstall", "Remove NSS", id="trust.uninstall", tooltip="Take it out of them again"),
        Binding("escape,q", "close", "Close", id="trust.close", tooltip="Back"),
    ]
    """Remappable by id."""

    def __init__(self, jobs: Jobs, home: Path) -> None:
        super().__init__()
        self.jobs = jobs
        self.home = home
        """The store's folder, as the `certtui trust` command shown for the system store names it."""

    def compose(self) -> ComposeResult:
        with Vertical(id="trust-dialog", classes="dialog"):
            yield Static("Trust on this machine", classes="dialog-title")
            yield Static("", id="trust-ca")
            table: DataTable[str] = DataTable(id="trust-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("where", "state", "path")
            yield table
            yield Static("", id="trust-notes", classes="hint")
            yield Static("", id="trust-system", classes="hint")
            yield Static("i installs for this user's browsers (NSS), u removes; esc closes", classes="hint")

    def on_mount(self) -> None:
        self.refresh_status()

    def request(self, *, install: bool = True) -> tj.TrustRequest:
        return tj.TrustRequest(
            install=install, targets=frozenset({tj.Target.NSS}), home=tj.user_home(), euid=os.geteuid()
        )

    def refresh_status(self) -> None:
        store = self.jobs.store
        assert store is not None
        req = self.request()
        self.jobs.run_job(
            lambda: tj.status(store, req), self.show, description="Reading the trust stores", group="trust"
        )

    def show(self, report: tj.TrustStatus) -> None:
        self.query_one("#trust-ca", Static).update(
            printable(f"{report.ca.subject}  SHA-256 {report.ca.sha256}")
        )
        table = self.query_one("#trust-table", DataTable)
        table.clear()
        for place in report.places:
            table.add_row(printable(place.label), place.state, printable(place.path))
        lines = [f"stale: {s.path}: {s.what}" for s in report.stale] + report.notes
        self.query_one("#trust-notes", Static).update(printable("\n".join(lines)))
        req = tj.TrustRequest(
            install=True, targets=frozenset({tj.Target.SYSTEM}), home=tj.user_home(), euid=1
        )
        command = tj.sudo_command(tj.invoked_program(), self.home, req, {tj.Target.SYSTEM})
        if os.geteuid() == 0:
            command = command.removeprefix("sudo ")
        self.query_one("#trust-system", Static).update(
            printable(f"The system store needs root; run: {command}")
        )

    def _apply(self, install: bool) -> None:
        store = self.jobs.store
        assert store is not None
        req = self.request(install=install)

        def done(result: tj.TrustResult) -> None:
            changed = [c.line() for c in result.changes]
            self.app.notify(printable("\n".join(changed) or "nothing to change"), timeout=8, markup=False)
            self.refresh_status()

        self.jobs.run_job(
            lambda: tj.apply(store, req), done, description="Changing the NSS databases", group="trust"
        )

    def action_install(self) -> None:
        self._apply(True)

    def action_uninstall(self) -> None:
        self._apply(False)

    def action_close(self) -> None:
        self.dismiss(None)
