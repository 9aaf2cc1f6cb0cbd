"""High-level, typed access to flyctl: one async method per command, returning models.

Rules every method follows:

- argv lists only, built here; the runner adds the flyctl path in front.
- flyctl must never prompt: ``-a APP`` always, ``--yes`` on commands that confirm, ``--org`` on create.
- Secret values never go into argv: :meth:`FlyClient.set_secrets` feeds them to flyctl on stdin
  (``fly secrets import``, or ``fly secrets set NAME=-``; see :mod:`flytui.fly.secrets`).
- User-supplied names/IDs that would be read as flags (leading ``-``) are rejected with ``ValueError``.

Streaming / long-lived commands (``deploy``, ``logs``, ``proxy``) return the runner's ``FlyProcess``
(an async context manager) without starting to read it.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

from .command import FlyCommand
from .command import positional as _arg
from .deploy_options import DeployOptions as DeployOptions
from .errors import FlyctlError, FlyctlOutputError, classify
from .run_types import RunnerLike as RunnerLike
from .models import (
    App,
    AppStatus,
    Check,
    IPAddress,
    Machine,
    Organization,
    PostgresCluster,
    Release,
    Secret,
    VersionInfo,
    Volume,
    WhoAmI,
    parse_apps,
    parse_checks,
    parse_ips,
    parse_machines,
    parse_postgres_list,
    parse_releases,
    parse_secrets,
    parse_version_text,
    parse_volumes,
)
from .mpg import MpgCommands
from .names import validate_app_name
from .ops import OpsCommands, lease_hint
from .retry import RateGate
from .secrets import (
    SECRET_NAME as _SECRET_NAME,
    SecretNotTransportable,
    SecretValueError,
    encode_secret_line,
    encode_secrets_import,
    plan_secrets,
)

if TYPE_CHECKING:  # pragma: no cover
    from .machines_api import MachinesAPI
    from .runner import CompletedRun, FlyProcess


MachineAction = Literal["start", "stop", "restart", "suspend", "destroy"]
MACHINE_ACTIONS: tuple[str, ...] = ("start", "stop", "restart", "suspend", "destroy")

#: secrets import / unset without --stage roll every machine: allow a deploy's worth of time
SECRETS_ROLLOUT_TIMEOUT = 900.0

# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

_SSH_EXIT = re.compile(r"ssh shell: Process exited with status (\d+)")


# --------------------------------------------------------------------------------------------
# ssh console helpers
# --------------------------------------------------------------------------------------------


def ssh_exit_status(returncode: int, stderr: str) -> int | None:
    """The remote command's exit status from a ``fly ssh console -C`` run.

    flyctl exits 1 for any remote failure and prints ``Error: ssh shell: Process exited with status N``;
    this recovers N. Returns 0 on success, and ``None`` when flyctl itself failed (no remote status).
    """
    if returncode == 0:
        return 0
    matches = _SSH_EXIT.findall(stderr)
    return int(matches[-1]) if matches else None


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


#: What ``fly ssh console`` itself prints before the command's output: ``Connecting to ADDR... complete``
#: (internal/command/ssh/connect.go) and, with several started machines and no ``--machine``, ``No machine
#: specified, using ID in region R`` on stdout (``Only one machine available, selecting …`` with ``--select``):
#: internal/command/ssh/console.go ``selectMachine`` @ ad0172f.
_SSH_NOTICE = re.compile(r"Connecting to |No machine specified, using \S+ in region \S+$"
                         r"|Only one machine available, selecting \S+ in region \S+$")


class FlyClient(MpgCommands, OpsCommands):
    """Typed flyctl commands over a :class:`~flytui.fly.runner.FlyctlRunner` (or anything like it)."""

    def __init__(self, runner: RunnerLike, rate_gate: RateGate | None = None, api: MachinesAPI | None = None) -> None:
        self.runner = runner
        #: shared back-off of read calls on RateLimited (flytui/fly/retry.py); mutating calls never retry
        self.rate_gate = rate_gate if rate_gate is not None else RateGate()
        #: the Machines API fast path for machines/machine/status (flytui/fly/machines_api.py), or None;
        #: flyctl answers whenever it is not warm yet or a request fails
        self.api = api

    async def warm_api(self) -> bool:
        """Ready the Machines API fast path (httpx import, token); False when there is none or it is off."""
        return bool(self.api is not None and await self.api.warm())

    async def execute(self, command: FlyCommand) -> "CompletedRun":
        """Run a command this client built, exactly as built (the object a confirmation showed).

        A failure because someone holds a machine's lease gets a hint saying what to do (ops.lease_hint)."""
        try:
            return await self.runner.execute(command)
        except FlyctlError as exc:
            raise lease_hint(exc, command.target if command.args[:1] == ("machine",) else None) from None

    async def _read_json(self, *args: str) -> Any:
        """``run_json`` for a read-only command: waits out a rate-limit back-off, retries RateLimited."""
        return await self.rate_gate.call(lambda: self.runner.run_json(*args))

    # --- identity ------------------------------------------------------------------------

    async def version(self) -> VersionInfo:
        """``fly version --json``; falls back to text ``fly version`` if the JSON is not understood."""
        try:
            return VersionInfo.from_json(await self._read_json("version", "--json"))
        except FlyctlOutputError:
            run = await self.runner.run("version")
            return parse_version_text(run.stdout)

    async def whoami(self) -> WhoAmI:
        """``fly auth whoami --json``."""
        return WhoAmI.from_json(await self._read_json("auth", "whoami", "--json"))

    async def orgs(self) -> list[Organization]:
        """``fly orgs list --json`` (``{slug: name}``)."""
        return Organization.list_from_json(await self._read_json("orgs", "list", "--json"))

    # --- apps ----------------------------------------------------------------------------

    async def apps(self, org: str | None = None) -> list[App]:
        """``fly apps list --json [-o ORG]``."""
        args = ["apps", "list", "--json"]
        if org:
            args += ["-o", _arg(org, "organization")]
        return parse_apps(await self._read_json(*args))

    async def status(self, app: str) -> AppStatus:
        """``fly status -a APP --json``."""
        _arg(app, "app name")
        if self.api is not None and (fast := await self.api.status(app)) is not None:
            return fast
        return AppStatus.from_json(await self._read_json("status", "-a", app, "--json"))

    async def create_app(self, name: str, org: str) -> App:
        """``fly apps create NAME --org ORG --json`` (name validated first, ``ValueError`` if invalid)."""
        validate_app_name(name)
        data = await self.runner.run_json("apps", "create", name, "--org", _arg(org, "organization"), "--json")
        return App.from_json(data, "apps create")

    def destroy_app_command(self, name: str) -> FlyCommand:
        """``fly apps destroy NAME --yes``."""
        return FlyCommand(("apps", "destroy", _arg(name, "app name"), "--yes"), target=name)

    async def destroy_app(self, name: str) -> "CompletedRun":
        """``fly apps destroy NAME --yes``."""
        return await self.execute(self.destroy_app_command(name))

    async def releases(self, app: str) -> list[Release]:
        """``fly releases -a APP --json``."""
        return parse_releases(await self._read_json("releases", "-a", _arg(app, "app name"), "--json"))

    async def postgres_list(self) -> list[PostgresCluster]:
        """``fly postgres list --json``.

        Without clusters flyctl prints the text ``No postgres clusters found`` even with ``--json`` (the check
        comes before ``if cfg.JSONOutput``: internal/command/postgres/list.go @ ad0172f): that is ``[]``.
        """
        try:
            data = await self._read_json("postgres", "list", "--json")
        except FlyctlOutputError as exc:
            if (exc.stdout or "").strip() == "No postgres clusters found":
                return []
            raise
        return parse_postgres_list(data)

    # --- machines --------------------------------------------------------------------------

    async def machines(self, app: str) -> list[Machine]:
        """``fly machine list -a APP --json`` (all machines; filter with ``Machine.is_user_visible``)."""
        _arg(app, "app name")
        if self.api is not None and (fast := await self.api.machines(app)) is not None:
            return fast
        return parse_machines(await self._read_json("machine", "list", "-a", app, "--json"))

    async def machine(self, app: str, machine_id: str) -> Machine:
        """One machine, from ``fly machine list -a APP --json`` (``machine status`` has no JSON output).

        Raises :class:`FlyctlError` when the machine does not exist.
        """
        _arg(machine_id, "machine id")
        if self.api is not None and (fast := await self.api.machine(_arg(app, "app name"), machine_id)) is not None:
            return fast
        for m in await self.machines(app):
            if m.id == machine_id:
                return m
        raise FlyctlError(
            f"machine {machine_id} not found in app {app}",
            argv=["fly", "machine", "list", "-a", app, "--json"],
            hint="The machine may have been destroyed; refresh the machine list.",
        )

    def machine_action_command(
        self, app: str, machine_id: str, action: MachineAction, force: bool = False
    ) -> FlyCommand:
        """``fly machine start|stop|restart|suspend|destroy ID -a APP`` (+ ``--force`` for destroy if ``force``).

        ``fly machine destroy`` has no confirmation prompt for a single ID (and no ``--yes`` flag).
        """
        if action not in MACHINE_ACTIONS:
            raise ValueError(f"Unknown machine action {action!r}; expected one of {', '.join(MACHINE_ACTIONS)}.")
        args = ["machine", action, _arg(machine_id, "machine id"), "-a", _arg(app, "app name")]
        if action == "destroy" and force:
            args.append("--force")
        return FlyCommand(tuple(args), target=machine_id)

    async def machine_action(
        self, app: str, machine_id: str, action: MachineAction, force: bool = False
    ) -> "CompletedRun":
        """Run :meth:`machine_action_command`."""
        return await self.execute(self.machine_action_command(app, machine_id, action, force))

    async def checks(self, app: str) -> dict[str, list[Check]]:
        """``fly checks list -a APP --json`` -> ``{machine_id: [Check]}``."""
        return parse_checks(await self._read_json("checks", "list", "-a", _arg(app, "app name"), "--json"))

    def scale_count_command(self, app: str, count: int, group: str = "app") -> FlyCommand:
        """``fly scale count N --process-group G -a APP --yes``."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"Machine count must be a whole number >= 0, got {count!r}.")
        return FlyCommand(("scale", "count", str(count), "--process-group", _arg(group, "process group"),
                           "-a", _arg(app, "app name"), "--yes"), timeout=SECRETS_ROLLOUT_TIMEOUT, target=group)

    async def scale_count(self, app: str, count: int, group: str = "app") -> "CompletedRun":
        """Run :meth:`scale_count_command`."""
        return await self.execute(self.scale_count_command(app, count, group))

    def scale_vm_command(self, app: str, size: str) -> FlyCommand:
        """``fly scale vm SIZE -a APP`` (e.g. ``shared-cpu-1x``)."""
        return FlyCommand(("scale", "vm", _arg(size, "VM size"), "-a", _arg(app, "app name")),
                          timeout=SECRETS_ROLLOUT_TIMEOUT, target=app)

    async def scale_vm(self, app: str, size: str) -> "CompletedRun":
        """Run :meth:`scale_vm_command`."""
        return await self.execute(self.scale_vm_command(app, size))

    # --- secrets ----------------------------------------------------------------------------

    async def secrets(self, app: str) -> list[Secret]:
        """``fly secrets list -a APP --json`` (new lowercase and old PascalCase shapes)."""
        return parse_secrets(await self._read_json("secrets", "list", "-a", _arg(app, "app name"), "--json"))

    def set_secrets_commands(
        self, app: str, values: Mapping[str, str], stage: bool = False, detach: bool = False
    ) -> list[FlyCommand]:
        """The calls that set ``values``, every value on **stdin**, byte for byte (never in argv).

        The transport of each value is chosen by :func:`flytui.fly.secrets.plan_secrets`: all values that
        flyctl's import parser keeps exactly go in one ``fly secrets import -a APP``; each other value goes
        in ``fly secrets set NAME=- -a APP``. With several calls, all but the last get ``--stage`` and the
        last one applies them all (flyctl's ``DeploySecrets``, secrets.go, the same code as
        ``fly secrets deploy`` minus its refusal for an app that was never deployed). ``stage``/``detach``
        go on the last call. A value no transport carries exactly raises :class:`SecretNotTransportable`
        (a ``FlyError`` and ``ValueError``) before anything runs.
        """
        app = _arg(app, "app name")
        plan = plan_secrets(values)
        steps: list[tuple[list[str], bytes, tuple[str, ...]]] = []
        if plan.import_payload is not None:
            steps.append((["secrets", "import", "-a", app], plan.import_payload, tuple(plan.import_names)))
        for name, payload in plan.stdin_values:
            steps.append((["secrets", "set", f"{name}=-", "-a", app], payload, (name,)))
        commands: list[FlyCommand] = []
        for i, (args, payload, names) in enumerate(steps):
            last = i == len(steps) - 1
            if stage or not last:
                args.append("--stage")
            if detach and last:
                args.append("--detach")
            timeout = None if stage or detach or not last else SECRETS_ROLLOUT_TIMEOUT
            commands.append(FlyCommand(tuple(args), stdin=payload, timeout=timeout, target=app, stdin_names=names))
        return commands

    async def set_secrets(
        self, app: str, values: Mapping[str, str], stage: bool = False, detach: bool = False
    ) -> "CompletedRun":
        """Run :meth:`set_secrets_commands` (see there); returns the last call's result with every call's output."""
        return await self.run_secrets(self.set_secrets_commands(app, values, stage=stage, detach=detach))

    async def run_secrets(self, commands: Sequence[FlyCommand]) -> "CompletedRun":
        """Run the calls of :meth:`set_secrets_commands` in order; a failure after staged calls says which names
        are staged. Returns the last call's result, with the output of every call."""
        if not commands:
            raise ValueError("No secrets to set.")
        done: list[str] = []
        runs: list["CompletedRun"] = []
        for command in commands:
            try:
                runs.append(await self.execute(command))
            except FlyctlError as exc:
                if done:
                    exc.hint = (f"Already staged before this failure (not on the machines yet): "
                                f"{', '.join(done)}. Set the others again, or apply with `fly secrets deploy`. "
                                + (exc.hint or ""))
                raise
            done.extend(command.stdin_names)
        if len(runs) == 1:
            return runs[0]
        from .runner import CompletedRun

        final = runs[-1]
        return CompletedRun(
            argv=final.argv,
            returncode=final.returncode,
            stdout="".join(r.stdout for r in runs),
            stderr="".join(r.stderr for r in runs),
            duration=sum(r.duration for r in runs),
        )

    def unset_secrets_command(
        self, app: str, names: Sequence[str], stage: bool = False, detach: bool = False
    ) -> FlyCommand:
        """``fly secrets unset NAME… -a APP [--stage] [--detach]``."""
        if isinstance(names, str):
            names = [names]
        if not names:
            raise ValueError("No secrets to unset.")
        for n in names:
            if not _SECRET_NAME.fullmatch(n):
                raise ValueError(f"Invalid secret name {n!r}.")
        args = ["secrets", "unset", *names, "-a", _arg(app, "app name")]
        if stage:
            args.append("--stage")
        if detach:
            args.append("--detach")
        timeout = None if stage or detach else SECRETS_ROLLOUT_TIMEOUT
        return FlyCommand(tuple(args), timeout=timeout, target=app)

    async def unset_secrets(
        self, app: str, names: Sequence[str], stage: bool = False, detach: bool = False
    ) -> "CompletedRun":
        """Run :meth:`unset_secrets_command`."""
        return await self.execute(self.unset_secrets_command(app, names, stage=stage, detach=detach))

    # --- volumes and IPs --------------------------------------------------------------------

    async def volumes(self, app: str) -> list[Volume]:
        """``fly volumes list -a APP --json``."""
        return parse_volumes(await self._read_json("volumes", "list", "-a", _arg(app, "app name"), "--json"))

    def destroy_volume_command(self, app: str, volume_id: str) -> FlyCommand:
        """``fly volumes destroy ID -a APP --yes``."""
        return FlyCommand(("volumes", "destroy", _arg(volume_id, "volume id"), "-a", _arg(app, "app name"), "--yes"),
                          target=volume_id)

    async def destroy_volume(self, app: str, volume_id: str) -> "CompletedRun":
        """Run :meth:`destroy_volume_command`."""
        return await self.execute(self.destroy_volume_command(app, volume_id))

    async def ips(self, app: str) -> list[IPAddress]:
        """``fly ips list -a APP --json``."""
        return parse_ips(await self._read_json("ips", "list", "-a", _arg(app, "app name"), "--json"))

    # --- streaming and long-lived processes -------------------------------------------------

    def deploy(
        self,
        app: str,
        options: DeployOptions | None = None,
        *,
        local_only: bool = False,
        remote_only: bool = False,
        ha: bool | None = None,
        strategy: str | None = None,
        image: str | None = None,
        build_args: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> "FlyProcess":
        """``fly deploy -a APP --yes [--local-only|--remote-only] [--ha=false] [--strategy S] [--image I]
        [--build-arg K=V]…`` as a streaming process (run in ``cwd``, the project folder).

        Pass either ``options`` or the keyword arguments (``options`` wins when given).
        """
        if options is None:
            options = DeployOptions(
                local_only=local_only, remote_only=remote_only, ha=ha, strategy=strategy, image=image,
                build_args=dict(build_args or {}), cwd=cwd,
            )
        return self.runner.spawn(*options.argv(app), cwd=options.cwd)

    def logs(self, app: str, machine: str | None = None, region: str | None = None, follow: bool = True) -> "FlyProcess":
        """``fly logs -a APP --json [-i MACHINE] [-r REGION] [--no-tail]`` (``--no-tail`` when not ``follow``)."""
        args = ["logs", "-a", _arg(app, "app name"), "--json"]
        if machine:
            args += ["-i", _arg(machine, "machine id")]
        if region:
            args += ["-r", _arg(region, "region")]
        if not follow:
            args.append("--no-tail")
        return self.runner.spawn(*args)

    def proxy(self, local_port: int, remote_port: int, app: str, host: str | None = None) -> "FlyProcess":
        """``fly proxy LOCAL:REMOTE [HOST] -a APP --watch-stdin`` (stdin kept open; closing it stops flyctl).

        Wait for ``Proxying localhost:PORT to remote [HOST]:PORT`` with ``FlyProcess.wait_for``.
        """
        for port, what in ((local_port, "local port"), (remote_port, "remote port")):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"{what} must be a number 0-65535, got {port!r}")
        if remote_port == 0:
            raise ValueError("remote port must not be 0")
        args = ["proxy", f"{local_port}:{remote_port}"]
        if host:
            args.append(_arg(host, "remote host"))
        args += ["-a", _arg(app, "app name"), "--watch-stdin"]
        return self.runner.spawn(*args, keep_stdin_open=True)

    # --- ssh ---------------------------------------------------------------------------------

    async def ssh_command(
        self, app: str, cmd: str, machine: str | None = None, timeout: float | None = None
    ) -> "CompletedRun":
        """``fly ssh console -a APP -C CMD [--machine ID]`` with ``check=False``.

        flyctl exits 1 for any remote failure; use :func:`ssh_exit_status` for the remote status
        and :meth:`raise_for_ssh` to turn flyctl's own failures into typed errors.
        """
        if not cmd.strip():
            raise ValueError("ssh command is empty")
        args = ["ssh", "console", "-a", _arg(app, "app name"), "-C", cmd]
        if machine:
            args += ["--machine", _arg(machine, "machine id")]
        return await self.runner.run(*args, timeout=timeout, check=False)

    @staticmethod
    def raise_for_ssh(run: "CompletedRun") -> int:
        """The remote exit status of an ``ssh_command`` run; raises the classified ``FlyctlError`` when
        flyctl itself failed (not logged in, app not found, no started machines…)."""
        status = ssh_exit_status(run.returncode, run.stderr)
        if status is None:
            raise classify(run.argv, run.returncode, run.stderr, run.stdout)
        return status

    async def read_database_url(self, app: str, machine: str | None = None) -> str | None:
        """``fly ssh console -a APP -C "printenv DATABASE_URL"``: the value, or ``None`` when it is unset.

        The value is a secret: it is returned, never logged.
        """
        run = await self.ssh_command(app, "printenv DATABASE_URL", machine=machine)
        status = self.raise_for_ssh(run)
        if status != 0:
            return None
        lines = [ln.strip() for ln in run.stdout.splitlines() if ln.strip()]
        lines = [ln for ln in lines if "://" in ln or not _SSH_NOTICE.match(ln)]
        return lines[-1] if lines else None


__all__ = [
    "DeployOptions",
    "FlyClient",
    "FlyCommand",
    "MACHINE_ACTIONS",
    "RunnerLike",
    "SecretNotTransportable",
    "SecretValueError",
    "encode_secret_line",
    "encode_secrets_import",
    "ssh_exit_status",
    "validate_app_name",
]
