"""Fly Managed Postgres (``fly mpg``): typed models, parsers and the FlyClient commands.

Shapes from flyctl @ ad0172f (samples and sources in ``tests/fixtures/flyctl/mpg/``):

- ``fly mpg list --org ORG --json``: uiex/mpg/v1 ``ManagedCluster`` (snake_case; ``version`` 1|2; ``organization``
  is fly-go's untagged ``Organization``, so PascalCase). No clusters -> the text ``No managed postgres clusters
  found in organization ORG`` even with ``--json`` (list.go prints it first).
- ``fly mpg status ID --json``: uiex/mpg/v2 ``GetClusterResponse`` ``{"data": ManagedCluster, "credentials":
  {status, user, password, dbname, pgbouncer_uri}}`` — flyctl prints the password; it is kept out of ``repr``.
- ``fly mpg databases list ID --json`` / ``users list``: ``[{"name"}]`` / ``[{"name", "role"}]``; empty -> the
  text ``No databases found for cluster ID`` / ``No users found for cluster ID``.
- ``fly mpg proxy ID -p PORT``: ready line ``Proxying localhost:PORT to remote [IP]:5432`` (proxy/connect.go).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .command import FlyCommand
from .errors import FlyctlOutputError
from .models import _Obj, _parse_list, output_error

if TYPE_CHECKING:  # pragma: no cover
    from .run_types import RunnerLike
    from .retry import RateGate
    from .runner import CompletedRun, FlyProcess

#: internal/command/mpg/proxy.go: ``--local-port/-p`` default
MPG_PROXY_DEFAULT_PORT = 16380
#: proxy/connect.go, remote ``[<direct ip>]:5432`` (v2/run_proxy.go)
MPG_PROXY_READY = r"Proxying localhost:(?P<port>\d+) to remote \[(?P<remote>[^\]]*)\]:(?P<rport>\d+)"
#: statuses of a cluster that is still being provisioned (flyctl refuses proxy/connect: v2/run_proxy.go)
MPG_STATUSES_BUSY = ("initializing", "provisioning", "creating")


@dataclass(frozen=True)
class MpgCluster:
    """One Managed Postgres cluster (``mpg list`` entry or ``mpg status`` ``data``)."""

    id: str
    name: str = ""
    region: str = ""
    status: str = ""
    plan: str = ""
    disk_gb: int = 0
    replicas: int = 0
    org_slug: str = ""
    org_name: str = ""
    direct_ip: str = ""
    attached_apps: tuple[str, ...] = ()
    version: int = 2  # MPG generation (v1/v2 clusters), not the PostgreSQL version

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def attached_text(self) -> str:
        """list.go ``FormatAttachedApps``."""
        return ", ".join(self.attached_apps) or "<no attached apps>"

    @classmethod
    def from_json(cls, data: Any, command: str = "mpg list", what: str = "cluster") -> "MpgCluster":
        o = _Obj(data, command, what)
        org = o.obj("organization")
        apps: list[str] = []
        for i, item in enumerate(o.list("attached_apps")):
            apps.append(_Obj(item, command, f"{what}.attached_apps #{i}").str("name", required=True))
        ips = o.obj("ip_assignments")
        version = o.opt_int("version")
        if version is None:  # mpg.go: a cluster with an mpgd_cluster_id is a v2 cluster
            version = 2 if o.str("mpgd_cluster_id") else 1
        return cls(
            id=o.str("id", required=True),
            name=o.str("name"),
            region=o.str("region"),
            status=o.str("status"),
            plan=o.str("plan"),
            disk_gb=o.int("disk"),
            replicas=o.int("replicas"),
            org_slug=org.str("Slug", "slug") if org else "",
            org_name=org.str("Name", "name") if org else "",
            direct_ip=ips.str("direct") if ips else "",
            attached_apps=tuple(apps),
            version=version,
        )


@dataclass(frozen=True)
class MpgCredentials:
    """``credentials`` of ``mpg status --json`` (the default user's)."""

    status: str = ""
    user: str = ""
    dbname: str = ""
    password: str = field(default="", repr=False)
    pgbouncer_uri: str = field(default="", repr=False)

    @classmethod
    def from_json(cls, data: Any, command: str = "mpg status", what: str = "credentials") -> "MpgCredentials":
        o = _Obj(data, command, what)
        return cls(status=o.str("status"), user=o.str("user"), dbname=o.str("dbname"),
                   password=o.str("password"), pgbouncer_uri=o.str("pgbouncer_uri"))


@dataclass(frozen=True)
class MpgClusterDetail:
    """``mpg status ID --json``."""

    cluster: MpgCluster
    credentials: MpgCredentials

    @classmethod
    def from_json(cls, data: Any, command: str = "mpg status") -> "MpgClusterDetail":
        o = _Obj(data, command, "cluster status")
        d = o.obj("data", required=True)
        c = o.obj("credentials")
        assert d is not None
        return cls(cluster=MpgCluster.from_json(d.data, command, "data"),
                   credentials=MpgCredentials.from_json(c.data, command) if c else MpgCredentials())


@dataclass(frozen=True)
class MpgDatabase:
    name: str


@dataclass(frozen=True)
class MpgUser:
    name: str
    role: str = ""


def parse_mpg_list(data: Any, command: str = "mpg list") -> list[MpgCluster]:
    return _parse_list(data, command, "cluster", lambda d, c, w: MpgCluster.from_json(d, c, w))


def parse_mpg_databases(data: Any, command: str = "mpg databases list") -> list[MpgDatabase]:
    return _parse_list(data, command, "database",
                       lambda d, c, w: MpgDatabase(name=_Obj(d, c, w).str("name", required=True)))


def parse_mpg_users(data: Any, command: str = "mpg users list") -> list[MpgUser]:
    def one(d: Any, c: str, w: str) -> MpgUser:
        o = _Obj(d, c, w)
        return MpgUser(name=o.str("name", required=True), role=o.str("role"))

    return _parse_list(data, command, "user", one)


def json_or_empty(stdout: str, command: str, empty_prefix: str | None) -> Any:
    """JSON from stdout, or ``[]`` when flyctl printed its "No … found" text instead (even under --json)."""
    text = stdout.strip()
    if empty_prefix is not None and text.startswith(empty_prefix):
        return []
    start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
    if start < 0:
        raise output_error(command, f"expected JSON, got {text[:80]!r}")
    try:
        return json.loads(text[start:])
    except ValueError:
        raise output_error(command, f"expected JSON, got {text[:80]!r}") from None


def _cluster_arg(value: str) -> str:
    if not isinstance(value, str) or not value.strip() or value.startswith("-") or any(
            ch in value for ch in "\x00\n\r "):
        raise ValueError(f"cluster id {value!r} is not valid")
    return value


class MpgCommands:
    """``fly mpg`` methods of :class:`flytui.fly.client.FlyClient` (mixed in; uses its runner and rate gate)."""

    runner: RunnerLike
    rate_gate: RateGate
    #: FlyClient.execute
    execute: Callable[[FlyCommand], Awaitable[CompletedRun]]

    async def _mpg_read(self, *args: str) -> "CompletedRun":
        return await self.rate_gate.call(lambda: self.runner.run(*args))

    async def mpg_list(self, org: str, deleted: bool = False) -> list[MpgCluster]:
        """``fly mpg list --org ORG --json [--deleted]`` (flyctl cannot pick an org without a terminal)."""
        args = ["mpg", "list", "--org", _cluster_arg(org), "--json"]
        if deleted:
            args.append("--deleted")
        run = await self._mpg_read(*args)
        return parse_mpg_list(json_or_empty(run.stdout, "mpg list", "No "), "mpg list")

    async def mpg_status(self, cluster_id: str) -> MpgClusterDetail:
        """``fly mpg status ID --json``."""
        run = await self._mpg_read("mpg", "status", _cluster_arg(cluster_id), "--json")
        data = json_or_empty(run.stdout, "mpg status", None)
        if not isinstance(data, dict):
            raise FlyctlOutputError("unexpected output from `fly mpg status`: expected an object",
                                    argv=["fly", "mpg", "status"])
        return MpgClusterDetail.from_json(data)

    async def mpg_databases(self, cluster_id: str) -> list[MpgDatabase]:
        """``fly mpg databases list ID --json``."""
        run = await self._mpg_read("mpg", "databases", "list", _cluster_arg(cluster_id), "--json")
        return parse_mpg_databases(json_or_empty(run.stdout, "mpg databases list", "No databases found"))

    async def mpg_users(self, cluster_id: str) -> list[MpgUser]:
        """``fly mpg users list ID --json``."""
        run = await self._mpg_read("mpg", "users", "list", _cluster_arg(cluster_id), "--json")
        return parse_mpg_users(json_or_empty(run.stdout, "mpg users list", "No users found"))

    def mpg_destroy_command(self, cluster_id: str) -> FlyCommand:
        """``fly mpg destroy ID --yes`` (v2/run_destroy.go refuses without --yes when not interactive)."""
        return FlyCommand(("mpg", "destroy", _cluster_arg(cluster_id), "--yes"), target=cluster_id)

    async def mpg_destroy(self, cluster_id: str) -> "CompletedRun":
        return await self.execute(self.mpg_destroy_command(cluster_id))

    def mpg_attach_command(self, cluster_id: str, app: str, *, database: str | None = None,
                           username: str | None = None, variable: str | None = None) -> FlyCommand:
        """``fly mpg attach ID -a APP [-d DB] [-u USER] [--variable-name VAR]`` (sets the secret itself)."""
        args = ["mpg", "attach", _cluster_arg(cluster_id), "-a", _cluster_arg(app)]
        if database:
            args += ["--database", _cluster_arg(database)]
        if username:
            args += ["--username", _cluster_arg(username)]
        if variable:
            args += ["--variable-name", _cluster_arg(variable)]
        return FlyCommand(tuple(args), timeout=300, target=cluster_id)

    async def mpg_attach(self, cluster_id: str, app: str, *, database: str | None = None,
                         username: str | None = None, variable: str | None = None) -> "CompletedRun":
        return await self.execute(self.mpg_attach_command(cluster_id, app, database=database, username=username,
                                                          variable=variable))

    def mpg_detach_command(self, cluster_id: str, app: str) -> FlyCommand:
        """``fly mpg detach ID -a APP`` (the secret stays, as flyctl says)."""
        return FlyCommand(("mpg", "detach", _cluster_arg(cluster_id), "-a", _cluster_arg(app)), target=cluster_id)

    async def mpg_detach(self, cluster_id: str, app: str) -> "CompletedRun":
        return await self.execute(self.mpg_detach_command(cluster_id, app))

    def mpg_proxy(self, cluster_id: str, local_port: int = MPG_PROXY_DEFAULT_PORT,
                  bind: str | None = None) -> "FlyProcess":
        """``fly mpg proxy ID -p PORT [-b ADDR]``: long-lived; wait for :data:`MPG_PROXY_READY`.

        ``mpg proxy`` has no ``--watch-stdin``: it is stopped by terminating its process group.
        """
        if isinstance(local_port, bool) or not isinstance(local_port, int) or not 0 <= local_port <= 65535:
            raise ValueError(f"local port must be a number 0-65535, got {local_port!r}")
        args = ["mpg", "proxy", _cluster_arg(cluster_id), "-p", str(local_port)]
        if bind:
            args += ["-b", _cluster_arg(bind)]
        return self.runner.spawn(*args)
