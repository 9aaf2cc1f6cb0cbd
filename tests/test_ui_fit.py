"""What a person reads at 80x24 and 140x40: the URL diff's markers beside their values, the empty-state line
under the table header, columns given by priority (flytui/ui/widgets/columns.py), labels apart from their values.

Every assertion reads the rendered screen (the compositor's lines), not a widget's data: these are layout bugs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal

from flytui import doctor as d
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import copy_demo_project
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.dburl import DatabaseUrlScreen
from flytui.ui.screens.doctor import DoctorScreen
from flytui.ui.modals.help import HelpScreen
from flytui.ui.widgets.columns import fit_widths
from flytui.ui.widgets.plain import PlainDataTable
from tests.helpers.settle import settle
from tests.helpers.wait import until

SIZES = {"80x24": (80, 24), "140x40": (140, 40)}
PASSWORD = "Zq9secretPW41"
# the shape `fly postgres attach` writes (flyctl internal/command/postgres/attach.go @ ad0172f: postgres://)
ATTACH_URL = f"postgres://flytui_demo:{PASSWORD}@flytui-demo-db.flycast:5432/flytui_demo?sslmode=disable"


def lines(app: App[Any]) -> list[str]:
    """The screen as the terminal shows it, one string per row."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def inner(line: str) -> str:
    """A dialog line without its border and padding."""
    return line.strip().strip("█▌▐▊▎│").strip()


# --- 1. the DATABASE_URL fix: marker column + value column ------------------------------------------------------
class DburlApp(App[None]):
    read_only = False

    def on_mount(self) -> None:
        self.push_screen(DatabaseUrlScreen("flytui-demo", ATTACH_URL))


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_dburl_diff_markers_sit_beside_their_wrapped_values(size: str) -> None:
    app = DburlApp()
    async with app.run_test(size=SIZES[size]) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, DatabaseUrlScreen) and bool(app.screen.diff_text()),
                     what="the URL diff")
        shown = lines(app)
        assert not any(PASSWORD in line for line in shown)  # masked, as before
        rows = [inner(line) for line in shown]
        assert not [r for r in rows if r in ("-", "+")], "\n".join(shown)  # a marker alone on its line
        old = next(i for i, r in enumerate(rows) if r.startswith("- postgres://flytui_demo:***@"))
        new = next(i for i, r in enumerate(rows) if r.startswith("+ postgresql+psycopg://flytui_demo:***@"))
        # wrapped parts of the value continue in the value column, after the marker column
        value_x = shown[old].index("postgres://")
        joined = "".join(line[value_x:].rstrip(" █▌▐▊▎│▃▄▅▆▇") for line in shown[old:new])
        assert joined == "postgres://flytui_demo:***@flytui-demo-db.flycast:5432/flytui_demo?sslmode=disable"
        for line in shown[old + 1:new]:
            assert not line[:value_x].strip(" █▌▐▊▎│"), line  # nothing in the marker column
        assert app.screen.diff_text().splitlines() == [
            "- postgres://flytui_demo:***@flytui-demo-db.flycast:5432/flytui_demo?sslmode=disable",
            "+ postgresql+psycopg://flytui_demo:***@flytui-demo-db.flycast:5432/flytui_demo?sslmode=disable"]


# --- 2. the empty-state line sits under the header ----------------------------------------------------------------
def make(sandbox: Any, **kw: Any) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    return FlytuiApp(Config(refresh_interval=0), client, **kw)


async def test_empty_state_line_sits_right_under_the_table_header(sandbox) -> None:
    sandbox.create_app("empty")
    app = make(sandbox, current_app="empty")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.main.query_one("#machines")
        await settle(pilot, lambda: pane.loads >= 1 and pane.query_one(".empty-state").display,
                     what="the empty machines pane")
        shown = lines(app)
        header = next(i for i, line in enumerate(shown) if line.strip().startswith("ID"))
        empty = next(i for i, line in enumerate(shown) if "No machines in empty." in line)
        assert empty - header <= 2, "\n".join(shown)  # one blank line of padding at most


