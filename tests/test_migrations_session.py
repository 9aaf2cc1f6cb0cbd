"""MigrationSession against real PostgreSQL through the sandbox's `fly proxy` (plain asyncio, no UI)."""
from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
from pathlib import Path

import pytest

from flytui.db.alembic_service import Progress, RunFinished, RunStarted
from flytui.db.lock import MigrationLocked
from flytui.db.migrations import (
    STAMP_WARNING,
    DatabaseAppUnknown,
    MigrationAction,
    MigrationSessionError,
    RemoteUnavailable,
    RunSummary,
    db_app_from_host,
)
from flytui.sandbox.demo import TEMPLATE_DIR
from tests.helpers.revgen import RevSpec, table_chain, write_project
from tests.test_migrations_support import collect, make_session
from tests.helpers.wait import eventually
from tests.test_migrations_support import sleeping

from tests.test_migrations_support import demo_dir, fly_db  # noqa: E402,F401 - fixtures


def test_db_app_from_host() -> None:
    assert db_app_from_host("my-db.flycast") == "my-db"
    assert db_app_from_host("my-db.internal") == "my-db"
    assert db_app_from_host("top2.nearest.of.my-db.internal") == "my-db"
    assert db_app_from_host("iad.my-db.internal") == "my-db"
    assert db_app_from_host("db.example.com") is None
    assert db_app_from_host(None) is None


def test_set_url_derives_app_or_asks(demo_dir: Path) -> None:
    s = make_session(demo_dir)
    assert s.set_url("postgres://u:p%25w@app-db.flycast:5432/app?sslmode=disable") == "app-db"
    assert s.masked_url == "postgres://u:***@app-db.flycast:5432/app?sslmode=disable"
    assert s.set_url("postgresql+psycopg://u:p@127.0.0.1:5432/x") is None and s.direct
    # a typed error: the migrations screen asks for the database app on this type, never on the message's text
    with pytest.raises(DatabaseAppUnknown, match="which Fly app serves the database host 'db.example.com'"):
        s.set_url("postgres://u:p@db.example.com:5432/x")
    assert s.set_url("postgres://u:p@db.example.com:5432/x", db_app="pg-x") == "pg-x"
    with pytest.raises(MigrationSessionError, match="NOPE is not set"):
        s.url_from_env("$NOPE", environ={})
    assert s.url_from_env("$DB", environ={"DB": "postgres://a:b@z.internal/db"}) == "z" and s.url_source == "env"
    if importlib.util.find_spec("flytui.db.remote") is None:  # until the remote-mode module lands
        with pytest.raises(RemoteUnavailable, match="remote mode not available"):
            s.set_remote("web")
        assert not s.remote


