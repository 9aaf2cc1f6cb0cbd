"""Remote mode: run the project's alembic *inside* a Fly machine, with the real exit code.

``fly ssh console -C "alembic upgrade head"`` (what the seed user did) loses the exit code: flyctl exits 1
for any remote failure. So :class:`RemoteAlembic` goes the exact way first:

1. ``fly ssh issue ORG PATH --hours 1 --overwrite`` writes a fresh ed25519 key and its org certificate
   into a private temp dir (0700);
2. ``fly proxy 0:22 <machine>.vm.APP.internal -a APP --watch-stdin`` forwards a local port to the
   machine's SSH server (hallpass); the real local port is read from flyctl's readiness line;
3. asyncssh connects as ``root`` with that key (``-cert.pub`` is loaded next to it), runs
   ``alembic <args>``, streams its lines and reads the real ``exit-status``.

The proxy is always closed and the key always deleted. If that path cannot connect or authenticate,
the fallback is ``fly ssh console -a APP --machine ID -C "alembic ..."``: its exit code is collapsed
(``returncode`` 1, ``exit_code_exact=False``), the remote status is recovered from flyctl's
``Error: ssh shell: Process exited with status N`` when present, and ``note`` says so.

Events are the ones :class:`flytui.db.alembic_service.AlembicRunner.run` yields (RunStarted, LogLine,
Progress, RunFinished) so the migrations pane can show either. asyncssh is imported lazily.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping, Sequence

from flytui.db.alembic_events import (
    AlembicEvent,
    EventCollector,
    LogLine,
    RunFinished,
    RunResult,
    RunStarted,
    _error_line,
)
from flytui.fly.client import ssh_exit_status
from flytui.fly.errors import FlyctlError, FlyError, classify

if TYPE_CHECKING:
    from flytui.fly.client import FlyClient
    from flytui.fly.runner import FlyctlRunner, FlyProcess

PROXY_READY = re.compile(r"Proxying (?:local port |localhost:)(\d+) to remote")  # before / since flyctl v0.3.154
SSH_USER = "root"
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\\"'*?\[\]#~=%{}\n]")
TAIL_LINES = 40


class RemoteError(FlyError):
    """Remote mode cannot run at all (no started machine, nothing to run)."""

    hint = "Start a machine (fly machine start) or deploy the app, then try again."


@dataclass(frozen=True)
class RemoteRunResult(RunResult):
    """A :class:`RunResult` of a remote run.

    ``exit_code_exact``: True when ``returncode`` is the remote command's own exit code (SSH path, or a
    fallback run that succeeded); False when flyctl collapsed it (fallback, remote failure → 1).
    ``remote_status``: the remote status as far as it is known (exact, or parsed from flyctl's text).
    ``transport``: ``ssh`` (asyncssh through ``fly proxy``) or ``ssh-console`` (fallback).
    ``note``: a sentence for the user about how the exit code was obtained (empty when exact).
    """

    exit_code_exact: bool = True
    remote_status: int | None = None
    transport: str = "ssh"
    machine: str = ""
    note: str = ""


class _NoConnection(Exception):
    """Path 1 could not reach or authenticate to the machine: use the fallback."""


def remote_command(alembic: Sequence[str] | str, args: Sequence[str]) -> str:
    """The command line sent to the machine.

    ``alembic`` is a program (``"alembic"``, ``["python", "-m", "alembic"]``) or a shell snippet
    (``"cd /app && alembic"``); only a snippet with shell syntax gets wrapped in ``sh -c``.
    """
    if isinstance(alembic, str):
        if _SHELL_SYNTAX.search(alembic.replace("\\ ", "")):
            return shlex.join(["sh", "-c", f"{alembic} {shlex.join(args)}".strip()])
        base = shlex.split(alembic)
    else:
        base = list(alembic)
    if not base:
        raise RemoteError("no alembic command to run", hint="Configure the remote alembic command.")
    return shlex.join([*base, *args])


class _Collector(EventCollector):
    """The shared event pipeline (:class:`EventCollector`), plus the remote run's result."""

    def __init__(self, total: int | None, cmd: str = "") -> None:
        super().__init__(total, next((w for w in cmd.split() if w in ("upgrade", "downgrade")), None))

    def result(self, argv: list[str], returncode: int, started: float, *, exact: bool, status: int | None,
               transport: str, machine: str, note: str = "", error: str | None = None,
               cancelled: bool = False) -> RemoteRunResult:
        ok = returncode == 0
        lines = [ln for ln in self.lines if not _is_flyctl_chatter(ln)]
        return RemoteRunResult(
            argv=argv, returncode=returncode, ok=ok, steps=tuple(self.steps),
            failed_revision=self.steps[-1].revision if (self.steps and not ok) else None,
            error=None if ok else (error or _error_line(lines)), error_output="" if ok else "\n".join(
                self.lines[-TAIL_LINES:]), output="\n".join(self.lines), duration=time.monotonic() - started,
            cancelled=cancelled, exit_code_exact=exact, remote_status=status, transport=transport,
            machine=machine, note=note)


def _is_flyctl_chatter(line: str) -> bool:
    return line.startswith("Connecting to ") or line.startswith("Error: ssh shell: Process exited with status")


class RemoteAlembic:
    """Runs ``alembic <args>`` inside a machine of ``app`` (see the module docstring).

    ``client``: a :class:`FlyClient` (status: org and machines). ``runner``: the flyctl runner used for
    ``ssh issue``, ``proxy`` and ``ssh console`` (default: ``client.runner``). ``machine``: a machine id,
    else the first started machine. ``alembic``: the remote alembic command (default ``alembic``).
    """

    def __init__(self, client: "FlyClient", app: str, machine: str | None = None, *,
                 runner: "FlyctlRunner | None" = None, alembic: Sequence[str] | str = "alembic",
                 connect_timeout: float = 30.0, fallback: bool = True) -> None:
        self.client = client
        self.app = app
        self.machine = machine
        self.runner = runner if runner is not None else client.runner
        self.alembic = alembic
        self.connect_timeout = connect_timeout
        self.fallback = fallback
        self.last_fallback_reason: str | None = None

    # -- machine / org ------------------------------------------------------------------------

    async def _target(self) -> tuple[str, str]:
        """(org slug, machine id): the given machine or the first started one."""
        status = await self.client.status(self.app)
        org = status.organization.slug if status.organization and status.organization.slug else "personal"
        if self.machine:
            return org, self.machine
        started = [m for m in status.machines if m.state == "started"]
        if not started:
            raise RemoteError(f"app {self.app} has no started machines to run alembic in")
        return org, started[0].id

    # -- public API ---------------------------------------------------------------------------

    async def run(self, args: Sequence[str], env_extra: Mapping[str, str] | None = None, *,
                  total: int | None = None) -> AsyncIterator[AlembicEvent]:
        """Run ``alembic <args>`` remotely; yields RunStarted, LogLine/Progress, then RunFinished.

        The result is a :class:`RemoteRunResult`. ``env_extra`` is sent as SSH environment requests
        (never on a command line); the fallback cannot pass it and says so in ``note``. Consume it with
        ``contextlib.aclosing(...)`` (or to the end) so that stopping early closes the SSH session, the
        proxy and deletes the key at once; cancelling the consuming task does the same.
        Raises :class:`RemoteError` (no started machine) and flyctl's typed errors (``fly status``,
        or ``fly ssh console`` failing before the command ran).
        """
        cmd = remote_command(self.alembic, list(args))
        org, machine = await self._target()
        self.last_fallback_reason = None
        try:
            async for event in self._run_ssh(cmd, org, machine, env_extra, total):
                yield event
            return
        except _NoConnection as exc:
            if not self.fallback:
                raise FlyctlError(f"could not connect to {machine} over SSH: {exc}",
                                  hint="Check `fly ssh issue` and `fly proxy` work for this app.") from None
            self.last_fallback_reason = str(exc)
        async for event in self._run_console(cmd, machine, env_extra, total, self.last_fallback_reason):
            yield event

    async def run_to_end(self, args: Sequence[str], env_extra: Mapping[str, str] | None = None) -> RemoteRunResult:
        """:meth:`run` without the events: just the result."""
        result: RunResult | None = None
        async for event in self.run(args, env_extra):
            if isinstance(event, RunFinished):
                result = event.result
        assert isinstance(result, RemoteRunResult)
        return result

    # -- path 1: asyncssh through fly proxy ---------------------------------------------------

    async def _issue_key(self, org: str, directory: str) -> str:
        """``fly ssh issue ORG PATH --hours 1 --overwrite`` into ``directory``; the key path."""
        key = os.path.join(directory, "id_fly")
        try:
            await self.runner.run("ssh", "issue", org, key, "--hours", "1", "--overwrite")
        except FlyctlError as exc:
            raise _NoConnection(f"fly ssh issue failed: {exc.message}") from None
        return key

    async def _open_proxy(self, machine: str) -> tuple["FlyProcess", int]:
        """Start ``fly proxy 0:22 <machine>.vm.APP.internal`` and return it with its local port."""
        proxy = self.runner.spawn("proxy", "0:22", f"{machine}.vm.{self.app}.internal", "-a", self.app,
                                  "--watch-stdin", keep_stdin_open=True)
        await proxy.start()
        try:
            m = await proxy.wait_for(PROXY_READY, self.connect_timeout)
        except FlyctlError as exc:
            await _close_proxy(proxy)
            raise _NoConnection(f"fly proxy failed: {exc.message}") from None
        return proxy, int(m.group(1))

    async def _connect(self, port: int, key: str) -> Any:
        import asyncssh

        try:
            return await asyncssh.connect(
                "127.0.0.1", port, username=SSH_USER, client_keys=[key], known_hosts=None, agent_path=None,
                config=None, preferred_auth="publickey", connect_timeout=self.connect_timeout,
                keepalive_interval=15)
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            raise _NoConnection(f"SSH connection failed: {exc or type(exc).__name__}") from None

    async def _run_ssh(self, cmd: str, org: str, machine: str, env_extra: Mapping[str, str] | None,
                       total: int | None) -> AsyncIterator[AlembicEvent]:
        directory = tempfile.mkdtemp(prefix="flytui-ssh-")
        os.chmod(directory, 0o700)
        proxy: FlyProcess | None = None
        conn: Any = None
        try:
            key = await self._issue_key(org, directory)
            proxy, port = await self._open_proxy(machine)
            conn = await self._connect(port, key)
            async for event in self._exec(conn, proxy, cmd, machine, env_extra, total):
                yield event
        finally:
            if conn is not None:
                conn.close()
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.wait_closed())
            if proxy is not None:
                await _close_proxy(proxy)
            shutil.rmtree(directory, ignore_errors=True)

    async def _exec(self, conn: Any, proxy: "FlyProcess", cmd: str, machine: str,
                    env_extra: Mapping[str, str] | None, total: int | None) -> AsyncIterator[AlembicEvent]:
        import asyncssh

        argv = shlex.split(cmd)
        started = time.monotonic()
        collector = _Collector(total, cmd)
        try:
            process = await conn.create_process(cmd, env=dict(env_extra or {}), encoding="utf-8",
                                                errors="replace")
        except (OSError, asyncssh.Error) as exc:
            raise _NoConnection(f"SSH session failed: {exc}") from None
        queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        readers = [asyncio.ensure_future(_pump_lines(process.stdout, "out", queue)),
                   asyncio.ensure_future(_pump_lines(process.stderr, "err", queue))]
        finished = False
        try:
            yield RunStarted(argv=argv, pid=proxy.pid, lock_pid=None)
            open_pipes = 2
            while open_pipes:
                item = await queue.get()
                if item is None:
                    open_pipes -= 1
                    continue
                for event in collector.feed(*item):
                    yield event
            try:
                completed = await process.wait()
                status, sig = completed.exit_status, completed.exit_signal
            except (OSError, asyncssh.Error):
                status, sig = None, None
            finished = True
            code, exact, note = _exit_code(status, sig)
            yield RunFinished(collector.result(argv, code, started, exact=exact, status=code if exact else None,
                                               transport="ssh", machine=machine, note=note))
        finally:
            if not finished:
                process.close()
            for task in readers:
                task.cancel()

    # -- path 2: fly ssh console -C -----------------------------------------------------------

    async def _run_console(self, cmd: str, machine: str, env_extra: Mapping[str, str] | None,
                           total: int | None, reason: str) -> AsyncIterator[AlembicEvent]:
        started = time.monotonic()
        collector = _Collector(total, cmd)
        async with self.runner.spawn("ssh", "console", "-a", self.app, "--machine", machine, "-C", cmd) as proc:
            yield RunStarted(argv=list(proc.argv), pid=proc.pid, lock_pid=None)
            if env_extra:
                yield LogLine("err", "flytui: extra environment variables are not passed through "
                                     "`fly ssh console -C` (they would be visible on its command line)")
            async for batch in proc.batches():
                for line in batch:
                    for event in collector.feed(line.stream, line.text):
                        yield event
            rc = await proc.wait()
        stderr = "\n".join(collector.err_lines)
        status = ssh_exit_status(rc, stderr)
        if status is None:
            raise classify(list(proc.argv), rc, stderr, "\n".join(collector.lines))
        exact = rc == 0
        note = (f"Ran with `fly ssh console -C` because the SSH connection failed ({reason}). ")
        if exact:
            note += "It succeeded (exit 0)."
        else:
            note += (f"flyctl collapses any remote failure to exit code 1; the remote command's status, "
                     f"read from flyctl's error text, was {status}.")
        if env_extra:
            note += " Extra environment variables were not passed."
        yield RunFinished(collector.result(list(proc.argv), 0 if exact else 1, started, exact=exact,
                                           status=status, transport="ssh-console", machine=machine, note=note))


