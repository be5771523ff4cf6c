"""The ACME screen: accounts and their patterns, live orders, and the approval queue (`a` / `x`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static

from certtui.core.printable import printable
from certtui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from certtui.core.acme_state import Account, Approval
    from certtui.journeys.acme import NewAccount, OrderRow, Overview
    from certtui.tui.jobs import Jobs

# An order row shows this much of its reason; the whole of it is in the detail line below.
REASON_WIDTH = 60


def _text(value: str) -> Text:
    """A cell: names and reasons come from clients, never markup."""
    return Text(printable(value))


class AcmeScreen(Screen[None]):
    """What `certtui acme` serves, read from the store: accounts, orders, approvals."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="acme.back", tooltip="Back to the list"),
        Binding(
            "a", "approve", "Approve", id="acme.approve", tooltip="Approve the highlighted waiting order"
        ),
        Binding("x", "refuse", "Refuse", id="acme.refuse", tooltip="Refuse the highlighted waiting order"),
        Binding("n", "add_account", "New account", id="acme.account-add", tooltip="Invite an ACME account"),
        Binding(
            "d",
            "disable_account",
            "Disable",
            id="acme.account-disable",
            tooltip="Disable the highlighted account",
        ),
        Binding(
            "delete",
            "remove_account",
            "Remove",
            show=False,
            id="acme.account-remove",
            tooltip="Remove the highlighted account, its client keys and orders",
        ),
    ]
    """The ACME screen's keys; remappable by id."""

    def __init__(self, jobs: Jobs) -> None:
        super().__init__()
        self.jobs = jobs
        self.overview: Overview | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="acme-body"):
            yield Static("", id="acme-waiting")
            yield Static("Accounts", classes="section-title")
            accounts: DataTable[Any] = DataTable(id="acme-accounts", cursor_type="row", zebra_stripes=True)
            accounts.add_columns("Account", "Status", "May order", "Orders", "Certificates")
            yield accounts
            yield Static("Orders (newest first)", classes="section-title")
            orders: DataTable[Any] = DataTable(id="acme-orders", cursor_type="row", zebra_stripes=True)
            orders.add_columns("Order", "Account", "Names", "Status", "Why / certificate")
            yield orders
            yield Static("", id="acme-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#acme-orders", DataTable).focus()
        self.reload()

    # -- reading -------------------------------------------------------------------------

    def reload(self) -> None:
        store = self.jobs.store
        if store is None:
            return

        def read() -> Overview:
            from certtui.journeys import acme as journey

            return journey.overview(store)

        self.jobs.run_job(
            read, self._show, description="Reading the ACME state", group="acme-load", exclusive=True
        )

    def _show(self, ov: Overview) -> None:
        self.overview = ov
        accounts = self.query_one("#acme-accounts", DataTable)
        orders = self.query_one("#acme-orders", DataTable)
        keep_account, keep_order = self._key(accounts), self._key(orders)
        accounts.clear()
        for row in ov.accounts:
            a = row.account
            accounts.add_row(
                _text(a.name),
                _text(a.status),
                _text(", ".join(a.patterns)),
                str(row.orders),
                _text(", ".join(row.certificates[-3:]) + (" ..." if len(row.certificates) > 3 else "")),
                key=a.name,
            )
        orders.clear()
        for o in ov.orders:
            why = o.reason or (f"certificate {o.cert_id}" if o.cert_id else "")
            if o.replaces:
                why += f" (replaces {o.replaces})"
            status = Text(o.status, style="bold" if o.status == "waiting" else "")
            orders.add_row(
                o.id[:10],
                _text(o.account),
                _text(", ".join(o.names)),
                status,
                _text(why[:REASON_WIDTH] + ("..." if len(why) > REASON_WIDTH else "")),
                key=o.id,
            )
        self._restore(accounts, keep_account)
        self._restore(orders, keep_order)
        waiting = len(ov.waiting)
        banner = self.query_one("#acme-waiting", Static)
        banner.update(
            Text(f"{waiting} order(s) waiting for approval: a approves, x refuses the highlighted one.")
            if waiting
            else Text("No order is waiting for approval.")
        )
        banner.set_class(bool(waiting), "-waiting")
        self._detail()

    @staticmethod
    def _key(table: DataTable[Any]) -> str | None:
        if table.row_count == 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # an empty or shrunk table has no cell there
            return None

    @staticmethod
    def _restore(table: DataTable[Any], key: str | None) -> None:
        if key is None:
            return
        try:
            table.move_cursor(row=table.get_row_index(key))
        except Exception:  # the row is gone (removed by another process)
            pass

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._detail()

    def _detail(self) -> None:
        o = self.current_order()
        detail = self.query_one("#acme-detail", Static)
        if o is None:
            detail.update("")
            return
        parts = [f"order {o.id} of {o.account}: {', '.join(o.names)}, {o.status} since {o.created_at}"]
        if o.reason:
            parts.append(o.reason)
        if o.cert_id:
            parts.append(f"certificate {o.cert_id}")
        if o.replaces:
            parts.append(f"replaces {o.replaces}")
        detail.update(_text("\n".join(parts)))

    def current_order(self) -> OrderRow | None:
        if self.overview is None:
            return None
        key = self._key(self.query_one("#acme-orders", DataTable))
        return next((o for o in self.overview.orders if o.id == key), None)

    def current_account(self) -> Account | None:
        if self.overview is None:
            return None
        key = self._key(self.query_one("#acme-accounts", DataTable))
        return next((r.account for r in self.overview.accounts if r.account.name == key), None)

    # -- actions -------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def _waiting_order(self) -> OrderRow | None:
        o = self.current_order()
        if o is None or o.status != "waiting":
            waiting = self.overview.waiting if self.overview else []
            if len(waiting) == 1:  # unambiguous: the one order in the queue
                return waiting[0]
            self.app.notify("Highlight an order that is waiting for approval.", severity="warning")
            return None
        return o

    def _decide(self, o: OrderRow, approve: bool, reason: str) -> None:
        app, jobs, store = self.app, self.jobs, self.jobs.store
        assert store is not None

        def run() -> Approval:
            from certtui.journeys import acme as journey

            return journey.decide(store, o.id, approve=approve, reason=reason)

        def done(found: Approval) -> None:
            verb = "Approved" if approve else "Refused"
            app.notify(
                printable(f"{verb} {', '.join(found.names)} for {found.account}; the server applies it now."),
                markup=False,
            )
            self.reload()

        jobs.run_job(run, done, description="Recording the decision", write=True)

    def action_approve(self) -> None:
        o = self._waiting_order()
        if o is not None:
            self._decide(o, True, "")

    def action_refuse(self) -> None:
        o = self._waiting_order()
        if o is None:
            return

        def answered(reason: str | None) -> None:
            if reason is not None:
                self._decide(o, False, reason)

        self.app.push_screen(RefuseScreen(", ".join(o.names)), answered)

    def action_add_account(self) -> None:
        app, jobs = self.app, self.jobs

        def answered(request: tuple[str, list[str]] | None) -> None:
            if request is None:
                return
            name, patterns = request
            store = jobs.store
            assert store is not None

            def run() -> NewAccount:
                from certtui.journeys import acme as journey

                return journey.add_account(store, name, patterns)

            def done(made: NewAccount) -> None:
                self.reload()
                app.push_screen(EabScreen(made))

            jobs.require_unlock(
                lambda: jobs.run_job(run, done, description="Inviting the account", write=True)
            )

        app.push_screen(AddAccountScreen(), answered)

    def _account_job(self, verb: str) -> None:
        app, jobs = self.app, self.jobs
        account = self.current_account()
        if account is None:
            app.notify("Highlight an account first.", severity="warning")
            return
        store = jobs.store
        assert store is not None

        def run() -> None:
            from certtui.journeys import acme as journey

            if verb == "disable":
                journey.disable_account(store, account.name)
            else:
                journey.remove_account(store, account.name)

        def done(_: None) -> None:
            app.notify(printable(f"{verb.capitalize()}d ACME account {account.name}."), markup=False)
            self.reload()

        jobs.run_job(run, done, description=f"{verb.capitalize()} the account", write=True)

    def action_disable_account(self) -> None:
        self._account_job("disable")

    def action_remove_account(self) -> None:
        account = self.current_account()
        if account is None:
            self.app.notify("Highlight an account first.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._account_job("remove")

        self.app.push_screen(
            ConfirmScreen(
                f"Remove ACME account {account.name}?",
                "Its client keys and orders go; its certificates stay in the store.",
                "Remove",
                dialog_id="acme-confirm-dialog",
            ),
            answered,
        )


class RefuseScreen(ModalScreen[str | None]):
    """The reason a refused order's client is told."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="acme-refuse.cancel", tooltip="Do not refuse")]
    """Remappable by id."""

    def __init__(self, names: str) -> None:
        super().__init__()
        self.names = names

    def compose(self) -> ComposeResult:
        with Vertical(id="acme-refuse-dialog", classes="dialog"):
            yield Static(_text(f"Refuse {self.names}?"), classes="dialog-title")
            yield Label("Reason (the client sees it)")
            yield Input(placeholder="not a host of this lab", id="reason")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Refuse", variant="error", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(self.query_one("#reason", Input).value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class AddAccountScreen(ModalScreen[tuple[str, list[str]] | None]):
    """Name and patterns of a new invited account."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="acme-add.cancel", tooltip="Invite nobody")]
    """Remappable by id."""

    def compose(self) -> ComposeResult:
        with Vertical(id="acme-add-dialog", classes="dialog"):
            yield Static("Invite an ACME account", classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="caddy", id="name")
            yield Label("May order (patterns, comma-separated)")
            yield Input(placeholder="*.home.arpa, 192.168.1.0/24", id="patterns")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Invite", variant="primary", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Submitted, "#name")
    def _next(self) -> None:
        self.query_one("#patterns", Input).focus()

    @on(Input.Submitted, "#patterns")
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        patterns = [p.strip() for p in self.query_one("#patterns", Input).value.replace(" ", ",").split(",")]
        self.dismiss((self.query_one("#name", Input).value.strip(), [p for p in patterns if p]))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class EabScreen(ModalScreen[None]):
    """The EAB key id and HMAC key of a new account, shown this once; `c` copies them."""

    BINDINGS = [
        Binding("c", "copy", "Copy", id="acme-eab.copy", tooltip="Copy the key id and HMAC key (OSC 52)"),
        Binding(
            "escape", "close", "Close", id="acme-eab.close", tooltip="Close; the HMAC key is not shown again"
        ),
    ]
    """Remappable by id."""

    def __init__(self, made: NewAccount) -> None:
        super().__init__()
        self.made = made

    def compose(self) -> ComposeResult:
        a = self.made.account
        with Vertical(id="acme-eab-dialog", classes="dialog"):
            yield Static(
                _text(f"Invited {a.name}: may order {', '.join(a.patterns)}"), classes="dialog-title"
            )
            yield Static(_text(f"EAB key id:   {a.kid}"), id="eab-kid")
            yield Static(_text(f"EAB HMAC key: {self.made.hmac_b64}"), id="eab-hmac")
            yield Static(
                "This HMAC key is shown only now. c copies both (OSC 52); give them to the client "
                "(certbot --eab-kid/--eab-hmac-key, lego --kid/--hmac, Caddy acme_eab).",
                classes="warning-text",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy", id="copy")
                yield Button("Close", variant="primary", id="close")

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        self.app.copy_to_clipboard(f"{self.made.account.kid} {self.made.hmac_b64}")
        self.app.notify(
            "Copied the EAB key id and HMAC key. This needs a terminal that honours OSC 52 "
            "(in tmux: set -g set-clipboard on).",
            title="Clipboard",
        )

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
