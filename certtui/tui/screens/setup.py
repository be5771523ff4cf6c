"""First run: a wizard that collects the root's name, key, passphrase and name constraints."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Select, Static

from certtui.core.constraints import parse_constraint
from certtui.core.models import InitRequest, KeySpec
from certtui.errors import CerttuiError

# Pre-filled constraints: a phone trusting the root then cannot be fooled for any public site.
# fd00::/8 is there because a root that constrains IPs rejects every IPv6 SAN outside them.
DEFAULT_CONSTRAINTS = (
    "home.arpa",
    "lan",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fd00::/8",
)
DEFAULT_ROOT_NAME = "Home Lab Root CA"


class ConstraintRow(Horizontal):
    """One permitted name or network, with its remove button."""

    def __init__(self, value: str) -> None:
        super().__init__(classes="constraint-row")
        self.value = value

    def compose(self) -> ComposeResult:
        yield Static(self.value, classes="constraint-value")
        yield Button("remove", classes="constraint-remove", compact=True)


class SetupScreen(Screen[None]):
    """Collects an InitRequest and the passphrase; the app creates the store."""

    class RootRequested(Message):
        """The user asked for a root CA; passphrase None means an unencrypted store."""

        def __init__(self, request: InitRequest, passphrase: str | None) -> None:
            super().__init__()
            self.request = request
            self.passphrase = passphrase

    class ImportRequested(Message):
        """The user has a root CA already: the app asks for its files and makes the store around it."""

    BINDINGS = [
        Binding(
            "ctrl+s", "create", "Create root", id="setup.create", tooltip="Create the store and its root CA"
        ),
        Binding("q", "ask_quit", "Quit", id="setup.quit", tooltip="Leave certtui without creating a root"),
    ]
    """Remappable by id."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="setup-form"):
            yield Static(
                "Welcome to certtui. This creates your root CA: the certificate your phones "
                "will trust. It takes a few seconds.",
                classes="lead",
            )
            yield Label("Root name")
            yield Input(DEFAULT_ROOT_NAME, id="root-name", compact=True)
            yield Static("", id="root-name-error", classes="error-text")
            yield Label("Key type")
            yield Select(
                [(k.label, k.value) for k in KeySpec],
                value=KeySpec.EC256.value,
                allow_blank=False,
                id="key-type",
                compact=True,
            )
            yield Label("Passphrase (asked once per session; it encrypts every private key)")
            yield Input(password=True, id="passphrase", placeholder="passphrase", compact=True)
            yield Input(password=True, id="passphrase2", placeholder="the same again", compact=True)
            yield Checkbox("No passphrase", id="no-passphrase", compact=True)
            yield Static(
                "Without a passphrase anyone who can read the store can mint certificates your phones trust.",
                id="no-passphrase-warning",
                classes="warning-text",
            )
            yield Static("", id="passphrase-error", classes="error-text")
            yield Label("Name constraints: the root may only vouch for these (remove to widen)")
            with Vertical(id="constraints"):
                for value in DEFAULT_CONSTRAINTS:
                    yield ConstraintRow(value)
            with Horizontal(id="add-constraint-row"):
                yield Input(
                    id="add-constraint",
                    placeholder="add: example.home, 10.1.0.0/16 (spaces or commas)",
                    compact=True,
                )
                yield Button("add", id="add-constraint-button", compact=True)
            yield Static("", id="constraint-error", classes="error-text")
            yield Checkbox("Also create an issuing intermediate CA", id="intermediate", compact=True)
            yield Button("Create root CA", variant="primary", id="create")
            yield Button("I already have a mkcert or easy-rsa CA", id="import-root")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no-passphrase-warning").display = False
        for error in self.query(".error-text"):
            error.display = False
        self.query_one("#root-name", Input).focus()

    def _error(self, widget_id: str, text: str) -> None:
        error = self.query_one(f"#{widget_id}", Static)
        error.update(text)
        error.display = bool(text)

    @on(Checkbox.Changed, "#no-passphrase")
    def _toggle_passphrase(self, event: Checkbox.Changed) -> None:
        for widget_id in ("#passphrase", "#passphrase2"):
            self.query_one(widget_id, Input).disabled = event.value
        self.query_one("#no-passphrase-warning").display = event.value
        self._error("passphrase-error", "")

    @on(Button.Pressed, ".constraint-remove")
    def _remove(self, event: Button.Pressed) -> None:
        row = event.button.parent
        if not isinstance(row, ConstraintRow):
            return
        # Focus stays in the list: on the next row's button, or the previous one at the end.
        rows = list(self.query(ConstraintRow))
        at = rows.index(row)
        rest = rows[at + 1 :] or rows[:at][::-1]
        if rest:
            rest[0].query_one(Button).focus()
        else:
            self.query_one("#add-constraint", Input).focus()
        row.remove()

    @on(Input.Changed, "#add-constraint")
    def _constraint_typed(self, event: Input.Changed) -> None:
        if not event.value.strip():
            self._error("constraint-error", "")

    @on(Input.Submitted, "#add-constraint")
    @on(Button.Pressed, "#add-constraint-button")
    def _add(self) -> None:
        field = self.query_one("#add-constraint", Input)
        # Names separated by spaces, commas, or both: "a.lan, b.lan c.lan".
        words = field.value.replace(",", " ").split()
        if not words:
            return
        values: list[str] = []
        for word in words:
            try:
                constraint = parse_constraint(word)
            except CerttuiError as exc:
                self._error("constraint-error", str(exc))
                return
            if constraint.value in self.constraints or constraint.value in values:
                self._error("constraint-error", f"{constraint.value} is already in the list")
                return
            values.append(constraint.value)
        self._error("constraint-error", "")
        self.query_one("#constraints").mount_all(ConstraintRow(v) for v in values)
        field.value = ""

    @on(Button.Pressed, "#import-root")
    def _import_root(self) -> None:
        self.post_message(self.ImportRequested())

    def action_ask_quit(self) -> None:
        from certtui.tui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.exit()

        self.app.push_screen(
            ConfirmScreen(
                "Quit certtui?",
                "No root CA has been created yet; nothing is saved.",
                "Quit",
                dialog_id="confirm-quit",
            ),
            answered,
        )

    @property
    def constraints(self) -> list[str]:
        return [row.value for row in self.query(ConstraintRow)]

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        name = self.query_one("#root-name", Input).value.strip()
        self._error("root-name-error", "" if name else "Give the root a name, e.g. Home Lab Root CA.")
        passphrase: str | None = None
        if not self.query_one("#no-passphrase", Checkbox).value:
            first = self.query_one("#passphrase", Input).value
            second = self.query_one("#passphrase2", Input).value
            problem = (
                "Type a passphrase, or tick 'No passphrase'."
                if not first
                else "The two passphrases differ; type them again."
                if first != second
                else ""
            )
            self._error("passphrase-error", problem)
            if problem:
                return
            passphrase = first
        if not name:
            return
        key = self.query_one("#key-type", Select).value
        req = InitRequest(
            name=name,
            key=KeySpec(str(key)),
            permit=tuple(self.constraints),
            intermediate=self.query_one("#intermediate", Checkbox).value,
        )
        self.query_one("#setup-form").loading = True
        self.post_message(self.RootRequested(req, passphrase))

    def creation_failed(self) -> None:
        """The app could not create the store: let the user correct the form."""
        self.query_one("#setup-form").loading = False
