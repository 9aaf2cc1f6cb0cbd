"""An app attached to a Fly Managed Postgres cluster: MigrationSession recognises the MPG DATABASE_URL and runs
Alembic through ``fly mpg proxy`` (sandbox flyctl, real embedded PostgreSQL); the tunnel closes afterwards."""
from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from flytui.db.migrations import MigrationAction
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.commands.mpg import add_cluster
from tests.test_migrations_support import collect, make_session

from tests.test_migrations_support import demo_dir  # noqa: F401 - fixture


@pytest.fixture
def mpg_app(sandbox_pg, pg_server):
    pg_server.execute('DROP DATABASE IF EXISTS "fly-db" WITH (FORCE)')
    c = add_cluster(sandbox_pg, "web-db")
    sandbox_pg.create_app("web")
    r = sandbox_pg.run("mpg", "attach", c["id"], "-a", "web")
    assert r.returncode == 0, r.stderr
    url = sandbox_pg.read()["apps"]["web"]["secrets"]["DATABASE_URL"]["value"]
    runner = FlyctlRunner(sandbox_pg.flyctl, env=sandbox_pg.env, grace=1.0)
    yield types.SimpleNamespace(sb=sandbox_pg, cluster=c["id"], url=url, runner=runner)
    pg_server.execute('DROP DATABASE IF EXISTS "fly-db" WITH (FORCE)')


def test_set_url_names_the_cluster(demo_dir: Path) -> None:
    s = make_session(demo_dir)
    assert s.set_url("postgresql://fly-user:pw@pgbouncer.zkvpn6wymq10ol9r.flympg.net/fly-db") is None
    assert s.mpg_cluster == "zkvpn6wymq10ol9r" and not s.direct and s.target_label == "MPG cluster zkvpn6wymq10ol9r"
    s.set_url("postgres://u:p@app-db.flycast:5432/app")
    assert s.mpg_cluster is None and s.db_app == "app-db"


async def test_upgrade_head_and_back_through_mpg_proxy(mpg_app, demo_dir: Path) -> None:
    s = make_session(demo_dir, mpg_app)
    try:
        s.set_url(mpg_app.url)
        local = await s.connect()
        assert local.startswith("postgresql+psycopg://fly-user:") and f"127.0.0.1:{s.tunnel.local_port}/fly-db" in local
        assert s.tunnel.kind == "mpg" and s.tunnel_state == "up"
        (info,) = s.tunnels.list()
        assert info.kind == "mpg" and info.app == mpg_app.cluster
        summary = (await collect(s, MigrationAction("upgrade", "head")))[-1]
        assert summary.ok and summary.heads_after == ("0002_todo",), summary.note
        summary = (await collect(s, MigrationAction("downgrade", "base")))[-1]
        assert summary.ok and summary.heads_after == (), summary.note
        tunnel = s.tunnel
    finally:
        await s.close()
        await s.tunnels.close_all()
    assert tunnel.state == "closed" and tunnel.pid is None
    argv = [a for a in mpg_app.sb.argv_log() if a[:2] == ["mpg", "proxy"]]
    assert argv and argv[0][2] == mpg_app.cluster


async def test_migrations_pane_upgrade_head_and_back_with_mpg_tunnel_shown(mpg_app, demo_dir: Path,
                                                                         monkeypatch) -> None:
    """The pane: MPG URL -> header names the cluster, the tunnels view lists the mpg tunnel, upgrade head and
    downgrade base run through it, and the tunnel is closed when flytui exits."""
    from tests.test_migrations_screen import enter_url, make_app, open_screen, run_key, until

    app = make_app(mpg_app.runner, demo_dir, "web")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_screen(app, pilot, monkeypatch)
        await enter_url(pilot, screen, monkeypatch, mpg_app.url)
        header = str(screen.query_one("#mig-header").render())
        assert f"MPG cluster {mpg_app.cluster}" in header and "tunnel up" in header and ":***@" in header
        (info,) = app.tunnels.list()
        assert info.kind == "mpg" and info.app == mpg_app.cluster and info.state == "up"
        tunnel_pid = info.pid
        await run_key(pilot, app, screen, "U")
        assert screen.last_summary.ok and screen.snapshot.current == ("0002_todo",)
        table = screen.query_one("#mig-table")
        table.move_cursor(row=[str(k.value) for k in table.rows].index("0001_user"))
        await run_key(pilot, app, screen, "B")
        assert screen.last_summary.ok and screen.snapshot.current == ("0001_user",)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, type(screen)), what="close")
    assert app.tunnels is None or all(i.state == "closed" for i in app.tunnels.list())
    assert tunnel_pid is not None
    try:
        os.kill(tunnel_pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
