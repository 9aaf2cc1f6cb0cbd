"""Real embedded PostgreSQL fixtures (owned by the db/postgres work).

- ``pg_server`` (session): one :class:`flytui.sandbox.postgres.EmbeddedPostgres` for the whole test session.
  If it cannot start, the tests using it fail loudly (never skip).
- ``pg_database`` (function): a fresh empty database; yields its SQLAlchemy URL string
  (``postgresql+psycopg://postgres@/<db>?host=<socket dir>&port=<port>``); dropped after the test.
- ``pg_fly_extensions`` (function): ``pg_server``, once it is known to offer every extension real Fly Postgres
  has (uuid-ossp, pgcrypto, citext, pg_trgm). When it does not (no system PostgreSQL + contrib, only the
  embedded wheel): under ``CI=true`` the test fails, locally it is skipped with the reason.

The pytest header names the installation the server runs (``postgres: system PostgreSQL 15 (...)``); set
``FLYTUI_PG_BINDIR`` (``system``, ``embedded`` or a bin folder) to force one.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from flytui.sandbox.pg_install import FLY_EXTENSIONS, PgInstallError, find_pg_install
from flytui.sandbox.postgres import EmbeddedPostgres

_counter = itertools.count(1)


def pytest_report_header() -> str:
    """Which PostgreSQL the session's server runs (system with the Fly extensions, or the embedded wheel)."""
    try:
        return f"postgres: {find_pg_install().describe()}"
    except PgInstallError as exc:
        return f"postgres: none usable ({exc})"


def in_ci() -> bool:
    """True on CI (``CI=true``, set by GitHub Actions, GitLab and most others)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL server per test session (stopped and removed at the end)."""
    server = EmbeddedPostgres()
    try:
        server.start(timeout=60)
    except Exception as exc:  # fail loudly with the server's own words
        server.stop()
        pytest.fail(f"embedded PostgreSQL could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_database(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database on the session server; dropped (WITH FORCE) afterwards."""
    name = f"test_{os.getpid()}_{next(_counter)}"
    pg_server.create_database(name)
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def pg_fly_extensions(pg_server: EmbeddedPostgres) -> EmbeddedPostgres:
    """``pg_server`` when it has every Fly extension; else a failure on CI, a skip (with the reason) locally."""
    import psycopg

    with psycopg.connect(pg_server.dsn()) as conn:
        available = {row[0] for row in conn.execute(
            "select name from pg_available_extensions where name = any(%s)", [list(FLY_EXTENSIONS)])}
    missing = [e for e in FLY_EXTENSIONS if e not in available]
    if missing:
        install = pg_server.install.describe() if pg_server.install is not None else "unknown installation"
        reason = (f"the test PostgreSQL lacks {', '.join(missing)} ({install}); install postgresql and "
                  "postgresql-contrib (.ci/run does it with apt-get) or set FLYTUI_PG_BINDIR to a PostgreSQL bin "
                  "folder that has them")
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return pg_server
