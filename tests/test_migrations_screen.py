"""The migrations pane (Pilot) with the sandbox flyctl and real PostgreSQL behind its `fly proxy`."""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from flytui.db.tunnel import TunnelManager
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.confirm import ConfirmScreen
from flytui.ui.screens.migrations import MigrationsScreen
from tests.helpers.revgen import RevSpec, table_chain, write_project
from tests.test_migrations_support import ALEMBIC, FAST_TUNNEL
from tests.test_migrations_support import demo_dir, fly_db  # noqa: F401 - fixtures
from tests.helpers.wait import until
from tests.test_migrations_support import sleeping
from tests.helpers.settle import settle


def make_app(runner: FlyctlRunner, project: Path, app_name: str | None, read_only: bool = False) -> FlytuiApp:
    app = FlytuiApp(Config(read_only=read_only), FlyClient(runner), runner=runner, current_app=app_name,
                    project_dir=project)
    app._tunnels = TunnelManager(runner, idle_timeout=0.2, **FAST_TUNNEL)  # app.tunnels, with fast reconnects
    return app


async def open_screen(app: FlytuiApp, pilot: Any, monkeypatch: Any) -> MigrationsScreen:
    monkeypatch.setenv("FLYTUI_ALEMBIC", " ".join(ALEMBIC))
    app.action_open_migrations()
    await until(pilot, lambda: isinstance(app.screen, MigrationsScreen), what="migrations screen")
    screen: MigrationsScreen = app.screen  # type: ignore[assignment]
    await until(pilot, lambda: screen.snapshot is not None, what="history")
    return screen


async def enter_url(pilot: Any, screen: MigrationsScreen, monkeypatch: Any, url: str) -> None:
    monkeypatch.setenv("MIG_TEST_URL", url)
    await pilot.press("c", *"$MIG_TEST_URL", "enter")
    await until(pilot, lambda: screen.snapshot is not None and screen.snapshot.current is not None, what="heads")


def state(screen: MigrationsScreen, rev: str) -> str:
    return str(screen.query_one("#mig-table").get_cell(rev, "state"))


async def run_key(pilot: Any, app: FlytuiApp, screen: MigrationsScreen, key: str) -> tuple[bool, str]:
    """Press an action key, check the confirm dialog, confirm, wait for the run's summary."""
    screen.last_summary = None
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm dialog")
    dialog: ConfirmScreen = app.screen  # type: ignore[assignment]
    await until(pilot, lambda: dialog.query("#confirm-body"), what="dialog body")
    body = dialog.request.body
    danger = "danger" in dialog.query_one("#confirm-box").classes
    argv = str(dialog.query_one("#confirm-argv").render())
    assert "postgres://" not in argv and "DATABASE_URL=postgresql+psycopg://" in argv and ":***@" in argv
    await pilot.press("y")
    await until(pilot, lambda: screen.last_summary is not None, what="run summary")
    await until(pilot, lambda: not screen.running and screen.snapshot.current == screen.last_summary.heads_after
                if not isinstance(screen.last_summary, BaseException) else True, what="refresh")
    return danger, body


async def test_demo_head_down_up_in_the_pane(fly_db, demo_dir: Path, pg_server, monkeypatch) -> None:
    app = make_app(fly_db.runner, demo_dir, fly_db.web)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_screen(app, pilot, monkeypatch)
        table = screen.query_one("#mig-table")
        assert [str(k.value) for k in table.rows] == ["0002_todo", "0001_user"]
        await enter_url(pilot, screen, monkeypatch, fly_db.url)
        header = str(screen.query_one("#mig-header").render())
        assert f"db app {fly_db.pg_app}" in header and "tunnel up" in header and ":***@" in header
        assert "history: alembic" in header
        assert state(screen, "0001_user") == "pending" and state(screen, "0002_todo") == "pending · head"

        danger, body = await run_key(pilot, app, screen, "U")
        assert "Will run 2 revision(s)" in body and "CREATE TABLE todo" in body
        assert not danger
        assert screen.last_summary.ok and fly_db.heads(pg_server) == ("0002_todo",)
        assert state(screen, "0002_todo") == "current · head" and state(screen, "0001_user") == "applied"
        log_text = "\n".join(screen.query_one("#mig-log").lines)
        assert "Running upgrade 0001_user -> 0002_todo, create todo table" in log_text
        assert "step 2/2: upgrade 0001_user → 0002_todo" in screen.progress_text

        danger, body = await run_key(pilot, app, screen, "b")
        assert danger and "DROP TABLE todo" in body
        assert fly_db.heads(pg_server) == ("0001_user",) and state(screen, "0001_user") == "current"

        await run_key(pilot, app, screen, "u")
        assert fly_db.heads(pg_server) == ("0002_todo",) and "todo" in fly_db.tables(pg_server)

        table.move_cursor(row=1)
        await pilot.press("p")
        await until(pilot, lambda: "downgrade --sql" in str(screen.query_one("#mig-detail").render()), what="preview")
        detail = str(screen.query_one("#mig-detail").render())
        assert "upgrade --sql 0001_user" in detail and 'CREATE TABLE "user"' in detail
        assert "downgrade --sql 0001_user:base" in detail and 'DROP TABLE "user"' in detail
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, MigrationsScreen), what="close")


