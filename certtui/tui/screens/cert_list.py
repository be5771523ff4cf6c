"""The certificate list: the tree-ordered table, the summary line and the filter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from certtui.core.inventory import TreeRow, summary, tree_order
from certtui.tui.widgets.cert_table import CertTable, header_text

if TYPE_CHECKING:
    from certtui.tui.app import CerttuiApp


class CertListScreen(Screen[None]):
    """The default screen: every certificate in the store, each CA above what it issued."""

    BINDINGS = [
        Binding("enter", "inspect", "Inspect", id="cert.inspect",
                tooltip="Details and the iOS checklist of the highlighted certificate"),
        Binding("slash", "filter", "Filter", id="view.filter",
                tooltip="Filter by name and SANs as you type"),
        Binding("c", "copy", "Copy PEM", id="cert.copy",
                tooltip="Copy the certificate PEM to the clipboard (OSC 52)"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="view.clear-filter",
                tooltip="Clear the filter and return to the list"),
    ]
    """The list's keys; remappable by id."""

    app: CerttuiApp  # type: ignore[assignment]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary")
        yield Input(id="filter", placeholder="filter: name or SAN (esc clears)")
        yield Static("", id="table-header")
        yield CertTable(self.app.clock, id="certs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.table.focus()
        self.reload()

    @property
    def table(self) -> CertTable:
        return self.query_one(CertTable)

    # -- data ----------------------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        """Read the store in a worker; keep (or move) the highlight."""
        store = self.app.store
        if store is None:
            return
        clock = self.app.clock

        def load() -> tuple[list[TreeRow], str]:
            records = store.records(now=clock())
            return tree_order(records), summary(records)

        def show(result: tuple[list[TreeRow], str]) -> None:
            rows, text = result
            self.query_one("#summary", Static).update(text)
            self.table.set_rows(rows, keep=select, query=self.query_one("#filter", Input).value)

        self.app.run_job(load, show, description="Reading the store", group="load")

    def on_resize(self) -> None:
        self.query_one("#table-header", Static).update(header_text(self.table.size.width))

    def on_screen_resume(self) -> None:
        self.on_resize()

    # -- actions -------------------------------------------------------------------------

    def action_inspect(self) -> None:
        if (rec := self.table.current) is not None:
            self._open(rec)

    @on(CertTable.Selected)
    def _selected(self, event: CertTable.Selected) -> None:
        self._open(event.record)

    def _open(self, rec: Any) -> None:
        from certtui.tui.screens.inspect import InspectScreen

        self.app.push_screen(InspectScreen(rec))

    def action_copy(self) -> None:
        if (rec := self.table.current) is None:
            return
        from certtui.tui.clipboard import copy_pem

        copy_pem(self.app, rec)

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        self.table.start_type_ahead(field.insert_text_at_cursor)
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        keep = self.table.current_id
        field.value = ""
        field.display = False
        self.table.apply_filter("", keep=keep)
        self.table.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def on_descendant_focus(self) -> None:
        if self.focused is not self.table:
            return
        self.table.stop_type_ahead()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("cert: inspect", "Details and the iOS checklist", self.action_inspect)
        yield SystemCommand("cert: copy PEM", "Copy the PEM to the clipboard (OSC 52)",
                            self.action_copy)
        yield SystemCommand("view: filter", "Filter by name and SANs", self.action_filter)
