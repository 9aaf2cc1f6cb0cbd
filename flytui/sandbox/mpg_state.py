"""State of the sandbox's Fly Managed Postgres clusters (``state["mpg_clusters"]``): records, readiness, the real
roles and databases on the backing server, and the private-network forwarder machines use.

Constants from flyctl @ ad0172f: internal/mpgutil/mpgutil.go (``fly-user``, ``fly-db``), internal/command/mpg/proxy.go
(default local port 16380), internal/command/mpg/plans.go. See flytui/sandbox/commands/mpg.py for the commands.
"""
from __future__ import annotations

import os
import random
import re
import string
import time
import zlib
from typing import Any

from flytui.sandbox.state import Sandbox, SandboxError, get_org, random_password

DEFAULT_USER = "fly-user"   # internal/mpgutil/mpgutil.go
DEFAULT_DB = "fly-db"
READY_ENV = "FLYTUI_SANDBOX_MPG_READY"  # seconds a new cluster stays initializing (divided by the speed)


# ---- state helpers -------------------------------------------------------------------------------

def cluster_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(random.choice(alphabet) for _ in range(16))


def _speed() -> float:
    try:
        return float(os.environ.get("FLYTUI_SANDBOX_SPEED", "1") or 1) or 1.0
    except ValueError:
        return 1.0


def _ready_delay() -> float:
    try:
        return float(os.environ.get(READY_ENV, "3") or 0) / _speed()
    except ValueError:
        return 3.0 / _speed()


def refresh(cluster: dict[str, Any]) -> dict[str, Any]:
    """``initializing`` turns ``ready`` once ``ready_at`` has passed (call inside a transaction)."""
    if cluster["status"] == "initializing" and cluster.get("ready_at") is not None \
            and time.time() >= float(cluster["ready_at"]):
        cluster["status"] = "ready"
    return cluster


def clusters(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return state.setdefault("mpg_clusters", {})


def find_cluster(state: dict[str, Any], ident: str) -> dict[str, Any]:
    """ClusterFromArgOrSelect (mpg.go): the cluster by id, or its not-found error."""
    c = clusters(state).get(ident)
    if c is None:
        raise SandboxError(f'managed postgres cluster "{ident}" not found')
    return refresh(c)


def pooler_host(c: dict[str, Any]) -> str:
    return f"pgbouncer.{c['id']}.flympg.net"


def connection_uri(c: dict[str, Any], user: str | None = None, db: str | None = None) -> str:
    """``credentials.pgbouncer_uri`` with the given user (and its password) and database."""
    from urllib.parse import quote

    user = user or DEFAULT_USER
    password = c["passwords"][user]
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{pooler_host(c)}/{db or DEFAULT_DB}"


def app_numeric_id(name: str) -> int:
    return zlib.crc32(name.encode()) % 900000 + 100000


def new_cluster(state: dict[str, Any], name: str, org: str, *, region: str = "iad", plan: str = "basic",
                status: str = "ready", ready_in: float | None = None, disk: int = 10,
                pg_major_version: int = 16, postgis: bool = False) -> dict[str, Any]:
    """Insert a cluster record (inside a transaction); ``ready_in`` seconds until ``ready`` when initializing."""
    get_org(state, org)
    cid = cluster_id()
    n = len(clusters(state)) + 2
    c: dict[str, Any] = {
        "id": cid, "mpgd_cluster_id": f"mpgd-{cid[:10]}", "name": name, "org": org, "region": region,
        "plan": plan, "status": status, "disk": disk, "replicas": 1, "pg_major_version": pg_major_version,
        "postgis": postgis, "direct_ip": f"fdaa:0:3b99:a7b:{n:x}:{random.randrange(0x1000, 0xffff):x}::2",
        "attached_apps": [], "databases": [DEFAULT_DB], "users": [{"name": DEFAULT_USER, "role": "schema_admin"}],
        "passwords": {DEFAULT_USER: random_password(24)}, "backed": False,
        "ready_at": None if status != "initializing" else time.time() + (ready_in if ready_in is not None
                                                                          else _ready_delay()),
    }
    clusters(state)[cid] = c
    return c


def add_cluster(sb: Sandbox, name: str, org: str = "personal", **kw: Any) -> dict[str, Any]:
    """Seed a cluster (tests and the demo); its role and database are created on the backing server."""
    with sb.transaction() as st:
        c = new_cluster(st, name, org, **kw)
        ensure_backing(st, c)
        return c


def ensure_backing(state: dict[str, Any], c: dict[str, Any]) -> None:
    """Create the cluster's users (with passwords) and databases on the backing server, once it is known."""
    server = state.get("postgres_server")
    if not server or c.get("backed"):
        return
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(host=server["host"], port=server["port"], user=server["user"], dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            for u in c["users"]:
                ident, pw = sql.Identifier(u["name"]), sql.Literal(c["passwords"][u["name"]])
                if conn.execute("select 1 from pg_roles where rolname = %s", (u["name"],)).fetchone():
                    conn.execute(sql.SQL("alter role {} login password {}").format(ident, pw))
                else:
                    conn.execute(sql.SQL("create role {} login password {}").format(ident, pw))
            owner = sql.Identifier(c["users"][0]["name"])
            for db in c["databases"]:
                if not conn.execute("select 1 from pg_database where datname = %s", (db,)).fetchone():
                    conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(db), owner))
                for u in c["users"]:
                    conn.execute(sql.SQL("grant all privileges on database {} to {}").format(
                        sql.Identifier(db), sql.Identifier(u["name"])))
    except psycopg.Error as exc:
        raise SandboxError(f"failed provisioning cluster {c['id']}: {exc}".strip()) from None
    c["backed"] = True


