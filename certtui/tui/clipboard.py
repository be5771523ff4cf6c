"""Copy a certificate's PEM through the terminal (OSC 52), for the list and inspect screens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certtui.core.models import CertRecord

if TYPE_CHECKING:
    from textual.app import App

    from certtui.tui.jobs import Jobs


def copy_pem(app: App[Any], jobs: Jobs, rec: CertRecord) -> None:
    """Put the PEM on the clipboard and say what that needs from the terminal."""
    store = jobs.store
    assert store is not None

    def pem() -> str:
        from certtui.core.details import pem_text

        return pem_text(store.der(rec.id))

    def copied(text: str) -> None:
        app.copy_to_clipboard(text)
        app.notify(
            f"Copied the PEM of {rec.subject or rec.id}. This needs a terminal that honours "
            "OSC 52 (in tmux: set -g set-clipboard on).",
            title="Clipboard",
        )

    jobs.run_job(pem, copied, description="Copying the PEM")
