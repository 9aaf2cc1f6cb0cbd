"""`fly proxy` tunnels: readiness, states, reconnect with backoff, sharing; fake proxy + the sandbox flyctl."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from flytui.db.tunnel import Tunnel, TunnelManager, free_port
from flytui.db.urls import fix_url, psycopg_conninfo, tunnel_url
from flytui.fly.errors import FlyctlError, FlyctlTimeout
from flytui.fly.runner import FlyctlRunner
from tests.helpers.wait import eventually

HELPER = Path(__file__).parent / "helpers" / "fake_proxy.py"
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "ready_timeout": 10.0}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def fake_flyctl(tmp_path: Path) -> str:
    """An executable 'flyctl' that only knows `proxy` (tests/helpers/fake_proxy.py)."""
    exe = tmp_path / "fake-flyctl"
    exe.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(HELPER)!r}, run_name='__main__')\n")
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture
async def echo_server() -> AsyncIterator[int]:
    """A TCP echo server on 127.0.0.1; yields its port."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _runner(flyctl: str, **env: str) -> FlyctlRunner:
    return FlyctlRunner(flyctl, env=env, grace=1.0)


async def _echo(port: int, payload: bytes = b"hello through the tunnel") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.readexactly(len(payload)), 5)
    writer.close()
    return data


# ---------------------------------------------------------------- one tunnel, fake proxy
async def test_tunnel_up_forwards_and_closes(fake_flyctl: str, echo_server: int) -> None:
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}")
    argvs: list[list[str]] = []
    runner.add_listener(lambda inv: argvs.append(inv.argv) if inv.duration is None else None)
    states: list[str] = []
    tunnel = Tunnel(runner, "fly-demo-test-postgres", 5432, **FAST)
    tunnel.add_listener(lambda t, s: states.append(s))
    async with tunnel:
        assert tunnel.state == "up" and tunnel.local_port
        assert await _echo(tunnel.local_port) == b"hello through the tunnel"
        pid = tunnel.pid
        assert pid and _alive(pid)
        info = tunnel.info()
        assert (info.state, info.local_port, info.target) == ("up", tunnel.local_port,
                                                              "[fly-demo-test-postgres.internal]:5432")
        assert info.uptime is not None and info.uptime >= 0
    assert argvs[0][1:] == ["proxy", f"{tunnel.local_port}:5432", "-a", "fly-demo-test-postgres", "--watch-stdin"]
    assert states == ["connecting", "up", "closed"]
    assert tunnel.state == "closed" and tunnel.pid is None
    await eventually(lambda: not _alive(pid), 10, "the proxy process gone")


async def test_explicit_host_and_local_port(fake_flyctl: str, echo_server: int) -> None:
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}")
    port = free_port()
    async with Tunnel(runner, "web", 22, local_port=port, host="1781.vm.web.internal", **FAST) as tunnel:
        assert tunnel.local_port == port
        assert tunnel.target == "[1781.vm.web.internal]:22"
        assert await _echo(port) == b"hello through the tunnel"
    url = "postgres://u:p%40w@db.flycast:5432/d?sslmode=disable"
    assert tunnel.local_url(url) == tunnel_url(url, port)


async def test_ready_line_without_listening_port_is_not_up(fake_flyctl: str) -> None:
    runner = _runner(fake_flyctl, FAKE_PROXY_NO_LISTEN="1")
    tunnel = Tunnel(runner, "db", backoff_base=0.05, ready_timeout=1.0)
    with pytest.raises(FlyctlTimeout, match="does not accept connections"):
        await tunnel.open()
    assert tunnel.state == "failed" and tunnel.pid is None


async def test_flyctl_error_fails_with_its_message(fake_flyctl: str) -> None:
    runner = _runner(fake_flyctl, FAKE_PROXY_FAIL='Could not find App "nope"')
    tunnel = Tunnel(runner, "nope", **FAST)
    with pytest.raises(FlyctlError, match="Could not find App") as info:
        await tunnel.open()
    assert tunnel.state == "failed" and tunnel.error is info.value