def drop_backing(state: dict[str, Any], c: dict[str, Any]) -> None:
    """Drop the cluster's databases (its roles stay: other clusters of the sandbox may share them)."""
    server = state.get("postgres_server")
    if not server or not c.get("backed"):
        return
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(host=server["host"], port=server["port"], user=server["user"], dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            for db in c["databases"]:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))
    except psycopg.Error:
        pass


# ---- the private network: machines reach pgbouncer.<id>.flympg.net through PGHOSTADDR --------------

_URL_HOST = re.compile(r"^(?:(?:pgbouncer|direct)\.)?([a-z0-9][a-z0-9-]*)\.flympg\.net\.?$")


def ensure_forwarder(state: dict[str, Any], c: dict[str, Any]) -> str | None:
    """The cluster's private address ``127.0.0.N`` with a forwarder ``:5432`` -> backing server (inside a
    transaction; the forwarder's pid is recorded in ``state["proxies"]`` so ``Sandbox.teardown`` stops it)."""
    import subprocess
    import sys

    from flytui.sandbox import procs
    from flytui.sandbox.state import pid_alive

    server = state.get("postgres_server")
    if not server or c.get("deleted") or refresh(c)["status"] != "ready":
        return None
    info = c.setdefault("sandbox", {})
    if info.get("pid") and pid_alive(info["pid"]) and info.get("addr"):
        return str(info["addr"])
    addr, sock = procs._claim_address(state, c)
    try:
        fd = sock.fileno()
        argv = [sys.executable, "-m", "flytui.sandbox.procs", "flycast", str(fd), procs._server_target(server)]
        proc = subprocess.Popen(argv, pass_fds=[fd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    finally:
        sock.close()
    info["pid"] = proc.pid
    state.setdefault("proxies", []).append(proc.pid)
    return addr


def stop_forwarder(c: dict[str, Any]) -> None:
    from flytui.sandbox.state import stop_group

    pid = c.get("sandbox", {}).pop("pid", None)
    if pid:
        stop_group(pid, grace=1.0)


def mpg_hostaddr(app: dict[str, Any], state: dict[str, Any]) -> str | None:
    """``PGHOSTADDR`` for a machine of ``app`` whose DATABASE_URL names an MPG cluster of this sandbox."""
    from urllib.parse import urlsplit

    value = str(app.get("secrets", {}).get("DATABASE_URL", {}).get("value", ""))
    try:
        host = urlsplit(value).hostname or ""
    except ValueError:
        return None
    m = _URL_HOST.match(host)
    c = clusters(state).get(m.group(1)) if m else None
    if c is None:
        return None
    ensure_backing(state, c)
    return ensure_forwarder(state, c)