async def test_failure_and_dropped_tunnel_are_shown(fly_db, tmp_path: Path, pg_server, monkeypatch) -> None:
    proj = write_project(tmp_path / "p", table_chain(["k1", "k2", "k3"], fail_at="k3", sleep_at=("k2", 2.0)))
    app = make_app(fly_db.runner, proj, fly_db.web)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_screen(app, pilot, monkeypatch)
        await enter_url(pilot, screen, monkeypatch, fly_db.url)
        # 1) the tunnel is killed while k2 sleeps: the pane says so, the database stays at base
        screen.last_summary = None
        await pilot.press("U")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await until(pilot, lambda: "k1 → k2" in screen.progress_text, what="k2 running")
        await until(pilot, lambda: sleeping(fly_db, pg_server) > 0, what="k2's pg_sleep running")
        os.kill(screen.session.tunnel.pid, signal.SIGKILL)
        await until(pilot, lambda: screen.last_summary is not None, what="summary")
        progress = str(screen.query_one("#mig-progress").render())
        assert "tunnel dropped during upgrade head" in progress and "the database is at base" in progress
        await until(pilot, lambda: screen.snapshot.current == (), what="refresh")
        assert fly_db.heads(pg_server) == ()
        # 2) with the tunnel back, a failing revision: named in the progress line and the detail panel
        await until(pilot, lambda: screen.session.tunnel_state == "up", what="tunnel up")
        # the killed run's backend ends after pg_sleep
        await until(pilot, lambda: sleeping(fly_db, pg_server) == 0, what="the killed run's backend gone")
        await run_key(pilot, app, screen, "U")
        s = screen.last_summary
        assert not s.ok and s.result.failed_revision == "k3"
        progress = str(screen.query_one("#mig-progress").render())
        assert "failed in revision k3 (exit 1)" in progress and "RuntimeError: boom in k3" in progress
        assert "failed revision k3" in str(screen.query_one("#mig-detail").render())
        assert fly_db.heads(pg_server) == ()


async def test_read_only_static_fallback_and_multiple_heads(sandbox, tmp_path: Path, monkeypatch) -> None:
    specs = table_chain(["s1"]) + [RevSpec("s2a", "s1", "branch a"),
                                   RevSpec("s2b", "s1", "branch b", extra_imports=["import missing_mod_xyz"])]
    proj = write_project(tmp_path / "p", specs)
    runner = FlyctlRunner(sandbox.flyctl, env=sandbox.env, grace=1.0)
    app = make_app(runner, proj, None, read_only=True)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_screen(app, pilot, monkeypatch)
        header = str(screen.query_one("#mig-header").render())
        assert "history: static read" in header and "READ-ONLY" in header
        banner = screen.query_one("#mig-banner")
        assert banner.display and "Multiple heads: s2a, s2b" in str(banner.render())
        assert "upgrade heads" in str(banner.render()) and "merge heads" in str(banner.render())
        assert "branch point" in state(screen, "s1")
        await pilot.press("e")
        assert "ModuleNotFoundError" in str(screen.query_one("#mig-detail").render())
        for key in ("U", "u", "b", "S", "m"):
            await pilot.press(key)
            await settle(pilot, what=f"{key} handled")
            assert app.screen is screen, key  # refused: no dialog
        assert screen.session is not None and not screen.session.has_url


