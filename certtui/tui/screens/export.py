"""The export modal (`e`): formats (several at once), a directory, and a password if needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from certtui.core.models import CertRecord, Kind
from certtui.core.printable import printable
from certtui.tui.actions import ExportRequest, Written

# One line per format: what it is for, so nobody needs the manual to pick.
HINTS = {
    "fullchain": "nginx / Caddy / Traefik: the certificate and its intermediates",
    "key": "the private key (PKCS#8, encrypted unless you tick the box)",
    "pem": "the certificate alone, PEM",
    "der": "the certificate alone, DER (Android, Windows)",
    "p12": "PKCS#12 with the key: Windows, browsers (AES, SHA-256 MAC)",
    "p12-legacy": "PKCS#12 for iPhone and macOS (3DES, SHA-1 MAC)",
    "p7b": "PKCS#7 bundle with the chain (Windows, Java)",
    "mobileconfig": "iPhone / Mac profile",
    "crl": "this CA's last signed CRL",
}
# Which formats make sense for which kind; the rest are refused by core with a reason anyway.
BY_KIND = {
    Kind.ROOT: ("pem", "der", "mobileconfig", "p7b", "crl", "key", "p12"),
    Kind.INTERMEDIATE: ("pem", "der", "fullchain", "p7b", "crl", "key", "p12"),
    Kind.SERVER: ("fullchain", "key", "pem", "der", "p12", "p12-legacy", "p7b"),
    Kind.CLIENT: ("p12-legacy", "mobileconfig", "p12", "pem", "key", "fullchain", "der", "p7b"),
}
KEY_FORMATS = {"key", "p12", "p12-legacy"}


RunExport = Callable[[ExportRequest, "ExportScreen"], None]


class ExportScreen(ModalScreen[list[Written] | None]):
    """Collects an ExportRequest; `run_export` writes the files while the form stays open.

    A failure is shown in the form with everything typed (passwords too) kept; on success
    the form dismisses with what was written.
    """

    BINDINGS = [
        Binding("ctrl+s", "submit", "Export", id="export.submit", tooltip="Write the files"),
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Close without writing"),
    ]
    """Remappable by id."""

    def __init__(self, record: CertRecord, directory: Path, run_export: RunExport | None = None) -> None:
        super().__init__()
        self.record = record
        self.directory = directory
        self.run_export = run_export

    def _needs_password(self, formats: list[str]) -> bool:
        keyed = KEY_FORMATS | ({"mobileconfig"} if self.record.kind is Kind.CLIENT else set())
        unencrypted = self.query_one("#unencrypted", Checkbox).value
        return any(f in keyed and not (f == "key" and unencrypted) for f in formats)

    def compose(self) -> ComposeResult:
        rec = self.record
        formats = [f for f in BY_KIND[rec.kind] if rec.has_key or f not in KEY_FORMATS]
        default = formats[:2] if rec.kind is Kind.SERVER and rec.has_key else formats[:1]
        with VerticalScroll(id="export-dialog", classes="dialog"):
            yield Static(Content(f"Export {printable(rec.subject or rec.id)}"), classes="dialog-title")
            yield Label("Formats (space toggles)")
            yield SelectionList[str](
                *(Selection(f"{f:<13}{HINTS[f]}", f, f in default) for f in formats),
                id="formats",
            )
            yield Label("Directory")
            yield Input(str(self.directory), id="directory", compact=True)
            yield Static("", id="directory-error", classes="error-text")
            yield Checkbox("Add the root (fullchain, p12)", id="with-root", compact=True)
            yield Checkbox("Key unencrypted (for servers like nginx)", id="unencrypted", compact=True)
            yield Label("Password for the key / PKCS#12", id="password-label")
            yield Input(password=True, id="password", compact=True)
            yield Input(password=True, id="password2", placeholder="the same again", compact=True)
            yield Static("", id="password-error", classes="error-text")
            yield Static("", id="export-error", classes="error-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        for error in self.query(".error-text"):
            error.display = False
        self._update_password()
        self.query_one("#formats").focus()

    @property
    def formats(self) -> list[str]:
        return list(self.query_one("#formats", SelectionList).selected)

    @on(SelectionList.SelectedChanged)
    @on(Checkbox.Changed, "#unencrypted")
    def _update_password(self) -> None:
        show = self._needs_password(self.formats)
        for widget_id in ("#password-label", "#password", "#password2"):
            self.query_one(widget_id).display = show

    def _fail(self, text: str, error_id: str = "export-error", field_id: str | None = None) -> None:
        """Show `text` beside its field; focus that field and scroll both into view."""
        for other in self.query(".error-text"):
            other.display = False
        error = self.query_one(f"#{error_id}", Static)
        error.update(Content(text))
        error.display = True
        if field_id is not None:
            field = self.query_one(f"#{field_id}")
            field.focus()
        self.call_after_refresh(error.scroll_visible, animate=False)

    def failed(self, text: str) -> None:
        """Writing did not happen: say why, keep the form as typed."""
        self._fail(text)

    @on(Input.Changed, "#directory")
    def _directory_changed(self) -> None:
        self.query_one("#directory-error").display = False

    @on(Input.Submitted, "#password2")
    def _last_field_submitted(self) -> None:
        """Enter in the last field submits the form."""
        self.action_submit()

    @on(Input.Submitted, "#directory")
    def _directory_submitted(self) -> None:
        if self.query_one("#password").display:
            self.focus_next()
        else:
            self.action_submit()

    @on(Button.Pressed, "#export")
    def action_submit(self) -> None:
        formats = self.formats
        if not formats:
            self._fail("Choose at least one format.", field_id="formats")
            return
        directory = Path(self.query_one("#directory", Input).value.strip()).expanduser()
        if not directory.is_dir():
            self._fail(
                f"{directory} is not a directory; type an existing one.", "directory-error", "directory"
            )
            return
        password = None
        if self._needs_password(formats):
            password = self.query_one("#password", Input).value
            if not password:
                self._fail(
                    "These formats hold the private key: type a password for them.",
                    "password-error",
                    "password",
                )
                return
            if password != self.query_one("#password2", Input).value:
                self._fail("The two passwords differ; type them again.", "password-error", "password2")
                return
        req = ExportRequest(
            self.record.id,
            tuple(formats),
            directory,
            password,
            with_root=self.query_one("#with-root", Checkbox).value,
            unencrypted_key=self.query_one("#unencrypted", Checkbox).value,
        )
        self.query_one("#export-error").display = False
        if self.run_export is None:
            self.dismiss(None)
        else:
            self.run_export(req, self)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ExportedScreen(ModalScreen[None]):
    """What was written: every path, its mode, whether it replaced a file; and any warning."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", id="exported.close", tooltip="Back to the list"),
    ]
    """Remappable by id."""

    def __init__(self, written: list[Written]) -> None:
        super().__init__()
        self.written = written

    def compose(self) -> ComposeResult:
        with Vertical(id="exported-dialog", classes="dialog"):
            yield Static(f"Wrote {len(self.written)} file(s)", classes="dialog-title")
            for item in self.written:
                replaced = "  (replaced)" if item.replaced else ""
                yield Static(
                    Content(printable(f"{item.mode:04o}  {item.path}{replaced}")), classes="exported-path"
                )
            for item in self.written:
                if item.warning:
                    yield Static(
                        Content(printable(f"Warning: {item.warning}")),
                        classes="warning-text exported-warning",
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="close")
        yield Footer()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
