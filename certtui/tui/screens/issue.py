"""The issue form (`n`): kind, names, issuer, key and days, with the live iOS checklist."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Checkbox, Footer, Input, Label, Select, Static

from certtui.core.models import CertRecord, IssueRequest, KeySpec, Kind
from certtui.core.names import parse_names
from certtui.core.profiles import DEFAULT_DAYS
from certtui.errors import CerttuiError
from certtui.tui.actions import Preview
from certtui.tui.widgets.checklist import ChecklistPanel

KINDS = [
    ("server", Kind.SERVER.value),
    ("client", Kind.CLIENT.value),
    ("intermediate CA", Kind.INTERMEDIATE.value),
]
NAMES_LABEL = "Names: DNS, IP or email, space-separated"
# Wait this long after the last keystroke before re-checking: fast typing runs one preview.
PREVIEW_DELAY_S = 0.25
# Below this width the checklist goes under the form: beside it, it would be a few columns wide.
SIDE_BY_SIDE_MIN_WIDTH = 100

# The failing rules one field fixes: (field id, the value that passes). 397 days is the
# default server lifetime (profiles.DEFAULT_DAYS), under Apple's 398-day public-CA limit.
ONE_FIELD_FIXES = {
    "leaf.lifetime-825": ("days", str(DEFAULT_DAYS[Kind.SERVER])),
    "leaf.key-strength": ("key", KeySpec.EC256.value),
}

RunIssue = Callable[[IssueRequest, "IssueScreen"], None]


class IssueScreen(ModalScreen[CertRecord | None]):
    """Collects an IssueRequest; `run_preview` checks it live and `run_issue` issues it.

    The form stays open until the certificate is issued: a failure (or a cancelled unlock)
    is shown in it with everything typed kept. It dismisses with the new record.
    """

    BINDINGS = [
        Binding(
            "ctrl+s",
            "submit",
            "Issue",
            id="issue.submit",
            tooltip="Issue the certificate (refused while the checklist fails, unless forced)",
        ),
        Binding("escape", "cancel", "Cancel", id="issue.cancel", tooltip="Close without issuing"),
        Binding(
            "ctrl+f",
            "apply_fix",
            "Apply fix",
            id="issue.fix",
            tooltip="Change the field the failing rule names (Days to 397, Key type to EC P-256)",
        ),
    ]
    """The form's keys; remappable by id."""

    def __init__(
        self,
        issuers: Sequence[CertRecord],
        default_issuer: str | None,
        run_preview: Callable[[IssueRequest, Callable[[IssueRequest, Preview], None]], None],
        run_issue: RunIssue | None = None,
    ) -> None:
        super().__init__()
        self.run_issue = run_issue
        self._touched: set[str] = set()
        self.issuers = list(issuers)
        self.default_issuer = default_issuer
        self.run_preview = run_preview
        self.preview: Preview | None = None
        self._previewed: IssueRequest | None = None
        self._timer: Timer | None = None
        self._days_touched = False
        self.checks = 0
        """How often the form was checked once typing paused (tests wait for it, not for a time)."""

    def compose(self) -> ComposeResult:
        with Container(id="issue-dialog", classes="dialog"):
            with VerticalScroll(id="issue-fields"):
                yield Static("Issue a certificate", classes="dialog-title")
                yield Label("Kind")
                yield Select(KINDS, value=Kind.SERVER.value, allow_blank=False, id="kind", compact=True)
                yield Label(NAMES_LABEL, id="names-label")
                yield Input(id="names", placeholder="nas.home.arpa 192.168.1.10", compact=True)
                yield Static("", id="names-error", classes="error-text")
                yield Label("Issuer")
                yield Select(
                    [(r.subject or r.id, r.id) for r in self.issuers],
                    value=self.default_issuer if self.default_issuer else Select.BLANK,
                    allow_blank=not self.issuers,
                    id="issuer",
                    compact=True,
                )
                yield Label("Key type")
                yield Select(
                    [(k.label, k.value) for k in KeySpec],
                    value=KeySpec.EC256.value,
                    allow_blank=False,
                    id="key",
                    compact=True,
                )
                yield Label("Days")
                yield Input(str(DEFAULT_DAYS[Kind.SERVER]), id="days", type="integer", compact=True)
                yield Static("", id="days-error", classes="error-text")
                yield Static("", id="form-error", classes="error-text")
                yield Checkbox(
                    "Force: issue anyway",
                    id="force",
                    compact=True,
                    tooltip="The checklist fails; tick to issue all the same",
                )
            with Vertical(id="issue-preview"):
                yield ChecklistPanel(where="form", id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#force").display = False
        for error in self.query(".error-text"):
            error.display = False
        self.query_one("#names", Input).focus()
        self._schedule()

    def on_resize(self) -> None:
        self.query_one("#issue-dialog").set_class(self.size.width < SIDE_BY_SIDE_MIN_WIDTH, "-stacked")

    # -- the form ------------------------------------------------------------------------

    def _error(self, widget_id: str, text: str) -> None:
        error = self.query_one(f"#{widget_id}", Static)
        # The message quotes what was typed ('[/x]' is a name to judge, not markup).
        error.update(Content(text))
        error.display = bool(text)

    @property
    def kind(self) -> Kind:
        return Kind(str(self.query_one("#kind", Select).value))

    def request(self) -> IssueRequest | None:
        """The request the fields describe, or None with the field errors shown inline."""
        words = tuple(self.query_one("#names", Input).value.replace(",", " ").split())
        ok = True
        if self.kind is not Kind.INTERMEDIATE:
            try:
                if words:
                    parse_names(words)
                # Not before the user has typed or submitted: a new form opens without an error.
                shown = words or "names" in self._touched
                self._error("names-error", "" if not shown or words else "Type at least one name.")
                ok = ok and bool(words)
            except CerttuiError as exc:
                self._error("names-error", str(exc))
                ok = False
        else:
            shown = words or "names" in self._touched
            self._error("names-error", "" if not shown or words else "Type the intermediate's name.")
            ok = ok and bool(words)
        days_text = self.query_one("#days", Input).value.strip()
        days = int(days_text) if days_text.lstrip("-").isdigit() else None
        self._error("days-error", "" if days and days > 0 else "Days must be a whole number above 0.")
        ok = ok and bool(days and days > 0)
        issuer = self.query_one("#issuer", Select).value
        if not ok:
            return None
        return IssueRequest(
            names=words,
            kind=self.kind,
            days=days,
            key=KeySpec(str(self.query_one("#key", Select).value)),
            issuer=None if issuer is Select.BLANK else str(issuer),
            cn=" ".join(words) if self.kind is Kind.INTERMEDIATE else None,
            force=self.query_one("#force", Checkbox).value,
        )

    @on(Select.Changed, "#kind")
    def _kind_changed(self) -> None:
        if not self._days_touched:
            self.query_one("#days", Input).value = str(DEFAULT_DAYS[self.kind])
            self._days_touched = False
        label = "Name of the intermediate CA" if self.kind is Kind.INTERMEDIATE else NAMES_LABEL
        self.query_one("#names-label", Label).update(label)
        self._schedule()

    @on(Input.Changed, "#days")
    def _days_changed(self, event: Input.Changed) -> None:
        if event.value != str(DEFAULT_DAYS[self.kind]):
            self._days_touched = True
        self._schedule()

    @on(Input.Changed, "#names")
    def _names_changed(self, event: Input.Changed) -> None:
        if event.value:
            self._touched.add("names")
        self._schedule()

    @on(Input.Submitted, "#names")
    def _names_submitted(self) -> None:
        self.focus_next()

    @on(Input.Submitted, "#days")
    def _days_submitted(self) -> None:
        """Enter in the last field submits the form."""
        self.action_submit()

    @on(Select.Changed, "#issuer, #key")
    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PREVIEW_DELAY_S, self._refresh_preview)

    # -- the live checklist --------------------------------------------------------------

    def _refresh_preview(self) -> None:
        self.checks += 1
        req = self.request()
        if req is None:
            self._previewed = None
            return
        self.run_preview(req, self._show_preview)

    def _show_preview(self, req: IssueRequest, result: Preview) -> None:
        if not self.is_attached:
            return
        self.preview = result
        self._previewed = req
        from certtui.tui.wording import humane

        error = humane(result.error) if result.error else None
        # An error about the names sits beside the Names field, any other at the form's foot.
        self._error("names-error", error if error and result.field == "names" else "")
        self._error("form-error", error if error and result.field != "names" else "")
        self.query_one(ChecklistPanel).set_findings(result.findings, blocked=error)
        force = self.query_one("#force", Checkbox)
        appeared = bool(result.fails) and not force.display
        force.display = bool(result.fails)
        if not result.fails:
            force.value = False
        if appeared:
            force.scroll_visible(animate=False)
        self.refresh_bindings()

    # -- submit --------------------------------------------------------------------------

    def _focus_first_error(self) -> None:
        """Focus and scroll to the first field in error."""
        for field_id, error_id in (("names", "names-error"), ("days", "days-error")):
            if self.query_one(f"#{error_id}").display:
                field = self.query_one(f"#{field_id}")
                field.focus()
                field.scroll_visible(animate=False)
                return

    def failed(self, text: str) -> None:
        """Issuing did not happen: say why in the form, everything typed kept."""
        self._error("form-error", text)
        self.query_one("#form-error").scroll_visible(animate=False)

    def action_submit(self) -> None:
        self._touched.add("names")
        req = self.request()
        if req is None:
            self._focus_first_error()
            return
        current = (
            self.preview is not None
            and self._previewed is not None
            and (
                self._previewed.names,
                self._previewed.kind,
                self._previewed.days,
                self._previewed.key,
                self._previewed.issuer,
            )
            == (req.names, req.kind, req.days, req.key, req.issuer)
        )
        if not current or self.preview is None:
            self._error("form-error", "The checklist is still running; press ctrl+s again.")
            self._refresh_preview()
            return
        if self.preview.error:
            if self.preview.field == "names":
                # Reading the fields cleared it: the names parse, the CA refuses them.
                from certtui.tui.wording import humane

                self._error("names-error", humane(self.preview.error))
                self._focus_first_error()
            else:
                self.query_one("#form-error").scroll_visible(animate=False)
            return
        if self.preview.fails and not req.force:
            self.failed(
                "The checklist fails "
                + ", ".join(self.preview.fails)
                + ": fix the request, or tick Force to issue anyway."
            )
            force = self.query_one("#force")
            force.focus()
            force.scroll_visible(animate=False)
            return
        if self.run_issue is None:
            self.dismiss(None)
            return
        self._error("form-error", "")
        self.run_issue(req, self)

    def _fixes(self) -> list[str]:
        """The failing rules this form can fix with one change of a field."""
        fails = self.preview.fails if self.preview is not None else []
        return [rule for rule in fails if rule in ONE_FIELD_FIXES]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply_fix":
            return bool(self._fixes())
        return True

    def action_apply_fix(self) -> None:
        """The one-action fix: set the field the failing rule names, and check again."""
        for rule in self._fixes():
            field_id, value = ONE_FIELD_FIXES[rule]
            widget = self.query_one(f"#{field_id}")
            if isinstance(widget, Input):
                widget.value = value
            elif isinstance(widget, Select):
                widget.value = value
        self._schedule()

    def action_cancel(self) -> None:
        self.dismiss(None)