async def test_escape_during_a_run_asks_and_no_leaves_it_running(fly_db, tmp_path: Path, pg_server,
                                                                  monkeypatch) -> None:
    from flytui.fly.runner import live_groups

    proj = write_project(tmp_path / "p", table_chain(["w1", "w2"], sleep_at=("w2", 30.0)))
    app = make_app(fly_db.runner, proj, fly_db.web)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_screen(app, pilot, monkeypatch)
        await enter_url(pilot, screen, monkeypatch, fly_db.url)
        await pilot.press("U")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await until(pilot, lambda: "w1 → w2" in screen.progress_text, what="w2 running")
        # Esc asks first; "no" (Esc on the dialog) leaves the run going
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="stop question")
        await until(pilot, lambda: app.screen.query("#confirm-title"), what="the question's title")
        assert "Stop alembic upgrade head?" in str(app.screen.query_one("#confirm-title").render())
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back on the pane")
        assert screen.running and screen.last_summary is None
        assert any("alembic" in cmd for cmd in live_groups().values())
        # q asks too (stop and quit); "no" again leaves it running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="quit question")
        await until(pilot, lambda: app.screen.query("#confirm-title"), what="the question's title")
        assert "and quit flytui?" in str(app.screen.query_one("#confirm-title").render())
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back on the pane after q")
        assert screen.running and app.is_running
        # a confirmed stop kills the group and the pane shows the database's real revision
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="stop question again")
        await pilot.press("y")
        await until(pilot, lambda: screen.stop_text is not None, what="stopped")
        assert "upgrade head stopped by you (alembic killed); the database is at base" in screen.stop_text
        assert "the database is at base" in str(screen.query_one("#mig-progress").render())
        assert not screen.running and not any("alembic" in cmd for cmd in live_groups().values())
        assert fly_db.heads(pg_server) == ()
        assert app.screen is screen  # still on the pane; Esc now leaves it
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, MigrationsScreen), what="close")


async def test_several_projects_are_offered_and_settings_shown(sandbox, tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write_project(root / "backend", [RevSpec("a1", None, "api one")])
    write_project(root / "services" / "billing", [RevSpec("b1", None, "billing one")])
    (root / "pyproject.toml").write_text('[tool.flytui]\napp = "web"\n\n[tool.flytui.migrations]\nx = ["tenant=acme"]\n'
                                         'database_url = "env:APP_DB_URL"\n')
    runner = FlyctlRunner(sandbox.flyctl, env=sandbox.env, grace=1.0)
    app = make_app(runner, root, None)
    monkeypatch.setenv("FLYTUI_ALEMBIC", " ".join(ALEMBIC))
    async with app.run_test(size=(160, 50)) as pilot:
        app.action_open_migrations()
        await until(pilot, lambda: isinstance(app.screen, MigrationsScreen), what="migrations screen")
        screen: MigrationsScreen = app.screen  # type: ignore[assignment]
        await until(pilot, lambda: screen.prompt_mode == "project", what="project choice")
        detail = str(screen.query_one("#mig-detail").render())
        assert "1. backend/alembic.ini" in detail and "2. services/billing/alembic.ini" in detail
        await pilot.press("2", "enter")
        await until(pilot, lambda: screen.snapshot is not None, what="history")
        assert [str(k.value) for k in screen.query_one("#mig-table").rows] == ["b1"]
        assert screen.app_name == "web" and screen.session.x_args == ["tenant=acme"]
        header = str(screen.query_one("#mig-header").render())
        assert "pyproject.toml [tool.flytui]" in header and "URL via env:APP_DB_URL" in header
        assert "-x tenant=acme" in header and "alembic: " in header


async def test_a_run_that_would_reach_another_database_is_refused_on_screen(fly_db, tmp_path: Path, pg_server,
                                                                            monkeypatch) -> None:
    from tests.test_alembic_target import INI_ENV_PY

    other = f"other_{os.getpid()}"
    pg_server.create_database(other)
    try:
        proj = write_project(tmp_path / "p", table_chain(["o1"]), env_py=INI_ENV_PY)
        ini = (proj / "alembic.ini").read_text()
        (proj / "alembic.ini").write_text(ini.replace(
            "[alembic]\n", f"[alembic]\nsqlalchemy.url = {pg_server.url(other).replace('%', '%%')}\n", 1))
        app = make_app(fly_db.runner, proj, fly_db.web)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await open_screen(app, pilot, monkeypatch)
            await enter_url(pilot, screen, monkeypatch, fly_db.url)
            await run_key(pilot, app, screen, "U")
            progress = str(screen.query_one("#mig-progress").render())
            assert "not started:" in progress and f"env.py would migrate database '{other}'" in progress
            assert 'database_url = "ini"' in progress and "succeeded" not in progress
        assert fly_db.heads(pg_server) == ()
        from flytui.db.alembic_service import current_heads

        assert current_heads(pg_server.url(other)) == ()
    finally:
        pg_server.drop_database(other)
