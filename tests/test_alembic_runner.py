"""The subprocess runner, current heads, SQL preview and the migration lock against a real
(embedded) PostgreSQL, on the demo project and generated projects."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from flytui.db.alembic_service import (
    AlembicProject,
    AlembicRunner,
    LogLine,
    Progress,
    RunFinished,
    RunResult,
    RunStarted,
    current_heads,
    find_alembic_project,
    load_history,
    plan,
)
from flytui.db.lock import LOCK_KEY, MigrationLock, MigrationLocked, libpq_url
from flytui.db.sqllint import lint_sql
from flytui.sandbox.demo import copy_demo_project
from tests.helpers.revgen import table_chain, write_project

ALEMBIC = [sys.executable, "-m", "alembic"]


@pytest.fixture
def demo(tmp_path: Path) -> AlembicProject:
    project = find_alembic_project(copy_demo_project(tmp_path / "demo", "fly-demo-test"))
    assert project is not None
    return project


async def _collect(runner: AlembicRunner, args: list[str], url: str) -> tuple[list, RunResult]:
    events = [e async for e in runner.run(args, url)]
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    return events, events[-1].result


def _tables(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


async def test_demo_upgrade_downgrade_stamp(demo: AlembicProject, pg_database: str) -> None:
    runner = AlembicRunner(demo, ALEMBIC)
    assert current_heads(pg_database) == ()

    events, result = await _collect(runner, ["upgrade", "head"], pg_database)
    assert result.ok and result.returncode == 0, result.output
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(p.direction, p.from_revisions, p.to_revisions, p.message, p.index) for p in progress] == [
        ("upgrade", (), ("0001_user",), "create user table", 1),
        ("upgrade", ("0001_user",), ("0002_todo",), "create todo table", 2),
    ]
    assert any(isinstance(e, LogLine) and "Will assume transactional DDL" in e.text for e in events)
    assert "DATABASE_URL" not in " ".join(result.argv) and pg_database not in " ".join(result.argv)
    assert current_heads(pg_database) == ("0002_todo",)
    assert {"user", "todo", "alembic_version"} <= _tables(pg_database)

    _, result = await _collect(runner, ["downgrade", "-1"], pg_database)
    assert result.ok and [s.revision for s in result.steps] == ["0002_todo"]
    assert result.steps[0].direction == "downgrade"
    assert current_heads(pg_database) == ("0001_user",) and "todo" not in _tables(pg_database)

    _, result = await _collect(runner, ["upgrade", "+1"], pg_database)
    assert result.ok and [s.revision for s in result.steps] == ["0002_todo"]
    assert current_heads(pg_database) == ("0002_todo",)

    _, result = await _collect(runner, ["downgrade", "base"], pg_database)
    assert result.ok and [s.revision for s in result.steps] == ["0002_todo", "0001_user"]
    assert current_heads(pg_database) == ()

    _, result = await _collect(runner, ["stamp", "0002_todo"], pg_database)
    assert result.ok
    assert current_heads(pg_database) == ("0002_todo",)
    assert "todo" not in _tables(pg_database)  # stamp only rewrites alembic_version


async def test_bad_target_reports_real_exit_code(demo: AlembicProject, pg_database: str) -> None:
    result = await AlembicRunner(demo, ALEMBIC).run_to_end(["upgrade", "nope_rev"], pg_database)
    assert not result.ok and result.returncode != 0
    assert result.failed_revision is None
    assert "nope_rev" in (result.error or "")


async def test_fly_postgres_url_fails_like_the_seed_app(demo: AlembicProject, pg_database: str) -> None:
    fly_url = pg_database.replace("postgresql+psycopg://", "postgres://", 1)
    runner = AlembicRunner(demo, ALEMBIC, lock=False)
    result = await runner.run_to_end(["upgrade", "head"], fly_url)
    assert not result.ok
    assert "Can't load plugin: sqlalchemy.dialects:postgres" in (result.error or "")


async def test_failing_migration_names_revision_and_rolls_back(tmp_path: Path, pg_database: str) -> None:
    project = find_alembic_project(write_project(tmp_path, table_chain(["f001", "f002", "f003"], fail_at="f002")))
    runner = AlembicRunner(project, ALEMBIC)
    result = await runner.run_to_end(["upgrade", "head"], pg_database)
    assert not result.ok and result.returncode == 1
    assert result.failed_revision == "f002"
    assert "RuntimeError: boom in f002" in (result.error or "")
    assert "boom in f002" in result.error_output
    # transactional DDL: f001 was rolled back with f002, the DB is consistent at "nothing applied"
    assert current_heads(pg_database) == ()
    assert not {"t_f001", "t_f002"} & _tables(pg_database)
    # upgrading to the last good revision works and stops there
    ok = await runner.run_to_end(["upgrade", "f001"], pg_database)
    assert ok.ok and current_heads(pg_database) == ("f001",)
    again = await runner.run_to_end(["upgrade", "head"], pg_database)
    assert again.failed_revision == "f002" and current_heads(pg_database) == ("f001",)
    assert "t_f001" in _tables(pg_database)


async def test_sql_preview_demo(demo: AlembicProject, pg_database: str) -> None:
    runner = AlembicRunner(demo, ALEMBIC)
    history = load_history(demo)
    await runner.run_to_end(["upgrade", "+1"], pg_database)
    preview = await runner.preview_sql("upgrade", "+1", pg_database, history=history)
    assert preview.ok, preview.error
    assert preview.range == "0001_user:0002_todo"
    assert "-- Running upgrade 0001_user -> 0002_todo" in preview.sql
    assert "CREATE TABLE todo" in preview.sql
    assert "INSERT INTO \"user\" (email, full_name) VALUES ('demo@example.com', 'Demo')" in preview.sql
    assert "CREATE TABLE alembic_version" not in preview.sql  # started from the DB's revision, not base
    assert current_heads(pg_database) == ("0001_user",)  # preview changed nothing
    assert [f.rule for f in lint_sql(preview.sql)] == []  # new table with inline FK: no findings

    await runner.run_to_end(["upgrade", "head"], pg_database)
    down = await runner.preview_sql("downgrade", "-1", pg_database, history=history)
    assert down.ok and down.range == "0002_todo:0001_user"
    assert "DROP TABLE todo" in down.sql and "DELETE FROM \"user\"" in down.sql
    assert "ban-drop-table" in {f.rule for f in lint_sql(down.sql)}
    base = await runner.preview_sql("downgrade", "base", pg_database, history=history)
    assert base.ok and "DROP TABLE \"user\"" in base.sql


async def test_sql_preview_returns_error_text(tmp_path: Path, pg_database: str) -> None:
    specs = table_chain(["d001"])
    specs[0].upgrade = 'bind = op.get_bind()\nrows = bind.execute(sa.text("SELECT 1")).fetchall()'
    project = find_alembic_project(write_project(tmp_path, specs))
    preview = await AlembicRunner(project, ALEMBIC).preview_sql("upgrade", "head", pg_database)
    assert not preview.ok and preview.error
    assert preview.range == "head"
    assert "fetchall" in preview.error  # offline mode has no rows to read


async def test_second_run_gets_migration_locked(tmp_path: Path, pg_database: str) -> None:
    project = find_alembic_project(write_project(tmp_path, table_chain(["s001", "s002"], sleep_at=("s001", 1.5))))
    runner = AlembicRunner(project, ALEMBIC)
    first = runner.run(["upgrade", "head"], pg_database)
    started = await first.__anext__()
    assert isinstance(started, RunStarted) and started.lock_pid
    try:
        async for event in first:  # wait until s001 is running (holding the lock meanwhile)
            if isinstance(event, Progress):
                break
        with pytest.raises(MigrationLocked) as info:
            await AlembicRunner(project, ALEMBIC).run_to_end(["upgrade", "head"], pg_database)
        assert started.lock_pid in info.value.pids
        assert info.value.holders[0].application_name == "flytui-migration-lock"
        assert f"pid {started.lock_pid}" in info.value.message
        result = None
        async for event in first:
            if isinstance(event, RunFinished):
                result = event.result
        assert result is not None and result.ok
    finally:
        await first.aclose()
    # released: a new run gets the lock at once
    async with MigrationLock(pg_database) as lock:
        assert lock.backend_pid


async def test_lock_never_blocks_and_is_released(pg_database: str) -> None:
    async with MigrationLock(pg_database) as held:
        with pytest.raises(MigrationLocked) as info:
            await asyncio.wait_for(MigrationLock(pg_database).acquire(), 5)
        assert info.value.pids == [held.backend_pid]
    with psycopg.connect(libpq_url(pg_database)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s::oid",
                            (LOCK_KEY,)).fetchone()[0] == 0


async def test_cancel_kills_subprocess_and_releases_lock(tmp_path: Path, pg_database: str) -> None:
    project = find_alembic_project(write_project(tmp_path, table_chain(["c001"], sleep_at=("c001", 30))))
    runner = AlembicRunner(project, ALEMBIC)
    pid_box: list[int] = []
    events: list[object] = []

    async def consume() -> None:
        async for event in runner.run(["upgrade", "head"], pg_database):
            events.append(event)
            if isinstance(event, RunStarted):
                pid_box.append(event.pid)

    task = asyncio.create_task(consume())
    deadline = asyncio.get_running_loop().time() + 60
    busy = 0
    while not busy and not task.done() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        with psycopg.connect(libpq_url(pg_database), autocommit=True) as conn:
            busy = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(30)%%' "
                                "AND pid <> pg_backend_pid()").fetchone()[0]
    # the run must be inside the migration when it is cancelled; a run that ended first shows why
    assert busy, f"the migration never reached pg_sleep (run ended: {task.done()}): {events!r}"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    import os
    with pytest.raises(ProcessLookupError):
        os.kill(pid_box[0], 0)
    async with MigrationLock(pg_database):
        pass
    assert current_heads(pg_database) == ()


def test_plan_matches_run(demo: AlembicProject) -> None:
    history = load_history(demo)
    assert [r.id for r in plan(history, [], "head", "upgrade")] == ["0001_user", "0002_todo"]


def _run_app(project_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    code = ("from fastapi.testclient import TestClient\nfrom app.main import app\nc = TestClient(app)\n"
            "print(c.get('/').json()['database'], c.get('/health').status_code, c.get('/users').json())\n")
    import os
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-c", code], cwd=project_dir, env=env, capture_output=True,
                          text=True, timeout=60)


async def test_demo_app_with_fly_url_fails_then_works(demo: AlembicProject, pg_database: str) -> None:
    broken = _run_app(demo.root, pg_database.replace("postgresql+psycopg://", "postgres://", 1))
    assert broken.returncode != 0
    assert "NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres" in broken.stderr
    await AlembicRunner(demo, ALEMBIC).run_to_end(["upgrade", "head"], pg_database)
    fixed = _run_app(demo.root, pg_database)
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.split(" ", 2)[:2] == ["ok", "200"]
    assert "demo@example.com" in fixed.stdout  # inserted by 0002_todo
