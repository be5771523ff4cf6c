"""The certificate list: the tree-ordered table, the summary line and the filter."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from certtui.core.inventory import TreeRow, summary, tree_order
from certtui.errors import CerttuiError
from certtui.tui import warmup
from certtui.tui.screens.cert_actions import CertActions
from certtui.tui.widgets.cert_table import LEGEND, CertTable, header_text

if TYPE_CHECKING:
    from certtui.core.models import CertRecord
    from certtui.core.store import Store
    from certtui.journeys.enroll import EnrollOptions
    from certtui.tui.jobs import Jobs


# Below this width the footer leaves out its "^p palette" chip so that every key of the list fits.
PALETTE_CHIP_MIN_WIDTH = 100
# The first screenful of verdicts is posted at once, the rest in batches of this many.
JUDGE_FIRST = 40
JUDGE_BATCH = 250


class CertListScreen(Screen[None]):
    """The default screen: every certificate in the store, each CA above what it issued."""

    BINDINGS = [
        Binding(
            "enter",
            "inspect",
            "Inspect",
            id="cert.inspect",
            tooltip="Details and the iOS checklist of the highlighted certificate",
        ),
        Binding(
            "n", "issue", "New", id="cert.issue", tooltip="Issue a certificate, with the live iOS checklist"
        ),
        Binding(
            "p",
            "enroll",
            "Phone",
            id="phone.enroll",
            tooltip="Show a QR code that installs the root on a phone",
        ),
        Binding("slash", "filter", "Filter", id="view.filter", tooltip="Filter by name and SANs as you type"),
        Binding(
            "r",
            "revoke",
            "Revoke",
            id="cert.revoke",
            tooltip="Revoke the highlighted certificate and re-sign the CRL",
        ),
        Binding(
            "e",
            "export",
            "Export",
            id="cert.export",
            tooltip="Write the certificate, chain or key in the formats devices need",
        ),
        Binding(
            "c",
            "copy",
            "Copy",
            id="cert.copy",
            tooltip="Copy the certificate PEM to the clipboard (OSC 52)",
        ),
        Binding(
            "R",
            "renew",
            "Renew",
            id="cert.renew",
            tooltip="Issue the highlighted certificate again: same names, new key, fresh lifetime",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            show=False,
            id="view.clear-filter",
            tooltip="Clear the filter and return to the list",
        ),
    ]
    """The list's keys; remappable by id."""

    def __init__(
        self,
        jobs: Jobs,
        enroll: EnrollOptions,
        start_dir: Path,
        remapped_key: Callable[[str], str | None],
    ) -> None:
        super().__init__()
        self.jobs = jobs
        self.remapped_key = remapped_key
        """The key the user's [keymap] gives a binding id, if any (for the palette's labels)."""
        self.acts = CertActions(self, jobs, enroll, start_dir, self.reload)
        """What the acting keys do (screens/cert_actions.py)."""
        self._summary = ""
        self._verdicts: dict[tuple[str, str, str | None], bool] = {}
        """Checklist verdicts by (certificate id, status, revocation): a reload judges only new rows."""
        self.judged = 0
        """How many certificates the marker worker has judged (tests: the cache works)."""
        self._offered: tuple[bool | None, bool | None] | None = None
        """(revoke, renew) as offered for the highlighted row when the footer was last built."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary")
        # Not select_on_focus: the keys typed right after `/` are already in the field when it
        # takes focus, and the next key must add to them, not replace them.
        yield Input(id="filter", placeholder="filter: name or SAN (esc clears)", select_on_focus=False)
        yield Static("", id="table-header")
        yield CertTable(self.jobs.clock, id="certs")
        yield Static(LEGEND, id="legend")
        # Compact: at 80 columns every key of the list fits, e, r, c and R included.
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.table.focus()
        # The first rows are read here rather than in a worker, so the first frame shows them:
        # no second full render, no worker contending with the first frame for the GIL.
        # 10,000 certificates take about 40 ms; later reloads run in a worker.
        store = self.jobs.store
        if store is None:
            return
        try:
            self._show(self._read(store), None)
        except CerttuiError as exc:
            self.jobs.report_error(exc)
        # Once the first rows are drawn, import what the first key press will need.
        self.call_after_refresh(warmup.start)

    @property
    def table(self) -> CertTable:
        return self.query_one(CertTable)

    # -- data ----------------------------------------------------------------------------

    def _read(self, store: Store) -> tuple[list[TreeRow], str]:
        from certtui.core.upkeep import deployed_at

        records = store.records(now=self.jobs.clock())
        # The last `certtui scan` saw these served somewhere: the table marks them.
        deployed = deployed_at(store)
        for rec in records:
            if rec.id in deployed:
                rec.extra["deployed"] = deployed[rec.id]
        return tree_order(records), summary(records)

    def _show(self, result: tuple[list[TreeRow], str], select: str | None) -> None:
        rows, text = result
        self._summary = text
        self.table.set_rows(rows, keep=select, query=self.query_one("#filter", Input).value)
        self._update_summary()
        self._judge()

    def _update_summary(self) -> None:
        """`607 certificates · 1 fails the iOS checklist · 1 revoked`, and the filter's count."""
        table = self.table
        head, _, rest = self._summary.partition(" · ")
        parts = [head]
        fails = sum(1 for r in table.records if table.fails.get(r.id))
        if fails:
            parts.append(f"{fails} {'fails' if fails == 1 else 'fail'} the iOS checklist")
        if rest:
            parts.append(rest)
        query = self.query_one("#filter", Input).value.strip()
        if query:
            shown = table.visible_count
            parts.append(
                f"{shown} of {table.total_count} match" if shown else f"nothing matches \u201c{query}\u201d"
            )
        self.query_one("#summary", Static).update(Content(" · ".join(parts)))

    # -- the checklist markers: judged in a worker, cached by certificate ---------------

    def _judge(self) -> None:
        """Judge every row not judged yet, the rows on screen first; post verdicts in batches."""
        store = self.jobs.store
        if store is None:
            return
        table = self.table
        cache = self._verdicts
        todo = []
        known: dict[str, bool] = {}
        for rec in table.records:
            key = (rec.id, rec.status.value, rec.revoked_at)
            if key in cache:
                known[rec.id] = cache[key]
            else:
                todo.append((key, rec))
        if known:
            table.set_fails(known)
            self._update_summary()
        if not todo:
            return
        now = self.jobs.clock()
        app = self.app

        def judge() -> None:
            from textual.worker import get_current_worker

            from certtui.tui.checking import fails_checklist

            worker = get_current_worker()
            batch: dict[tuple[str, str, str | None], bool] = {}
            for n, (key, rec) in enumerate(todo, 1):
                if worker.is_cancelled:
                    return
                batch[key] = fails_checklist(store, rec, now)
                self.judged += 1
                # The first screenful at once, then in batches: the UI thread is never flooded.
                if n == JUDGE_FIRST or n % JUDGE_BATCH == 0 or n == len(todo):
                    done, batch = batch, {}
                    app.call_from_thread(self._judged, done)

        app.run_worker(
            judge,
            thread=True,
            exit_on_error=False,
            group="judge",
            exclusive=True,
            description="Judging the certificates against the iOS checklist",
        )

    def _judged(self, verdicts: dict[tuple[str, str, str | None], bool]) -> None:
        self._verdicts.update(verdicts)
        self.table.set_fails({key[0]: fails for key, fails in verdicts.items()})
        self._update_summary()

    def reload(self, select: str | None = None) -> None:
        """Read the store in a worker; keep (or move) the highlight."""
        store = self.jobs.store
        if store is None:
            return
        self.jobs.run_job(
            lambda: self._read(store),
            lambda result: self._show(result, select),
            description="Reading the store",
            group="load",
            exclusive=True,
        )

    def on_resize(self) -> None:
        # Under 100 columns the list's own keys need the room; ctrl+p still opens the palette.
        self.query_one(Footer).show_command_palette = self.size.width >= PALETTE_CHIP_MIN_WIDTH

    @on(CertTable.ColumnsChanged)
    def _columns_changed(self, event: CertTable.ColumnsChanged) -> None:
        """The header is drawn at the rows' own width (scrollbar or not): always aligned."""
        self.query_one("#table-header", Static).update(header_text(event.width))

    @on(CertTable.Highlighted)
    def _highlighted(self) -> None:
        # The footer is rebuilt on every refresh_bindings (a recompose of its keys, about 20 ms
        # here): only when the highlighted row changes what is offered, not on every move.
        offered = (self.check_action("revoke", ()), self.check_action("renew", ()))
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only what applies to the highlighted certificate (hidden from the footer)."""
        if action not in ("revoke", "renew"):
            return True
        rec = self.table.current if self.is_mounted else None
        if rec is None:
            return True
        # An imported certificate was not issued here: this store can neither revoke nor renew it.
        # (A root stays offered: `r` explains where its trust is removed instead.)
        if rec.external:
            return False
        # Renew makes a new leaf with a new key: not for CAs, nor for a key that lives on a device.
        return action != "renew" or (rec.kind.value in ("server", "client") and rec.has_key)

    # -- actions -------------------------------------------------------------------------

    def action_inspect(self) -> None:
        if (rec := self.table.current) is not None:
            self._open(rec)

    @on(CertTable.Selected)
    def _selected(self, event: CertTable.Selected) -> None:
        self._open(event.record)

    def _open(self, rec: CertRecord) -> None:
        from certtui.tui.screens.inspect import InspectScreen

        self.app.push_screen(InspectScreen(self.jobs, rec))

    # -- acting: each form returns a typed request, a job runs the journey (cert_actions) --

    def action_issue(self) -> None:
        self.acts.issue()

    def action_revoke(self) -> None:
        if (rec := self.table.current) is not None:
            self.acts.revoke(rec)

    def action_enroll(self) -> None:
        self.acts.enroll()

    def action_renew(self) -> None:
        if (rec := self.table.current) is not None:
            self.acts.renew(rec)

    def action_export(self) -> None:
        if (rec := self.table.current) is not None:
            self.acts.export(rec)

    def action_copy(self) -> None:
        if (rec := self.table.current) is None:
            return
        from certtui.tui.clipboard import copy_pem

        copy_pem(self.app, self.jobs, rec)

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
        self._update_summary()
        self.table.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.apply_filter(event.value)
        self._update_summary()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def on_descendant_focus(self) -> None:
        if self.focused is not self.table:
            return
        self.table.stop_type_ahead()

    def _key(self, binding_id: str) -> str:
        """The key bound to `binding_id` as the footer shows it (remaps included), for the palette."""
        from certtui.tui.keymap import key_label

        return key_label(self.app, self.remapped_key, self.BINDINGS, binding_id)

    def palette_commands(self) -> Iterable[SystemCommand]:
        k = self._key
        yield SystemCommand(
            "cert: inspect" + k("cert.inspect"), "Details and the iOS checklist", self.action_inspect
        )
        yield SystemCommand(
            "cert: issue" + k("cert.issue"), "Issue a certificate with the live checklist", self.action_issue
        )
        yield SystemCommand(
            "cert: revoke" + k("cert.revoke"), "Revoke the highlighted certificate", self.action_revoke
        )
        yield SystemCommand(
            "phone: enroll" + k("phone.enroll"),
            "A QR code that installs the root on a phone",
            self.action_enroll,
        )
        yield SystemCommand(
            "cert: renew" + k("cert.renew"), "Same names, a new key and a fresh lifetime", self.action_renew
        )
        yield SystemCommand(
            "export: files" + k("cert.export"), "Export the highlighted certificate", self.action_export
        )
        yield SystemCommand(
            "cert: copy PEM" + k("cert.copy"), "Copy the PEM to the clipboard (OSC 52)", self.action_copy
        )
        yield SystemCommand("view: filter" + k("view.filter"), "Filter by name and SANs", self.action_filter)
