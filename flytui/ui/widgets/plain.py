"""Text from outside is never markup.

flyctl prints Go slices as ``[ams iad nrt]``, app names and log lines may contain ``[/x]``: Textual parses
plain ``str`` as content markup in a DataTable cell, a Static, a Label or a notification, so such text would
vanish or raise ``MarkupError``. These helpers keep it verbatim:

* :class:`PlainDataTable` — every ``str`` cell becomes a ``rich.text.Text`` (styled ``Text`` cells are kept);
* :func:`plain` — ``Text`` of any value, for ``Static.update`` / ``Label`` content;
* ``FlytuiApp.notify`` renders every notification as plain text.

Our own markup next to external text: ``textual.content.Content.from_markup("app [b]$name[/b]", name=value)``
(substituted variables are inserted as plain text).
"""
from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.render import measure
from textual.widgets import DataTable

from flytui.ui.widgets.columns import MIN_WIDTH, FitColumn, fit_widths


def plain(value: Any, style: str = "") -> Text:
    """``value`` as plain text (``Text`` stays as it is; ``None`` is empty)."""
    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value), style=style)


class PlainCell(Text):
    """A plain-text DataTable cell that still compares equal to its ``str`` (``get_cell(...) == "done"``)."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.plain == other
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # mutable, like Text: not hashable


def cell(value: Any, wrap: bool = False) -> Any:
    """A DataTable cell value: a ``str`` becomes a :class:`PlainCell` (rendered like a markup-free str).

    A one-line cell that does not fit its column ends in ``…`` (columns shrink by priority: ``columns.py``).
    """
    if isinstance(value, str):
        return PlainCell(value, no_wrap=not wrap, end="", overflow=None if wrap else "ellipsis")
    if isinstance(value, Text) and not wrap and value.overflow is None:
        value = value.copy()
        value.overflow = "ellipsis"
    return value


class PlainDataTable(DataTable):
    """A DataTable whose ``str`` cells are plain text, never markup, and whose columns share the width by priority.

    Columns get their natural width when they all fit; otherwise :func:`flytui.ui.widgets.columns.fit_widths`
    shrinks (with an ellipsis) and then drops the least important ones: ``add_column(..., priority=, min_width=,
    elastic=)`` (elastic: its rows wrap, so it shrinks first);
    without a priority, a column further left is more important. A cell updated to a longer value widens its
    column (``update_width`` is always on), so ``current · head`` never shows as ``current · hea``.

    It also never keeps a row painted at stale column widths: Textual measures new rows on idle
    (``_update_dimensions``) but caches rendered rows and lines under keys that hold no column widths, so a
    row painted between ``add_row`` and that idle kept its header-only widths for good (``a-ra`` for
    ``a-rather-long-name``; seen as a clipped cursor row in the secrets pane under load).
    """

    def add_column(self, label: Any, *, width: int | None = None, key: str | None = None, default: Any = None,
                   priority: float | None = None, min_width: int | None = None, elastic: bool = False) -> Any:
        if isinstance(label, str):
            label = Text(label, no_wrap=True, end="", overflow="ellipsis")
        column_key = super().add_column(label, width=width, key=key, default=default)
        position = len(self.columns) - 1
        self.columns[column_key] = FitColumn.from_column(
            self.columns[column_key], -position if priority is None else priority, min_width, elastic)
        self._fit_columns()
        return column_key

    def _update_dimensions(self, new_rows: Any) -> None:
        super()._update_dimensions(new_rows)
        self._refit()
        self._clear_caches()  # widths may have changed: drop rows rendered with the old ones
        self.refresh()

    def on_resize(self, _event: Any) -> None:
        self._refit()

    def _refit(self) -> None:
        """Fit the columns; when a width changed, rows that wrap (auto height) are measured again."""
        if not self._fit_columns():
            return
        self._clear_caches()
        wrapping = [key for key, row in self.rows.items() if row.auto_height]
        for key in wrapping:
            self.rows[key].height = 0  # measured again at the new widths (DataTable measures height-0 rows)
        if wrapping:
            super()._update_dimensions(wrapping)
            self._clear_caches()
        self.refresh()

    def _available_width(self) -> int:
        width = self.size.width
        rows_height = self._total_row_height + (self.header_height if self.show_header else 0)
        if rows_height > self.size.height and self.styles.overflow_y != "hidden":
            width -= self.styles.scrollbar_size_vertical  # the vertical scrollbar takes its share
        return width - self._row_label_column_width

    def _fit_columns(self) -> bool:
        """Give the columns their widths by priority; True when a width changed."""
        columns = [c for c in self.ordered_columns if isinstance(c, FitColumn)]
        if not columns or not self.size.width:
            return False  # not laid out yet: natural widths until the first resize
        console = self.app.console
        minimums = [max(c.min_width or MIN_WIDTH, measure(console, c.label, 1)) for c in columns]
        widths = fit_widths([c.natural for c in columns], minimums, [c.priority for c in columns],
                            self._available_width(), 2 * self.cell_padding, [c.elastic for c in columns])
        changed = False
        for column, width in zip(columns, widths, strict=False):
            fitted = None if width == column.natural else width
            if fitted != column.fitted:
                column.fitted, changed = fitted, True
        total = sum(c.get_render_width(self) for c in self.ordered_columns) + self._row_label_column_width
        if self.virtual_size.width != total:
            self.virtual_size = Size(total, self.virtual_size.height)
        return changed

    def _render_cell(self, row_index: int, column_index: int, base_style: Any, width: int, cursor: bool = False,
                     hover: bool = False) -> Any:
        if width <= 0 and column_index >= 0:  # a dropped column: nothing, on every line of the row
            if row_index < 0:
                height = self.header_height
            else:
                key = self._row_locations.get_key(row_index)
                height = self.rows[key].height if key is not None else 1
            return [[Segment("", base_style)] for _ in range(max(1, height))]
        return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None, label: Any = None) -> Any:
        # only an auto-height row (height=None) wraps its cells; a row of a fixed height keeps one line per line of
        # its text and cuts with an ellipsis (a revision row two lines tall for its graph never wraps its state)
        wrap = height is None
        return super().add_row(*(cell(c, wrap) for c in cells), height=height, key=key, label=cell(label, wrap))

    def update_cell(self, row_key: Any, column_key: Any, value: Any, *, update_width: bool = True) -> None:
        row = self.rows.get(row_key)  # a RowKey equals (and hashes like) its str value
        wrap = row is not None and row.auto_height
        super().update_cell(row_key, column_key, cell(value, wrap), update_width=update_width)
