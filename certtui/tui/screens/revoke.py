"""The revoke modal (`r`): a reason and a confirmation; the CRL is re-signed by core."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Select, Static

from certtui.core.models import CertRecord
from certtui.core.printable import printable
from certtui.tui.actions import RevokeRequest

# RFC 5280's reasons that make sense for a home PKI; "unspecified" omits the reasonCode.
REASONS = [
    ("unspecified", "unspecified"),
    ("key compromise", "keyCompromise"),
    ("CA compromise", "cACompromise"),
    ("affiliation changed", "affiliationChanged"),
    ("superseded", "superseded"),
    ("cessation of operation", "cessationOfOperation"),
]


class RevokeScreen(ModalScreen[RevokeRequest | None]):
    """Collects a RevokeRequest for one certificate."""

    BINDINGS = [
        Binding("ctrl+s", "confirm", "Revoke", id="revoke.submit", tooltip="Revoke and re-sign the CRL"),
        Binding("escape", "cancel", "Cancel", id="revoke.cancel", tooltip="Close without revoking"),
    ]
    """Remappable by id."""

    def __init__(self, record: CertRecord, note: str | None = None) -> None:
        super().__init__()
        self.record = record
        self.note = note

    def compose(self) -> ComposeResult:
        rec = self.record
        with Vertical(id="revoke-dialog", classes="dialog"):
            yield Static(
                Content(printable(f"Revoke {rec.subject or ', '.join(rec.names) or rec.id}?")),
                classes="dialog-title",
            )
            names = ", ".join(rec.names) or "-"
            yield Static(Content(printable(f"{rec.kind.value} · id {rec.id} · {names}")))
            yield Label("Reason")
            yield Select(REASONS, value="unspecified", allow_blank=False, id="reason", compact=True)
            yield Static(
                self.note or "The issuing CA's CRL is signed again at once.",
                id="revoke-note",
                classes="warning-text" if self.note else "hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Revoke", variant="error", id="confirm")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#reason", Select).focus()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        reason = str(self.query_one("#reason", Select).value)
        self.dismiss(RevokeRequest(self.record.id, reason))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