# --- 3. columns by priority ---------------------------------------------------------------------------------------
def test_fit_widths_gives_way_least_important_first() -> None:
    naturals, mins, prio = [14, 14, 40, 16], [6, 6, 6, 6], [0, -1, -2, -3]
    assert fit_widths(naturals, mins, prio, 200, 2) == naturals  # everything fits: natural widths
    assert fit_widths(naturals, mins, prio, 60, 2) == [14, 14, 26, 0]  # the last dropped, the image shrunk
    assert fit_widths(naturals, mins, prio, 40, 2) == [14, 14, 6, 0]
    assert fit_widths([50], [6], [0], 40, 2) == [38]  # the most important column is never dropped
    # an elastic (wrapping) column shrinks before any other gives way
    assert fit_widths([6, 20, 100], [6, 7, 30], [100, 90, 80], 80, 2, [False, False, True]) == [6, 20, 48]


class MigrationsLikeApp(App[None]):
    """The migrations screen's table at its share of the width (3fr of 5fr, flytui/ui/screens/migrations.tcss)."""

    CSS = "#t { width: 3fr; } #side { width: 2fr; }"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield PlainDataTable(id="t")
            yield PlainDataTable(id="side")


async def test_a_cell_updated_to_a_longer_value_is_shown_whole_at_80_columns() -> None:
    app = MigrationsLikeApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#t", PlainDataTable)
        for key in ("graph", "id", "state", "message", "file"):  # flytui/ui/screens/migrations.py on_mount
            table.add_column(key, key=key)
        table.add_row("*", "0002_todo", "not connected", "create todo table",
                      "migrations/versions/0002_todo_create_todo_table.py", key="0002_todo")
        await settle(pilot, lambda: table.row_count == 1, what="the row")
        table.update_cell("0002_todo", "state", "current · head")  # after connecting
        await settle(pilot, lambda: "current · head" in "".join(lines(app)), what="the updated state shown",
                     timeout=10)
        row = next(line for line in lines(app) if "0002_todo" in line)
        assert "current · head" in row and "current · hea " not in row
        assert table.virtual_size.width <= table.size.width  # no horizontal scrolling: columns gave way instead


def seed_machines(sandbox: Any) -> None:
    sandbox.create_app("api", deployed=True)
    for state, region in (("started", "nrt"), ("stopped", "iad")):
        sandbox.add_machine("api", state=state, region=region,
                            image="registry.fly.io/api:deployment-01JFIXEDIMAGEREFERENCE0000")
    with sandbox.transaction() as st:
        for i, m in enumerate(st["apps"]["api"]["machines"]):
            m["id"] = f"e28{i}6e3fa{i}0987"
            m["name"] = ("bold-river-1234", "quiet-sun-5678")[i]
            m["updated_at"] = "2026-01-05T10:20:30Z"


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_machines_columns_by_priority(sandbox, size: str) -> None:
    seed_machines(sandbox)
    app = make(sandbox, current_app="api")
    async with app.run_test(size=SIZES[size]) as pilot:
        pane = app.main.query_one("#machines")
        await settle(pilot, lambda: len(pane.table.rows_data) == 2 and not app.main.query_one("#ops").ops,
                     what="the machines")
        shown = lines(app)
        header = next(line for line in shown if " ID " in line and "STATE" in line)
        row = next(line for line in shown if "e2806e3fa00987" in line)
        for whole in ("e2806e3fa00987", "bold-river-1234", "started", "nrt"):  # the important columns, whole
            assert whole in row, row
        assert pane.table.virtual_size.width <= pane.table.size.width
        if size == "140x40":  # room for every column but the image: SIZE and UPDATED whole
            size_cell = pane.table.rows_data["e2806e3fa00987"]["size"]
            updated = pane.table.rows_data["e2806e3fa00987"]["updated"]
            assert "SIZE" in header and "UPDATED" in header, header
            assert str(size_cell) in row and str(updated) in row, row
            assert "…" in row  # the image gave way, with an ellipsis


