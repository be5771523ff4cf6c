"""Samples, their median with min and max, and the rows of the benchmark table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Samples:
    """Repeated measurements of one thing, in one unit (ms, MB, req/s...)."""

    unit: str
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "n": len(self.values),
            "values": self.values,
        }


@dataclass
class Row:
    """One line of the table: a figure, what was measured, how it compares, and its budget."""

    figure: str
    what: str
    samples: Samples
    compared: str = ""
    budget: str = ""
    met: bool | None = None

    def cells(self) -> list[str]:
        s = self.samples
        verdict = {True: "yes", False: "**no**", None: ""}[self.met]
        return [
            self.figure,
            self.what,
            number(s.median, s.unit),
            number(s.low, s.unit),
            number(s.high, s.unit),
            self.compared,
            self.budget,
            verdict,
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "what": self.what,
            **self.samples.to_json(),
            "compared": self.compared,
            "budget": self.budget,
            "met": self.met,
        }


HEADER = ["#", "measurement", "median", "min", "max", "compared", "budget", "met"]


def number(value: float, unit: str) -> str:
    """`112 ms`, `3.4 ms`, `0.41 ms`, `1,234 req/s`, `71 MB`."""
    if unit in ("req/s", "certs/s"):
        return f"{value:,.0f} {unit}"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    if value >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def markdown(rows: list[Row]) -> str:
    """The table as GitHub Markdown, numbers right-aligned."""
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join(["---", "---", "---:", "---:", "---:", "---", "---", "---"]) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def ratio(a: Samples, b: Samples) -> float:
    """The median of the per-round ratios a[i] / b[i]: both were measured in the same rounds,
    one right after the other, so a load that comes and goes during the run weighs on both
    sides of each ratio alike. Samples of different lengths: median over median."""
    if len(a.values) != len(b.values):
        return a.median / b.median
    return statistics.median(x / y for x, y in zip(a.values, b.values, strict=True))