async def test_busy_explicit_port_fails_with_flyctl_bind_error(fake_flyctl: str, echo_server: int) -> None:
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}")
    with pytest.raises(FlyctlError, match="address already in use"):
        await Tunnel(runner, "db", local_port=echo_server, **FAST).open()


async def test_killed_proxy_drops_then_reconnects_on_same_port(fake_flyctl: str, echo_server: int) -> None:
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}")
    states: list[str] = []
    async with Tunnel(runner, "db", **FAST) as tunnel:
        tunnel.add_listener(lambda t, s: states.append(s))
        port, first = tunnel.local_port, tunnel.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await tunnel.wait_state("dropped", timeout=5)
        assert "exited unexpectedly" in (tunnel.error.message if tunnel.error else "")
        await tunnel.wait_state("up", timeout=10)
        assert states == ["dropped", "up"]
        assert tunnel.local_port == port and tunnel.pid not in (None, first) and tunnel.reconnects == 1
        assert tunnel.error is None
        assert await _echo(port) == b"hello through the tunnel"


async def test_reconnect_keeps_the_local_port_when_it_is_briefly_taken(fake_flyctl: str, echo_server: int,
                                                                        tmp_path: Path) -> None:
    """After a drop the local port stays the one URLs point at, even when the first reconnect finds it taken
    (the killed proxy's socket not yet released): the next attempt binds the same port again."""
    busy = tmp_path / "busy"
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}", FAKE_PROXY_BUSY_ONCE=str(busy))
    async with Tunnel(runner, "db", **FAST) as tunnel:
        port, first = tunnel.local_port, tunnel.pid
        assert first is not None
        busy.write_text("")
        os.kill(first, signal.SIGKILL)
        await tunnel.wait_state("dropped", timeout=5)
        try:
            await tunnel.wait_state("up", timeout=10)
        except TimeoutError:
            raise AssertionError(f"not up again: {tunnel.info()}") from None
        assert not busy.exists()  # one reconnect attempt met the taken port
        assert tunnel.local_port == port and tunnel.reconnects == 1
        assert await _echo(port) == b"hello through the tunnel"


async def test_watch_stdin_closing_stdin_stops_the_proxy(fake_flyctl: str, echo_server: int) -> None:
    """flyctl runs with --watch-stdin and an open stdin pipe: closing it (as when flytui dies) ends the proxy."""
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}")
    async with Tunnel(runner, "db", **FAST) as tunnel:
        first = tunnel.pid
        assert tunnel._proc is not None
        tunnel._proc.close_stdin()
        await tunnel.wait_state("dropped", timeout=5)
        assert first is not None and not _alive(first)
        await tunnel.wait_state("up", timeout=10)


async def test_reconnect_gives_up_after_bounded_attempts(fake_flyctl: str, echo_server: int,
                                                         tmp_path: Path) -> None:
    fail_file = tmp_path / "fail"
    pids = tmp_path / "pids"
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}",
                     FAKE_PROXY_FAIL_FILE=str(fail_file), FAKE_PROXY_PIDS=str(pids))
    states: list[str] = []
    tunnel = Tunnel(runner, "db", max_attempts=3, **FAST)
    tunnel.add_listener(lambda t, s: states.append(s))
    await tunnel.open()
    try:
        fail_file.write_text("connection to the Fly private network failed")
        os.kill(tunnel.pid or 0, signal.SIGKILL)
        await tunnel.wait_state("failed", timeout=10)
        assert states == ["connecting", "up", "dropped", "failed"]
        assert len(pids.read_text().split()) == 1 + 3  # the first run + 3 bounded attempts
        assert tunnel.error is not None and "private network failed" in tunnel.error.message
    finally:
        await tunnel.close()
    assert states[-1] == "closed"


