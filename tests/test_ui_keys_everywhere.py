"""The registry's "Everywhere" keys work on every screen, and view keys open their view from any screen
(issue 15). Walks ``flytui.ui.commands.COMMANDS`` (group ``global``) against every full screen of the real
``FlytuiApp`` with the sandbox flyctl (``flytui-sandbox-flyctl``).

A key that the screen binds itself keeps the screen's meaning (e.g. ``r`` is the region filter on the logs
screen); the command is then reached through ``:`` mode, which also works everywhere.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui import commands, navigation
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.command_line import CommandLineScreen
from flytui.ui.modals.confirm import ConfirmScreen
from flytui.ui.modals.help import HelpScreen
from flytui.ui.modals.picker import PickerScreen
from tests.helpers.wait import until

PROJECT = Path(__file__).parent / "fixtures" / "sandbox" / "project"
#: screen -> the view key that opens it from the main screen (registry: group "view")
SCREENS = {"main": None, "LogsScreen": "l", "DeployScreen": "d", "MigrationsScreen": "M", "DoctorScreen": "H",
           "FlyTomlScreen": "T"}


def make(sandbox: Any, project: Path) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env, grace=1.0))
    return FlytuiApp(Config(refresh_interval=60), client, current_app="web-app", project_dir=project)


def record_notes(app: FlytuiApp) -> list[str]:
    notes: list[str] = []
    orig = app.notify

    def notify(message: Any, *a: Any, **kw: Any) -> None:
        notes.append(str(message))
        orig(message, *a, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return notes


@pytest.fixture
def project(tmp_path: Path, sandbox: Any) -> Path:
    dst = tmp_path / "project"
    shutil.copytree(PROJECT, dst)
    sandbox.create_app("web-app")
    sandbox.create_app("other-app")
    return dst


def on(app: FlytuiApp, name: str) -> bool:
    return app.screen is app.main if name == "main" else type(app.screen).__name__ == name


async def open_screen(pilot: Any, app: FlytuiApp, name: str) -> None:
    if not on(app, name):
        await pilot.press(SCREENS[name] or "escape")
    await until(pilot, lambda: on(app, name), f"{name} open")
    await pilot.pause()


def shadowed(app: FlytuiApp, cmd: commands.Command) -> bool:
    """The screen (or its focused widget) binds ``cmd``'s key itself."""
    screen = app.screen
    if screen is app.main:
        return False
    key = commands.key_for(cmd)
    return any(key in ns._bindings.key_to_bindings for ns, _ in screen._binding_chain if ns is not app)


def spy_refresh(app: FlytuiApp) -> list[str]:
    """Record calls of what ``refresh`` should run on the current screen (instance attributes shadow methods)."""
    calls: list[str] = []
    target: Any = app.main.pane if app.screen is app.main else app.screen
    names = ["reload"] if app.screen is app.main else [f"action_{n}" for n in navigation.REFRESH_ACTIONS]
    for name in names:
        orig = getattr(target, name, None)
        if orig is not None:
            def spy(*a: Any, _orig: Any = orig, _name: str = name) -> Any:
                calls.append(_name)
                return _orig(*a)
            setattr(target, name, spy)
            break
    return calls


async def run(pilot: Any, app: FlytuiApp, cmd: commands.Command) -> None:
    if shadowed(app, cmd):
        app.run_command_id(cmd.id)  # what `:` mode and the palette do
    else:
        await pilot.press(commands.key_for(cmd))


