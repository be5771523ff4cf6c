"""Jobs: the store, the clock, and the one way screens run work (a thread worker, then a callback)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from textual.worker import Worker, WorkerState, get_current_worker

from certtui.core.printable import printable
from certtui.errors import CerttuiError, PassphraseChanged, WrongPassphrase

if TYPE_CHECKING:
    from textual.app import App

    from certtui.core.store import Store

T = TypeVar("T")


class Jobs:
    """What the screens are given instead of the App: the store, the clock, `run_job` and
    `require_unlock`. The app owns one and passes it to each screen it opens."""

    def __init__(self, app: App[Any], store: Store | None, clock: Callable[[], datetime]) -> None:
        self._app = app
        self.store = store
        """The open store; None until the setup wizard has made (or imported) one."""
        self.clock = clock
        """Now, as the app sees it (tests and screenshots fix it)."""
        self._write_lock = threading.Lock()
        # An action run after an unlock, and the jobs it started: retried once, after asking
        # for the passphrase again, if another certtui session changed the passphrase.
        self._retry_next: Callable[[], object] | None = None
        self._retry_of: dict[Worker[None], Callable[[], object]] = {}
        self._on_failure: dict[Worker[None], Callable[[BaseException], None]] = {}

    def run_job(
        self,
        work: Callable[[], T],
        done: Callable[[T], object] | None = None,
        *,
        description: str,
        write: bool = False,
        group: str = "store",
        exclusive: bool = False,
        failed: Callable[[BaseException], None] | None = None,
    ) -> Worker[None]:
        """Run `work` in a thread worker, then `done(result)` on the UI thread.

        Writes run one at a time. An `exclusive` job cancels its group's earlier ones (their
        results are dropped). Every failure reaches `finished`, which the app calls.
        """
        app = self._app

        def job() -> None:
            if write:
                with self._write_lock:
                    result = work()
            else:
                result = work()
            if done is not None and not get_current_worker().is_cancelled:
                app.call_from_thread(done, result)

        worker = app.run_worker(
            job, thread=True, exit_on_error=False, group=group, description=description, exclusive=exclusive
        )
        if failed is not None:
            self._on_failure[worker] = failed
        if self._retry_next is not None:
            self._retry_of[worker] = self._retry_next
        return worker

    def finished(self, event: Worker.StateChanged) -> None:
        """Every worker error: a core message as a notification, never a traceback."""
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        failed = self._on_failure.pop(event.worker, None)
        retry = self._retry_of.pop(event.worker, None)
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            if isinstance(event.worker.error, PassphraseChanged) and retry is not None:
                self._app.notify(
                    "The passphrase changed in another certtui session; enter it again.", severity="warning"
                )
                self.require_unlock(retry, retried=True)
                return
            self.report_error(event.worker.error)
            if failed is not None:
                failed(event.worker.error)

    def report_error(self, exc: BaseException) -> None:
        """The TUI's one error sink: a CerttuiError's message, or a plea to report the rest."""
        from certtui.tui.wording import humane

        app = self._app
        if isinstance(exc, CerttuiError):
            # Messages quote names and paths ('[/x]' is text, not markup).
            app.notify(
                printable(humane(str(exc))), title="certtui", severity="error", timeout=8, markup=False
            )
        else:
            app.log.error(repr(exc))
            app.notify(
                printable(f"unexpected error ({type(exc).__name__}: {exc}); please report it"),
                title="certtui",
                severity="error",
                timeout=12,
                markup=False,
            )

    # -- the passphrase, once per session ------------------------------------------------

    def require_unlock(
        self,
        then: Callable[[], object],
        *,
        action: str = "The action",
        cancelled: Callable[[], None] | None = None,
        retried: bool = False,
    ) -> None:
        """Run `then` once the store is unlocked, asking for the passphrase if needed.

        A cancelled prompt runs `cancelled`, or says that `action` was not done: never silence.
        If the job fails because another session changed the passphrase, it asks again and runs
        `then` once more.
        """
        assert self.store is not None
        app = self._app

        def unlocked() -> None:
            self._retry_next = None if retried else then
            try:
                then()
            finally:
                self._retry_next = None

        if self.store.unlocked:
            unlocked()
            return
        from certtui.tui.screens.unlock import UnlockScreen

        store = self.store

        def attempt(passphrase: str | None) -> None:
            if passphrase is None:
                if cancelled is not None:
                    cancelled()
                else:
                    app.notify(f"{action} was not done: the store stays locked.", severity="warning")
                return
            # In a box the job empties, not in its closure: a finished worker keeps no passphrase.
            secret = [passphrase]

            def failed_or_done() -> None:
                try:
                    store.unlock(secret.pop())
                except WrongPassphrase as exc:
                    error = str(exc)

                    def ask_again() -> None:
                        app.push_screen(UnlockScreen(error=error), attempt)

                    app.call_from_thread(ask_again)
                    return
                app.call_from_thread(unlocked)

            self.run_job(failed_or_done, description="Unlocking the store")

        app.push_screen(UnlockScreen(), attempt)