async def test_demo_head_down_up_through_the_proxy(fly_db, demo_dir: Path, pg_server) -> None:
    s = make_session(demo_dir, fly_db)
    try:
        assert s.set_url(fly_db.url) == fly_db.pg_app
        local = await s.connect()
        assert local.startswith(f"postgresql+psycopg://{fly_db.web}:") and "sslmode=disable" in local
        assert f"127.0.0.1:{s.tunnel.local_port}/" in local and s.tunnel_state == "up"
        snap = await s.snapshot()
        assert snap.current == () and [r.id for r in snap.pending] == ["0001_user", "0002_todo"]
        assert snap.history.source == "alembic" and not snap.multiple_heads

        pv = await s.preview(MigrationAction("upgrade", "head"))
        assert pv.ok and [r.id for r in pv.revisions] == ["0001_user", "0002_todo"]
        assert pv.sql is not None and pv.sql.ok and "CREATE TABLE todo" in pv.sql.sql and pv.sql.range == "head"

        events = await collect(s, MigrationAction("upgrade", "head"))
        assert isinstance(events[0], RunStarted) and isinstance(events[-2], RunFinished)
        summary = events[-1]
        assert isinstance(summary, RunSummary) and summary.ok and summary.result.returncode == 0
        assert [p.revision for p in events if isinstance(p, Progress)] == ["0001_user", "0002_todo"]
        assert summary.heads_before == () and summary.heads_after == ("0002_todo",)
        assert summary.note == "upgrade head succeeded (exit 0); the database is at 0002_todo"
        assert fly_db.url not in " ".join(summary.result.argv) and "DATABASE_URL" not in summary.result.output
        assert fly_db.heads(pg_server) == ("0002_todo",) and {"user", "todo"} <= fly_db.tables(pg_server)

        pv = await s.preview(MigrationAction("downgrade", "-1"))
        assert [r.id for r in pv.revisions] == ["0002_todo"] and pv.sql.range == "0002_todo:0001_user"
        assert "DROP TABLE todo" in pv.sql.sql and any("drop" in f.rule for f in pv.findings)
        summary = (await collect(s, MigrationAction("downgrade", "-1")))[-1]
        assert summary.ok and summary.heads_after == ("0001_user",) and "todo" not in fly_db.tables(pg_server)

        summary = (await collect(s, MigrationAction("upgrade", "+1")))[-1]
        assert summary.ok and [p.revision for p in summary.result.steps] == ["0002_todo"]
        assert fly_db.heads(pg_server) == ("0002_todo",)

        pv = await s.preview(MigrationAction("stamp", "0001_user"))
        assert pv.ok and pv.warnings == (STAMP_WARNING,) and pv.sql is None
        pv = await s.preview(MigrationAction("upgrade", "head"))
        assert not pv.ok and "nothing to upgrade" in pv.error

        rp = await s.preview_revision("0002_todo")
        assert rp.upgrade.ok and rp.upgrade.range == "0001_user:0002_todo" and "CREATE TABLE todo" in rp.upgrade.sql
        assert rp.downgrade.ok and rp.downgrade.range == "0002_todo:0001_user" and "DROP TABLE todo" in rp.downgrade.sql
    finally:
        await s.close()
        await s.tunnels.close_all()


async def test_failing_migration_names_the_revision(fly_db, tmp_path: Path, pg_server) -> None:
    proj = write_project(tmp_path / "p", table_chain(["a1", "a2", "a3"], fail_at="a2"))
    s = make_session(proj, fly_db)
    try:
        s.set_url(fly_db.url)
        summary = (await collect(s, MigrationAction("upgrade", "head")))[-1]
        assert not summary.ok and summary.result.returncode == 1
        assert summary.result.failed_revision == "a2"
        assert "RuntimeError: boom in a2" in (summary.result.error or "")
        assert summary.heads_after == () and fly_db.heads(pg_server) == ()
        assert "t_a1" not in fly_db.tables(pg_server)  # one transaction: rolled back
        assert summary.note.startswith("upgrade head failed in revision a2 (exit 1); the database is at base")
    finally:
        await s.close()
        await s.tunnels.close_all()


async def test_two_concurrent_migrators(fly_db, tmp_path: Path, pg_server) -> None:
    proj = write_project(tmp_path / "p", table_chain(["c1", "c2"], sleep_at=("c1", 2.0)))
    first, second = make_session(proj, fly_db), make_session(proj, fly_db)
    try:
        first.set_url(fly_db.url)
        second.set_url(fly_db.url)
        await second.connect()
        events: list = []

        async def run_first() -> None:
            async for e in first.run(MigrationAction("upgrade", "head")):
                events.append(e)

        task = asyncio.create_task(run_first())
        while not any(isinstance(e, RunStarted) for e in events):
            await asyncio.sleep(0.05)
        lock_pid = next(e for e in events if isinstance(e, RunStarted)).lock_pid
        with pytest.raises(MigrationLocked) as info:
            async for _ in second.run(MigrationAction("upgrade", "head")):
                pass
        assert info.value.pids == [lock_pid]
        assert f"pid {lock_pid} (flytui-migration-lock" in info.value.message
        await task
        summary = events[-1]
        assert summary.ok and summary.heads_after == ("c2",)
        assert [p.revision for p in summary.result.steps] == ["c1", "c2"]  # ran once, by the first
        assert fly_db.heads(pg_server) == ("c2",)
    finally:
        for s in (first, second):
            await s.close()
        await first.tunnels.close_all()
        await second.tunnels.close_all()


