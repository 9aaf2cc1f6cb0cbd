"""``ResourceTable``: a DataTable with keyed rows updated in place, a filter and row marks.

Refreshes never clear the table: rows that disappeared are removed, changed cells are updated with
``update_cell`` and new rows are appended, so there is no flicker and the cursor stays on the same key.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from rich.text import Text
from textual.widgets.data_table import RowDoesNotExist

from flytui.ui.widgets.filter import parse_filter, row_matches
from flytui.ui.widgets.plain import PlainDataTable

Cell = str | Text
MARK = "●"


def plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


class ResourceTable(PlainDataTable):
    """Keyed, filterable, markable table (cells are plain text, never markup).

    ``columns`` is a sequence of ``(key, label)`` or ``(key, label, priority)``: on a narrow terminal the columns of
    lowest priority shrink and drop first (without one, a column further left is more important; see
    :mod:`flytui.ui.widgets.columns`).
    """

    DEFAULT_CSS = "ResourceTable { height: 1fr; }"

    def __init__(self, columns: Iterable[tuple[str, str] | tuple[str, str, float]], *, markable: bool = False,
                 **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        cols = list(columns)
        self._cols = [(c[0], c[1]) for c in cols]
        self._priorities = {c[0]: c[2] for c in cols if len(c) > 2}
        self.markable = markable
        self.rows_data: dict[str, dict[str, Cell]] = {}
        self.filter_text = ""
        self.row_filter: Callable[[str, dict[str, Any]], bool] | None = None  # optional extra predicate
        self.marked: set[str] = set()

    def on_mount(self) -> None:
        if self.markable:
            self.add_column(" ", key="_mark", width=1, priority=float("inf"))
        for key, label in self._cols:
            self.add_column(label, key=key, priority=self._priorities.get(key))

    # --- data ------------------------------------------------------------------------------
    @property
    def column_keys(self) -> list[str]:
        return [k for k, _ in self._cols]

    def set_rows(self, rows: Mapping[str, Mapping[str, Cell]]) -> None:
        """Replace the data set; the view is reconciled in place."""
        self.rows_data = {k: dict(v) for k, v in rows.items()}
        self.marked &= set(self.rows_data)
        self._reconcile()

    def update_row(self, key: str, row: Mapping[str, Cell]) -> None:
        """Update or add one row (e.g. a machine following its state)."""
        self.rows_data[key] = dict(row)
        self._reconcile()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._reconcile()

    def visible_keys(self) -> list[str]:
        return [rk.value for rk in self.rows if rk.value is not None]

    def _wanted(self) -> list[str]:
        terms = parse_filter(self.filter_text, {k.lower() for k in self.column_keys})
        out = []
        for key, row in self.rows_data.items():
            text_row = {k: plain(row.get(k, "")) for k in self.column_keys}
            if terms and not row_matches(terms, text_row):
                continue
            if self.row_filter is not None and not self.row_filter(key, row):
                continue
            out.append(key)
        return out

    def _cells(self, key: str) -> list[Cell]:
        row = self.rows_data[key]
        cells: list[Cell] = [row.get(k, "") for k in self.column_keys]
        if self.markable:
            cells.insert(0, Text(MARK, style="bold") if key in self.marked else " ")
        return cells

    def _reconcile(self) -> None:
        if not self.columns:  # not mounted yet
            return
        current = self.selected_key
        wanted = self._wanted()
        wanted_set = set(wanted)
        for key in self.visible_keys():
            if key not in wanted_set:
                self.remove_row(key)
        existing = set(self.visible_keys())
        col_keys = (["_mark"] if self.markable else []) + self.column_keys
        for key in wanted:
            cells = self._cells(key)
            if key in existing:
                old = self.get_row(key)
                for col, new, prev in zip(col_keys, cells, old, strict=False):
                    if plain(new) != plain(prev) or (isinstance(new, Text) and new != prev):
                        self.update_cell(key, col, new)
            else:
                self.add_row(*cells, key=key)
        if self.visible_keys() != wanted:  # inserted rows landed at the end: rebuild in data order (rare)
            self.clear()
            for key in wanted:
                self.add_row(*self._cells(key), key=key)
        if current is not None and current in wanted_set:
            try:
                self.move_cursor(row=self.get_row_index(current), animate=False, scroll=False)
            except RowDoesNotExist:  # pragma: no cover - defensive
                pass

    # --- selection & marks --------------------------------------------------------------------
    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - cursor outside the table
            return None

    def toggle_mark(self) -> None:
        key = self.selected_key
        if key is None:
            return
        self.marked ^= {key}
        self._reconcile()
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)

    def targets(self) -> list[str]:
        """Marked keys (in table order) or else the row under the cursor."""
        if self.marked:
            return [k for k in self.rows_data if k in self.marked]
        key = self.selected_key
        return [key] if key else []
