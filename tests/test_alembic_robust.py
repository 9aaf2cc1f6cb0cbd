"""Alembic runs that cannot hang: huge output lines, an env.py that never finishes, the process registry.

Real PostgreSQL (``pg_server``); the projects are generated (tests/helpers/revgen.py, shaped like
``alembic init`` output of alembic 1.13+).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import psycopg
import pytest

from flytui.db.alembic_service import AlembicRunner, LogLine, RunFinished, RunStarted, current_heads, find_alembic_project
from flytui.db.lock import LOCK_KEY, libpq_url
from flytui.fly.runner import live_groups
from tests.helpers.revgen import ENV_PY, RevSpec, write_project

ALEMBIC = [sys.executable, "-m", "alembic"]


def _lock_holders(url: str) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                           "AND objid = %s::oid", (LOCK_KEY & 0xFFFFFFFF,)).fetchone()
    return int(row[0])


async def test_a_one_megabyte_line_neither_hangs_nor_loses_what_follows(tmp_path: Path, pg_database: str) -> None:
    body = ('import sys\nprint("x" * 1_000_000, flush=True)\nprint("y" * 300_000, file=sys.stderr, flush=True)\n'
            'for i in range(3):\n    print(f"after the long line {i}", flush=True)\n'
            'op.create_table("t_big", sa.Column("id", sa.Integer, primary_key=True))')
    project = find_alembic_project(write_project(tmp_path, [RevSpec("big1", None, "chatty", upgrade=body)]))
    runner = AlembicRunner(project, ALEMBIC, max_line=2000)
    events = []
    seen_group = False

    async def consume() -> None:
        nonlocal seen_group
        async for event in runner.run(["upgrade", "head"], pg_database):
            if isinstance(event, RunStarted):
                seen_group = event.pid in live_groups()
            events.append(event)

    await asyncio.wait_for(consume(), 120)  # the old readline() reader hung here forever
    result = events[-1].result
    assert isinstance(events[-1], RunFinished)
    assert result.ok, result.output
    texts = [e.text for e in events if isinstance(e, LogLine)]
    assert [t for t in texts if t.startswith("x")] == ["x" * 1999 + "…"]
    assert [t for t in texts if t.startswith("y")] == ["y" * 1999 + "…"]
    assert [t for t in texts if t.startswith("after")] == [f"after the long line {i}" for i in range(3)]
    assert current_heads(pg_database) == ("big1",)
    assert seen_group, "the alembic child is in the runner's registry of live process groups"
    assert _lock_holders(pg_database) == 0


HANGING_OFFLINE_ENV = ENV_PY.replace(
    "def run_migrations_offline():\n",
    "def run_migrations_offline():\n    import time\n    time.sleep(120)\n",
)


async def test_a_hanging_env_py_preview_times_out(tmp_path: Path, pg_database: str) -> None:
    project = find_alembic_project(write_project(tmp_path, [RevSpec("h1", None, "one")], env_py=HANGING_OFFLINE_ENV))
    runner = AlembicRunner(project, ALEMBIC, preview_timeout=3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pv = await asyncio.wait_for(runner.preview_sql("upgrade", "head", pg_database, current=()), 60)
    assert not pv.ok
    assert "did not finish within 3 s" in (pv.error or "")
    assert loop.time() - t0 < 30
    assert not any("alembic" in cmd for cmd in live_groups().values())


async def test_cancelling_a_run_kills_alembic_and_releases_the_lock(tmp_path: Path, pg_database: str) -> None:
    body = 'op.execute("SELECT pg_sleep(60)")'
    project = find_alembic_project(write_project(tmp_path, [RevSpec("s1", None, "slow", upgrade=body)]))
    runner = AlembicRunner(project, ALEMBIC)
    started = asyncio.Event()
    pid = 0

    async def consume() -> None:
        nonlocal pid
        async for event in runner.run(["upgrade", "head"], pg_database):
            if isinstance(event, LogLine) and "Running upgrade" in event.text:
                started.set()
            if isinstance(event, RunStarted):
                pid = event.pid

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pid not in live_groups()
    assert _lock_holders(pg_database) == 0
    assert current_heads(pg_database) == ()


async def test_alembic_runs_are_in_the_command_log_with_secrets_masked(tmp_path: Path, pg_database: str) -> None:
    from flytui.fly.runner import FlyctlRunner

    body = 'import os, sys\nsys.exit("secret is " + os.environ["APP_SECRET_KEY"])'
    project = find_alembic_project(write_project(tmp_path, [RevSpec("c1", None, "leaky", upgrade=body)]))
    processes = FlyctlRunner()
    seen = []
    processes.add_listener(seen.append)
    runner = AlembicRunner(project, ALEMBIC, processes=processes, env={"APP_SECRET_KEY": "hunter2-value"})
    result = await runner.run_to_end(["upgrade", "head"], pg_database)
    assert not result.ok
    ends = [i for i in seen if i.returncode is not None]
    assert [i.kind for i in ends] == ["alembic"] and ends[0].argv[-2:] == ["upgrade", "head"]
    assert "secret is" in ends[0].stderr_tail and "hunter2-value" not in ends[0].stderr_tail
