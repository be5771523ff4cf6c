"""Binding ids: every one certtui has (to check the user's [keymap]) and a key as the palette shows it."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual.binding import Binding

if TYPE_CHECKING:
    from textual.app import App


def key_label(
    app: App[Any], remapped_key: Callable[[str], str | None], bindings: Iterable[Any], binding_id: str
) -> str:
    """`  (A)`: the key bound to `binding_id` as the footer shows it, remaps included ("" if none)."""
    for binding in bindings:
        if isinstance(binding, Binding) and binding.id == binding_id:
            remapped = remapped_key(binding_id)
            shown = dataclasses.replace(binding, key=remapped) if remapped else binding
            # Round brackets: the palette reads square ones as markup.
            return f"  ({app.get_key_display(shown).split(',')[0]})"
    return ""


def all_binding_ids(app: type[App[Any]]) -> set[str]:
    """Every binding id of `app` and of each screen and widget class certtui defines.

    Found by walking the screens and widgets packages, so a new screen's keys are known to the
    [keymap] check without being listed here.
    """
    import certtui.tui.screens as screens
    import certtui.tui.widgets as widgets

    holders: list[Any] = [app]
    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            holders += [
                c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__
            ]
    return {b.id for h in holders for b in getattr(h, "BINDINGS", ()) if isinstance(b, Binding) and b.id}
