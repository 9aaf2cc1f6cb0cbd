"""Which database a ``DATABASE_URL`` names: a Fly Postgres app, a Fly Managed Postgres cluster, or other.

Shapes (flyctl @ ad0172f):

- ``fly postgres attach`` (internal/command/postgres/attach.go): ``postgres://USER:PW@APP.flycast:5432/DB?sslmode=disable``;
  older ones ``APP.internal`` / ``top2.nearest.of.APP.internal``.
- ``fly mpg attach`` (internal/command/mpg/v2/run_attach.go): the API's ``pgbouncer_uri`` with user, password and
  path replaced: ``postgresql://fly-user:PW@pgbouncer.CLUSTER.flympg.net/fly-db`` (defaults from
  internal/mpgutil/mpgutil.go; the host shape, and ``direct.CLUSTER.flympg.net`` for the unpooled endpoint, from
  fly.io/docs/mpg/client-configuration). ``fly launch`` sets the same shape (launch/launch_databases.go).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MPG_DOMAIN = "flympg.net"
MPG_DEFAULT_USER = "fly-user"
MPG_DEFAULT_DB = "fly-db"
_MPG_HOST = re.compile(r"^(?:(?P<endpoint>pgbouncer|direct)\.)?(?P<cluster>[a-z0-9][a-z0-9-]*)\.flympg\.net\.?$",
                       re.ASCII)
DatabaseKind = Literal["fly-postgres", "mpg", "other", "invalid"]


@dataclass(frozen=True)
class MpgUrl:
    """What an MPG URL says (never the password)."""

    cluster_id: str
    endpoint: str        # "pgbouncer" (pooled, what attach sets) | "direct" | "" (bare cluster host)
    host: str
    user: str
    database: str

    @property
    def pooled(self) -> bool:
        return self.endpoint == "pgbouncer"


@dataclass(frozen=True)
class DatabaseTarget:
    """The kind of database a URL points at, with its name (app or cluster id)."""

    kind: DatabaseKind
    name: str = ""        # Fly Postgres app name or MPG cluster id
    host: str = ""
    mpg: MpgUrl | None = None

    @property
    def label(self) -> str:
        if self.kind == "fly-postgres":
            return f"Fly Postgres app {self.name}"
        if self.kind == "mpg":
            return f"Managed Postgres cluster {self.name}"
        if self.kind == "invalid":
            return "not a database URL"
        return f"another database ({self.host or 'no host'})"


def _host_of(url: str) -> tuple[str, str, str] | None:
    """(host, user, database) of a URL, via SQLAlchemy's parser; None when it cannot be parsed."""
    from flytui.db.urls import UrlError, parse_url

    try:
        u = parse_url(url)
    except (UrlError, ValueError):
        return None
    return (u.host or "").lower(), u.username or "", u.database or ""


def parse_mpg_url(url: str) -> MpgUrl | None:
    """The MPG cluster an URL names (``pgbouncer.CLUSTER.flympg.net`` / ``direct.…`` / ``CLUSTER.flympg.net``)."""
    parts = _host_of(url)
    if parts is None:
        return None
    host, user, db = parts
    m = _MPG_HOST.match(host)
    if not m:
        return None
    return MpgUrl(cluster_id=m.group("cluster"), endpoint=m.group("endpoint") or "", host=host, user=user,
                  database=db)


def fly_postgres_app(host: str) -> str | None:
    """The Fly Postgres app of a private-network host (``X.flycast``, ``X.internal``, ``top2.nearest.of.X.internal``)."""
    h = host.lower().rstrip(".")
    for suffix in (".flycast", ".internal"):
        if h.endswith(suffix):
            name = h[: -len(suffix)].rsplit(".", 1)[-1]
            return name or None
    return None


def database_target(url: str) -> DatabaseTarget:
    """Classify ``url``: ``mpg`` (cluster id), ``fly-postgres`` (app name), ``other`` or ``invalid``."""
    parts = _host_of(url)
    if parts is None:
        return DatabaseTarget("invalid")
    host = parts[0]
    mpg = parse_mpg_url(url)
    if mpg is not None:
        return DatabaseTarget("mpg", mpg.cluster_id, host, mpg)
    app = fly_postgres_app(host)
    if app:
        return DatabaseTarget("fly-postgres", app, host)
    return DatabaseTarget("other", "", host)
