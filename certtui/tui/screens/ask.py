"""A small form in a modal (a path, a host, a passphrase twice) and the screen showing a result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from certtui.core.printable import printable
from certtui.tui.widgets.checklist import ChecklistPanel


@dataclass(frozen=True)
class Field:
    """One field: an id, its label, and a text input (or a choice from `options`)."""

    id: str
    label: str
    value: str = ""
    placeholder: str = ""
    password: bool = False
    options: tuple[tuple[str, str], ...] = ()


# Below this many rows (80x24 over SSH) the form drops the blank line above each label, so
# that a four-field form and its buttons fit without scrolling.
SHORT_MAX_HEIGHT = 30

# run(values, form): does the work (in a worker) and dismisses the form, or calls form.failed().
Run = Callable[[dict[str, str], "AskScreen"], None]


class AskScreen(ModalScreen[Any]):
    """Collects a few values; `run` acts on them while the form stays open (failures keep them)."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "OK", id="ask.submit", tooltip="Go ahead"),
        Binding("escape", "cancel", "Cancel", id="ask.cancel", tooltip="Close, change nothing"),
    ]
    """Remappable by id."""

    def __init__(self, title: str, lead: str, fields: Sequence[Field], run: Run, *, dialog_id: str) -> None:
        super().__init__()
        self.title_text = title
        self.lead = lead
        self.fields = list(fields)
        self.run = run
        self.dialog_id = dialog_id

    def compose(self) -> ComposeResult:
        with VerticalScroll(id=self.dialog_id, classes="dialog ask-dialog"):
            yield Static(Content(self.title_text), classes="dialog-title")
            if self.lead:
                yield Static(Content(self.lead), classes="hint")
            for f in self.fields:
                yield Label(f.label)
                if f.options:
                    yield Select(
                        f.options, value=f.value or f.options[0][1], allow_blank=False, id=f.id, compact=True
                    )
                else:
                    yield Input(
                        f.value, id=f.id, placeholder=f.placeholder, password=f.password, compact=True
                    )
            yield Static("", id="ask-error", classes="error-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ask-error").display = False
        if self.fields:
            self.query_one(f"#{self.fields[0].id}").focus()

    def on_resize(self) -> None:
        self.query_one(f"#{self.dialog_id}").set_class(self.size.height < SHORT_MAX_HEIGHT, "-short")

    def values(self) -> dict[str, str]:
        out = {}
        for f in self.fields:
            value = str(getattr(self.query_one(f"#{f.id}"), "value", ""))
            out[f.id] = value if f.password else value.strip()
        return out

    def failed(self, text: str) -> None:
        """The action did not happen: say why in the form; what was typed stays."""
        error = self.query_one("#ask-error", Static)
        error.update(Content(printable(text)))
        error.display = True
        self.call_after_refresh(error.scroll_visible, animate=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        last = [f for f in self.fields if not f.options][-1:]
        if last and event.input.id == last[0].id:
            self.action_submit()  # Enter in the last field submits
        else:
            self.focus_next()

    @on(Button.Pressed, "#ok")
    def action_submit(self) -> None:
        self.query_one("#ask-error").display = False
        self.run(self.values(), self)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ResultScreen(ModalScreen[None]):
    """What a tool did, in plain sentences; or a checklist for a live server."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", id="result.close", tooltip="Back"),
    ]
    """Remappable by id."""

    def __init__(self, title: str, text: str, findings: Sequence[Any] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.findings = findings

    def compose(self) -> ComposeResult:
        with Vertical(id="result-dialog", classes="dialog"):
            yield Static(Content(printable(self.title_text)), classes="dialog-title")
            # Each line made safe on its own: the line breaks between them are the tool's own.
            safe = "\n".join(printable(line) for line in self.text.split("\n"))
            yield Static(Content(safe), id="result-text")
            if self.findings is not None:
                yield ChecklistPanel(id="result-checklist")
        yield Footer()

    def on_mount(self) -> None:
        if self.findings is not None:
            self.query_one(ChecklistPanel).set_findings(self.findings)

    def action_close(self) -> None:
        self.dismiss(None)
