"""Advisory lock that keeps two flytui migration runs from overlapping.

flytui holds a session-level ``pg_try_advisory_lock(KEY)`` on its *own* connection for the whole
subprocess run (the user's env.py takes no lock). If another session holds it, we never block: the
holder is looked up in ``pg_locks`` + ``pg_stat_activity`` and reported in :class:`MigrationLocked`.
This protects flytui-vs-flytui runs, not runs started by other tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

LOCK_KEY = 0x666C7974  # "flyt"
APPLICATION_NAME = "flytui-migration-lock"

_HOLDERS_SQL = """
SELECT l.pid, a.application_name, host(a.client_addr), a.backend_start, a.query
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.classid = %(classid)s::oid AND l.objid = %(objid)s::oid AND l.objsubid = 1
ORDER BY l.pid
"""


@dataclass(frozen=True)
class LockHolder:
    """One backend holding the migration lock."""

    pid: int
    application_name: str | None
    client_addr: str | None
    backend_start: datetime | None
    query: str | None

    def describe(self) -> str:
        """One line for the UI: ``pid 123 (flytui-migration-lock from 127.0.0.1, since 12:00:01)``."""
        who = self.application_name or "unknown client"
        where = f" from {self.client_addr}" if self.client_addr else " (local socket)"
        since = f", since {self.backend_start:%Y-%m-%d %H:%M:%S}" if self.backend_start else ""
        return f"pid {self.pid} ({who}{where}{since})"


class MigrationLocked(Exception):
    """Another session holds the migration advisory lock."""

    def __init__(self, holders: list[LockHolder], key: int = LOCK_KEY) -> None:
        self.holders = holders
        self.key = key
        self.message = (
            "Another migration is running: "
            + ("; ".join(h.describe() for h in holders) if holders else "holder not visible (no privilege?)")
        )
        self.hint = "Wait for it to finish, or end that session (pg_terminate_backend) if it is stuck."
        super().__init__(self.message)

    @property
    def pids(self) -> list[int]:
        """Backend pids of the holders."""
        return [h.pid for h in self.holders]


def libpq_url(url: str) -> str:
    """Turn a SQLAlchemy URL (``postgresql+psycopg://``, ``postgres://``) into a libpq URI."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url  # key=value conninfo string
    if scheme == "postgres" or scheme.startswith("postgresql"):
        return "postgresql://" + rest
    raise ValueError(f"not a PostgreSQL URL (scheme {scheme!r})")


def split_key(key: int) -> tuple[int, int]:
    """(classid, objid) under which pg_locks shows a bigint advisory key."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


async def lock_holders(conn: Any, key: int = LOCK_KEY) -> list[LockHolder]:
    """Sessions holding advisory lock ``key``, read on an open psycopg AsyncConnection."""
    classid, objid = split_key(key)
    async with conn.cursor() as cur:
        await cur.execute(_HOLDERS_SQL, {"classid": classid, "objid": objid})
        rows = await cur.fetchall()
    return [LockHolder(pid=r[0], application_name=r[1] or None, client_addr=r[2], backend_start=r[3], query=r[4])
            for r in rows]


class MigrationLock:
    """``async with MigrationLock(url):`` — hold the migration lock or raise :class:`MigrationLocked`.

    The lock lives on a dedicated autocommit connection (``application_name`` = flytui-migration-lock)
    and is released (and the connection closed) on exit, also on error or cancellation.
    """

    def __init__(self, url: str, key: int = LOCK_KEY, *, connect_timeout: int = 10) -> None:
        self._conninfo = libpq_url(url)
        self.key = key
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self.backend_pid: int | None = None

    async def acquire(self) -> None:
        """Take the lock without waiting; MigrationLocked naming the holder(s) if it is taken."""
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=APPLICATION_NAME,
            connect_timeout=self.connect_timeout,
        )
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT pg_try_advisory_lock(%s), pg_backend_pid()", (self.key,))
                row = await cur.fetchone()
            if row is None:  # pragma: no cover - SELECT without FROM always returns one row
                raise RuntimeError("pg_try_advisory_lock returned no row")
            got, pid = row
            if not got:
                holders = await lock_holders(conn, self.key)
                raise MigrationLocked(holders, self.key)
        except BaseException:
            await conn.close()
            raise
        self._conn, self.backend_pid = conn, pid

    async def release(self) -> None:
        """Unlock and close; safe to call twice."""
        import psycopg

        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except (psycopg.Error, OSError):
            pass  # closing the session releases a session lock anyway
        finally:
            await conn.close()

    async def __aenter__(self) -> "MigrationLock":
        await self.acquire()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.release()
