"""The certificate list: the tree-ordered table, the summary line and the filter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from certtui.core.inventory import TreeRow, summary, tree_order
from certtui.core.printable import printable
from certtui.errors import CerttuiError
from certtui.tui import warmup
from certtui.tui.widgets.cert_table import LEGEND, CertTable, header_text

if TYPE_CHECKING:
    from certtui.core.store import Store
    from certtui.tui.app import CerttuiApp


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

    app: CerttuiApp  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
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
        yield CertTable(self.app.clock, id="certs")
        yield Static(LEGEND, id="legend")
        # Compact: at 80 columns every key of the list fits, e, r, c and R included.
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.table.focus()
        # The first rows are read here rather than in a worker, so the first frame shows them:
        # no second full render, no worker contending with the first frame for the GIL.
        # 10,000 certificates take about 40 ms; later reloads run in a worker.
        store = self.app.store
        if store is None:
            return
        try:
            self._show(self._read(store), None)
        except CerttuiError as exc:
            self.app.report_error(exc)
        # Once the first rows are drawn, import what the first key press will need.
        self.call_after_refresh(warmup.start)

    @property
    def table(self) -> CertTable:
        return self.query_one(CertTable)

    # -- data ----------------------------------------------------------------------------

    def _read(self, store: Store) -> tuple[list[TreeRow], str]:
        from certtui.core.upkeep import deployed_at

        records = store.records(now=self.app.clock())
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
        store = self.app.store
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
        now = self.app.clock()
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
        store = self.app.store
        if store is None:
            return
        self.app.run_job(
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

    def _open(self, rec: Any) -> None:
        from certtui.tui.screens.inspect import InspectScreen

        self.app.push_screen(InspectScreen(rec))

    # -- acting: each modal returns a typed request, core does the work in a worker -----

    def action_issue(self) -> None:
        from certtui.tui import actions
        from certtui.tui.screens.issue import IssueScreen

        store = self.app.store
        assert store is not None
        app = self.app

        def run_preview(req: Any, show: Any) -> None:
            app.run_job(
                lambda: actions.preview(store, req, app.clock()),
                lambda result: show(req, result),
                description="Checking the request",
                group="preview",
                exclusive=True,
            )

        def run_issue(req: Any, form: Any) -> None:
            def failed(exc: BaseException) -> None:
                from certtui.tui.wording import humane

                form.failed(f"Not issued: {humane(str(exc))}")

            app.require_unlock(
                lambda: app.run_job(
                    lambda: actions.issue(store, req, app.clock()),
                    form.dismiss,
                    description="Issuing",
                    write=True,
                    failed=failed,
                ),
                cancelled=lambda: form.failed(
                    "Not issued: the store stayed locked. Press ctrl+s to unlock and issue."
                ),
            )

        app.push_screen(
            IssueScreen(actions.issuers(store), store.default_issuer_id(), run_preview, run_issue),
            self._issued,
        )

    def _issued(self, rec: Any) -> None:
        if rec is None:
            return
        self.app.notify(
            printable(f"Issued {rec.subject or rec.id} (id {rec.id}), expires {rec.not_after}."),
            markup=False,
        )
        self.reload(select=rec.id)

    def action_revoke(self) -> None:
        rec = self.table.current
        if rec is None:
            return
        if rec.kind.value == "root":
            self.app.notify(
                "A root cannot be revoked: remove its trust on the devices instead "
                "(Settings → General → VPN & Device Management).",
                severity="warning",
            )
            return
        if rec.revoked_at:
            self.app.notify(f"Already revoked on {rec.revoked_at} ({rec.revocation_reason}).")
            return
        from certtui.tui import actions
        from certtui.tui.screens.revoke import RevokeScreen

        store = self.app.store
        assert store is not None
        note = None
        if rec.issuer_id and not actions.revoke_needs_key(store, rec):
            from certtui.core.revocation import crl_blocker

            note = crl_blocker(store, store.get(rec.issuer_id))
        self.app.push_screen(RevokeScreen(rec, note), self._revoke)

    def _revoke(self, req: Any) -> None:
        if req is None:
            return
        from certtui.tui import actions

        store = self.app.store
        assert store is not None
        app = self.app

        def done(message: str) -> None:
            app.notify(printable(message), markup=False)
            self.reload(select=req.cert_id)

        def run() -> None:
            app.run_job(
                lambda: actions.revoke(store, req, app.clock()), done, description="Revoking", write=True
            )

        if actions.revoke_needs_key(store, store.get(req.cert_id)):
            app.require_unlock(run)
        else:
            run()

    def action_enroll(self) -> None:
        from certtui.tui import actions
        from certtui.tui.screens.enroll import SESSION_SECONDS, EnrollScreen

        store = self.app.store
        assert store is not None
        app = self.app

        async def start(plan: Any, test: Any) -> None:
            session = await actions.start_enrollment(
                store, plan, test, app.enroll, SESSION_SECONDS, app.clock
            )
            await app.push_screen(EnrollScreen(session))

        def signed(plan: Any) -> Any:
            return lambda test: app.run_worker(
                start(plan, test),
                exit_on_error=False,
                group="enroll",
                exclusive=True,
                description="Starting the enrollment server",
            )

        def planned(plan: Any) -> None:
            if plan.test_plan is None:
                signed(plan)(None)
                return
            # The issuing CA signs the one-day HTTPS test certificate: unlock first.
            app.require_unlock(
                lambda: app.run_job(
                    lambda: actions.sign_trust_test(store, plan, app.clock()),
                    signed(plan),
                    description="Signing the trust-test certificate",
                )
            )

        app.run_job(
            lambda: actions.plan_enrollment(store, app.enroll.advertise, app.enroll.bind),
            planned,
            description="Finding the LAN address",
        )

    def action_renew(self) -> None:
        rec = self.table.current
        if rec is None:
            return
        if rec.external:
            self.app.notify("This certificate was imported, not issued here: certtui cannot renew it.")
            return
        from certtui.tui.screens.confirm import ConfirmScreen

        label = printable(rec.subject or ", ".join(rec.names) or rec.id)
        if rec.revoked_at:
            fate = "It stays revoked; the new certificate takes its names."
        elif rec.status.value == "expired":
            fate = "It has expired; the new certificate takes its names."
        else:
            fate = "The old one stays valid until it expires or you revoke it (r)."
        body = f"Issue {label} again with a new key and a fresh lifetime. {fate}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._renew(rec)

        self.app.push_screen(
            ConfirmScreen(f"Renew {label}?", body, "Renew", dialog_id="renew-dialog"), answered
        )

    def _renew(self, rec: Any) -> None:
        from certtui.tui import actions

        store = self.app.store
        assert store is not None
        app = self.app

        def renewed(new: Any) -> None:
            tail = (
                "the old one stays revoked."
                if rec.revoked_at
                else "the old one stays valid until you revoke it."
                if rec.status.value != "expired"
                else "the old one had expired."
            )
            app.notify(
                printable(f"Renewed {rec.id} as {new.id}, expires {new.not_after}; {tail}"), markup=False
            )
            self.reload(select=new.id)

        app.require_unlock(
            lambda: app.run_job(
                lambda: actions.renew(store, rec, app.clock()),
                renewed,
                description="Renewing",
                write=True,
            ),
            action="Renewing",
        )

    def action_export(self) -> None:
        rec = self.table.current
        if rec is None:
            return
        from certtui.tui import actions
        from certtui.tui.screens.export import ExportedScreen, ExportScreen

        store = self.app.store
        assert store is not None
        app = self.app

        def run_export(req: Any, form: Any) -> None:
            from certtui.tui.wording import humane

            def run() -> None:
                app.run_job(
                    lambda: actions.export(store, req),
                    form.dismiss,
                    description="Exporting",
                    failed=lambda exc: form.failed(f"Not exported: {humane(str(exc))}"),
                )

            if actions.export_needs_key(store.get(req.cert_id), req.formats):
                app.require_unlock(
                    run,
                    cancelled=lambda: form.failed(
                        "Not exported: the store stayed locked. Press ctrl+s to unlock and export."
                    ),
                )
            else:
                run()

        def exported(written: Any) -> None:
            if written:
                app.push_screen(ExportedScreen(written))

        app.push_screen(ExportScreen(rec, app.start_dir, run_export), exported)

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

        return key_label(self.app, self.BINDINGS, binding_id)

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
