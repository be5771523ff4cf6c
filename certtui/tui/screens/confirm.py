"""A yes/no question in a modal: quitting the wizard, renewing a certificate."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks one question; dismisses True on yes (ctrl+s, y, the yes button), False on esc."""

    BINDINGS = [
        Binding("ctrl+s,y", "yes", "Yes", id="confirm.yes", tooltip="Go ahead"),
        Binding("escape,n", "no", "No", id="confirm.no", tooltip="Go back, change nothing"),
    ]
    """Remappable by id."""

    def __init__(self, title: str, body: str, yes: str = "Yes", *, dialog_id: str = "confirm") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes_label = yes
        self.dialog_id = dialog_id

    def compose(self) -> ComposeResult:
        with Vertical(id=self.dialog_id, classes="dialog confirm-dialog"):
            yield Static(Content(self.title_text), classes="dialog-title")
            yield Static(Content(self.body), id="confirm-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, variant="primary", id="yes")
                yield Button("Cancel", id="no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)
