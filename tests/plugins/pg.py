"""Real embedded PostgreSQL fixtures (owned by the db/postgres work).

- ``pg_server`` (session): one :class:`flytui.sandbox.postgres.EmbeddedPostgres` for the whole test session.
  If it cannot start, the tests using it fail loudly (never skip).
- ``pg_database`` (function): a fresh empty database; yields its SQLAlchemy URL string
  (``postgresql+psycopg://postgres@/<db>?host=<socket dir>&port=<port>``); dropped after the test.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from flytui.sandbox.postgres import EmbeddedPostgres

_counter = itertools.count(1)


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