def _exit_code(status: int | None, signal_info: Any) -> tuple[int, bool, str]:
    """(returncode, exact, note) from SSH's exit-status / exit-signal."""
    if status is not None and status >= 0:
        return status, True, ""
    if signal_info:
        import signal as _signal

        name = str(signal_info[0])
        try:
            num = int(_signal.Signals[f"SIG{name}"])
        except KeyError:
            num = 0
        return 128 + num, True, f"the remote command was killed by SIG{name}"
    return 255, False, "the SSH session ended without an exit status (connection lost?)"


async def _pump_lines(stream: Any, name: str, queue: asyncio.Queue[tuple[str, str] | None]) -> None:
    """Forward lines of an asyncssh reader to ``queue``; None at EOF."""
    try:
        while True:
            line = await stream.readline()
            if not line:
                break
            await queue.put((name, line.rstrip("\r\n")))
    except Exception:  # noqa: BLE001 - a broken channel is EOF here; the exit status tells the rest
        pass
    finally:
        queue.put_nowait(None)


async def _close_proxy(proxy: "FlyProcess") -> None:
    """Close stdin (``--watch-stdin`` exits cleanly), then terminate and reap the group."""
    with contextlib.suppress(Exception):
        proxy.close_stdin()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(proxy.wait()), 2.0)
    await asyncio.shield(proxy.close())


__all__ = ["RemoteAlembic", "RemoteError", "RemoteRunResult", "remote_command"]
