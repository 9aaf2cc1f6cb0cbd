"""``fly mpg proxy`` tunnels (flytui/db/mpg_tunnel.py) through the sandbox flyctl to the embedded PostgreSQL."""
from __future__ import annotations

import os
import signal

import psycopg
import pytest

from flytui.db.mpg_tunnel import MPG_HOST, MpgTunnel
from flytui.db.tunnel import TunnelManager
from flytui.db.urls import fix_url, psycopg_conninfo
from flytui.fly.errors import FlyctlError
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.commands.mpg import add_cluster

FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "ready_timeout": 15.0}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def attach(sb, cid: str, app: str = "my-app") -> str:
    sb.create_app(app)
    r = sb.run("mpg", "attach", cid, "-a", app)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1].split("=", 1)[1]


async def who(conninfo: str) -> tuple[str, str]:
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        cur = await conn.execute("select current_user, current_database()")
        row = await cur.fetchone()
        assert row is not None
        return row[0], row[1]


async def test_mpg_tunnel_argv_reconnect_and_close(sandbox_pg):
    c = add_cluster(sandbox_pg, "my-app-db")
    url = attach(sandbox_pg, c["id"])
    runner = FlyctlRunner(sandbox_pg.flyctl, env=sandbox_pg.env, grace=1.0)
    states: list[str] = []
    async with MpgTunnel(runner, c["id"], **FAST) as tunnel:
        tunnel.add_listener(lambda t, s: states.append(s))
        assert tunnel.info().kind == "mpg" and tunnel.key == (c["id"], 5432, MPG_HOST)
        conninfo = psycopg_conninfo(fix_url(tunnel.local_url(url)))
        assert await who(conninfo) == ("fly-user", "fly-db")
        first = tunnel.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await tunnel.wait_state("dropped", timeout=5)
        await tunnel.wait_state("up", timeout=20)
        assert states == ["dropped", "up"]
        assert await who(conninfo) == ("fly-user", "fly-db")
        pid = tunnel.pid
    assert tunnel.state == "closed" and pid is not None and not _alive(pid)
    argv = [a for a in sandbox_pg.argv_log() if a[:2] == ["mpg", "proxy"]]
    assert argv and all(a[2] == c["id"] and a[3] == "-p" and a[4].isdigit() for a in argv)
    assert not any("--watch-stdin" in a for a in argv)


async def test_manager_acquire_mpg_shares_and_reports_initializing(sandbox_pg):
    slow = add_cluster(sandbox_pg, "slow", status="initializing", ready_in=3600)
    ok = add_cluster(sandbox_pg, "ok")
    runner = FlyctlRunner(sandbox_pg.flyctl, env=sandbox_pg.env, grace=1.0)
    manager = TunnelManager(runner, idle_timeout=60, **FAST)
    try:
        with pytest.raises(FlyctlError, match="cluster is still initializing, wait a bit more"):
            await manager.acquire_mpg(slow["id"])
        assert manager.list() == []
        t1 = await manager.acquire_mpg(ok["id"])
        t2 = await manager.acquire_mpg(ok["id"])
        assert t1 is t2 and isinstance(t1, MpgTunnel)
        (info,) = manager.list()
        assert (info.kind, info.refs, info.app, info.state) == ("mpg", 2, ok["id"], "up")
    finally:
        await manager.close_all()
    assert t1.state == "closed"
