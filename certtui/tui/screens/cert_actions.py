"""What the list's acting keys do: each opens a form for a typed request, then runs its journey as a job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certtui.core.printable import printable

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

    from certtui.core.models import CertRecord, IssueRequest
    from certtui.core.store import Store
    from certtui.enroll.trust import TrustCertificate
    from certtui.journeys.enroll import EnrollOptions
    from certtui.tui.actions import EnrollmentPlan, ExportRequest, Preview, RevokeRequest, Written
    from certtui.tui.jobs import Jobs
    from certtui.tui.screens.export import ExportScreen
    from certtui.tui.screens.issue import IssueScreen


class CertActions:
    """Issue, revoke, enroll, renew and export, for the list's keys.

    Each says what it did in a notification and calls `reload(select)`, so that the list shows
    the certificate it made or changed.
    """

    def __init__(
        self,
        screen: Screen[Any],
        jobs: Jobs,
        enroll: EnrollOptions,
        start_dir: Path,
        reload: Callable[[str | None], None],
    ) -> None:
        self._screen = screen
        self._jobs = jobs
        self._enroll = enroll
        self._start_dir = start_dir
        self._reload = reload

    @property
    def _app(self) -> App[Any]:
        return self._screen.app

    @property
    def _store(self) -> Store:
        store = self._jobs.store
        assert store is not None
        return store

    # -- issue ---------------------------------------------------------------------------

    def issue(self) -> None:
        from certtui.tui import actions
        from certtui.tui.screens.issue import IssueScreen

        store, jobs = self._store, self._jobs

        def run_preview(req: IssueRequest, show: Callable[[IssueRequest, Preview], None]) -> None:
            jobs.run_job(
                lambda: actions.preview(store, req, jobs.clock()),
                lambda result: show(req, result),
                description="Checking the request",
                group="preview",
                exclusive=True,
            )

        def run_issue(req: IssueRequest, form: IssueScreen) -> None:
            def failed(exc: BaseException) -> None:
                from certtui.tui.wording import humane

                form.failed(f"Not issued: {humane(str(exc))}")

            jobs.require_unlock(
                lambda: jobs.run_job(
                    lambda: actions.issue(store, req, jobs.clock()),
                    form.dismiss,
                    description="Issuing",
                    write=True,
                    failed=failed,
                ),
                cancelled=lambda: form.failed(
                    "Not issued: the store stayed locked. Press ctrl+s to unlock and issue."
                ),
            )

        self._app.push_screen(
            IssueScreen(actions.issuers(store), store.default_issuer_id(), run_preview, run_issue),
            self._issued,
        )

    def _issued(self, rec: CertRecord | None) -> None:
        if rec is None:
            return
        self._app.notify(
            printable(f"Issued {rec.subject or rec.id} (id {rec.id}), expires {rec.not_after}."),
            markup=False,
        )
        self._reload(rec.id)

    # -- revoke --------------------------------------------------------------------------

    def revoke(self, rec: CertRecord) -> None:
        if rec.kind.value == "root":
            self._app.notify(
                "A root cannot be revoked: remove its trust on the devices instead "
                "(Settings → General → VPN & Device Management).",
                severity="warning",
            )
            return
        if rec.revoked_at:
            self._app.notify(f"Already revoked on {rec.revoked_at} ({rec.revocation_reason}).")
            return
        from certtui.tui import actions
        from certtui.tui.screens.revoke import RevokeScreen

        store = self._store
        note = None
        if rec.issuer_id and not actions.revoke_needs_key(store, rec):
            from certtui.core.revocation import crl_blocker

            note = crl_blocker(store, store.get(rec.issuer_id))
        self._app.push_screen(RevokeScreen(rec, note), self._revoke)

    def _revoke(self, req: RevokeRequest | None) -> None:
        if req is None:
            return
        from certtui.tui import actions

        store, jobs, app = self._store, self._jobs, self._app

        def done(message: str) -> None:
            app.notify(printable(message), markup=False)
            self._reload(req.cert_id)

        def run() -> None:
            jobs.run_job(
                lambda: actions.revoke(store, req, jobs.clock()), done, description="Revoking", write=True
            )

        if actions.revoke_needs_key(store, store.get(req.cert_id)):
            jobs.require_unlock(run)
        else:
            run()

    # -- enroll a phone ------------------------------------------------------------------

    def enroll(self) -> None:
        from certtui.tui import actions
        from certtui.tui.screens.enroll import SESSION_SECONDS, EnrollScreen

        store, jobs, app, options = self._store, self._jobs, self._app, self._enroll

        async def start(plan: EnrollmentPlan, test: TrustCertificate | None) -> None:
            session = await actions.start_enrollment(store, plan, test, options, SESSION_SECONDS, jobs.clock)
            await app.push_screen(EnrollScreen(session))

        def signed(plan: EnrollmentPlan) -> Callable[[TrustCertificate | None], object]:
            return lambda test: app.run_worker(
                start(plan, test),
                exit_on_error=False,
                group="enroll",
                exclusive=True,
                description="Starting the enrollment server",
            )

        def planned(plan: EnrollmentPlan) -> None:
            if plan.test_plan is None:
                signed(plan)(None)
                return
            # The issuing CA signs the one-day HTTPS test certificate: unlock first.
            jobs.require_unlock(
                lambda: jobs.run_job(
                    lambda: actions.sign_trust_test(store, plan, jobs.clock()),
                    signed(plan),
                    description="Signing the trust-test certificate",
                )
            )

        jobs.run_job(
            lambda: actions.plan_enrollment(store, options.advertise, options.bind),
            planned,
            description="Finding the LAN address",
        )

    # -- renew ---------------------------------------------------------------------------

    def renew(self, rec: CertRecord) -> None:
        if rec.external:
            self._app.notify("This certificate was imported, not issued here: certtui cannot renew it.")
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

        self._app.push_screen(
            ConfirmScreen(f"Renew {label}?", body, "Renew", dialog_id="renew-dialog"), answered
        )

    def _renew(self, rec: CertRecord) -> None:
        from certtui.tui import actions

        store, jobs, app = self._store, self._jobs, self._app

        def renewed(new: CertRecord) -> None:
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
            self._reload(new.id)

        jobs.require_unlock(
            lambda: jobs.run_job(
                lambda: actions.renew(store, rec, jobs.clock()),
                renewed,
                description="Renewing",
                write=True,
            ),
            action="Renewing",
        )

    # -- export --------------------------------------------------------------------------

    def export(self, rec: CertRecord) -> None:
        from certtui.tui import actions
        from certtui.tui.screens.export import ExportedScreen, ExportScreen

        store, jobs, app = self._store, self._jobs, self._app

        def run_export(req: ExportRequest, form: ExportScreen) -> None:
            from certtui.tui.wording import humane

            def run() -> None:
                jobs.run_job(
                    lambda: actions.export(store, req),
                    form.dismiss,
                    description="Exporting",
                    failed=lambda exc: form.failed(f"Not exported: {humane(str(exc))}"),
                )

            if actions.export_needs_key(store.get(req.cert_id), req.formats):
                jobs.require_unlock(
                    run,
                    cancelled=lambda: form.failed(
                        "Not exported: the store stayed locked. Press ctrl+s to unlock and export."
                    ),
                )
            else:
                run()

        def exported(written: list[Written] | None) -> None:
            if written:
                app.push_screen(ExportedScreen(written))

        app.push_screen(ExportScreen(rec, self._start_dir, run_export), exported)
