"""Column widths by priority: the one place that decides how a table's columns share a narrow terminal.

Every table (:class:`flytui.ui.widgets.plain.PlainDataTable`) gives each column its natural width (the widest of
its label and cells) when they all fit. When they do not, the least important column gives way first: it shrinks
(its cells end in ``…``) when that is enough, else it drops out and the next least important one gives way; so
the important columns keep their full width. Columns whose cells wrap (``elastic``) shrink first, as they lose
nothing. What the drops freed beyond the need goes back to the shrunk columns, most important first, then to a
dropped column that fits again. The most important column is never dropped. A column's importance is its ``priority`` (higher keeps its width longer);
without one, columns further left are more important.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

from textual.widgets.data_table import Column

#: a shrunk column keeps at least this many cells (or its natural width when narrower), its label permitting
MIN_WIDTH = 6


@dataclass
class FitColumn(Column):
    """A DataTable column with a priority and a fitted width (``fitted``: None natural, 0 dropped)."""

    priority: float = 0.0
    min_width: int | None = None
    elastic: bool = False  # its cells wrap: it shrinks (to min_width) before any other column gives way
    fixed: bool = False  # the screen gave an explicit width: that is its natural width
    fitted: int | None = None

    @classmethod
    def from_column(cls, column: Column, priority: float, min_width: int | None, elastic: bool) -> "FitColumn":
        values = {f.name: getattr(column, f.name) for f in fields(Column)}
        return cls(**values, priority=priority, min_width=min_width, elastic=elastic, fixed=not column.auto_width)

    @property
    def natural(self) -> int:
        return self.width if self.fixed else self.content_width

    @property
    def dropped(self) -> bool:
        return self.fitted == 0

    def get_render_width(self, data_table: Any) -> int:
        if self.fitted is None:
            return super().get_render_width(data_table)
        return 0 if self.fitted == 0 else self.fitted + 2 * data_table.cell_padding


def fit_widths(naturals: Sequence[int], minimums: Sequence[int], priorities: Sequence[float], available: int,
               padding: int, elastic: Sequence[bool] = ()) -> list[int]:
    """Widths (0: dropped) for columns of these natural and minimum widths in ``available`` cells.

    ``padding`` is what each shown column takes besides its width (both sides of the cell). An ``elastic`` column
    (its cells wrap, so nothing is lost) shrinks to its minimum before any other column gives way.
    """
    widths = list(naturals)
    n = len(widths)
    if not n:
        return widths
    mins = [min(m, w) for m, w in zip(minimums, widths, strict=False)]

    def excess() -> int:
        return sum(w + padding for w in widths if w) - available

    order = sorted(range(n), key=lambda i: (priorities[i], i))  # least important first (ties: the left one)
    for i in order:  # wrapping columns first: they lose nothing
        over = excess()
        if over > 0 and i < len(elastic) and elastic[i]:
            widths[i] -= min(over, widths[i] - mins[i])
    for i in order[:-1]:  # least important first: shrink it if that is enough, else drop it and go on
        over = excess()
        if over <= 0:
            return widths
        if widths[i] - mins[i] >= over:
            widths[i] -= over
            return widths
        widths[i] = 0
    for i in reversed(order):  # what the drops freed beyond the need: shrunk columns grow back, most important first
        if widths[i]:
            widths[i] += max(0, min(-excess(), naturals[i] - widths[i]))
    for i in reversed(order[:-1]):  # then a dropped column comes back, shrunk, where it still fits
        spare = -excess() - padding
        if widths[i] == 0 and spare >= mins[i]:
            widths[i] = min(naturals[i], spare)
    keep = order[-1]
    over = excess()
    if over > 0:  # the most important column alone is wider than the table: it takes what there is
        widths[keep] = max(1, widths[keep] - over)
    return widths
