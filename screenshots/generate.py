"""Regenerate ``screenshots/*.svg`` from the demo: the real FlytuiApp on a ``Demo`` workspace, 140x40.

Run: ``python screenshots/generate.py`` (about a minute). It walks the demo journey (doctor, deploy, logs,
migrations upgrade head, ...) and saves one SVG per main screen. Every SVG is checked for secrets (the database
password, and any unmasked URL) before it is kept; a leak fails the run and deletes the file.
"""
from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
SIZE = (140, 40)
UNMASKED_URL = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^:\s/]+:(?!\*\*\*@)[^@\s]+@")


async def until(pilot: Any, cond: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what} (screen {pilot.app.screen!r})")
        await pilot.pause(0.05)


def name_of(app: Any) -> str:
    return type(app.screen).__name__


class Shooter:
    """Saves SVGs of the app and checks each one for secrets."""

    def __init__(self, app: Any, out: Path, secrets: list[str]) -> None:
        self.app, self.out, self.secrets = app, out, [s for s in secrets if s]
        self.saved: list[Path] = []

    async def shot(self, pilot: Any, name: str) -> Path:
        await pilot.pause(0.4)  # let workers' messages land and the screen repaint
        path = self.out / f"{name}.svg"
        self.app.save_screenshot(filename=path.name, path=str(self.out))
        text = path.read_text(encoding="utf-8")
        leaks = [s for s in self.secrets if s in text] + UNMASKED_URL.findall(text)
        if leaks:
            path.unlink()
            raise RuntimeError(f"{name}.svg would show a secret; not saved")
        self.saved.append(path)
        print(f"saved {path.relative_to(HERE.parent)}", file=sys.stderr)
        return path


async def confirm(pilot: Any, typed: str | None = None) -> None:
    from flytui.ui.modals.confirm import ConfirmScreen

    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#confirm-argv"),
                "confirm dialog")
    dialog = app.screen
    await pilot.press(*(list(typed) + ["enter"]) if typed else ["y"])
    await until(pilot, lambda: app.screen is not dialog, "dialog closed")


async def back_to_main(pilot: Any) -> None:
    await pilot.press("escape")
    await until(pilot, lambda: name_of(pilot.app) == "MainScreen", "main screen")


async def walk(demo: Any, out: Path) -> list[Path]:
    from flytui.fly.client import FlyClient
    from flytui.fly.runner import FlyctlRunner
    from flytui.ui.app import FlytuiApp
    from flytui.ui.config import Config

    password = demo.database_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    os.environ["FLYTUI_DATABASE_URL"] = demo.database_url
    runner = FlyctlRunner(demo.flyctl, env=demo.env, cwd=str(demo.project_dir))
    app = FlytuiApp(Config(refresh_interval=600), FlyClient(runner), current_app=demo.app,
                    project_dir=demo.project_dir)
    shooter = Shooter(app, out, [password, demo.database_url])
    async with app.run_test(size=SIZE) as pilot:
        # doctor: the DATABASE_URL check fails (masked), then the one-key fix
        await pilot.press("H")
        await until(pilot, lambda: name_of(app) == "DoctorScreen", "doctor")
        doc = app.screen
        await until(pilot, lambda: doc.report is not None and not doc.running, "doctor run")
        doc.select("database_url")
        await shooter.shot(pilot, "doctor")
        run = doc._run
        await pilot.press("f")
        await until(pilot, lambda: name_of(app) == "DatabaseUrlScreen", "DATABASE_URL screen")
        await shooter.shot(pilot, "dburl")
        await pilot.press("enter")
        await until(pilot, lambda: doc._run > run and not doc.running and app.screen is doc, "doctor re-run")
        await back_to_main(pilot)

        # deploy (finished, probed)
        await pilot.press("d")
        await until(pilot, lambda: name_of(app) == "DeployScreen", "deploy screen")
        dep = app.screen
        await shooter.shot(pilot, "deploy-form")
        await pilot.press("d")  # deploy-start: d again on the form
        await until(pilot, lambda: dep.probe_results, "deploy + probe", timeout=120)
        await shooter.shot(pilot, "deploy")
        await back_to_main(pilot)

        # logs
        await pilot.press("l")
        await until(pilot, lambda: name_of(app) == "LogsScreen", "logs")
        logs = app.screen
        await until(pilot, lambda: logs.buffer is not None and len(logs.buffer) >= 5, "log lines")
        await shooter.shot(pilot, "logs")
        await back_to_main(pilot)

        # migrations after upgrade head
        await pilot.press("M")
        await until(pilot, lambda: name_of(app) == "MigrationsScreen", "migrations")
        mig = app.screen
        await until(pilot, lambda: mig.snapshot is not None, "history")
        await pilot.press("c", "enter")
        await until(pilot, lambda: mig.snapshot is not None and mig.snapshot.current is not None, "connected")
        mig.last_summary = None
        await pilot.press("U")
        await confirm(pilot)
        await until(pilot, lambda: mig.last_summary is not None and not mig.running, "upgrade head", timeout=120)
        await until(pilot, lambda: mig.snapshot.current == mig.last_summary.heads_after, "refresh")
        await shooter.shot(pilot, "migrations")
        await back_to_main(pilot)

        # tunnels: a psql tunnel to the database app
        await pilot.press("P")
        await until(pilot, lambda: app.main.pane.id == "tunnels", "tunnels pane")
        await shooter.shot(pilot, "tunnels")

        # panes of the app
        for key, pane, name in (("2", "machines", "machines"), ("3", "secrets", "secrets"),
                                ("V", "releases", "releases"), ("at", "command-log", "command_log"),
                                ("1", "apps", "apps")):
            await pilot.press(key)
            await until(pilot, lambda: app.main.pane.id == pane, f"{pane} pane")
            table = getattr(app.main.pane, "table", None)
            if table is not None and hasattr(table, "rows_data"):
                await until(pilot, lambda: table.rows_data, f"{pane} rows", timeout=30)
            await shooter.shot(pilot, name)
        # volumes live on the database app
        app.select_app(demo.db_app)
        await pilot.press("4")
        await until(pilot, lambda: app.main.pane.id == "volumes", "volumes pane")
        await pilot.pause(1.0)
        await shooter.shot(pilot, "volumes")
        app.select_app(demo.app)
        await pilot.press("2")

        # fly.toml and help
        await pilot.press("T")
        await until(pilot, lambda: name_of(app) == "FlyTomlScreen", "fly.toml")
        await shooter.shot(pilot, "flytoml")
        await back_to_main(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: name_of(app) == "HelpScreen", "help")
        await shooter.shot(pilot, "help")
        await pilot.press("escape")
        await app.action_quit()
    return shooter.saved


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    from flytui.sandbox.demo import Demo

    demo = Demo(speed=20).start()
    try:
        saved = asyncio.run(walk(demo, HERE))
    finally:
        demo.close()
    print(f"{len(saved)} screenshots in {HERE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
