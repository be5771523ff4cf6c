"""The terminal UI. Until the TUI issues land, a placeholder screen that shows the store."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static


class CerttuiApp(App[None]):
    """certtui's app; the placeholder shows where the store is and how many certificates it has."""

    CSS_PATH = "app.tcss"
    TITLE = "certtui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave certtui"),
    ]
    """Remappable by id."""

    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.summary, id="placeholder")
        yield Footer()


def store_summary(session: Any) -> str:
    from certtui.errors import CerttuiError

    try:
        records = session.store().records()
    except CerttuiError as exc:
        return f"{exc}\n\nThe setup wizard arrives with the TUI; until then use the CLI."
    return (
        f"Store: {session.db.parent}\n{len(records)} certificates.\n\n"
        "The full terminal UI is being built; meanwhile `certtui --help` lists every command."
    )


def run_tui(session: Any) -> None:
    CerttuiApp(store_summary(session)).run()
