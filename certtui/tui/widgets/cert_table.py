"""The certificate list: a Line-API table that renders only the rows on screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from certtui.core.inventory import TreeRow, expires_in
from certtui.core.models import CertRecord, Kind, Status
from certtui.core.printable import printable

KIND_LABEL = {Kind.ROOT: "root", Kind.INTERMEDIATE: "inter", Kind.SERVER: "server", Kind.CLIENT: "client"}
# Markers before the name, one cell each: a new marker is one more entry here (and in LEGEND).
MARKERS: tuple[str, ...] = ("check",)
CHECK_FAILS = "✗"
"""The row's certificate fails the iOS checklist (judged in a worker, see CertListScreen)."""
EXTERNAL = "*"
"""Imported to watch, not issued by this store (shown before the name)."""
LEGEND = f"{CHECK_FAILS} fails the iOS checklist · {EXTERNAL} imported, not issued here"
# Fixed column widths (kind, expires, status, key); name and names share what is left.
FIXED = (("kind", 6), ("expires", 17), ("status", 8), ("key", 8))
GAP = 1


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def columns(width: int) -> list[tuple[str, int]]:
    """Column names and widths for a table `width` cells wide."""
    fixed = sum(w for _, w in FIXED) + GAP * (len(FIXED) + 2) + len(MARKERS)
    free = max(width - fixed, 20)
    name = max(min(free // 2, 34), 14)
    return [("marks", len(MARKERS)), ("name", name), ("names", free - name)] + [(n, w) for n, w in FIXED]


HEADINGS = {
    "marks": "",
    "name": "Name",
    "names": "Other names · id",
    "kind": "Kind",
    "expires": "Expires",
    "status": "Status",
    "key": "Key",
}


def header_text(width: int) -> str:
    return _join(_fit(HEADINGS[n], w).ljust(w) for n, w in columns(width))


def _join(cells: Iterable[str]) -> str:
    return (" " * GAP).join(cells)


class CertTable(ScrollView, can_focus=True):
    """Rows in tree order; a cursor; filtering by name and SANs without re-measuring."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="list.up", tooltip="Previous row"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="list.down", tooltip="Next row"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="list.page-up", tooltip="One screen up"),
        Binding(
            "pagedown", "page(1)", "Page down", show=False, id="list.page-down", tooltip="One screen down"
        ),
        Binding("home", "jump(0)", "First", show=False, id="list.first", tooltip="First row"),
        Binding("end", "jump(-1)", "Last", show=False, id="list.last", tooltip="Last row"),
    ]
    """Cursor movement; remappable by id."""

    COMPONENT_CLASSES = {
        "cert-table--cursor",
        "cert-table--expiring",
        "cert-table--expired",
        "cert-table--revoked",
        "cert-table--external",
    }

    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        """The cursor moved onto a certificate."""

        def __init__(self, record: CertRecord | None) -> None:
            super().__init__()
            self.record = record

    class ColumnsChanged(Message):
        """The rows are drawn `width` cells wide now: the header must follow."""

        def __init__(self, width: int) -> None:
            super().__init__()
            self.width = width

    class Selected(Message):
        """Enter (or a click) on a certificate."""

        def __init__(self, record: CertRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, clock: Callable[[], datetime], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self._rows: list[TreeRow] = []
        self._haystack: list[str] = []
        self._visible: list[int] = []
        self._cache: dict[tuple[int, int, bool], Strip] = {}
        self.rows_formatted = 0
        """How many rows were formatted: the cost follows the screen, not the store."""
        # Keys typed right after the filter key ("/printer" in one burst) all reach this widget
        # before the filter binding runs; they belong to the filter and must not fire other
        # bindings (p, r, e...). They wait here until `start_type_ahead` gives them a home.
        self._type_ahead: Callable[[str], None] | None = None
        self._opening = False
        self._pending: list[str] = []
        self.fails: dict[str, bool] = {}
        """Certificate id -> fails the iOS checklist; filled by a worker, rows without one are blank."""
        self._label_count: dict[str, int] = {}
        self._drawn_width = -1

    # -- data ----------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[TreeRow], keep: str | None = None, query: str = "") -> None:
        """Replace the rows; keep the cursor on certificate `keep` if it is still there."""
        self._rows = list(rows)
        self._haystack = [
            " ".join((r.record.subject, *r.record.names, r.record.id)).lower() for r in self._rows
        ]
        self._label_count = {}
        for r in self._rows:
            label = _label(r.record)
            self._label_count[label] = self._label_count.get(label, 0) + 1
        self.apply_filter(query, keep=keep)

    def apply_filter(self, query: str, keep: str | None = None) -> None:
        keep = keep if keep is not None else self.current_id
        words = query.lower().split()
        self._visible = [i for i, hay in enumerate(self._haystack) if all(w in hay for w in words)]
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self._visible))
        target = 0
        if keep is not None:
            for pos, i in enumerate(self._visible):
                if self._rows[i].record.id == keep:
                    target = pos
                    break
        self.cursor = min(target, max(len(self._visible) - 1, 0))
        self.refresh()

    @property
    def visible_count(self) -> int:
        return len(self._visible)

    @property
    def total_count(self) -> int:
        return len(self._rows)

    @property
    def records(self) -> list[CertRecord]:
        """Every row's certificate, the visible ones first (the order to judge them in)."""
        top = int(self.scroll_offset.y)
        seen = [self._visible[i] for i in range(top, min(top + self.size.height + 1, len(self._visible)))]
        first = set(seen)
        return [self._rows[i].record for i in seen] + [
            r.record for i, r in enumerate(self._rows) if i not in first
        ]

    def set_fails(self, verdicts: dict[str, bool]) -> None:
        """Add checklist verdicts (id -> fails) and redraw the rows they mark."""
        self.fails.update(verdicts)
        self._cache.clear()
        self.refresh()

    @property
    def current(self) -> CertRecord | None:
        if not self._visible:
            return None
        return self._rows[self._visible[self.cursor]].record

    @property
    def current_id(self) -> str | None:
        rec = self.current
        return rec.id if rec else None

    def select_id(self, cert_id: str) -> bool:
        for pos, i in enumerate(self._visible):
            if self._rows[i].record.id == cert_id:
                self.cursor = pos
                return True
        return False

    # -- cursor --------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self._cache.clear()
        self.scroll_to_region(Region(0, new, 1, 1), animate=False, force=True)
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def action_cursor(self, delta: int) -> None:
        if self._visible:
            self.cursor = max(0, min(self.cursor + delta, len(self._visible) - 1))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.scrollable_content_region.height - 1, 1))

    def action_jump(self, where: int) -> None:
        if self._visible:
            self.cursor = 0 if where == 0 else len(self._visible) - 1

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", 0) + int(self.scroll_offset.y)
        if 0 <= y < len(self._visible):
            if y == self.cursor and (rec := self.current):
                self.post_message(self.Selected(rec))
            self.cursor = y

    def on_key(self, event: events.Key) -> None:
        if (self._type_ahead or self._opening) and event.is_printable and event.character:
            if self._type_ahead is not None:
                self._type_ahead(event.character)
            else:
                self._pending.append(event.character)
            event.stop()
            event.prevent_default()
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.binding.action == "filter":
            self._opening = True

    def start_type_ahead(self, sink: Callable[[str], None]) -> None:
        """The filter is open: send it what was typed meanwhile, and whatever still comes."""
        self._type_ahead = sink
        for character in self._pending:
            sink(character)
        self._pending.clear()
        self._opening = False

    def stop_type_ahead(self) -> None:
        self._type_ahead = None
        self._opening = False
        self._pending.clear()

    def key_enter(self) -> None:
        if rec := self.current:
            self.post_message(self.Selected(rec))

    # -- rendering -----------------------------------------------------------------------

    def _row_class(self, rec: CertRecord) -> str | None:
        if rec.status is Status.REVOKED:
            return "cert-table--revoked"
        if rec.status is Status.EXPIRED:
            return "cert-table--expired"
        if rec.status is Status.EXPIRING:
            return "cert-table--expiring"
        if rec.external:
            return "cert-table--external"
        return None

    def _marks(self, rec: CertRecord) -> str:
        marks = {"check": CHECK_FAILS if self.fails.get(rec.id) else " "}
        return "".join(marks[m] for m in MARKERS)

    def _format(self, row: TreeRow, width: int) -> str:
        self.rows_formatted += 1
        rec = row.record
        label = _label(rec)
        # The Name column shows the first name: this column adds the others, and the id where
        # two rows share a name (a renewed certificate beside the one it replaces).
        others = [n for n in rec.names if n != label]
        if self._label_count.get(label, 0) > 1:
            others.insert(0, f"id {rec.id[:8]}")
        cells = {
            "marks": self._marks(rec),
            # Names from a certificate made elsewhere may hold terminal control characters.
            # `*` before the name marks an external certificate (the summary line says so).
            "name": "  " * row.depth
            + ("*" if rec.external else "")
            + printable(label)
            + (" (deployed)" if rec.extra.get("deployed") else ""),
            "names": printable(", ".join(others)),
            "kind": KIND_LABEL[rec.kind],
            "expires": expires_in(rec.not_after, self.clock()),
            "status": rec.status.value,
            "key": rec.key_type.replace("EC ", "").replace("RSA ", "RSA"),
        }
        return _join(_fit(cells[n], w).ljust(w) for n, w in columns(width))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._drawn_width:
            self._drawn_width = width
            self.post_message(self.ColumnsChanged(width))
        index = int(self.scroll_offset.y) + y
        base = self.rich_style
        if index >= len(self._visible):
            return Strip.blank(width, base)
        selected = index == self.cursor
        key = (index, width, selected)
        if key in self._cache:
            return self._cache[key]
        row = self._rows[self._visible[index]]
        style: Style = base
        cls = self._row_class(row.record)
        if cls:
            style = style + self.get_component_rich_style(cls, partial=True)
        if selected:
            style = style + self.get_component_rich_style("cert-table--cursor", partial=True)
        text = _fit(self._format(row, width), width).ljust(width)
        strip = Strip([Segment(text, style)], width)
        self._cache[key] = strip
        return strip

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self._visible))


def _label(rec: CertRecord) -> str:
    return rec.subject or (rec.names[0] if rec.names else rec.id)
