"""The unlock modal: asks for the store passphrase once per session."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static


class UnlockScreen(ModalScreen[str | None]):
    """Collects the passphrase; the app checks it in a worker and asks again if it is wrong."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Unlock", id="unlock.submit", tooltip="Check the passphrase"),
        Binding("escape", "cancel", "Cancel", id="unlock.cancel", tooltip="Close without unlocking"),
    ]
    """Remappable by id."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-dialog", classes="dialog"):
            yield Static("Unlock the store", classes="dialog-title")
            yield Label("This needs a private key. Enter the store passphrase:")
            yield Input(password=True, id="passphrase", placeholder="passphrase")
            yield Static(self.error or "", id="unlock-error", classes="error-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Unlock", variant="primary", id="unlock")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#unlock-error").display = bool(self.error)
        self.query_one("#passphrase", Input).focus()

    def action_submit(self) -> None:
        value = self.query_one("#passphrase", Input).value
        if not value:
            error = self.query_one("#unlock-error", Static)
            error.update("The passphrase is empty; type it, or press esc to cancel.")
            error.display = True
            return
        self.dismiss(value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "unlock":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
