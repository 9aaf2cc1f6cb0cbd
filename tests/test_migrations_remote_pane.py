"""Migrations view in remote mode (``R``) through the sandbox: alembic inside the app's started machine.

The demo project is "deployed" (its machine runs in a copy of it), ``DATABASE_URL`` is the fixed
``postgresql+psycopg://…`` form, and the local URL for heads/lock comes from the config's
``migrations_url_env``; the local alembic is the config's ``alembic_command``.
"""
from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner, live_groups
from flytui.sandbox.demo import copy_demo_project
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.confirm import ConfirmScreen
from flytui.ui.screens.migrations import MigrationsScreen
from tests.helpers.wait import until

ALEMBIC = f"{sys.executable} -m alembic"


def direct_url(url: str, server: dict) -> str:
    """The same database on the backing server (what a local tool would reach)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0]
    host, port = str(server["host"]), int(server["port"])
    if host.startswith("/"):
        return f"{parts.scheme}://{userinfo}@{parts.path}?host={quote(host, safe='/')}&port={port}"
    return f"{parts.scheme}://{userinfo}@{host}:{port}{parts.path}"


def deploy_demo(sb: Any, tmp_path: Path) -> tuple[str, Path, str, str]:
    """(app, project, machine id, direct URL): demo project on a started machine, DATABASE_URL fixed."""
    app = f"mig-{secrets.token_hex(3)}"
    project = copy_demo_project(tmp_path / "project", app)
    sb.create_postgres("mig-db")
    sb.create_app(app, source_dir=str(project), deployed=True)
    machine = sb.add_machine(app, state="started")["id"]
    attach = sb.run("postgres", "attach", "mig-db", "-a", app)
    assert attach.returncode == 0, attach.stderr
    fly_url = sb.read()["apps"][app]["secrets"]["DATABASE_URL"]["value"]
    url = fly_url.replace("postgres://", "postgresql+psycopg://", 1)
    sb.set_secret(app, "DATABASE_URL", url)
    return app, project, machine, direct_url(url, sb.read()["postgres_server"])


def db_version(url: str) -> list[str]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        if conn.execute("select to_regclass('alembic_version')").fetchone() == (None,):
            return []
        return [r[0] for r in conn.execute("select version_num from alembic_version").fetchall()]


async def run_key(pilot: Any, app: FlytuiApp, screen: MigrationsScreen, key: str) -> Any:
    screen.last_summary = None
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm dialog")
    dialog = app.screen
    # the dialog becomes the active screen before its widgets are composed: wait for the title, then read it
    await until(pilot, lambda: dialog.query("#confirm-title"), what="the dialog's title")
    assert "(remote, inside a machine)" in str(dialog.query_one("#confirm-title").render())
    await pilot.press("y")
    await until(pilot, lambda: screen.last_summary is not None and not screen.running, 90, "run summary")
    return screen.last_summary


async def test_remote_mode_upgrade_in_the_pane_fallback_note_then_exact_ssh(sandbox_pg, tmp_path, monkeypatch):
    sb = sandbox_pg
    app_name, project, machine, local_url = deploy_demo(sb, tmp_path)
    monkeypatch.delenv("FLYTUI_ALEMBIC", raising=False)
    monkeypatch.delenv("FLYTUI_MIGRATIONS_URL_ENV", raising=False)
    monkeypatch.setenv("MIG_REMOTE_URL", local_url)
    runner = FlyctlRunner(sb.flyctl, env=sb.env, grace=1.0)
    config = Config(refresh_interval=60, alembic_command=ALEMBIC, migrations_url_env="MIG_REMOTE_URL")
    app = FlytuiApp(config, FlyClient(runner), runner=runner, current_app=app_name, project_dir=project)
    async with app.run_test(size=(180, 50)) as pilot:
        app.action_open_migrations()
        await until(pilot, lambda: isinstance(app.screen, MigrationsScreen), what="migrations screen")
        screen: MigrationsScreen = app.screen  # type: ignore[assignment]
        await until(pilot, lambda: screen.session is not None, what="session")
        # config: the local alembic command and the URL's env var name come from the config file's fields
        assert screen.session.alembic.argv(["current"])[:3] == [sys.executable, "-m", "alembic"]
        await until(pilot, lambda: screen.session.has_url and screen.snapshot is not None
                    and screen.snapshot.current is not None, what="connected via migrations_url_env")
        await pilot.press("R")
        assert screen.session.remote and screen.session.remote_app == app_name
        assert f"REMOTE on {app_name}" in str(screen.query_one("#mig-header").render())

        # 1. `fly ssh issue` fails: the run falls back to `fly ssh console -C` and says so
        sb.inject_fault("ssh issue", fail="failed to issue certificate: organization not found", times=1)
        s = await run_key(pilot, app, screen, "u")
        assert not isinstance(s, BaseException), s
        assert s.ok and s.remote and s.result.transport == "ssh-console"
        assert "fly ssh issue failed" in s.result.note and "organization not found" in s.result.note
        shown = str(screen.query_one("#mig-progress").render())
        assert "Ran with `fly ssh console -C`" in shown and f"ssh-console on {machine}" in shown
        assert db_version(local_url) == ["0001_user"]

        # 2. the exact path: asyncssh through `fly proxy :22` with an issued certificate
        s = await run_key(pilot, app, screen, "U")
        assert not isinstance(s, BaseException), s
        assert s.ok and s.result.transport == "ssh" and s.exit_code_exact and s.result.returncode == 0
        assert s.heads_after == ("0002_todo",) and "the database is at 0002_todo" in s.note
        shown = str(screen.query_one("#mig-progress").render())
        assert f"remote: ssh on {machine} · exit code exact" in shown
        assert "step 1/1: upgrade 0001_user → 0002_todo" in screen.progress_text  # progress was shown
        log = "\n".join(screen.query_one("#mig-log").lines)
        assert "Running upgrade 0001_user -> 0002_todo" in log
        assert db_version(local_url) == ["0002_todo"]
        await until(pilot, lambda: str(screen.query_one("#mig-table").get_cell("0002_todo", "state")) != "running…")
    issued = [a for a in sb.argv_log() if a[:2] == ["ssh", "issue"]]
    consoles = [a for a in sb.argv_log() if a[:2] == ["ssh", "console"]]
    assert len(issued) == 2 and len(consoles) == 1 and "--machine" in consoles[0]
    assert live_groups() == {}


def test_config_migrations_fields_parse_and_validate() -> None:
    import pytest

    from flytui.ui.config import ConfigError, parse_config

    cfg = parse_config('alembic_command = "poetry run alembic"\nmigrations_url_env = "APP_DB_URL"\n')
    assert (cfg.alembic_command, cfg.migrations_url_env) == ("poetry run alembic", "APP_DB_URL")
    assert (Config().alembic_command, Config().migrations_url_env) == (None, None)
    with pytest.raises(ConfigError, match="migrations_url_env"):
        parse_config('migrations_url_env = "postgresql://u:p@h/db"')  # a URL is not a variable name
    with pytest.raises(ConfigError, match="alembic_command"):
        parse_config("alembic_command = 3")
