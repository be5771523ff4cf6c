"""The iOS trust checklist: each rule of docs/trust-rules.md as a finding with evidence and a fix.

`checks.check(cert, chain, ...)` judges a certificate; `checks.preview_findings` a plan not
signed yet. The modules, one job each:

- `findings`: `Severity`, `Finding`, the titles and severities of every rule, `ordered`;
- `facts`: what the rules read (names, keys, kinds, issuers) and the context they share;
- `rules_root`, `rules_chain`, `rules_leaf`, `rules_cert`, `rules_store`: the rules by area;
- `engine`: `check`, which picks the rules that apply and runs them in order;
- `preview`: the findings of a plan (throwaway keys) or of a certificate signed, not stored.

The names below load their module on first use, so that `checks.findings` alone (the TUI
types its rows with it) imports no cryptography.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certtui.core.checks.engine import check
    from certtui.core.checks.facts import (
        classify,
        inspected_kind,
        issued_by,
        key_verdict,
        label,
        self_signed,
    )
    from certtui.core.checks.findings import SEVERITIES, TITLES, Finding, Severity, ordered
    from certtui.core.checks.preview import preview_findings, signed_findings

__all__ = [
    "SEVERITIES",
    "TITLES",
    "Finding",
    "Severity",
    "check",
    "classify",
    "inspected_kind",
    "issued_by",
    "key_verdict",
    "label",
    "ordered",
    "preview_findings",
    "self_signed",
    "signed_findings",
]

_HOME = {
    "SEVERITIES": "findings",
    "TITLES": "findings",
    "Finding": "findings",
    "Severity": "findings",
    "ordered": "findings",
    "classify": "facts",
    "inspected_kind": "facts",
    "issued_by": "facts",
    "key_verdict": "facts",
    "label": "facts",
    "self_signed": "facts",
    "check": "engine",
    "preview_findings": "preview",
    "signed_findings": "preview",
}
"""The module each public name lives in."""


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
