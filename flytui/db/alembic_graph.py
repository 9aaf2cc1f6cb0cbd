"""The git-log-style lane graph of a revision history (``* ``, ``|/``, ``|\\`` rows), newest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from flytui.db.alembic_service import GraphRow

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.alembic_service import Revision



def _transition(old: list[str | None], new: list[str | None], moves: Mapping[int, list[int]]) -> str:
    """A connector line: for each old lane, edges to the new lanes in ``moves``."""
    width = 2 * max(len(old), len(new)) + 1
    chars = [" "] * width
    for src, dests in moves.items():
        for dst in dests:
            if dst == src:
                chars[2 * src] = "|"
            elif dst < src:
                chars[2 * src - 1] = "/"
            else:
                chars[2 * dst - 1] = "\\"
    return "".join(chars).rstrip() + " "


def draw_graph(revisions: Sequence[Revision]) -> list[GraphRow]:
    """Lay out lanes over a topologically ordered (newest first) revision list."""
    rows: list[GraphRow] = []
    lanes: list[str | None] = []
    for rev in revisions:
        if rev.id in lanes:
            col = lanes.index(rev.id)
        elif None in lanes:
            col = lanes.index(None)
            lanes[col] = rev.id
        else:
            col = len(lanes)
            lanes.append(rev.id)
        # other lanes that were waiting for this revision collapse into it (branch point)
        dupes = [i for i, lane in enumerate(lanes) if lane == rev.id and i != col]
        if dupes:
            old = list(lanes)
            survivors = [i for i, lane in enumerate(old) if i not in dupes]
            new_index = {i: n for n, i in enumerate(survivors)}
            moves = {i: [new_index[i]] for i in survivors if old[i] is not None}
            moves.update({i: [new_index[col]] for i in dupes})
            lanes = [old[i] for i in survivors]
            rows.append(GraphRow(None, _transition(old, lanes, moves)))
            col = new_index[col]

        parents = list(rev.down_revisions)
        line = ["* " if i == col else ("| " if lane is not None else "  ") for i, lane in enumerate(lanes)]
        if len(parents) > 2:
            line[col] = "*" + "-." * (len(parents) - 2) + " "
        rows.append(GraphRow(rev.id, "".join(line).rstrip() + " "))

        # replace this revision by its parents
        if not parents:
            lanes[col] = None
        else:
            lanes[col] = parents[0]
            extra = [p for p in parents[1:]]
            if extra:
                old = list(lanes)
                new = old[: col + 1] + extra + old[col + 1:]
                moves = {i: [i if i <= col else i + len(extra)] for i, lane in enumerate(old) if lane is not None}
                moves[col] = [col, *range(col + 1, col + 1 + len(extra))]
                lanes = new
                rows.append(GraphRow(None, _transition(old, new, moves)))
        while lanes and lanes[-1] is None:
            lanes.pop()
    return rows


def graph_cells(rows: Sequence[GraphRow]) -> dict[str, str]:
    """The graph cell of each revision for a one-row-per-revision table: its commit line, then the connector lines
    (``|\\``, ``|/``) drawn below it up to the next commit line, one per text line — so a merge or a branch point
    reads like ``git log --graph`` and a table cursor only ever lands on revisions."""
    cells: dict[str, list[str]] = {}
    last: list[str] | None = None
    for row in rows:
        if row.revision is not None:
            last = cells[row.revision] = [row.text.rstrip()]
        elif last is not None:  # draw_graph never starts with a connector; one would have nothing to hang from
            last.append(row.text.rstrip())
    return {rev: "\n".join(lines) for rev, lines in cells.items()}
