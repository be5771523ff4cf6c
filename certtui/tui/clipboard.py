"""Copy a certificate's PEM through the terminal (OSC 52), for the list and inspect screens."""

from __future__ import annotations

from typing import Any

from certtui.core.models import CertRecord


def copy_pem(app: Any, rec: CertRecord) -> None:
    """Put the PEM on the clipboard and say what that needs from the terminal."""

    def pem() -> str:
        from certtui.core.details import pem_text

        return pem_text(app.store.der(rec.id))

    def copied(text: str) -> None:
        app.copy_to_clipboard(text)
        app.notify(
            f"Copied the PEM of {rec.subject or rec.id}. This needs a terminal that honours "
            "OSC 52 (in tmux: set -g set-clipboard on).",
            title="Clipboard",
        )

    app.run_job(pem, copied, description="Copying the PEM")