@pytest.mark.parametrize("screen_name", list(SCREENS))
async def test_everywhere_keys_work_on_every_screen(sandbox: Any, project: Path, screen_name: str) -> None:
    app = make(sandbox, project)
    notes = record_notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: any(p.active for p in app.main.query(".pane")), "main screen")
        await pilot.press("1")  # load the apps (switch-app picks from them)
        await until(pilot, lambda: "other-app" in app.known_apps(), "apps loaded")
        await pilot.press("2")
        for cmd in commands.for_group(commands.GLOBAL):
            if cmd.id == "quit":
                continue
            await open_screen(pilot, app, screen_name)
            before = len(notes)
            refreshed = spy_refresh(app)
            await run(pilot, app, cmd)
            if cmd.id == "refresh":
                # the screen's own refresh (the pane's reload, reload, re-run) or a notice that it is live
                await until(pilot, lambda: refreshed or any("Nothing to refresh" in n for n in notes[before:]),
                            "refresh")
            elif cmd.id == "filter":
                if screen_name == "main":
                    await until(pilot, lambda: app.main.query_one("#filter").has_focus, "filter input")
                    await pilot.press("escape")
                else:
                    await until(pilot, lambda: len(notes) > before and "filter" in notes[-1], "filter notice")
            elif cmd.id == "command-mode":  # `:` then a command: it runs (here: the apps view)
                if screen_name == "main":
                    await until(pilot, lambda: app.main.query_one("#command").has_focus, ": input")
                else:
                    await until(pilot, lambda: isinstance(app.screen, CommandLineScreen), ": prompt")
                await pilot.press(*"apps", "enter")
                await until(pilot, lambda: app.screen is app.main and app.main.pane.id == "apps", ":apps ran")
                await pilot.press("2")
            elif cmd.id == "palette":
                await until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
                await pilot.press("escape")
            elif cmd.id in ("switch-app", "switch-org"):
                await until(pilot, lambda: isinstance(app.screen, PickerScreen), f"{cmd.id} picker")
                await pilot.press("escape")
            elif cmd.id == "help":
                await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
                await pilot.press("escape")
            elif cmd.id == "back":
                if screen_name == "main":
                    await until(pilot, lambda: len(notes) > before or app.main.pane.id != "machines", "back")
                else:
                    await until(pilot, lambda: app.screen is app.main, "back to the main screen")
            else:
                raise AssertionError(f"no check for the everywhere command {cmd.id}: add one")
            await until(pilot, lambda: not isinstance(app.screen, (CommandPalette, PickerScreen, HelpScreen)),
                        "dialog closed")
        # quit, last: from this screen the app ends
        await open_screen(pilot, app, screen_name)
        await pilot.press(commands.key_for(commands.get("quit")))
        await until(pilot, lambda: app._exit, "app quit")


@pytest.mark.parametrize("start,key,lands", [
    ("DoctorScreen", "d", "DeployScreen"),      # d on the doctor
    ("DeployScreen", "l", "LogsScreen"),        # l on deploy
    ("LogsScreen", "M", "MigrationsScreen"),    # M on logs
    ("MigrationsScreen", "2", "main"),          # 2 on migrations: the machines view
    ("FlyTomlScreen", "V", "main"),             # V: the releases view
])
async def test_view_keys_open_their_view_from_any_screen(sandbox: Any, project: Path, start: str, key: str,
                                                         lands: str) -> None:
    app = make(sandbox, project)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: any(p.active for p in app.main.query(".pane")), "main screen")
        await open_screen(pilot, app, start)
        await pilot.press(key)
        await until(pilot, lambda: on(app, lands), f"{key} from {start} opens {lands}")
        if lands == "main":
            want = {"2": "machines", "V": "releases"}[key]
            await until(pilot, lambda: app.main.pane.id == want, f"the {want} view")
        assert len(app.screen_stack) <= 3  # the screens that could be closed were closed, not stacked


async def test_view_key_says_why_not_while_a_deploy_runs(sandbox: Any, project: Path) -> None:
    app = make(sandbox, project)
    app.client.runner.env["FLYTUI_SANDBOX_SPEED"] = "0.3"  # slow deploy
    notes = record_notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: any(p.active for p in app.main.query(".pane")), "main screen")
        await open_screen(pilot, app, "DeployScreen")
        dep = app.screen
        await pilot.press("d")
        await until(pilot, lambda: dep.running, "deploy running")
        await pilot.press("3")  # the secrets view needs the main screen: refused, and said why
        await until(pilot, lambda: any("a deploy is running" in n for n in notes), "why not")
        assert app.screen is dep and dep.running
        await pilot.press("l")  # a screen view opens on top: the deploy goes on underneath
        await until(pilot, lambda: on(app, "LogsScreen"), "logs over the running deploy")
        assert dep.running and dep in app.screen_stack
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is dep, "back to the deploy")
        await pilot.press("q")  # quitting would kill the deploy: asked first, "Stay" keeps everything
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "quit asks")
        assert "a deploy is running" in app.screen.request.title and not app._exit
        await pilot.press("n")
        await until(pilot, lambda: app.screen is dep, "stayed")
        assert dep.running and not app._exit
        dep.cancel_now()
        await until(pilot, lambda: not dep.running, "deploy stopped")
