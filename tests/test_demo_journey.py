"""The `flytui --demo` journey end to end, as a user walks it, in ONE Pilot test (issue 7).

Doctor flags DATABASE_URL → one-key fix (stdin) → deploy (stages, probe 200, database ok) → logs → migrations
(upgrade head, -1, +1) → machine stop/start → destroy app and database (typed names) → no process left.
Every step asserts a real outcome: sandbox state, HTTP answers, tables in the real PostgreSQL, /proc.
"""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from flytui import doctor as d
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import Demo
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.confirm import ConfirmScreen
from tests.helpers.wait import until

README = Path(__file__).resolve().parents[1] / "README.md"


def screen_name(app: FlytuiApp) -> str:
    return type(app.screen).__name__


def pids_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmd:
            pids.append(int(entry.name))
    return pids


def sql(demo: Demo, query: str) -> list[tuple[Any, ...]]:
    """Query the demo database directly on the backing PostgreSQL (not through flytui)."""
    import psycopg

    assert demo.pg is not None
    with psycopg.connect(demo.pg.dsn("flytui_demo")) as conn:
        return list(conn.execute(query).fetchall())


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the local sandbox app
        return resp.status, json.loads(resp.read())


async def confirm(pilot: Any, typed: str | None = None) -> str:
    """Answer the one confirm dialog (typing the name when asked); returns the argv it showed."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm dialog")
    dialog = app.screen
    await until(pilot, lambda: dialog.query("#confirm-argv"), "dialog body")
    argv = str(dialog.query_one("#confirm-argv").render())
    if typed:
        await pilot.press(*typed, "enter")
    else:
        await pilot.press("y")
    await until(pilot, lambda: app.screen is not dialog, "dialog closed")
    return argv


async def test_demo_journey_end_to_end(monkeypatch: Any) -> None:
    # no wall-time assertion: tests assert behaviour (a hang is caught by pytest-timeout); bench/ measures time
    demo = Demo(speed=50).start()
    ws = demo.workspace
    sandbox = demo.sandbox
    assert sandbox is not None and demo.database_url
    password = demo.database_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    try:
        # as `flytui --demo` does: the URL `fly postgres attach` printed, copied by the user
        monkeypatch.setenv("FLYTUI_DATABASE_URL", demo.database_url)
        runner = FlyctlRunner(demo.flyctl, env=demo.env, cwd=str(demo.project_dir))
        app = FlytuiApp(Config(refresh_interval=600), FlyClient(runner), current_app=demo.app,
                        project_dir=demo.project_dir)
        async with app.run_test(size=(160, 45)) as pilot:
            # 1. doctor flags the URL (masked), one-key fix through stdin, re-run shows it OK
            await pilot.press("H")
            await until(pilot, lambda: screen_name(app) == "DoctorScreen", "doctor")
            doc = app.screen
            await until(pilot, lambda: doc.report is not None and not doc.running, "doctor run")
            check = doc.checks["database_url"]
            assert check.status == d.FAIL and check.fix_action == d.FIX_DATABASE_URL
            doc.select("database_url")
            await pilot.pause()
            shown = str(doc.query_one("#doctor-detail").render())
            assert "postgres://flytui_demo:***@flytui-demo-db.flycast" in shown and password not in shown
            run = doc._run
            await pilot.press("f")
            await until(pilot, lambda: screen_name(app) == "DatabaseUrlScreen", "DATABASE_URL screen")
            dburl = app.screen
            assert dburl.query_one("#dburl-input").value == demo.database_url
            assert dburl.query_one("#dburl-input").password
            result = str(dburl.query_one("#dburl-result").render()) + "\n" + dburl.diff_text()
            assert "+ postgresql+psycopg://flytui_demo:***@" in result and password not in result
            assert app.focused is dburl.query_one("#dburl-fix")  # prefilled: enter applies the fix
            await pilot.press("enter")
            await until(pilot, lambda: doc._run > run and not doc.running and app.screen is doc, "doctor re-run")
            assert doc.checks["database_url"].status == d.OK
            fixed = app.database_url
            assert fixed and fixed.startswith("postgresql+psycopg://flytui_demo:") and password in fixed
            secret = sandbox.read()["apps"][demo.app]["secrets"]["DATABASE_URL"]
            assert secret["value"] == fixed
            await pilot.press("escape")

            # 2. deploy: stages, the Visit URL answers 200 and / reports the database ok
            await pilot.press("d")
            await until(pilot, lambda: screen_name(app) == "DeployScreen", "deploy screen")
            dep = app.screen
            await pilot.press("d")  # d again starts it
            await until(pilot, lambda: dep.probe_results, "deploy + probe", timeout=60)
            tracker = dep.tracker
            assert tracker is not None and tracker.failure is None and tracker.url
            assert "→ 200" in dep.probe_results[0], dep.probe_results
            status, body = get_json(tracker.url)
            assert status == 200 and body["database"] == "ok" and body["app"] == demo.app
            await pilot.press("escape")
            await until(pilot, lambda: screen_name(app) == "MainScreen", "back from deploy")

            # 3. logs: the app's real output (uvicorn's access line for the probe)
            await pilot.press("l")
            await until(pilot, lambda: screen_name(app) == "LogsScreen", "logs screen")
            logs = app.screen
            await until(pilot, lambda: logs.buffer is not None
                        and any("GET / " in r.message for r in logs.buffer), "app output in the logs")
            await pilot.press("escape")
            await until(pilot, lambda: screen_name(app) == "MainScreen", "back from logs")

            # 4. migrations: the known (fixed) URL is offered; upgrade head, -1, +1
            await pilot.press("M")
            await until(pilot, lambda: screen_name(app) == "MigrationsScreen", "migrations screen")
            mig = app.screen
            await until(pilot, lambda: mig.snapshot is not None, "history")
            header = str(mig.query_one("#mig-header").render())
            assert "DATABASE_URL flytui knows" in header and password not in header
            await pilot.press("c")
            assert mig.query_one("#mig-input").value == fixed and mig.query_one("#mig-input").password
            await pilot.press("enter")
            await until(pilot, lambda: mig.snapshot is not None and mig.snapshot.current is not None, "connected")

            async def migrate(key: str) -> None:
                mig.last_summary = None
                await pilot.press(key)
                argv = await confirm(pilot)
                assert password not in argv
                await until(pilot, lambda: mig.last_summary is not None and not mig.running, f"alembic ({key})",
                            timeout=60)
                assert not isinstance(mig.last_summary, BaseException), mig.last_summary

            await migrate("U")
            tables = {r[0] for r in sql(demo, "select tablename from pg_tables where schemaname = 'public'")}
            assert {"user", "todo", "alembic_version"} <= tables
            assert sql(demo, "select version_num from alembic_version") == [("0002_todo",)]
            await migrate("b")
            assert sql(demo, "select version_num from alembic_version") == [("0001_user",)]
            assert "todo" not in {r[0] for r in sql(demo, "select tablename from pg_tables")}
            await migrate("u")
            assert sql(demo, "select version_num from alembic_version") == [("0002_todo",)]
            await pilot.press("escape")
            await until(pilot, lambda: screen_name(app) == "MainScreen", "back from migrations")

            # 5. machines: stop and start, the state follows
            await pilot.press("2")
            machines = app.main.query_one("#machines")
            await until(pilot, lambda: machines.table.rows_data, "machine rows")
            mid = next(iter(machines.table.rows_data))

            def machine_state() -> str:
                return next(m["state"] for m in sandbox.read()["apps"][demo.app]["machines"] if m["id"] == mid)

            def row_state() -> str:
                return str(machines.table.rows_data[mid]["state"])

            machines.table.focus()
            await pilot.press("t")
            await confirm(pilot)
            await until(pilot, lambda: machine_state() == "stopped" and "stopped" in row_state(), "stopped")
            await pilot.press("s")
            await confirm(pilot)
            await until(pilot, lambda: machine_state() == "started" and "started" in row_state(), "started")

            # 6. destroy the app and the database app (typed names)
            await pilot.press("1")
            apps = app.main.query_one("#apps")
            await until(pilot, lambda: {demo.app, demo.db_app} <= set(apps.table.rows_data), "app rows")
            for name in (demo.app, demo.db_app):
                apps.table.focus()
                apps.table.move_cursor(row=apps.table.get_row_index(name))
                await pilot.pause()
                assert apps.table.selected_key == name
                argv = await confirm_destroy(pilot, name)
                assert f"apps destroy {name} --yes" in argv
                await until(pilot, lambda: name not in sandbox.read()["apps"], f"{name} destroyed")
                await until(pilot, lambda: name not in apps.table.rows_data, f"{name} row gone")
            await pilot.press("q")
        # secrets: set through stdin only, never in any argv; never on disk in the workspace
        entries = sandbox.argv_log_entries()
        imports = [e for e in entries if e["argv"][:2] == ["secrets", "import"]]
        assert imports and imports[-1]["stdin_len"] > len(password)
        assert not any(password in " ".join(e["argv"]) for e in entries)
    finally:
        demo.close()
    assert not ws.exists()
    assert pids_mentioning(str(ws)) == []


async def confirm_destroy(pilot: Any, name: str) -> str:
    await pilot.press("ctrl+d")
    return await confirm(pilot, typed=name)


def test_readme_keys_block_is_the_generated_registry_table() -> None:
    """README's keys section is exactly `python -m flytui.ui.commands --markdown` (regenerate it when this fails)."""
    import subprocess
    import sys

    from flytui.ui import commands

    text = README.read_text(encoding="utf-8")
    begin = text.index("<!-- keys:begin")
    block = text[text.index("\n", begin) + 1: text.index("<!-- keys:end -->")]
    printed = subprocess.run([sys.executable, "-m", "flytui.ui.commands", "--markdown"], capture_output=True,
                             text=True, check=True, timeout=60).stdout
    assert printed == commands.markdown_keys()
    assert block == printed, "README keys table is stale: run python -m flytui.ui.commands --markdown"
    for cmd in commands.COMMANDS:  # every command is listed with its key
        assert f"`:{cmd.id}`" in block and (not cmd.key or f"`{commands.key_label(cmd.key)}`" in block)


def test_readme_screenshots_exist_and_show_no_secret() -> None:
    """Every SVG the README shows exists (generated by screenshots/generate.py) and has no unmasked DB URL."""
    import re

    text = README.read_text(encoding="utf-8")
    refs = set(re.findall(r"\(screenshots/([\w-]+\.svg)\)", text))
    assert "machines.svg" in refs and len(refs) >= 13
    unmasked = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^:\s/]+:(?!\*\*\*@)[^@\s]+@")
    for name in refs:
        svg = (README.parent / "screenshots" / name).read_text(encoding="utf-8")
        assert svg.startswith("<svg") and not unmasked.search(svg), name
