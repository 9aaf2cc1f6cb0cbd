"""fly.toml editor screen: view, edit, live validation, diff confirm, atomic save (Pilot, real files)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.flytoml import FlyToml
from flytui.fly.models import VersionInfo, WhoAmI
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import copy_demo_project
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.confirm import ConfirmScreen
from flytui.ui.screens.flytoml import FlyTomlScreen, diff_markup
from tests.helpers.wait import until as wait_until

APP = "toml-demo"


class QuietClient(FlyClient):
    """Just enough of FlyClient for the shell around the editor (the editor itself never calls flyctl)."""

    def __init__(self) -> None:
        super().__init__(FlyctlRunner("/nonexistent/flyctl"))

    async def version(self) -> VersionInfo:
        return VersionInfo(name="flyctl", version="0.3.200")

    async def whoami(self) -> WhoAmI:
        return WhoAmI(email="demo@example.com")

    async def apps(self, org: str | None = None) -> list[Any]:
        return []

    async def machines(self, app: str) -> list[Any]:
        return []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo_project(tmp_path / "proj", APP)


def make(project: Path | None, **config: Any) -> FlytuiApp:
    return FlytuiApp(Config(refresh_interval=600, **config), QuietClient(), project_dir=project)


def notes(app: FlytuiApp) -> list[str]:
    return [n.message for n in app._notifications]


def plain(widget: Any) -> str:
    return str(widget.render())


async def open_editor(pilot: Any, app: FlytuiApp) -> FlyTomlScreen:
    """Open the editor through ``:`` mode, once the shell has finished starting."""
    assert await wait_until(pilot, lambda: app.focused is not None)
    await wait_until(pilot, lambda: any(p.active for p in app.main.query(".pane")), what="the first pane")
    await pilot.press("colon", *"flytoml", "enter")
    assert await wait_until(pilot, lambda: isinstance(app.screen, FlyTomlScreen)), notes(app)
    return app.screen  # type: ignore[return-value]


async def type_at(pilot: Any, screen: FlyTomlScreen, location: tuple[int, int], text: str) -> None:
    screen.text_area.move_cursor(location)
    keys = ["enter" if ch == "\n" else "space" if ch == " " else ch for ch in text]
    await pilot.press(*keys)


async def test_view_is_highlighted_read_only_and_valid(project: Path) -> None:
    app = make(project)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_editor(pilot, app)
        area = screen.text_area
        assert area.text == (project / "fly.toml").read_text()
        assert area.read_only and area.language == "toml"
        assert "✓ valid fly.toml" in plain(screen.query_one("#flytoml-issues"))
        await pilot.press("x")  # typing does nothing while viewing
        assert area.text == (project / "fly.toml").read_text()
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: not isinstance(app.screen, FlyTomlScreen))


async def test_edit_save_keeps_comments_and_writes_atomically(project: Path) -> None:
    toml = project / "fly.toml"
    toml.chmod(0o640)
    before = toml.read_text()
    inode = toml.stat().st_ino
    app = make(project)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_editor(pilot, app)
        await pilot.press("e")
        assert not screen.text_area.read_only
        row = before.splitlines().index("  min_machines_running = 0")
        await type_at(pilot, screen, (row, len("  min_machines_running = ")), "1")
        assert "unsaved changes" in plain(screen.query_one("#flytoml-title"))
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        diff = plain(app.screen.query_one("#confirm-body"))
        assert "-  min_machines_running = 0" in diff and "+  min_machines_running = 10" in diff
        assert str(toml) in plain(app.screen.query_one("#confirm-target"))
        assert toml.read_text() == before
        await pilot.press("y")
        assert await wait_until(pilot, lambda: toml.read_text() != before)
        assert await wait_until(pilot, lambda: screen.text_area.read_only and not screen.dirty)
    after = toml.read_text()
    assert after == before.replace("  min_machines_running = 0\n", "  min_machines_running = 10\n")
    assert after.startswith("# fly.toml app configuration file generated for toml-demo")  # comments kept
    assert FlyToml.parse(after).get("http_service.min_machines_running") == 10
    st = toml.stat()
    assert st.st_ino != inode and (st.st_mode & 0o777) == 0o640  # replaced by rename, mode kept
    assert [p.name for p in project.iterdir() if p.name.startswith(".fly.toml.")] == []  # no temp file left


async def test_invalid_toml_cannot_be_saved(project: Path) -> None:
    toml = project / "fly.toml"
    before = toml.read_text()
    app = make(project)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_editor(pilot, app)
        await pilot.press("e")
        row = before.splitlines().index("[build]")
        await type_at(pilot, screen, (row, len("[build")), "x = ")  # "[buildx = ]": broken table header
        issues = plain(screen.query_one("#flytoml-issues"))
        assert "✗" in issues and "TOML syntax error" in issues and f"line {row + 1}" in issues
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("not saved" in n for n in notes(app)), what="the save refused")
        assert isinstance(app.screen, FlyTomlScreen)  # no diff dialog
        msg = [n for n in notes(app) if "not saved" in n]
        assert msg and f"line {row + 1}" in msg[0]
    assert toml.read_text() == before


async def test_invalid_value_cannot_be_saved(project: Path) -> None:
    toml = project / "fly.toml"
    before = toml.read_text()
    app = make(project)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_editor(pilot, app)
        await pilot.press("e")
        row = before.splitlines().index("primary_region = 'nrt'")
        await type_at(pilot, screen, (row, len("primary_region = 'nrt")), "x")
        assert "primary_region: 'nrtx' is not a region code" in plain(screen.query_one("#flytoml-issues"))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("primary_region" in n and "not saved" in n for n in notes(app)),
                         what="the save refused")
        assert isinstance(app.screen, FlyTomlScreen)
    assert toml.read_text() == before


async def test_cancel_keeps_the_file_and_escape_warns_before_discarding(project: Path) -> None:
    toml = project / "fly.toml"
    before = toml.read_text()
    app = make(project)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_editor(pilot, app)
        await pilot.press("e")
        await type_at(pilot, screen, (len(before.splitlines()), 0), "\n[env]\n  LOG_LEVEL = 'debug'\n")
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # cancel the dialog
        assert await wait_until(pilot, lambda: app.screen is screen)
        await pilot.press("escape")  # leave edit mode
        assert screen.text_area.read_only and screen.dirty
        await pilot.press("escape")  # warns
        assert app.screen is screen and any("Unsaved changes" in n for n in notes(app))
        await pilot.press("escape")  # discards
        assert await wait_until(pilot, lambda: not isinstance(app.screen, FlyTomlScreen))
    assert toml.read_text() == before


async def test_proposed_change_opens_on_the_diff(project: Path) -> None:
    toml = project / "fly.toml"
    before = toml.read_bytes()
    proposed = FlyToml.load(project).with_value("deploy.release_command", "alembic upgrade head")
    app = make(project)
    results: list[bool | None] = []
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        app.push_screen(FlyTomlScreen(project, proposed=proposed, reason="Run migrations on deploy"), results.append)
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen)
                                and bool(app.screen.query("#confirm-body")))  # composed, not just pushed
        assert "Run migrations on deploy" in plain(app.screen.query_one("#confirm-note"))
        assert "+[deploy]" in plain(app.screen.query_one("#confirm-body"))
        await pilot.click("#confirm-yes")
        assert await wait_until(pilot, lambda: results == [True])
    assert toml.read_bytes() == before + b'\n[deploy]\nrelease_command = "alembic upgrade head"\n'


async def test_read_only_mode_refuses_edit_and_save(project: Path) -> None:
    toml = project / "fly.toml"
    before = toml.read_text()
    proposed = FlyToml.load(project).with_value("http_service.internal_port", 9000)
    app = make(project, read_only=True)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_editor(pilot, app)
        await pilot.press("e")
        assert screen.text_area.read_only
        await pilot.press("escape")
        await pilot.pause()
        app.push_screen(FlyTomlScreen(project, proposed=proposed))
        # the refusal arrives after the screen mounted; a loaded machine may take a while
        await wait_until(pilot, lambda: sum("read-only mode" in n for n in notes(app)) >= 2, what="the refusal")
        assert isinstance(app.screen, FlyTomlScreen)  # no diff dialog: saving is refused
        assert sum("read-only mode" in n for n in notes(app)) == 2
    assert toml.read_text() == before


async def test_without_project_folder_the_command_says_why() -> None:
    app = make(None)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("T")
        await wait_until(pilot, lambda: any("project folder" in n for n in notes(app)), what="the reason")
        assert not isinstance(app.screen, FlyTomlScreen)


def test_diff_markup_colours_and_escapes() -> None:
    out = diff_markup("--- a/fly.toml\n+++ b/fly.toml\n@@ -1 +1 @@\n-app = 'a'\n+[deploy]\n x\n")
    assert "[$error]-app = 'a'[/]" in out and r"[$success]+\[deploy][/]" in out and "[$accent]@@" in out

