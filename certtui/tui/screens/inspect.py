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
    from certtui.tui.app import CerttuiApp

# Below this width the checklist goes under the details instead of beside them.
SIDE_BY_SIDE_MIN_WIDTH = 110


@dataclass(frozen=True)
class Inspection:
    """Everything the screen shows, read and checked in a worker."""

    rows: list[tuple[str, str]]
    extensions: list[tuple[str, str]]
    pem: str
    findings: list[Any]


def inspect_record(app: Any, rec: CertRecord) -> Inspection:
    """Details and findings for one stored certificate (runs in a worker)."""
    from certtui.core.details import extensions, fields, pem_text
    from certtui.core.inventory import expires_in
    from certtui.core.store import Store
    from certtui.tui.checking import findings_for

    store: Store = app.store
    cert = store.certificate(rec.id)
    now = app.clock()
    head = [
        ("ID", rec.id),
        ("Kind", rec.kind.value + (" (external)" if rec.external else "")),
        ("Status", rec.status.value + (f" on {rec.revoked_at}" if rec.revoked_at else "")),
        ("Expires", f"{rec.not_after} ({expires_in(rec.not_after, now)})"),
        ("Names", ", ".join(rec.names) or "-"),
        (
            "Private key",
            ("in the store, encrypted" if store.encrypted else "in the store, UNENCRYPTED")
            if rec.has_key
            else "not in the store",
        ),
    ]
    return Inspection(
        head + fields(cert), extensions(cert), pem_text(store.der(rec.id)), findings_for(store, rec, now)
    )


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
            "R",
            "renew",
            "Renew",
            id="inspect.renew",
            tooltip="Issue this certificate again: same names, new key, fresh lifetime",
        ),
    ]
    """The inspect screen's keys; remappable by id."""

    app: CerttuiApp  # type: ignore[assignment]

    def __init__(self, record: CertRecord) -> None:
        super().__init__()
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
        self.app.run_job(
            lambda: inspect_record(self.app, self.record), self._show, description="Checking the certificate"
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

        copy_pem(self.app, self.record)

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("cert: show PEM", "Show or hide the PEM", self.action_toggle_pem)
        yield SystemCommand("cert: copy PEM", "Copy the PEM (OSC 52)", self.action_copy)
