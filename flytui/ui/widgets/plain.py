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

from rich.text import Text
from textual.widgets import DataTable


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
    """A DataTable cell value: a ``str`` becomes a :class:`PlainCell` (rendered like a markup-free str)."""
    if isinstance(value, str):
        return PlainCell(value, no_wrap=not wrap, end="")
    return value


class PlainDataTable(DataTable):
    """A DataTable whose ``str`` cells are plain text, never markup.

    It also never keeps a row painted at stale column widths: Textual measures new rows on idle
    (``_update_dimensions``) but caches rendered rows and lines under keys that hold no column widths, so a
    row painted between ``add_row`` and that idle kept its header-only widths for good (``a-ra`` for
    ``a-rather-long-name``; seen as a clipped cursor row in the secrets pane under load).
    """

    def _update_dimensions(self, new_rows: Any) -> None:
        super()._update_dimensions(new_rows)
        self._clear_caches()  # widths may have changed: drop rows rendered with the old ones
        self.refresh()

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None, label: Any = None) -> Any:
        return super().add_row(*(cell(c, height != 1) for c in cells), height=height, key=key,
                               label=cell(label, height != 1))

    def update_cell(self, row_key: Any, column_key: Any, value: Any, *, update_width: bool = False) -> None:
        row = self.rows.get(row_key)  # a RowKey equals (and hashes like) its str value
        wrap = row is not None and row.height != 1
        super().update_cell(row_key, column_key, cell(value, wrap), update_width=update_width)