class HelpApp(App[None]):
    config = Config()

    def on_mount(self) -> None:
        self.push_screen(HelpScreen())


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_help_descriptions_are_whole(size: str) -> None:
    from flytui.ui import commands

    app = HelpApp()
    async with app.run_test(size=SIZES[size]) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        shown = " ".join(" ".join(line.strip(" █▌▐▊▎│▃▄▅▆▇").split()) for line in lines(app))
        clusters = commands.COMMANDS[[c.id for c in commands.COMMANDS].index("clusters")]
        words = clusters.help.split()
        # the description wraps in its column: its words come in order, none cut
        at = shown.index(":clusters")
        pos = at
        for word in words:
            pos = shown.index(word, pos)
        assert "…" not in shown[at:pos]


# --- 4. labels apart from their values ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", sorted(SIZES))
async def test_doctor_and_migrations_labels_stand_apart(sandbox, tmp_path: Path, size: str) -> None:
    app_name = "doctor-ui"
    project = copy_demo_project(tmp_path / "proj", app_name)
    sandbox.create_app(app_name)
    sandbox.set_secret(app_name, "DATABASE_URL", ATTACH_URL)
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    app = FlytuiApp(Config(refresh_interval=600), client, current_app=app_name, project_dir=project)
    app.database_url = ATTACH_URL  # known (as the demo knows it): the doctor judges it (flytui/ui/app.py)
    async with app.run_test(size=SIZES[size]) as pilot:
        await pilot.press("H")
        await until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="the doctor")
        doc = app.screen
        await until(pilot, lambda: doc.report is not None and not doc.running, what="a complete run")
        assert doc.checks["database_url"].status == d.FAIL
        doc.select("database_url")
        await settle(pilot, lambda: "Why it matters" in "".join(lines(app)), what="the detail")
        text = "\n".join(lines(app))
        assert "Why it matters  `fly postgres attach`" in text, text
        assert "Fix  Rewrite it" in text, text
        assert "Why it matters`" not in text and "FixRewrite" not in text
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, what="back to the main screen")
        await pilot.press("M")
        await until(pilot, lambda: type(app.screen).__name__ == "MigrationsScreen", what="migrations")
        mig = app.screen
        await settle(pilot, lambda: mig.snapshot is not None and "0002_todo" in "".join(lines(app)),
                     what="the history", workers_idle=False)
        mig.query_one("#mig-table", PlainDataTable).move_cursor(row=0)
        await settle(pilot, lambda: "create todo table" in str(mig.query_one("#mig-detail").render()),
                     what="the detail of 0002_todo", workers_idle=False)
        text = "\n".join(lines(app))
        assert "0002_todo  create todo" in text and "0002_todocreate" not in text, text
        header = str(mig.query_one("#mig-header").render())
        header_rows = mig.query_one("#mig-header").size.height
        assert header_rows >= len(header.splitlines())  # the header is not cut
        assert "local alembic" in text, text  # its last part is on screen


async def test_confirm_body_scrolls_inside_a_box_that_fits_80x24() -> None:
    """A long body (a migration plan, a fly.toml diff) scrolls in what 24 rows leave: the title, the command, the
    buttons and the key line stay in view, the box itself never needs scrolling."""
    from textual.app import App

    from flytui.ui.modals.confirm import ConfirmRequest, ConfirmScreen
    from tests.registry_app import STYLESHEET

    class Host(App[None]):
        CSS_PATH = STYLESHEET

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        request = ConfirmRequest("Upgrade head?", ["db"], body="\n".join(f"line {i}" for i in range(60)),
                                 argvs=[["alembic", "-c", "/tmp/" + "p" * 70 + "/alembic.ini", "upgrade", "head"]])
        screen = ConfirmScreen(request)
        app.push_screen(screen)
        await until(pilot, lambda: bool(screen.query("#confirm-body-scroll"))
                    and screen.query_one("#confirm-body-scroll").styles.max_height is not None, what="body fitted")
        await pilot.pause()
        box, body = screen.query_one("#confirm-box"), screen.query_one("#confirm-body-scroll")
        assert box.max_scroll_y == 0, (box.virtual_size, box.size)
        assert 3 <= body.outer_size.height < 24 and body.max_scroll_y > 0
