"""Run flyctl as a child process: one-shot commands, JSON commands, streams and long-lived processes.

Rules (docs/ARCHITECTURE.md, "Runner"):

* argv lists only (``asyncio.create_subprocess_exec``), never a shell;
* every child gets its own session/process group (``start_new_session=True``), stdin is a
  pipe or ``/dev/null`` (never the terminal) and the environment adds
  ``FLY_NO_UPDATE_CHECK=1``, ``NO_COLOR=1``, ``CLICOLOR=0``;
* a timeout, a task cancellation or leaving a :class:`FlyProcess` kills the **whole group**
  (SIGTERM, grace period, SIGKILL) and reaps it; group members still alive after the leader
  exited (orphans) are killed too;
* live groups are kept in a module registry; :func:`kill_all_children` (sync, signal/atexit safe)
  kills them all;
* listeners and logs only ever see redacted argv and redacted stderr, never stdin content.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
import time
from typing import Any, Mapping, Sequence

from flytui.fly.command import FlyCommand
from flytui.fly.child import Child, start_child
from flytui.fly.errors import (
    FlyctlNotFound,
    FlyctlOutputError,
    FlyctlTimeout,
    classify,
)
from flytui.fly.lifeline import die_with_parent
from flytui.fly.redact import redact_argv, redact_text, secrets_in_argv, secrets_in_env_text

from flytui.fly.groups import (
    _LIVE_GROUPS,
    DEFAULT_GRACE as DEFAULT_GRACE,
    _cleanup_shielded,
    _kill_if_started,
    _group_alive,
    _run_attached,
    _terminate_group,
    _wait_exit,
    kill_all_children as kill_all_children,
    live_groups as live_groups,
)
from flytui.fly.process import (
    _PIPE_EOF_WAIT,
    FlyProcess as FlyProcess,
    _drain,
    _feed,
)
from flytui.fly.run_types import (
    CompletedRun as CompletedRun,
    Invocation as Invocation,
    Listener as Listener,
    StreamChunk as StreamChunk,
    StreamLine as StreamLine,
    _tail_text,
    parse_json_values as parse_json_values,
)

log = logging.getLogger("flytui.fly.runner")

#: environment added to every flyctl child (before the runner's own ``env``)
CHILD_ENV: Mapping[str, str] = {"FLY_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "CLICOLOR": "0"}

# ------------------------------------------------------------------------------------------
# locating flyctl


def _executable(candidate: str) -> str | None:
    """Absolute path of ``candidate`` (a path or a name on PATH) if it is an executable file."""
    candidate = os.path.expanduser(candidate)
    path = candidate if os.sep in candidate else shutil.which(candidate)
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return os.path.abspath(path)
    return None


def resolve_flyctl(explicit: str | None = None) -> str:
    """The flyctl binary: ``explicit`` (--flyctl), else ``$FLYTUI_FLYCTL``, else ``fly``/``flyctl`` on PATH.

    Raises :class:`FlyctlNotFound` naming what was looked for.
    """
    for source, value in (("--flyctl", explicit), ("FLYTUI_FLYCTL", os.environ.get("FLYTUI_FLYCTL"))):
        if value:
            found = _executable(value)
            if found is None:
                raise FlyctlNotFound(f"flyctl not found: {source} points to {value!r}, which is not an executable file")
            return found
    for name in ("fly", "flyctl"):
        found = _executable(name)
        if found:
            return found
    raise FlyctlNotFound("flyctl not found: looked for `fly` and `flyctl` on PATH (FLYTUI_FLYCTL is not set)")


# ------------------------------------------------------------------------------------------
# runner


class FlyctlRunner:
    """Runs flyctl. One instance per app session; cheap to create (flyctl is located lazily)."""

    def __init__(
        self,
        flyctl: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        default_timeout: float = 60.0,
        cwd: str | None = None,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        self._explicit = flyctl
        self._path: str | None = None
        self.env: dict[str, str] = dict(env or {})
        self.default_timeout = default_timeout
        self.cwd = cwd
        self.grace = grace
        self._listeners: list[Listener] = []

    @property
    def path(self) -> str:
        """The flyctl binary (resolved on first use; raises FlyctlNotFound)."""
        if self._path is None:
            self._path = resolve_flyctl(self._explicit)
        return self._path

    def add_listener(self, cb: Listener) -> None:
        """Call ``cb`` at start and end of every flyctl call (redacted data only)."""
        self._listeners.append(cb)

    def run_interactive(self, *args: str, cwd: str | None = None) -> int:
        """Run flyctl attached to the user's terminal and wait (``fly auth login``, ``fly ssh console``).

        Blocking, for a caller that has handed the terminal over (the UI suspends itself first). stdin,
        stdout and stderr are the terminal's, and the child stays in the terminal's foreground process
        group so it can read the keyboard and get Ctrl-C; argv is a list, never a shell string. The call is
        reported to the listeners (command log) like every other, with redacted argv.
        """
        argv = [self.path, *args]
        shown = redact_argv(argv)
        started, t0 = time.time(), time.monotonic()
        self._emit(Invocation(shown, started, None, None, "", "interactive"))
        log.debug("flyctl interactive: %s", shlex.join(shown))
        returncode: int | None = None
        try:
            returncode = _run_attached(argv, self.child_env(), cwd or self.cwd)
        except OSError as exc:
            raise FlyctlNotFound(
                f"flyctl not found: cannot execute {argv[0]!r} ({exc.strerror or exc})", argv=shown
            ) from None
        finally:
            self._emit(Invocation(shown, started, time.monotonic() - t0, returncode, "", "interactive"))
        return returncode

    # -- internals shared with FlyProcess --------------------------------------------------

    def _emit(self, inv: Invocation) -> None:
        for cb in list(self._listeners):
            try:
                cb(inv)
            except Exception:  # a broken listener must not break flyctl calls
                log.exception("invocation listener failed")

    def child_env(self) -> dict[str, str]:
        """Environment for a child: os.environ + CHILD_ENV + the runner's env."""
        env = dict(os.environ)
        env.update(CHILD_ENV)
        env.update(self.env)
        return env

    async def _exec(self, argv: list[str], *, stdin_pipe: bool, cwd: str | None,
                    env: Mapping[str, str] | None = None) -> Child:
        """Start flyctl in its own session; a cancellation while starting still kills the group.

        The child exists before the start returns (its pipes are wrapped after the fork), so the start
        runs shielded: if we are cancelled meanwhile, we let it finish, kill the whole group, then
        re-raise CancelledError.
        """
        start = asyncio.ensure_future(self._create(argv, stdin_pipe=stdin_pipe, cwd=cwd, env=env))
        try:
            return await asyncio.shield(start)
        except asyncio.CancelledError:
            try:
                proc = await asyncio.shield(start)
            except BaseException:  # noqa: BLE001 - cancelled again, or the start failed: either way the child is killed once started
                start.add_done_callback(_kill_if_started)
                raise asyncio.CancelledError() from None
            await _cleanup_shielded(proc, self.grace)
            raise

    async def _create(self, argv: list[str], *, stdin_pipe: bool, cwd: str | None,
                      env: Mapping[str, str] | None = None) -> Child:
        def register(pid: int) -> None:  # before anything is awaited: the group is known from its first instant
            _LIVE_GROUPS[pid] = shlex.join(redact_argv(argv))

        try:
            return await start_child(argv, stdin_pipe=stdin_pipe, env=env if env is not None else self.child_env(),
                                     cwd=cwd or self.cwd, on_started=register,
                                     preexec_fn=die_with_parent())  # ends with flytui even on kill -9
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            if env is not None:  # a program other than flyctl (spawn_program / run_program)
                raise FlyctlNotFound(
                    f"cannot execute {argv[0]!r} ({exc.strerror or exc})", argv=redact_argv(argv),
                    hint="check the command and the working directory",
                ) from exc
            self._path = None
            raise FlyctlNotFound(
                f"flyctl not found: cannot execute {argv[0]!r} ({exc.strerror or exc})", argv=redact_argv(argv)
            ) from exc

    # -- public API -------------------------------------------------------------------------

    async def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
        cwd: str | None = None,
    ) -> CompletedRun:
        """Run ``flyctl *args`` to completion.

        ``check``: a non-zero exit raises the :func:`classify`-ed error. A timeout kills the group and
        raises :class:`FlyctlTimeout`; cancelling the task kills the group and re-raises CancelledError.
        """
        return await self._run(list(args), stdin=stdin, timeout=timeout, check=check, cwd=cwd, kind="run")

    async def execute(self, command: "FlyCommand") -> CompletedRun:
        """Run a :class:`~flytui.fly.command.FlyCommand` as built (and as shown in a confirmation):
        its args, stdin, env additions, timeout, check and cwd."""
        env = {**self.child_env(), **command.env} if command.env else None
        return await self._run(list(command.args), stdin=command.stdin, timeout=command.timeout,
                               check=command.check, cwd=command.cwd, kind="run", env=env,
                               extra_secrets=list(command.env.values()))

    async def run_json(self, *args: str, timeout: float | None = None, stdin: bytes | None = None) -> Any:
        """Run with ``--json`` (added unless ``--json``/``-j`` given) and decode stdout.

        Several top-level values (``fly logs --json``) -> a list of them; one value -> that value.
        """
        argv = list(args)
        if "--json" not in argv and "-j" not in argv:
            argv.append("--json")
        done = await self._run(argv, stdin=stdin, timeout=timeout, check=True, cwd=None, kind="json")
        try:
            values = parse_json_values(done.stdout)
        except FlyctlOutputError as exc:
            raise FlyctlOutputError(
                f"`{shlex.join(done.argv)}`: {exc.message}", argv=done.argv, returncode=done.returncode,
                stderr=done.stderr, stdout=done.stdout[:2000],
            ) from None
        return values[0] if len(values) == 1 else values

    def spawn(
        self,
        *args: str,
        stdin: bytes | None = None,
        keep_stdin_open: bool = False,
        max_line: int = 4096,
        cwd: str | None = None,
        kind: str = "stream",
        max_buffer: int = 10_000,
    ) -> FlyProcess:
        """A streaming/long-lived flyctl process; start it with ``async with``.

        ``kind`` is recorded in the command log ("stream" for deploy/logs, "long" for proxy).
        """
        return FlyProcess(
            self, [self.path, *args], stdin=stdin, keep_stdin_open=keep_stdin_open,
            max_line=max_line, cwd=cwd, kind=kind, max_buffer=max_buffer,
        )

    def spawn_program(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        max_line: int = 4096,
        kind: str = "program",
        max_buffer: int = 10_000,
        secrets: Sequence[str] = (),
    ) -> FlyProcess:
        """Like :meth:`spawn`, for a program other than flyctl (the project's alembic, its Python).

        ``argv`` is complete (``argv[0]`` is looked up on PATH); ``env`` is the child's **whole**
        environment (default: :meth:`child_env`). Same guarantees as flyctl children: own process group,
        the live-group registry, the bounded reader (lines of any length; longer than ``max_line``
        characters they are cut with ``…``, and nothing after them is lost), the command log. ``secrets``: values
        masked in what the command log and errors show (e.g. a database password the child has in its env).
        """
        return FlyProcess(
            self, list(argv), stdin=None, keep_stdin_open=False, max_line=max_line, cwd=cwd, kind=kind,
            max_buffer=max_buffer, env=dict(env) if env is not None else self.child_env(), secrets=secrets,
        )

    async def run_program(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        stdin: bytes | None = None,
        kind: str = "program",
        secrets: Sequence[str] = (),
    ) -> CompletedRun:
        """Run a program other than flyctl to completion (never raises for its exit code).

        ``env`` is the whole environment (default: :meth:`child_env`). A timeout kills the group and raises
        :class:`FlyctlTimeout`; cancelling kills the group and re-raises CancelledError.
        """
        return await self._run(list(argv), stdin=stdin, timeout=timeout, check=False, cwd=cwd, kind=kind,
                               env=dict(env) if env is not None else self.child_env(), full_argv=True,
                               extra_secrets=secrets)

    async def _run(
        self, args: list[str], *, stdin: bytes | None, timeout: float | None, check: bool,
        cwd: str | None, kind: str, env: Mapping[str, str] | None = None, full_argv: bool = False,
        extra_secrets: Sequence[str] = (),
    ) -> CompletedRun:
        argv = list(args) if full_argv else [self.path, *args]
        shown = redact_argv(argv)
        secrets = secrets_in_argv(argv) + list(extra_secrets)
        if stdin:
            secrets += secrets_in_env_text(stdin.decode("utf-8", errors="replace"))
        limit = self.default_timeout if timeout is None else timeout
        started, t0 = time.time(), time.monotonic()
        self._emit(Invocation(shown, started, None, None, "", kind))
        log.debug("start [%s] %s (stdin: %s bytes, timeout %s s)", kind, shlex.join(shown),
                  len(stdin) if stdin is not None else "no", limit)
        out, err = bytearray(), bytearray()
        returncode: int | None = None
        try:
            proc = await self._exec(argv, stdin_pipe=stdin is not None, cwd=cwd, env=env)
            try:
                async with asyncio.timeout(limit):
                    returncode = await self._communicate(proc, stdin, out, err)
            except TimeoutError:
                await _cleanup_shielded(proc, self.grace)
                returncode = proc.returncode
                raise FlyctlTimeout(
                    f"`{shlex.join(shown)}` did not finish within {limit:g} s and was stopped",
                    argv=shown, returncode=returncode,
                    stderr=redact_text(err.decode("utf-8", "replace"), secrets),
                    stdout=redact_text(out.decode("utf-8", "replace"), secrets),
                ) from None
            except BaseException:
                await _cleanup_shielded(proc, self.grace)
                returncode = proc.returncode
                raise
        finally:
            duration = time.monotonic() - t0
            tail = redact_text(_tail_text(err.decode("utf-8", "replace")), secrets)
            self._emit(Invocation(shown, started, duration, returncode, tail, kind))
            log.debug("end [%s] %s -> %s in %.2fs", kind, shlex.join(shown), returncode, duration)
        stdout = out.decode("utf-8", errors="replace")
        stderr = err.decode("utf-8", errors="replace")
        if check and returncode != 0:
            raise classify(shown, returncode, redact_text(stderr, secrets), redact_text(stdout, secrets))
        return CompletedRun(shown, returncode, stdout, stderr, duration)

    async def _communicate(
        self, proc: Child, stdin: bytes | None, out: bytearray, err: bytearray
    ) -> int:
        """Feed stdin, collect both pipes, wait for exit; kill orphans left in the group."""
        assert proc.stdout is not None and proc.stderr is not None
        readers = [asyncio.ensure_future(_drain(proc.stdout, out)), asyncio.ensure_future(_drain(proc.stderr, err))]
        feeder = asyncio.ensure_future(_feed(proc.stdin, stdin, close=True)) if stdin is not None else None
        try:
            returncode = await _wait_exit(proc)
            if _group_alive(proc.pid):  # the leader exited, members of its group did not
                await _terminate_group(proc, self.grace)
            await asyncio.wait(readers, timeout=_PIPE_EOF_WAIT)
            return returncode
        finally:
            for task in (*readers, feeder):
                if task is not None and not task.done():
                    task.cancel()
            proc.close_pipes()
            if proc.returncode is not None and not _group_alive(proc.pid):
                _LIVE_GROUPS.pop(proc.pid, None)
