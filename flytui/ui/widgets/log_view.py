"""``LogView``: a virtual list of log records (line API: renders only the visible lines), with levels, a cursor,
search highlight and wrap. Used by the logs screen (flytui/ui/screens/logs.py); fed by ``set_rows``/``append_rows``.
"""
from __future__ import annotations

import bisect
import re
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from flytui.fly.logs import LEVELS, LogRecord

_LEVEL_LABEL = {"error": "ERROR", "warn": "WARN ", "info": "INFO ", "debug": "DEBUG", "trace": "TRACE"}


class LogView(ScrollView, can_focus=True):
    """Virtual list of :class:`LogRecord` rows: renders only what is on screen (line API)."""

    COMPONENT_CLASSES = {
        "logview--time", "logview--region", "logview--machine", "logview--cursor", "logview--match",
        *(f"logview--{lv}" for lv in LEVELS),
    }
    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; }
    LogView > .logview--time { color: $foreground-muted; }
    LogView > .logview--region { color: $accent; }
    LogView > .logview--machine { color: $secondary; }
    LogView > .logview--error { color: $error; text-style: bold; }
    LogView > .logview--warn { color: $warning; }
    LogView > .logview--info { color: $success; }
    LogView > .logview--debug { color: $foreground-muted; }
    LogView > .logview--trace { color: $foreground-muted; text-style: dim; }
    LogView > .logview--cursor { background: $primary 40%; }
    LogView > .logview--match { background: $warning 60%; text-style: bold; }
    """

    def __init__(self, maxlen: int = 100_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[LogRecord] = []
        self.maxlen = maxlen
        self.wrap = False
        self.timestamps = True
        self.follow = True
        self.cursor: int | None = None
        self.highlight: re.Pattern[str] | None = None
        self._max_width = 0
        self._starts: list[int] = []   # wrap mode: first visual line of each row
        self._wrap_width = 0
        self._styles: dict[str, Style] = {}

    # -- layout ----------------------------------------------------------------------------
    def _prefix_width(self) -> int:
        return (13 if self.timestamps else 0) + 5 + 15 + 6

    def _rebuild(self) -> None:
        """Recompute the virtual size (and wrap offsets) after rows or options changed."""
        pw = self._prefix_width()
        if self.wrap:
            width = max(10, self.scrollable_content_region.width or self.size.width or 80)
            avail = max(10, width - pw)
            self._wrap_width = width
            starts, acc = [], 0
            for rec in self.rows:
                starts.append(acc)
                acc += max(1, -(-len(rec.message) // avail))
            self._starts = starts
            self.virtual_size = Size(width, acc)
        else:
            self._starts = []
            self._max_width = max((len(r.message) for r in self.rows), default=0)
            self.virtual_size = Size(pw + self._max_width, len(self.rows))
        self.refresh()

    def set_rows(self, rows: list[LogRecord]) -> None:
        self.rows = rows[-self.maxlen:] if len(rows) > self.maxlen else rows
        self.cursor = None
        self._rebuild()
        if self.follow:
            self.scroll_end(animate=False, immediate=False)

    def append_rows(self, new: list[LogRecord]) -> None:
        if not new:
            return
        rows = self.rows
        rows.extend(new)
        trimmed = 0
        if len(rows) > self.maxlen + self.maxlen // 10:
            trimmed = len(rows) - self.maxlen
            del rows[:trimmed]
            if self.cursor is not None:
                self.cursor = self.cursor - trimmed if self.cursor >= trimmed else None
        if self.wrap or trimmed:
            self._rebuild()
        else:
            w = max(len(r.message) for r in new)
            if w > self._max_width:
                self._max_width = w
            self.virtual_size = Size(self._prefix_width() + self._max_width, len(rows))
        if self.follow:
            self.scroll_end(animate=False, immediate=False)
        else:
            self.refresh()

    def on_resize(self) -> None:
        if self.wrap:
            self._rebuild()

    def set_options(self, *, wrap: bool | None = None, timestamps: bool | None = None) -> None:
        if wrap is not None:
            self.wrap = wrap
        if timestamps is not None:
            self.timestamps = timestamps
        self._rebuild()

    def visual_line_of(self, index: int) -> int:
        return self._starts[index] if self.wrap and index < len(self._starts) else index

    def goto(self, index: int) -> None:
        """Put the cursor on row ``index`` and scroll it into view (follow goes off)."""
        self.cursor = index
        self.follow = False
        y = self.visual_line_of(index)
        height = self.scrollable_content_region.height or 1
        if not (self.scroll_offset.y <= y < self.scroll_offset.y + height):
            self.scroll_to(y=max(0, y - height // 2), animate=False, immediate=True)
        self.refresh()

    # -- rendering -------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        """``base + component`` style, cached (recomputed after a theme or CSS change)."""
        cache = self._styles
        got = cache.get(name)
        if got is None:
            if name == "":
                got = self.rich_style
            elif name.startswith("cursor+"):
                got = self._style("cursor") + self.get_component_rich_style(f"logview--{name[7:]}", partial=True)
            elif name == "cursor":
                got = self._style("") + self.get_component_rich_style("logview--cursor", partial=True)
            else:
                got = self._style("") + self.get_component_rich_style(f"logview--{name}", partial=True)
            cache[name] = got
        return got

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        line = scroll_y + y
        if self.wrap:
            idx = bisect.bisect_right(self._starts, line) - 1
            if idx < 0 or idx >= len(self.rows):
                return Strip.blank(width, self.rich_style)
            part = line - self._starts[idx]
        else:
            idx, part = line, 0
            if idx >= len(self.rows):
                return Strip.blank(width, self.rich_style)
        rec = self.rows[idx]
        cur = "cursor+" if idx == self.cursor else ""
        style = self._style
        base = style("cursor" if cur else "")
        segs: list[Segment] = []
        pw = self._prefix_width()
        if part == 0:
            if self.timestamps:
                segs.append(Segment(f"{rec.time_text:<12} ", style(cur + "time")))
            segs.append(Segment(f"{rec.region[:4]:<4} ", style(cur + "region")))
            segs.append(Segment(f"{rec.instance[:14]:<14} ", style(cur + "machine")))
            segs.append(Segment(f"{_LEVEL_LABEL.get(rec.level, rec.level[:5].upper()):<5} ", style(cur + rec.level)))
        else:
            segs.append(Segment(" " * pw, base))
        msg = rec.message
        if self.wrap:
            avail = max(10, self._wrap_width - pw)
            msg = msg[part * avail:(part + 1) * avail]
        if self.highlight is not None and (m := self.highlight.search(msg)) and m.end() > m.start():
            hs = style(cur + "match")
            segs += [Segment(msg[:m.start()], base), Segment(msg[m.start():m.end()], hs), Segment(msg[m.end():], base)]
        else:
            segs.append(Segment(msg, base))
        strip = Strip(segs)
        if not self.wrap:
            strip = strip.crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base)
