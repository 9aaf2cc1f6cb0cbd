"""Shared setup for the migrations tests (no tests here): a Fly Postgres app in the sandbox, attached to a web
app, reached through the sandbox's real ``fly proxy`` to the session's embedded PostgreSQL."""
from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from flytui.db.alembic_service import find_alembic_project
from flytui.db.lock import libpq_url
from flytui.db.migrations import MigrationSession
from flytui.db.tunnel import TunnelManager
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import copy_demo_project

ALEMBIC = [sys.executable, "-m", "alembic"]
FAST_TUNNEL = {"backoff_base": 0.05, "backoff_cap": 0.2, "ready_timeout": 15.0}


@dataclass
class FlyDb:
    """A sandbox Postgres app + an attached web app; ``url`` is the DATABASE_URL flyctl attached (postgres://)."""

    sandbox: Any
    pg_app: str
    web: str
    url: str
    db: str
    runner: FlyctlRunner

    def direct_url(self, pg_server: Any) -> str:
        """The same database, straight to the backing server (for checks outside flytui)."""
        return pg_server.url(self.db)

    def tables(self, pg_server: Any) -> set[str]:
        with psycopg.connect(libpq_url(self.direct_url(pg_server))) as conn:
            rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        return {r[0] for r in rows}

    def heads(self, pg_server: Any) -> tuple[str, ...]:
        from flytui.db.alembic_service import current_heads

        return current_heads(self.direct_url(pg_server))


@pytest.fixture
def fly_db(sandbox_pg: Any, pg_server: Any) -> Any:
    sb = sandbox_pg
    tag = secrets.token_hex(3)
    pg_app, web = f"db{tag}", f"web{tag}"
    sb.create_postgres(pg_app)
    sb.create_app(web)
    r = sb.run("postgres", "attach", pg_app, "-a", web)
    assert r.returncode == 0, r.stderr
    url = sb.read()["apps"][web]["secrets"]["DATABASE_URL"]["value"]
    assert url.startswith(f"postgres://{web}:") and f"@{pg_app}.flycast:5432/" in url
    db = url.rsplit("/", 1)[1].split("?")[0]
    runner = FlyctlRunner(sb.flyctl, env=sb.env, grace=1.0)
    yield FlyDb(sb, pg_app, web, url, db, runner)
    try:
        pg_server.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        pg_server.execute(f'DROP ROLE IF EXISTS "{web}"')
    except Exception:  # noqa: BLE001 - cleanup only
        pass


def sleeping(fly_db: Any, pg_server: Any) -> int:
    """Backends of the test database inside a revision's ``pg_sleep`` (tests/helpers/revgen.py ``sleep_at``)."""
    import psycopg

    from flytui.db.lock import libpq_url

    with psycopg.connect(libpq_url(fly_db.direct_url(pg_server)), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(%%' "
                            "AND pid <> pg_backend_pid() AND datname = current_database()").fetchone()[0]


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    return copy_demo_project(tmp_path / "demo", "fly-demo-test")


def make_session(project_dir: Path, fly_db: FlyDb | None = None, **kw: Any) -> MigrationSession:
    project = find_alembic_project(project_dir)
    assert project is not None
    runner = fly_db.runner if fly_db else None
    tunnels = TunnelManager(runner, idle_timeout=0.2, **FAST_TUNNEL) if runner else None
    return MigrationSession(project, runner=runner, tunnels=tunnels, alembic_command=ALEMBIC, **kw)


async def collect(session: MigrationSession, action: Any) -> list[Any]:
    return [e async for e in session.run(action)]