def test_backoff_doubles_and_caps() -> None:
    t = Tunnel(FlyctlRunner("unused"), "db")
    assert [t._backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


# ---------------------------------------------------------------- manager
async def test_manager_shares_refcounts_and_closes_idle(fake_flyctl: str, echo_server: int,
                                                        tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    runner = _runner(fake_flyctl, FAKE_PROXY_TARGET=f"127.0.0.1:{echo_server}", FAKE_PROXY_PIDS=str(pids))
    manager = TunnelManager(runner, idle_timeout=0.3, **FAST)
    try:
        a, b = await asyncio.gather(manager.acquire("db"), manager.acquire("db"))
        assert a is b and len(pids.read_text().split()) == 1
        other = await manager.acquire("db", 5433)
        assert other is not a
        rows = {(i.remote_port, i.refs, i.state) for i in manager.list()}
        assert rows == {(5432, 2, "up"), (5433, 1, "up")}
        manager.release(a)
        manager.release(b)
        await eventually(lambda: [i.refs for i in manager.list() if i.remote_port == 5432] == [0], 5, "released")
        again = await manager.acquire("db")  # re-acquired before the idle delay: same tunnel
        assert again is a and a.state == "up"
        manager.release(again)
        await eventually(lambda: a.state == "closed", 10, "the idle tunnel closed")
        assert [(i.remote_port, i.refs) for i in manager.list()] == [(5433, 1)]
        async with manager.lease("db") as fresh:
            assert fresh is not a and fresh.state == "up"
    finally:
        await manager.close_all()
    assert manager.list() == [] and other.state == "closed"


async def test_manager_failed_open_is_not_kept(fake_flyctl: str) -> None:
    manager = TunnelManager(_runner(fake_flyctl, FAKE_PROXY_FAIL="boom"), **FAST)
    with pytest.raises(FlyctlError, match="boom"):
        await manager.acquire("db")
    assert manager.list() == []


# ---------------------------------------------------------------- through the sandbox flyctl
async def test_sandbox_tunnel_to_embedded_postgres_survives_a_killed_proxy(sandbox_pg, pg_server) -> None:  # type: ignore[no-untyped-def]
    app = "fly-demo-test-postgres"
    sandbox_pg.create_postgres(app)
    password = "cQv0@vvf/asf:7FM"
    pg_server.create_role("fly_demo_test", password)
    pg_server.create_database("fly_demo_test", owner="fly_demo_test")
    from urllib.parse import quote

    secret_url = (f"postgres://fly_demo_test:{quote(password, safe='')}@{app}.flycast:5432/fly_demo_test"
                  "?sslmode=disable")
    runner = FlyctlRunner(sandbox_pg.flyctl, env=sandbox_pg.env, grace=1.0)
    states: list[str] = []
    try:
        async with Tunnel(runner, app, 5432, **FAST) as tunnel:
            tunnel.add_listener(lambda t, s: states.append(s))
            conninfo = psycopg_conninfo(fix_url(tunnel.local_url(secret_url)))

            async def who() -> tuple[str, str]:
                async with await psycopg.AsyncConnection.connect(conninfo) as conn:
                    cur = await conn.execute("select current_user, current_database()")
                    row = await cur.fetchone()
                    assert row is not None
                    return row[0], row[1]

            assert await who() == ("fly_demo_test", "fly_demo_test")
            first, port = tunnel.pid, tunnel.local_port
            assert first is not None
            os.kill(first, signal.SIGKILL)
            await tunnel.wait_state("dropped", timeout=5)
            await tunnel.wait_state("up", timeout=15)
            assert states == ["dropped", "up"] and tunnel.pid != first
            assert tunnel.local_port == port  # the URL handed out before the drop still leads to the database
            assert await who() == ("fly_demo_test", "fly_demo_test")
        assert tunnel.state == "closed"
    finally:
        pg_server.drop_database("fly_demo_test")
        pg_server.execute('DROP ROLE "fly_demo_test"')
