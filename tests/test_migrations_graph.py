"""The migrations view's graph column keeps the connector lines (``|\\``, ``|/``) of ``git log --graph``.

Each revision is one table row; the connector lines below its commit line are part of its graph cell (the row is
that many lines high), so merges and branch points read as in ``git log --graph`` and the cursor only ever stops
on revisions. Histories come from tests/helpers/revgen.py (Alembic script.py.mako-shaped revision files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flytui.db.alembic_graph import graph_cells
from flytui.db.alembic_service import GraphRow, find_alembic_project, load_history
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from tests.helpers.revgen import RevSpec, branching_chain, write_project
from tests.helpers.wait import until
from tests.test_migrations_support import ALEMBIC

R = RevSpec
# a branch point, a two-way merge, a three-way (octopus) merge, then two open heads
SPECS = [R("base0001", None, "initial schema"),
         R("users002", "base0001", "create users"),
         R("posts003", "users002", "create posts"),
         R("tags0004", "users002", "create tags"),
         R("merge005", ("posts003", "tags0004"), "merge posts and tags"),
         R("a0000006", "merge005", "feature a"),
         R("b0000007", "merge005", "feature b"),
         R("c0000008", "merge005", "feature c"),
         R("octo0009", ("a0000006", "b0000007", "c0000008"), "merge a b and c"),
         R("idx00010", "octo0009", "add indexes"),
         R("side0011", "idx00010", "side branch head"),
         R("main0012", "idx00010", "main head")]

# what `git log --graph` draws for the same shape, newest first; the connector lines hang under a commit line
EXPECTED = {
    "main0012": "*",
    "side0011": "| *\n|/",
    "idx00010": "*",
    "octo0009": "*-.\n|\\ \\",
    "a0000006": "* | |",
    "b0000007": "| * |",
    "c0000008": "| | *\n|/ /",
    "merge005": "*\n|\\",
    "posts003": "* |",
    "tags0004": "| *\n|/",
    "users002": "*",
    "base0001": "*",
}


def test_graph_cells_keep_every_connector_line_under_its_commit_line(tmp_path: Path) -> None:
    project = find_alembic_project(write_project(tmp_path / "proj", SPECS))
    history = load_history(project)
    assert [r.id for r in history.revisions] == list(EXPECTED)
    assert graph_cells(history.graph_rows()) == EXPECTED
    # the one-line column the table used to show lost them
    assert "\n" not in "".join(history.graph_column().values())
    # a long generated history: every line of the graph is in exactly one cell, in order
    big = load_history(find_alembic_project(write_project(tmp_path / "big", branching_chain(300))))
    rows = big.graph_rows()
    cells = graph_cells(rows)
    assert list(cells) == [r.id for r in big.revisions]
    assert "\n".join(cells.values()).splitlines() == [r.text.rstrip() for r in rows]
    assert sum(c.count("\n") for c in cells.values()) == sum(r.revision is None for r in rows) > 10
    assert graph_cells([GraphRow(None, "|/ "), GraphRow("a", "* ")]) == {"a": "*"}  # nothing to hang it from


def _table_lines(table: Any) -> list[str]:
    """The table as painted (header line first), trailing blanks cut."""
    lines = ["".join(seg.text for seg in table.render_line(y)).rstrip() for y in range(table.size.height)]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize("width", [80, 140])
async def test_the_table_shows_connector_rows_and_the_cursor_steps_over_them(sandbox, tmp_path: Path, monkeypatch,
                                                                              width: int) -> None:
    from flytui.ui.screens.migrations import MigrationsScreen

    project = write_project(tmp_path / "proj", SPECS)
    monkeypatch.setenv("FLYTUI_ALEMBIC", " ".join(ALEMBIC))
    app = FlytuiApp(Config(refresh_interval=60), FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env)),
                    project_dir=project)
    async with app.run_test(size=(width, 45)) as pilot:
        app.action_open_migrations()
        await until(pilot, lambda: isinstance(app.screen, MigrationsScreen), what="migrations")
        screen: MigrationsScreen = app.screen  # type: ignore[assignment]
        await until(pilot, lambda: screen.snapshot is not None, timeout=40, what="history")
        table = screen.query_one("#mig-table")
        await until(pilot, lambda: table.row_count == len(SPECS), timeout=40, what="revision rows")
        # one row per revision (no connector row to select), each as high as its graph cell
        assert [str(k.value) for k in table.rows] == list(EXPECTED)
        assert [table.rows[k].height for k in table.rows] == [c.count("\n") + 1 for c in EXPECTED.values()]
        await until(pilot, lambda: len(_table_lines(table)) > len(SPECS), what="table painted")
        lines = _table_lines(table)
        graph = [line[1:7].rstrip() for line in lines[1:]]  # the graph column (cell padding 1), header skipped
        assert graph == "\n".join(EXPECTED.values()).splitlines(), lines
        # the revision id sits on its commit line; a connector line has nothing else on it
        for line in lines[1:]:
            rid = line[8:16]
            assert (rid in EXPECTED) == (line[1] in "*|" and "*" in line[1:7]), line
            if "*" not in line[1:7]:
                assert not line[7:].strip(), line
        # keyboard: down/up step revision by revision, over the connector lines; the detail follows
        table.focus()
        table.move_cursor(row=0)
        seen = []
        for _ in range(len(SPECS) - 1):
            await pilot.press("down")
            await until(pilot, lambda: screen.selected() != (seen[-1] if seen else "main0012"), what="cursor moved")
            seen.append(screen.selected())
        assert seen == list(EXPECTED)[1:]
        await until(pilot, lambda: "base0001" in str(screen.query_one("#mig-detail").render()), what="detail")
        for expected in ("users002", "tags0004"):
            await pilot.press("up")
            await until(pilot, lambda: screen.selected() == expected, what=f"up to {expected}")
        await pilot.press("ctrl+home")
        await until(pilot, lambda: screen.selected() == "main0012", what="ctrl+home")
        await pilot.press("ctrl+end")
        await until(pilot, lambda: screen.selected() == "base0001", what="ctrl+end")
        await pilot.press("pageup")
        await until(pilot, lambda: screen.selected() in EXPECTED and screen.selected() != "base0001", what="pageup")
