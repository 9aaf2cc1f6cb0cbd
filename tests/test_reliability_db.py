"""Issue 8, properties 4 (database faults) and 5 (concurrency), against real PostgreSQL behind the sandbox's
``fly proxy``. Helpers and fixtures come from the migrations tests (imported, not copied).

- the tunnel killed mid-migration: the database stays at a consistent revision and the summary says what
  happened (the scenario of tests/test_migrations_session.py, run here so it counts in the report);
- the Fly Postgres app restarted under an open migrations pane: its database goes away under the open
  tunnel, the refresh says so, and once it is back the next refresh shows the current heads again without
  entering the URL again;
- two flytui processes (separate OS processes, each with its own ``fly proxy``) run ``upgrade head`` on the
  same database at the same moment: one takes the advisory lock and migrates, the other gets the
  "Another migration is running: pid …" message; every revision ran once (alembic_version and a
  side-effect table say so).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from flytui.db.lock import libpq_url
from tests import test_migrations_session as session_tests
from tests.helpers.revgen import RevSpec, table_chain, write_project
from tests.test_migrations_screen import enter_url, make_app, open_screen, until
from tests.test_migrations_support import demo_dir, fly_db  # noqa: F401 - fixtures

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parent.parent


async def test_tunnel_killed_mid_migration_leaves_a_consistent_revision(fly_db, tmp_path: Path, pg_server,
                                                                        reliability) -> None:
    await session_tests.test_tunnel_killed_mid_migration(fly_db, tmp_path, pg_server)
    reliability.add("faults survived")


async def test_postgres_restarted_under_an_open_migrations_pane_reconnects(fly_db, demo_dir: Path, pg_server,
                                                                           monkeypatch, reliability) -> None:
    machine = fly_db.sandbox.read()["apps"][fly_db.pg_app]["machines"][0]["id"]
    app = make_app(fly_db.runner, demo_dir, fly_db.web)
    errors: list[str] = []
    app.notify = lambda message, **kw: errors.append(str(message)) if kw.get("severity") == "error" else None
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_screen(app, pilot, monkeypatch)
        await enter_url(pilot, screen, monkeypatch, fly_db.url)
        assert screen.snapshot.current == ()
        with psycopg.connect(libpq_url(fly_db.direct_url(pg_server))) as conn:  # somebody migrated meanwhile
            conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES ('0001_user')")
            conn.execute(f'ALTER TABLE alembic_version OWNER TO "{fly_db.web}"')

        await fly_db.runner.run("machine", "stop", machine, "-a", fly_db.pg_app)  # the database goes away
        await pilot.press("r")
        await until(pilot, lambda: errors, 20, "the refresh failure")
        await until(pilot, lambda: screen.snapshot is not None and screen.snapshot.current is None, 20,
                    "history shown without the database")
        assert app.is_running and isinstance(app.screen, type(screen))
        assert "Traceback" not in errors[-1]

        await fly_db.runner.run("machine", "start", machine, "-a", fly_db.pg_app)  # and comes back
        await pilot.press("r")
        await until(pilot, lambda: screen.snapshot.current == ("0001_user",), 30, "current heads again")
        assert str(screen.query_one("#mig-table").get_cell("0001_user", "state")) == "current"
        assert screen.session.tunnel_state == "up"
    reliability.add("faults survived")


def _side_effect_chain() -> list[RevSpec]:
    """c1 records one row per execution in ``side_effect`` and stays busy 2 s; c2 follows it."""
    specs = table_chain(["c1", "c2"], sleep_at=("c1", 2.0))
    specs[0].upgrade = ('op.execute("CREATE TABLE IF NOT EXISTS side_effect (rev text, backend int)")\n'
                        'op.execute("INSERT INTO side_effect VALUES (\'c1\', pg_backend_pid())")\n' + specs[0].upgrade)
    return specs


def test_two_flytui_processes_migrating_one_database_one_runs_the_other_is_told(fly_db, tmp_path: Path,
                                                                                 pg_server, reliability) -> None:
    project = write_project(tmp_path / "p", _side_effect_chain())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = dict(fly_db.sandbox.env, FLYTUI_FLYCTL=fly_db.sandbox.flyctl, MIGRATE_URL=fly_db.url,
               PYTHONPATH=str(ROOT))
    procs = {name: subprocess.Popen([sys.executable, "-m", "tests.helpers.migrate_process", str(project),
                                     str(run_dir), name], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for name in ("one", "two")}
    try:
        deadline = time.monotonic() + 60
        while not all((run_dir / f"{n}.ready").exists() for n in procs) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs.values()), {n: p.stdout.read() for n, p in procs.items()}
            time.sleep(0.05)
        (run_dir / "go").write_text("")  # both connected: run at the same moment
        for p in procs.values():
            p.wait(timeout=60)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    results = {n: json.loads((run_dir / f"{n}.json").read_text()) for n in procs}
    outcomes = sorted(r["outcome"] for r in results.values())
    assert outcomes == ["locked", "ran"], results
    ran = next(r for r in results.values() if r["outcome"] == "ran")
    locked = next(r for r in results.values() if r["outcome"] == "locked")
    assert ran["steps"] == ["c1", "c2"] and ran["heads_after"] == ["c2"]
    assert locked["message"].startswith("Another migration is running: pid ")
    assert "flytui-migration-lock" in locked["message"] and locked["hint"]
    assert fly_db.heads(pg_server) == ("c2",)
    with psycopg.connect(libpq_url(fly_db.direct_url(pg_server))) as conn:
        rows = conn.execute("SELECT rev FROM side_effect").fetchall()
    assert rows == [("c1",)]  # no double run
    assert all(fly_db.url.split("@")[0] not in " ".join(p.args) for p in procs.values())  # URL not in argv
    reliability.add("concurrent runs checked")
    reliability.add("faults survived")
