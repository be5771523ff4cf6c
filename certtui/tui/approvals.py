"""The ACME approval watch: one notification per order that starts waiting for approval.

Apart from the ACME screen, so that following the store at start-up loads no DataTable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certtui.core.printable import printable

if TYPE_CHECKING:
    from textual.app import App

    from certtui.core.acme_state import Approval
    from certtui.tui.jobs import Jobs


def watch_approvals(app: App[Any], jobs: Jobs, seen: set[str]) -> None:
    """Notify once per order that starts waiting for approval (the app calls this as the
    store changes, whatever screen is open): the server is another process. `seen` holds the
    orders announced already."""
    store = jobs.store
    if store is None:
        return

    def read() -> list[Approval]:
        from certtui.journeys import acme as journey

        return journey.waiting(store)

    def show(found: list[Approval]) -> None:
        for a in found:
            if a.order_id in seen:
                continue
            seen.add(a.order_id)
            app.notify(
                printable(
                    f"Account {a.account} asks for {', '.join(a.names)}: waiting for approval. "
                    "Open ACME (A) and press a to approve, x to refuse."
                ),
                title="ACME approval",
                severity="warning",
                timeout=12,
                markup=False,
            )

    jobs.run_job(read, show, description="Reading the ACME queue", group="acme-watch", exclusive=True)
