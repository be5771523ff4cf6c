"""The iOS checklist panel: one row per finding, fails first, coloured by severity in app.tcss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from certtui.core.checks.findings import Finding, Severity, ordered
from certtui.core.printable import printable

BADGE = {
    Severity.FAIL: "✗ FAIL",
    Severity.WARN: "! WARN",
    Severity.INFO: "i INFO",
    Severity.PASS: "✓ PASS",
}


class FindingView(Static):
    """One finding: badge, rule id and title; then the evidence and, unless it passed, the fix."""

    def __init__(self, finding: Finding, where: str = "cert") -> None:
        from certtui.tui.wording import humane, tui_fix

        sev = finding.severity
        text = Text()
        text.append(f"{BADGE[sev]} ", style="bold")
        text.append(f"{finding.id}  ", style="bold")
        text.append(finding.title)
        if finding.detail:
            text.append(f"\n  {printable(humane(finding.detail))}")
        if sev is not Severity.PASS and finding.fix:
            text.append(f"\n  fix: {printable(tui_fix(finding.id, finding.fix, where))}", style="italic")
        super().__init__(text, classes=f"finding -{sev.value}")
        self.finding = finding


class ChecklistPanel(VerticalScroll):
    """The whole checklist for one certificate, with a one-line verdict on top."""

    def __init__(self, where: str = "cert", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.findings: list[Finding] = []
        self.where = where
        """Who reads the fixes: "cert" (a stored certificate) or "form" (the issue form)."""

    def set_findings(self, findings: Sequence[Finding], blocked: str | None = None) -> None:
        """Show `findings`, fails first; `blocked` says why the request cannot be issued at all."""
        self.findings = ordered(findings)
        self.remove_children()
        if blocked:
            self.mount(
                Static(
                    Text(f"iOS checklist · cannot be issued: {printable(blocked)}"), classes="checklist-title"
                )
            )
            return
        fails = sum(1 for f in self.findings if f.severity is Severity.FAIL)
        warns = sum(1 for f in self.findings if f.severity is Severity.WARN)
        verdict = (
            f"{fails} {'rule fails' if fails == 1 else 'rules fail'}: iPhones reject this"
            if fails
            else f"iPhones accept this ({warns} {'warning' if warns == 1 else 'warnings'})"
            if warns
            else "iPhones accept this certificate"
        )
        self.mount(Static(Text(f"iOS checklist · {verdict}"), classes="checklist-title"))
        self.mount_all(FindingView(f, self.where) for f in self.findings)
