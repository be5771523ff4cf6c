"""Helpers the subcommands share: output of records and JSON."""

from __future__ import annotations

import json
from typing import Any

import click

from certtui.core.models import CertRecord
from certtui.core.printable import printable

__all__ = ["echo_json", "printable", "summary", "warn"]


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def summary(rec: CertRecord) -> str:
    """`server nas.home.arpa, 192.168.1.10 (id 3f2a..., EC P-256, expires 2027-...Z)`."""
    label = ", ".join(rec.names) or rec.subject or "(no name)"
    return printable(f"{rec.kind.value} {label} (id {rec.id}, {rec.key_type}, expires {rec.not_after})")


def warn(message: str) -> None:
    """Warnings go to stderr so they never break JSON on stdout."""
    click.echo(f"warning: {printable(message)}", err=True)
