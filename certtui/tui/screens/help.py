"""Help: every key, and a short guide to the three journeys."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GUIDE = """\
# Three journeys

**Issue a certificate.** In the list press `n`, type the names (`nas.home.arpa
192.168.1.10`), watch the checklist, press `ctrl+s`. Then `e` exports the full chain and
key for nginx or Caddy.

**Enroll a phone.** Press `p`, scan the QR code with the iPhone camera, tap *Install
profile*, then in Settings: *Profile Downloaded* → *Install*, and *General → About →
Certificate Trust Settings* → switch the root on. The screen shows when the phone trusts it.

**"This connection is not private".** Select the certificate and press `enter`: the
checklist names the Apple rule it breaks and how to fix it. For a live server run
`certtui check --connect host:443`.

# Marks in the list

- `✗` before a name: the certificate fails the iOS checklist; `enter` says which rule.
- `*` after the status: imported to watch, not issued by this store (it cannot be revoked
  or renewed here).
- A second column with `id …`: two certificates share that name (a renewal beside the one it
  replaces); the id tells them apart.
"""


class HelpScreen(ModalScreen[None]):
    """Shows the key map (built from the live bindings, so remaps show) and the guide."""

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close", tooltip="Back"),
    ]
    """Remappable by id."""

    def __init__(self, remapped_key: Callable[[str], str | None], tools: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.remapped_key = remapped_key
        """The key the user's [keymap] gives a binding id, if any."""
        self.tools = tools
        """The palette's tools as (title, what it does)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static("Keys", classes="dialog-title")
            yield Static(self.keys_text(), id="help-keys")
            yield Static(RichMarkdown(GUIDE), id="help-guide")

    def keys_text(self) -> Text:
        """certtui's own bindings under the screen below, as remapped, then the palette."""
        below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else self.app.screen
        rows: list[tuple[str, str]] = []
        seen: set[str] = set()
        # What the keys do first; moving around the list (list.*) last.
        actives = sorted(
            below.active_bindings.values(), key=lambda a: (a.binding.id or "").startswith("list.")
        )
        # Keys that do not apply to the highlighted row are still listed (from the class).
        import dataclasses

        from textual.binding import Binding as B

        extra = []
        for bind in type(below).BINDINGS:
            if isinstance(bind, B) and bind.id and not any(a.binding.id == bind.id for a in actives):
                remapped = self.remapped_key(bind.id)
                extra.append(dataclasses.replace(bind, key=remapped) if remapped else bind)
        for bind in [a.binding for a in actives] + extra:
            if bind.id is None or bind.id in seen:
                continue
            seen.add(bind.id)
            rows.append((self.app.get_key_display(bind), f"{bind.description}: {bind.tooltip}"))
        rows.append(("ctrl+p", "Command palette: every action by name, and these tools:"))
        for title, does in self.tools:
            rows.append(("", f"  {title}: {does}"))
        width = max(len(k) for k, _ in rows)
        text = Text()
        for key, does in rows:
            text.append(key.ljust(width + 2), style="bold")
            text.append(does + "\n")
        return text

    def action_close(self) -> None:
        self.dismiss(None)
