"""Operations the other Fly consoles have (issue 19): cordon, kill, stop with a signal, leases, app restart,
services, organization members. Typed models, parsers and the :class:`FlyClient` mixin.

Shapes and texts from flyctl @ ad0172f and fly-go v0.9.6 (the version flyctl's go.mod pins); samples and
sources in ``tests/fixtures/flyctl/parity/SOURCES.md``:

- ``fly machine cordon|uncordon ID… -a APP``: acquire a lease per machine (internal/machine/lease.go), then
  ``Activating cordon on machine ID...`` / ``Deactivating cordon on machine ID...`` + ``done!``
  (internal/command/machine/cordon.go, uncordon.go). The machine JSON carries ``cordoned`` (fly-go Machine).
- ``fly machine kill ID -a APP``: SIGKILL through ``POST /machines/ID/signal`` (kill.go; fly-go flaps Kill).
- flyctl @ ad0172f has **no** ``fly machine signal``: another signal is ``fly machine stop ID --signal SIGX``
  (stop.go, upper-cased by flyctl).
- ``fly machine leases view ID… -a APP --json``: ``{machine_id: MachineLease}`` (leases.go; fly-go
  ``MachineLease{status,data{nonce,expires_at,owner,version},message,code}``); a machine without a lease is absent.
- ``fly apps restart APP``: rolling restart of the started machines (apps/restart.go), Postgres apps refused.
- ``fly orgs show SLUG --json``: fly-go ``OrganizationDetails`` (PascalCase; ``Members.Edges[{Node: User, Role,
  JoinedAt}]``). ``fly orgs invite SLUG EMAIL --json``: fly-go ``Invitation``. ``fly orgs remove SLUG EMAIL``:
  ``successfully removed user EMAIL from NAME``. Both **exit 0 with no output** when the org cannot be resolved
  (``return nil`` after OrgFromEnvVarOrFirstArgOrSelect: orgs/invite.go, remove.go): flytui checks the output.
- ``fly services list`` has no JSON (``outputting to json is not yet supported``): flyctl builds its table from the
  machines' ``config.services`` (services/list.go); :func:`services_from_machines` does the same from
  ``fly machine list --json``, keeping each service's checks and ``min_machines_running``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping

from .command import FlyCommand
from .command import positional as _arg
from .errors import FlyctlError, FlyctlOutputError
from .models import _Obj

if TYPE_CHECKING:  # pragma: no cover
    from .run_types import RunnerLike
    from .models import Machine
    from .retry import RateGate
    from .runner import CompletedRun

#: signals offered for ``fly machine stop --signal`` (POSIX names; flyctl upper-cases the flag)
SIGNALS = ("SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGABRT", "SIGKILL")
#: apps restart is a rolling restart of every started machine: give it time
APPS_RESTART_TIMEOUT = 600.0
_EMAIL = re.compile(r"^[^@\s-][^@\s]*@[^@\s]+\.[^@\s]+$")


def validate_email(email: str) -> str | None:
    """An error sentence for an address flytui will not pass to flyctl, else None."""
    if not _EMAIL.match(email or ""):
        return f"{email!r} is not an email address"
    return None


# ---- models ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MachineLease:
    """fly-go ``MachineLease`` as ``fly machine leases view --json`` prints it (one per held machine)."""

    machine_id: str
    status: str = ""
    nonce: str = ""
    owner: str = ""
    expires_at: datetime | None = None
    version: str = ""

    @classmethod
    def from_json(cls, machine_id: str, data: Any, command: str = "machine leases view") -> "MachineLease":
        o = _Obj(data, command, f"lease of {machine_id}")
        d = o.obj("data")
        expires = d.opt_int("expires_at") if d else None
        return cls(machine_id=machine_id, status=o.str("status"), nonce=d.str("nonce") if d else "",
                   owner=d.str("owner") if d else "", version=d.str("version") if d else "",
                   expires_at=datetime.fromtimestamp(expires, timezone.utc) if expires else None)

    def held(self, now: datetime | None = None) -> bool:
        """A lease that has not expired yet."""
        if self.expires_at is None:
            return bool(self.nonce)
        return self.expires_at > (now or datetime.now(timezone.utc))


def parse_leases(data: Any, command: str = "machine leases view") -> dict[str, MachineLease]:
    if not isinstance(data, dict):
        raise FlyctlOutputError(f"Unexpected output from `fly {command}`: expected an object of leases by machine id",
                                argv=["fly", *command.split()])
    return {str(mid): MachineLease.from_json(str(mid), v, command) for mid, v in data.items()}


@dataclass(frozen=True)
class OrgMember:
    """One ``Members.Edges`` entry of fly-go ``OrganizationDetails``."""

    id: str
    name: str
    email: str
    role: str
    joined_at: datetime | None = None


@dataclass(frozen=True)
class OrgDetails:
    """fly-go ``OrganizationDetails`` (``fly orgs show SLUG --json``)."""

    id: str
    slug: str
    name: str = ""
    type: str = ""
    viewer_role: str = ""
    members: tuple[OrgMember, ...] = ()

    @classmethod
    def from_json(cls, data: Any, command: str = "orgs show") -> "OrgDetails":
        o = _Obj(data, command, "organization")
        members = []
        mem = o.obj("Members")
        for i, edge in enumerate(mem.list("Edges") if mem else []):
            e = _Obj(edge, command, f"member #{i}")
            node = e.obj("Node")
            members.append(OrgMember(id=node.str("ID") if node else "", name=node.str("Name") if node else "",
                                     email=node.str("Email") if node else "", role=e.str("Role"),
                                     joined_at=e.time("JoinedAt")))
        return cls(id=o.str("ID"), slug=o.str("Slug", required=True), name=o.str("Name"), type=o.str("Type"),
                   viewer_role=o.str("ViewerRole"), members=tuple(members))


@dataclass(frozen=True)
class Invitation:
    """fly-go ``Invitation`` (``fly orgs invite SLUG EMAIL --json``)."""

    id: str
    email: str
    redeemed: bool = False
    org: str = ""

    @classmethod
    def from_json(cls, data: Any, command: str = "orgs invite") -> "Invitation":
        o = _Obj(data, command, "invitation")
        org = o.obj("Organization")
        return cls(id=o.str("ID"), email=o.str("Email", required=True), redeemed=o.bool("Redeemed"),
                   org=org.str("Slug") if org else "")


@dataclass(frozen=True)
class ServiceCheck:
    name: str
    type: str
    status: str  # passing | warning | critical | "" (no result yet)


@dataclass(frozen=True)
class Service:
    """One service of the app as ``fly services list`` groups it (protocol, ports, handlers, force https)."""

    protocol: str
    ports: str            # "443 => 8080"
    handlers: str         # "[TLS,HTTP]"
    force_https: str      # "True" | "False"
    process_groups: tuple[str, ...]
    regions: tuple[str, ...]
    machines: int
    started: int
    min_machines_running: int | None
    auto_stop: str
    checks: tuple[ServiceCheck, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.protocol}-{self.ports}-{self.force_https}-{self.handlers}"

    @property
    def checks_text(self) -> str:
        if not self.checks:
            return ""
        passing = sum(1 for c in self.checks if c.status == "passing")
        return f"{passing}/{len(self.checks)}"

    @property
    def may_scale_to_zero(self) -> bool:
        """``min_machines_running`` is 0 (or unset) while machines auto-stop: the service can go fully down."""
        return (self.min_machines_running or 0) == 0 and self.auto_stop not in ("", "off", "false")


def _handlers(port: Mapping[str, Any]) -> str:
    return "[" + ",".join(str(h).upper() for h in port.get("handlers") or []) + "]"


def services_from_machines(machines: Iterable["Machine"]) -> list[Service]:
    """flyctl's services/list.go grouping over the active machines' ``config.services``, plus per-service checks
    (the machine's ``checks`` named ``servicecheck-…`` for that service's internal port) and scaling knobs."""
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for m in machines:
        if m.state in ("destroyed", "destroying"):
            continue
        for svc in (m.config.get("services") or []) if isinstance(m.config, Mapping) else []:
            if not isinstance(svc, Mapping):
                continue
            internal = svc.get("internal_port")
            for port in svc.get("ports") or []:
                if not isinstance(port, Mapping) or port.get("port") is None:
                    continue
                key = (str(svc.get("protocol") or "").upper(), f"{port['port']} => {internal}",
                       "True" if port.get("force_https") else "False", _handlers(port))
                g = groups.setdefault(key, {"pg": [], "regions": [], "machines": 0, "started": 0, "min": None,
                                            "auto_stop": "", "checks": {}})
                g["machines"] += 1
                g["started"] += m.state == "started"
                if m.process_group not in g["pg"]:
                    g["pg"].append(m.process_group)
                if m.region not in g["regions"]:
                    g["regions"].append(m.region)
                if svc.get("min_machines_running") is not None:
                    g["min"] = max(g["min"] or 0, int(svc.get("min_machines_running") or 0))
                stop = svc.get("autostop")
                if stop is not None and not g["auto_stop"]:
                    g["auto_stop"] = str(stop).lower() if not isinstance(stop, bool) else ("stop" if stop else "off")
                for c in m.visible_checks:
                    if f"-{internal}-" in c.name or c.name.endswith(f"-{internal}") or len(
                            m.config.get("services") or []) == 1:
                        g["checks"][(m.id, c.name)] = ServiceCheck(c.name, getattr(c, "type", "") or "",
                                                                   str(getattr(c, "status", "") or ""))
    out = []
    for (proto, ports, https, handlers), g in sorted(groups.items()):
        out.append(Service(proto, ports, handlers, https, tuple(g["pg"]), tuple(g["regions"]), g["machines"],
                           g["started"], g["min"], g["auto_stop"], tuple(g["checks"].values())))
    return out


# ---- client mixin ---------------------------------------------------------------------------------

LEASE_HELD = "lease currently held by"  # the substring flyctl itself matches (internal/command/deploy/plan.go)


def lease_hint(exc: FlyctlError, machine_id: str | None = None) -> FlyctlError:
    """Give a "lease currently held" failure a hint saying what to do (the error is returned, changed in place)."""
    if LEASE_HELD in (exc.message or "") or LEASE_HELD in (getattr(exc, "stderr", "") or ""):
        target = machine_id or "ID"
        exc.hint = (f"Someone else holds the machine's lease (a deploy, another console or script). Wait until it "
                    f"ends, or see it with `fly machine leases view {target}` (e in the machines view) and clear it "
                    f"with `fly machine leases clear {target}` if its owner is gone.")
    return exc


class OpsCommands:
    """Methods of :class:`flytui.fly.client.FlyClient` for issue 19 (mixed in; uses its runner and rate gate)."""

    runner: RunnerLike
    rate_gate: RateGate
    #: FlyClient.execute: runs a FlyCommand, a held lease's failure gets lease_hint
    execute: Callable[[FlyCommand], Awaitable[CompletedRun]]

    def machine_cordon_command(self, app: str, machine_id: str, cordon: bool = True) -> FlyCommand:
        """``fly machine cordon|uncordon ID -a APP`` (flyctl takes a lease first; a held lease fails it)."""
        verb = "cordon" if cordon else "uncordon"
        return FlyCommand(("machine", verb, _arg(machine_id, "machine id"), "-a", _arg(app, "app name")),
                          target=machine_id)

    async def machine_cordon(self, app: str, machine_id: str, cordon: bool = True) -> "CompletedRun":
        return await self.execute(self.machine_cordon_command(app, machine_id, cordon))

    def machine_kill_command(self, app: str, machine_id: str) -> FlyCommand:
        """``fly machine kill ID -a APP`` (SIGKILL, no lease, no wait)."""
        return FlyCommand(("machine", "kill", _arg(machine_id, "machine id"), "-a", _arg(app, "app name")),
                          target=machine_id)

    async def machine_kill(self, app: str, machine_id: str) -> "CompletedRun":
        return await self.execute(self.machine_kill_command(app, machine_id))

    def machine_signal_command(self, app: str, machine_id: str, signal: str) -> FlyCommand:
        """``fly machine stop ID --signal SIG -a APP`` (flyctl has no ``machine signal``; stop.go sends it)."""
        sig = signal.upper()
        if sig not in SIGNALS:
            raise ValueError(f"Unknown signal {signal!r}; expected one of {', '.join(SIGNALS)}.")
        return FlyCommand(("machine", "stop", _arg(machine_id, "machine id"), "--signal", sig,
                           "-a", _arg(app, "app name")), target=machine_id)

    async def machine_signal(self, app: str, machine_id: str, signal: str) -> "CompletedRun":
        return await self.execute(self.machine_signal_command(app, machine_id, signal))

    async def machine_leases(self, app: str, machine_ids: Iterable[str]) -> dict[str, MachineLease]:
        """``fly machine leases view ID… -a APP --json`` -> ``{machine_id: lease}`` (held ones only)."""
        ids = [_arg(m, "machine id") for m in machine_ids]
        if not ids:  # without ids flyctl would prompt for machines (select.go): no terminal here
            return {}
        data = await self.rate_gate.call(
            lambda: self.runner.run_json("machine", "leases", "view", *ids, "-a", _arg(app, "app name"), "--json"))
        return parse_leases(data)

    def machine_lease_clear_command(self, app: str, machine_id: str) -> FlyCommand:
        """``fly machine leases clear ID -a APP`` (releases whatever lease the machine has, whoever holds it)."""
        return FlyCommand(("machine", "leases", "clear", _arg(machine_id, "machine id"), "-a", _arg(app, "app name")),
                          target=machine_id)

    async def machine_lease_clear(self, app: str, machine_id: str) -> "CompletedRun":
        return await self.execute(self.machine_lease_clear_command(app, machine_id))

    def apps_restart_command(self, app: str, force_stop: bool = False) -> FlyCommand:
        """``fly apps restart APP [--force-stop]``: rolling restart of the started machines."""
        args = ["apps", "restart", _arg(app, "app name")]
        if force_stop:
            args.append("--force-stop")
        return FlyCommand(tuple(args), timeout=APPS_RESTART_TIMEOUT, target=app)

    async def apps_restart(self, app: str, force_stop: bool = False) -> "CompletedRun":
        return await self.execute(self.apps_restart_command(app, force_stop))

    async def org_details(self, slug: str) -> OrgDetails:
        """``fly orgs show SLUG --json`` (members and roles)."""
        data = await self.rate_gate.call(lambda: self.runner.run_json("orgs", "show", _arg(slug, "organization"),
                                                                      "--json"))
        return OrgDetails.from_json(data)

    def org_invite_command(self, slug: str, email: str) -> FlyCommand:
        """``fly orgs invite SLUG EMAIL --json`` (run it with :meth:`run_org_invite`)."""
        if (err := validate_email(email)) is not None:
            raise ValueError(err)
        return FlyCommand(("orgs", "invite", _arg(slug, "organization"), email, "--json"), target=email)

    async def org_invite(self, slug: str, email: str) -> Invitation:
        return await self.run_org_invite(self.org_invite_command(slug, email))

    async def run_org_invite(self, command: FlyCommand) -> Invitation:
        """Run an :meth:`org_invite_command`. flyctl exits 0 silently when it cannot use the org (not an
        admin, unknown slug): that is reported as a failure, never as a sent invitation."""
        slug, email = command.args[2], command.target
        run = await self.execute(command)
        if not run.stdout.strip():
            raise FlyctlError(
                f"flyctl sent no invitation to {email}: it printed nothing and exited {run.returncode}",
                argv=run.argv, returncode=run.returncode, stderr=run.stderr, stdout=run.stdout,
                hint=f"flyctl does this when the organization {slug} cannot be used: check the slug and that you "
                     "are an admin of it (fly orgs show).")
        from .runner import parse_json_values

        values = parse_json_values(run.stdout)
        if not values:
            raise FlyctlOutputError(f"Unexpected output from `fly orgs invite`: {run.stdout[:200]}", argv=run.argv)
        return Invitation.from_json(values[-1])

    def org_remove_command(self, slug: str, email: str) -> FlyCommand:
        """``fly orgs remove SLUG EMAIL`` (run it with :meth:`run_org_remove`)."""
        if (err := validate_email(email)) is not None:
            raise ValueError(err)
        return FlyCommand(("orgs", "remove", _arg(slug, "organization"), email), target=email)

    async def org_remove(self, slug: str, email: str) -> "CompletedRun":
        return await self.run_org_remove(self.org_remove_command(slug, email))

    async def run_org_remove(self, command: FlyCommand) -> "CompletedRun":
        """Run an :meth:`org_remove_command`; success only when flyctl says so (it exits 0 silently otherwise)."""
        slug, email = command.args[2], command.target
        run = await self.execute(command)
        if f"successfully removed user {email}" not in run.stdout:
            raise FlyctlError(
                f"flyctl did not remove {email} from {slug}: it exited {run.returncode} without saying so",
                argv=run.argv, returncode=run.returncode, stderr=run.stderr, stdout=run.stdout,
                hint=f"flyctl stays silent when the organization {slug} or its members cannot be read: check "
                     "that you are an admin of it (fly orgs show), then refresh the members.")
        return run
