"""CerttuiApp: thin; opens the screens, handing each the Jobs (tui/jobs.py) it runs work through."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from certtui.core import policy
from certtui.core.printable import printable
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.journeys.enroll import EnrollOptions
from certtui.tui.jobs import Jobs

if TYPE_CHECKING:
    from certtui.core.models import CertRecord
    from certtui.tui.screens.setup import SetupScreen

# Another certtui process (a second SSH session, a cron job) may change the store; check
# `PRAGMA data_version` this often so the list follows without a key press.
POLL_SECONDS = 2.0


class CerttuiApp(App[None]):
    """The terminal UI: setup on first run, then the certificate list."""

    CSS_PATH = "app.tcss"
    TITLE = "certtui"
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key, and a short guide"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave certtui"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="app.reload", tooltip="Read the store again"),
        Binding(
            "A", "acme", "ACME", show=False, id="acme.open", tooltip="ACME accounts, orders and approvals"
        ),
    ]
    """App-wide keys; remappable by id in config.toml's [keymap]."""

    def __init__(
        self,
        store: Store | None,
        db_path: Path,
        *,
        clock: Callable[[], datetime] | None = None,
        enroll: EnrollOptions | None = None,
        keymap: dict[str, str] | None = None,
        start_dir: Path | None = None,
        config_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.config_path = config_path
        """config.toml: the theme chosen in the palette is saved there (None: not saved)."""
        self.jobs = Jobs(self, store, clock or utcnow)
        """The store, the clock and the job runner: what the screens are given."""
        self.db_path = db_path
        self.start_dir = start_dir or Path.cwd()
        """Where exports go by default: the folder certtui was started in."""
        self.enroll = enroll or EnrollOptions()
        self._keymap = keymap or {}
        self._data_version: int | None = None
        self._acme_waiting_seen: set[str] = set()
        """The ACME orders already announced as waiting for approval."""

    @property
    def store(self) -> Store | None:
        """The open store (None during setup)."""
        return self.jobs.store

    @property
    def clock(self) -> Callable[[], datetime]:
        """Now, as the app sees it."""
        return self.jobs.clock

    # -- start-up ------------------------------------------------------------------------

    def on_mount(self) -> None:
        from certtui.tui.config import load_theme, unknown_ids
        from certtui.tui.keymap import all_binding_ids

        if self.config_path is not None:
            theme = load_theme(self.config_path)
            if theme in self.available_themes:
                self.theme = theme
            self.theme_changed_signal.subscribe(self, self._save_theme)
        if self._keymap:
            self.set_keymap(self._keymap)
            unknown = unknown_ids(self._keymap, all_binding_ids(type(self)))
            if unknown:
                self.notify(
                    f"config.toml [keymap]: no key has the id {', '.join(unknown)}; "
                    "? lists every key, and ids are in the README.",
                    severity="warning",
                    timeout=12,
                    markup=False,
                )
        if self.store is None:
            from certtui.tui.screens.setup import SetupScreen

            self.push_screen(SetupScreen())
        else:
            self._show_list()

    def _show_list(self) -> None:
        from certtui.tui.screens.cert_list import CertListScreen

        assert self.store is not None
        self._data_version = self.store.data_version()
        self.push_screen(CertListScreen(self.jobs, self.enroll, self.start_dir, self.remapped_key))
        self.set_interval(POLL_SECONDS, self._poll, name="poll-store")
        self._watch_acme()

    def on_setup_screen_root_requested(self, message: SetupScreen.RootRequested) -> None:
        from certtui.core.issuance import init_store

        setup = self.screen

        def created(out: tuple[Store, list[CertRecord]]) -> None:
            self._leave_setup(
                out[0], f"Created {out[1][0].subject}. Next: n issues a certificate, p enrolls a phone."
            )

        # The passphrase leaves the message for a box the job empties: a finished worker (which
        # Textual may keep) then holds no reference to it.
        secret = [message.passphrase]
        message.passphrase = None

        self.jobs.run_job(
            lambda: init_store(self.db_path, message.request, secret.pop(), self.clock()),
            created,
            description="Creating the root CA",
            write=True,
            failed=lambda _exc: getattr(setup, "creation_failed", lambda: None)(),
        )

    def on_setup_screen_import_requested(self) -> None:
        from certtui.tui.palette import open_import_root

        open_import_root(self, self._root_imported)

    def _root_imported(self, out: tuple[Store, Any]) -> None:
        """The setup wizard adopted an existing root: leave setup for the list."""
        self._leave_setup(
            out[0], f"Imported {out[1].record.subject}; it issues from now on. n issues, p enrolls a phone."
        )

    def _leave_setup(self, store: Store, sentence: str) -> None:
        """The store has its root (made or imported): say so and show the list."""
        self.jobs.store = store
        self.notify(printable(sentence), markup=False)
        self.pop_screen()
        self._show_list()

    def remapped_key(self, binding_id: str) -> str | None:
        """The key the user's [keymap] gives `binding_id`, if any."""
        return self._keymap.get(binding_id)

    def _save_theme(self, theme: Any) -> None:
        from certtui.tui.config import save_theme

        if self.config_path is None:
            return
        try:
            save_theme(self.config_path, theme.name)
        except OSError as exc:
            self.notify(f"The theme could not be saved in {self.config_path} ({exc.strerror}).", markup=False)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save a screenshot: into ~/Downloads if there is one, else the folder certtui started in.

        A headless server has no Downloads folder; the file then lands where the user is, and
        the notification says where.
        """
        from textual._files import generate_datetime_filename

        from certtui.tui.config import screenshot_folder

        folder = Path(path) if path else screenshot_folder(self.start_dir)
        name = filename or generate_datetime_filename(self.title, ".svg")
        target = folder / name
        try:
            target.write_text(self.export_screenshot(), encoding="utf-8")
        except OSError as exc:
            self.notify(f"The screenshot could not be saved in {folder} ({exc.strerror}).", markup=False)
            return
        self.notify(f"Saved the screenshot as {target}", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's end: failures become notifications (jobs.py)."""
        self.jobs.finished(event)

    def action_unlock(self) -> None:
        self.jobs.require_unlock(lambda: self.notify("The store is unlocked for this session."))

    # -- following the store -------------------------------------------------------------

    def _poll(self) -> None:
        if self.store is None:
            return
        version = self.store.data_version()
        if version != self._data_version:
            self._data_version = version
            self.action_reload()
            self._watch_acme()

    def _watch_acme(self) -> None:
        from certtui.tui.approvals import watch_approvals

        watch_approvals(self, self.jobs, self._acme_waiting_seen)

    def action_acme(self) -> None:
        from certtui.tui.screens.acme import AcmeScreen

        if self.store is not None and not isinstance(self.screen, AcmeScreen):
            self.push_screen(AcmeScreen(self.jobs))

    def action_reload(self) -> None:
        from certtui.tui.screens.acme import AcmeScreen
        from certtui.tui.screens.cert_list import CertListScreen

        for screen in self.screen_stack:
            if isinstance(screen, (CertListScreen, AcmeScreen)):
                screen.reload()

    def action_trust(self) -> None:
        from certtui.tui.screens.trust import TrustScreen

        self.push_screen(TrustScreen(self.jobs, self.db_path.parent))

    def action_help(self) -> None:
        from certtui.tui.palette import tool_commands
        from certtui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            tools = [(c.title, c.help) for c in tool_commands(self)]
            self.push_screen(HelpScreen(self.remapped_key, tools))

    # -- the command palette -------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        from certtui.tui.palette import app_commands, tool_commands

        yield from super().get_system_commands(screen)
        yield from app_commands(self)
        yield from getattr(screen, "palette_commands", lambda: ())()
        yield from tool_commands(self)


def make_app(
    store: Store | None,
    *,
    db_path: Path | None = None,
    clock: Callable[[], datetime] | None = None,
    enroll_bind: str = policy.ENROLL_BIND,
    enroll_port: int = policy.ENROLL_PORT,
    enroll_tls_port: int = policy.ENROLL_TLS_PORT,
    enroll_advertise: str | None = None,
    enroll_token: str | None = None,
    keymap: dict[str, str] | None = None,
    start_dir: Path | None = None,
    config_path: Path | None = None,
) -> CerttuiApp:
    """The one factory: the CLI, the tests and the screenshot script all build the app here."""
    if store is None and db_path is None:
        raise ValueError("make_app needs a store, or the db_path where setup will create one")
    return CerttuiApp(
        store,
        db_path or (store.path if store else Path()),
        clock=clock,
        enroll=EnrollOptions(enroll_bind, enroll_port, enroll_tls_port, enroll_advertise, enroll_token),
        keymap=keymap,
        start_dir=start_dir,
        config_path=config_path,
    )


def run_tui(session: Any, **enroll: Any) -> None:
    """`certtui` with no subcommand: open the store if there is one, else run setup."""
    from certtui.errors import NoStore
    from certtui.paths import config_path
    from certtui.tui.config import load_keymap

    config = config_path(session.home)
    keymap = load_keymap(config)
    try:
        store: Store | None = session.store()
    except NoStore:
        store = None
    make_app(store, db_path=session.db, keymap=keymap, config_path=config, **enroll).run()