async def test_tunnel_killed_mid_migration(fly_db, tmp_path: Path, pg_server) -> None:
    proj = write_project(tmp_path / "p", table_chain(["k1", "k2"], sleep_at=("k2", 2.0)))
    s = make_session(proj, fly_db)
    try:
        s.set_url(fly_db.url)
        assert (await collect(s, MigrationAction("upgrade", "k1")))[-1].heads_after == ("k1",)
        events: list = []
        first_pid = s.tunnel.pid
        async for e in s.run(MigrationAction("upgrade", "head")):
            events.append(e)
            if isinstance(e, Progress) and e.revision == "k2":
                await eventually(lambda: sleeping(fly_db, pg_server) > 0, 20, "k2's pg_sleep running")
                os.kill(first_pid, signal.SIGKILL)
        summary = events[-1]
        assert isinstance(summary, RunSummary)
        assert not summary.ok and summary.tunnel_dropped
        assert summary.heads_after == ("k1",)  # consistent: the k2 transaction was rolled back
        assert "the tunnel dropped during upgrade head" in summary.note and "at k1" in summary.note
        assert s.tunnel.state == "up" and s.tunnel.pid != first_pid  # reconnected
        # the old backend ends when pg_sleep returns and it cannot reply
        await eventually(lambda: sleeping(fly_db, pg_server) == 0, 20, "the old backend gone")
        assert fly_db.heads(pg_server) == ("k1",) and "t_k2" not in fly_db.tables(pg_server)
        assert (await collect(s, MigrationAction("upgrade", "head")))[-1].heads_after == ("k2",)
    finally:
        await s.close()
        await s.tunnels.close_all()


async def test_static_fallback_is_labelled(tmp_path: Path) -> None:
    specs = table_chain(["s1", "s2"])
    specs[1].extra_imports = ["import flytui_missing_module_xyz"]
    s = make_session(write_project(tmp_path / "p", specs))
    snap = await s.snapshot()
    assert snap.history.source == "static" and snap.current is None
    assert "ModuleNotFoundError" in (snap.history.import_error or "")
    assert [r.id for r in snap.history.revisions] == ["s2", "s1"]


async def test_multiple_heads(fly_db, tmp_path: Path, pg_server) -> None:
    specs = table_chain(["m1"]) + [
        RevSpec("m2a", "m1", "branch a", upgrade='op.create_table("t_m2a", sa.Column("id", sa.Integer))',
                downgrade='op.drop_table("t_m2a")'),
        RevSpec("m2b", "m1", "branch b", upgrade='op.create_table("t_m2b", sa.Column("id", sa.Integer))',
                downgrade='op.drop_table("t_m2b")'),
    ]
    proj = write_project(tmp_path / "p", specs)
    # a real revision template (revgen writes a stub), so `alembic merge` can render a revision file
    (proj / "migrations" / "script.py.mako").write_text((TEMPLATE_DIR / "migrations" / "script.py.mako").read_text())
    s = make_session(proj, fly_db)
    try:
        s.set_url(fly_db.url)
        snap = await s.snapshot()
        assert snap.multiple_heads and set(snap.history.heads) == {"m2a", "m2b"}
        assert snap.states["m1"] == "pending"
        pv = await s.preview(MigrationAction("upgrade", "head"))
        assert not pv.ok and "Multiple head revisions are present" in pv.error
        summary = (await collect(s, MigrationAction("upgrade", "heads")))[-1]
        assert summary.ok and set(summary.heads_after) == {"m2a", "m2b"}
        code, out = await s.merge_heads("merge a and b")
        assert code == 0, out
        snap = await s.snapshot()
        assert not snap.multiple_heads and snap.history.revisions[0].is_merge
    finally:
        await s.close()
        await s.tunnels.close_all()
