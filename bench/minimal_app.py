"""The floor for any Textual app: one label on screen; each key press rewrites it."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Label


class Minimal(App[None]):
    """Shows `minimal app ready`, then `pressed KEY` for the last key."""

    def compose(self) -> ComposeResult:
        yield Label("minimal app ready")

    def on_key(self, event: events.Key) -> None:
        self.query_one(Label).update(f"pressed {event.key}")


if __name__ == "__main__":
    Minimal().run()
