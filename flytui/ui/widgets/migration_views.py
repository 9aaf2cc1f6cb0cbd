"""Widgets of the migrations screen, each driven by a reactive: set the data, the widget redraws itself.

* :class:`RevisionTable` — ``rows_by_id``: the history table (rebuilt when the revisions change, else only the cells
  that changed, so the cursor stays where the user put it);
* :class:`HeadsBanner` — ``heads``: shown only when the history has several heads;
* :class:`MigrationsHeader` — ``summary`` (our markup) and ``status`` (plain text from outside).
"""
from __future__ import annotations


from textual.reactive import reactive
from textual.widgets import Static

from flytui.ui.widgets.plain import PlainDataTable

#: by priority, left to right: a narrow terminal cuts the message and file, never the state
COLUMNS = (("graph", "graph"), ("id", "revision"), ("state", "state"), ("message", "message"), ("file", "file"))


def _esc(text: str) -> str:
    return text.replace("[", r"\[")


class RevisionTable(PlainDataTable):
    """``rows_by_id``: ``{revision id: (graph, id, state, message, file)}`` in history order."""

    rows_by_id: reactive[dict[str, tuple[str, ...]]] = reactive(dict, always_update=True, init=False)

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def watch_rows_by_id(self, rows: dict[str, tuple[str, ...]]) -> None:
        wanted = list(rows)
        existing = [str(k.value) for k in self.rows]
        # a graph cell holds a revision's line plus the connector lines (|/ |\) below it: its row is that tall,
        # so a change of the graph's shape rebuilds the table (a row's height cannot change in place)
        if existing != wanted or any(self.get_cell(rid, "graph") != rows[rid][0] for rid in wanted):
            cursor = self.cursor_row
            self.clear()
            for rid in wanted:
                self.add_row(*rows[rid], key=rid, height=rows[rid][0].count("\n") + 1)
            if wanted:
                self.move_cursor(row=min(cursor, len(wanted) - 1))
            return
        for rid in wanted:
            for (col, _label), value in zip(COLUMNS, rows[rid], strict=False):
                if self.get_cell(rid, col) != value:
                    self.update_cell(rid, col, value)

    def selected(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - no row under the cursor (table being rebuilt)
            return None

    def mark_running(self, rev: str | None) -> None:
        if rev and rev in {str(k.value) for k in self.rows}:
            self.update_cell(rev, "state", "running…")


class HeadsBanner(Static):
    """Several heads: ``upgrade head`` is ambiguous, so say what to do instead. Hidden otherwise."""

    heads: reactive[tuple[str, ...]] = reactive((), init=False)

    def on_mount(self) -> None:
        self.display = False

    def watch_heads(self, heads: tuple[str, ...]) -> None:
        self.display = len(heads) > 1
        if self.display:
            self.update(f"Multiple heads: {_esc(', '.join(heads))} — `upgrade head` is ambiguous. "
                        "H: upgrade heads (all branches)   m: alembic merge heads (new merge revision)")


class MigrationsHeader(Static):
    """``summary``: project, database, tunnel, mode (markup built by the screen); ``status``: the current step
    or problem (plain text)."""

    summary: reactive[str] = reactive("[b]Migrations[/b]", init=False)
    status: reactive[str] = reactive("", init=False)

    def on_mount(self) -> None:
        self._redraw()

    def watch_summary(self, _value: str) -> None:
        self._redraw()

    def watch_status(self, _value: str) -> None:
        self._redraw()

    def _redraw(self) -> None:
        self.update(self.summary + (f"\n{_esc(self.status)}" if self.status else ""))


