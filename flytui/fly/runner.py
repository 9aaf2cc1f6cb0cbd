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
import atexit
import codecs
import json
import logging
import os
import re
import shlex
import shutil
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from flytui.fly.command import FlyCommand
from flytui.fly.child import Child, start_child
from flytui.fly.errors import (
    FlyctlError,
    FlyctlNotFound,
    FlyctlOutputError,
    FlyctlTimeout,
    classify,
    error_summary,
)
from flytui.fly.lifeline import die_with_parent
from flytui.fly.redact import redact_argv, redact_text, secrets_in_argv, secrets_in_env_text

log = logging.getLogger("flytui.fly.runner")

#: environment added to every flyctl child (before the runner's own ``env``)
CHILD_ENV: Mapping[str, str] = {"FLY_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "CLICOLOR": "0"}
#: seconds between SIGTERM and SIGKILL
DEFAULT_GRACE = 3.0
_READ_CHUNK = 64 * 1024
#: how long to wait for pipes to reach EOF once the group is gone
_PIPE_EOF_WAIT = 1.0
#: lines kept for ``tail()`` / ``wait_for`` history
_TAIL_LINES = 400
#: chunk mode: characters of stdout kept for ``tail()``
_TAIL_CHARS = 16 * 1024
#: chunk mode: pending characters at which the readers wait for the consumer (backpressure)
_MAX_PENDING_CHARS = 4 * 1024 * 1024

# ------------------------------------------------------------------------------------------
# registry of live process groups


_LIVE_GROUPS: dict[int, str] = {}  # pgid -> redacted command line
_BACKGROUND: set[asyncio.Task[Any]] = set()  # cleanup tasks that must outlive a cancelled caller


def live_groups() -> dict[int, str]:
    """The process groups started by this module that still have a running (non-zombie) member.

    Groups whose members are all gone (or only zombies left for the event loop's child watcher,
    e.g. after :func:`kill_all_children` at an app's exit) are dropped from the registry.
    """
    for pgid in list(_LIVE_GROUPS):
        if not _group_alive(pgid):
            _LIVE_GROUPS.pop(pgid, None)
    return dict(_LIVE_GROUPS)


def kill_all_children(sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` (default SIGKILL) to every live flyctl process group; return how many were signalled.

    Synchronous and allocation-light: safe to call from a signal handler or ``atexit``. Reaping is
    left to the event loop's child watcher (or to init once this process exits).
    """
    count = 0
    for pgid in list(_LIVE_GROUPS):
        if _signal_group(pgid, sig):
            count += 1
        else:
            _LIVE_GROUPS.pop(pgid, None)
    return count


atexit.register(kill_all_children)


def _run_attached(argv: list[str], env: dict[str, str], cwd: str | None) -> int:
    """Run ``argv`` on the terminal's own stdio and wait: the only child that is not put in its own group."""
    import subprocess

    return subprocess.run(argv, env=env, cwd=cwd, check=False, preexec_fn=die_with_parent()).returncode


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _group_alive(pgid: int) -> bool:
    """True while a member of the group is still running.

    ``killpg(pgid, 0)`` also succeeds for zombies waiting for init to reap them (which can take
    a second in containers); where ``/proc`` exists, zombies are not counted.
    """
    if not _signal_group(pgid, 0):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


async def _wait_exit(proc: Child) -> int:
    """Wait until the child itself exited (and was reaped by the loop's child watcher).

    ``Process.wait()`` also waits for the pipes to close, which never happens while an orphan
    holds them; ``returncode`` is set as soon as the child is reaped, so poll it (5 ms .. 50 ms).
    """
    delay = 0.005
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return proc.returncode


async def _terminate_group(proc: Child, grace: float = DEFAULT_GRACE) -> None:
    """SIGTERM the child's whole group, SIGKILL it after ``grace`` seconds, reap the leader.

    Also waits (briefly) until no member of the group is left, so no orphan survives.
    """
    loop = asyncio.get_running_loop()
    pgid = proc.pid
    if proc.returncode is None or _group_alive(pgid):
        _signal_group(pgid, signal.SIGTERM)
        deadline = loop.time() + grace
        while loop.time() < deadline:
            if proc.returncode is not None and not _group_alive(pgid):
                break
            await asyncio.sleep(0.02)
        else:
            log.debug("process group %d ignored SIGTERM for %.1f s: SIGKILL", pgid, grace)
        if proc.returncode is None or _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
    await _wait_exit(proc)
    end = loop.time() + 2.0
    while _group_alive(pgid) and loop.time() < end:  # members killed, waiting for init to reap
        _signal_group(pgid, signal.SIGKILL)
        await asyncio.sleep(0.01)
    _LIVE_GROUPS.pop(pgid, None)


async def _cleanup_shielded(proc: Child, grace: float) -> None:
    """Terminate the group even if the calling task is cancelled (again) meanwhile."""
    task = asyncio.ensure_future(_terminate_group(proc, grace))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    await asyncio.shield(task)


def _kill_if_started(start: asyncio.Future[Child]) -> None:
    """Done-callback: a child whose starter was abandoned is killed with its group."""
    if start.cancelled() or start.exception() is not None:
        return
    task = asyncio.ensure_future(_terminate_group(start.result(), 0.0))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


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
# data


@dataclass(frozen=True)
class CompletedRun:
    """A finished flyctl call. ``argv`` is redacted."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float


#: exit codes of a process ended by our SIGTERM/SIGKILL (negative from asyncio, 128+N from a shell wrapper)
_STOP_CODES = frozenset({-signal.SIGTERM, -signal.SIGKILL, 128 + signal.SIGTERM, 128 + signal.SIGKILL})

@dataclass(frozen=True)
class Invocation:
    """One entry of the command log, emitted at start (duration/returncode None) and at end."""

    argv: list[str]  # REDACTED
    started: float  # time.time()
    duration: float | None
    returncode: int | None
    stderr_tail: str  # redacted
    kind: str  # run | json | stream | long
    stopped: bool = False  # flytui ended it (closed a stream, cancelled): its signal exit code is no failure


@dataclass(frozen=True)
class StreamLine:
    """One line read from a streaming flyctl process."""

    stream: str  # "out" | "err"
    text: str  # decoded with errors="replace", at most max_line chars (suffix "…" when cut)
    t: float  # time.monotonic() when read


@dataclass(frozen=True)
class StreamChunk:
    """A piece of raw decoded text from a streaming flyctl process (:meth:`FlyProcess.chunks`).

    Not split into lines: ``text`` may start or end in the middle of a line (the next chunk of the same
    stream continues it). UTF-8 sequences are never split (incremental decoder, ``errors="replace"``).
    """

    stream: str  # "out" | "err"
    text: str
    t: float  # time.monotonic() of the newest read merged into it


Listener = Callable[[Invocation], None]


def _tail_text(text: str, n: int = 12) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def parse_json_values(text: str) -> list[Any]:
    """Every top-level JSON value in flyctl's stdout, in order.

    flyctl's encoder starts each top-level value at column 0, so candidates are lines starting
    with ``{`` or ``[``; other lines (warnings, "Run 'fly --help'") are skipped. Back-to-back pretty
    objects (``fly logs --json``) are decoded with ``raw_decode`` in a loop. A whole-text scalar
    (``null``) is accepted too. Raises :class:`FlyctlOutputError` on empty/undecodable output or a
    truncated value after good ones.
    """
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise FlyctlOutputError("flyctl printed no output where JSON was expected")
    try:
        return [json.loads(stripped)]
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos, end = 0, len(text)
    while pos < end:
        nl = text.find("\n", pos)
        line_end = end if nl < 0 else nl
        if text[pos:pos + 1] in ("{", "["):
            try:
                value, stop = decoder.raw_decode(text, pos)
            except ValueError:
                if values:
                    raise FlyctlOutputError(
                        f"flyctl printed truncated JSON: {_excerpt(text[pos:])}"
                    ) from None
            else:
                values.append(value)
                pos = stop
                continue
        pos = line_end + 1
    if not values:
        raise FlyctlOutputError(f"flyctl printed something that is not JSON: {_excerpt(text)}")
    return values


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


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
            except BaseException:  # cancelled again, or the start failed
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


async def _drain(stream: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await stream.read(_READ_CHUNK):
        into += chunk


async def _feed(writer: asyncio.StreamWriter | None, data: bytes | None, *, close: bool) -> None:
    """Write ``data`` to the child's stdin (ignoring a child that exits without reading it)."""
    if writer is None:
        return
    try:
        if data:
            writer.write(data)
            await writer.drain()
        if close:
            writer.close()
    except (BrokenPipeError, ConnectionResetError):
        pass


# ------------------------------------------------------------------------------------------
# streaming


class _LineSplitter:
    """Bytes -> lines; bounded memory for huge lines (keeps only what ``max_line`` can show)."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max(2, max_line)
        self._max_bytes = self.max_line * 4 + 4  # enough bytes for max_line UTF-8 chars
        self._buf = bytearray()
        self._over = False

    def _append(self, piece: bytes) -> None:
        room = self._max_bytes - len(self._buf)
        if len(piece) > room:
            if room > 0:
                self._buf += piece[:room]
            self._over = True
        else:
            self._buf += piece

    def _finish(self) -> str:
        raw = bytes(self._buf)
        over = self._over
        self._buf.clear()
        self._over = False
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        text = raw.decode("utf-8", errors="replace")
        if over or len(text) > self.max_line:
            text = text[: self.max_line - 1] + "…"
        return text

    def feed(self, chunk: bytes) -> list[str]:
        parts = chunk.split(b"\n")
        lines: list[str] = []
        for part in parts[:-1]:
            self._append(part)
            lines.append(self._finish())
        self._append(parts[-1])
        return lines

    def flush(self) -> list[str]:
        return [self._finish()] if self._buf or self._over else []

    def take(self) -> bytes:
        """The bytes of the unfinished line (for a switch to chunk mode); the splitter is emptied."""
        raw = bytes(self._buf)
        self._buf.clear()
        self._over = False
        return raw


class FlyProcess:
    """A running flyctl (deploy, logs, proxy). Use as ``async with runner.spawn(...) as proc``.

    Both pipes are read concurrently into a bounded buffer (the readers wait, and so does flyctl,
    when ``max_buffer`` lines are pending: no line is ever dropped). Leaving the block terminates
    the whole process group and reaps it.

    Two ways to consume the output (pick one per process): :meth:`batches` (lists of
    :class:`StreamLine`) or :meth:`chunks` (lists of raw :class:`StreamChunk` text, no per-line
    work: the fast path for ``fly logs --json``). The kill/reap guarantees are the same.
    """

    def __init__(
        self, runner: FlyctlRunner, argv: list[str], *, stdin: bytes | None, keep_stdin_open: bool,
        max_line: int, cwd: str | None, kind: str, max_buffer: int, env: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self._runner = runner
        self._env = env
        self._argv_real = argv
        self.argv = redact_argv(argv)
        self._secrets = secrets_in_argv(argv) + (
            secrets_in_env_text(stdin.decode("utf-8", "replace")) if stdin else []
        ) + list(secrets)
        self._stdin = stdin
        self._keep_stdin_open = keep_stdin_open
        self._max_line = max_line
        self._cwd = cwd
        self._kind = kind
        self._max_buffer = max(1, max_buffer)
        self.pid: int = 0
        self._proc: Child | None = None
        self._pending: deque[StreamLine] = deque()
        self._tail: deque[StreamLine] = deque(maxlen=_TAIL_LINES)
        self._eofs = 0
        self._closing = False
        self._exited = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._watcher: asyncio.Task[Any] | None = None
        self._waiters: list[tuple[re.Pattern[str], asyncio.Future[re.Match[str]]]] = []
        self._data = asyncio.Event()
        self._space = asyncio.Event()
        self._started_wall = 0.0
        self._t0 = 0.0
        # chunk mode (:meth:`chunks`): raw text instead of lines
        self._raw = False
        self._chunks: deque[StreamChunk] = deque()
        self._chunk_chars = 0
        self._out_tail: deque[str] = deque()  # recent stdout text (chunk mode), about _TAIL_CHARS
        self._out_tail_chars = 0

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    async def start(self) -> FlyProcess:
        """Start flyctl (``__aenter__`` does this)."""
        if self._proc is not None:
            return self
        self._started_wall, self._t0 = time.time(), time.monotonic()
        self._runner._emit(Invocation(self.argv, self._started_wall, None, None, "", self._kind))
        log.debug("spawn [%s] %s", self._kind, shlex.join(self.argv))
        pipe = self._stdin is not None or self._keep_stdin_open
        try:
            self._proc = await self._runner._exec(self._argv_real, stdin_pipe=pipe, cwd=self._cwd, env=self._env)
        except FlyctlError:
            duration = time.monotonic() - self._t0
            self._runner._emit(Invocation(self.argv, self._started_wall, duration, None, "", self._kind))
            raise
        self.pid = self._proc.pid
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._tasks = [
            asyncio.ensure_future(self._read(self._proc.stdout, "out")),
            asyncio.ensure_future(self._read(self._proc.stderr, "err")),
        ]
        if pipe and (self._stdin or not self._keep_stdin_open):
            self._tasks.append(
                asyncio.ensure_future(_feed(self._proc.stdin, self._stdin, close=not self._keep_stdin_open))
            )
        self._watcher = asyncio.ensure_future(self._watch())
        return self

    async def __aenter__(self) -> FlyProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        """Terminate the group (if anything is left), reap it, stop the readers."""
        if self._proc is None:
            return
        await self.terminate(self._runner.grace if grace is None else grace)
        readers = [t for t in self._tasks if not t.done()]
        if readers:
            await asyncio.wait(readers, timeout=_PIPE_EOF_WAIT)
        for task in self._tasks:
            if not task.done():
                task.cancel()
        self._proc.close_pipes()
        if self._watcher is not None:
            await asyncio.wait([self._watcher], timeout=_PIPE_EOF_WAIT)
            if not self._watcher.done():
                self._watcher.cancel()

    async def terminate(self, grace: float = DEFAULT_GRACE) -> None:
        """SIGTERM the whole process group, SIGKILL after ``grace`` s, reap. Idempotent."""
        if self._proc is None:
            return
        self._closing = True
        self._space.set()  # release readers waiting for buffer room: nothing is dropped, the cap is lifted
        await _cleanup_shielded(self._proc, grace)

    async def wait(self) -> int:
        """Wait for flyctl to exit; its exit code. (Consume ``batches()`` meanwhile for chatty commands.)"""
        if self._proc is None:
            await self.start()
        assert self._proc is not None
        return await _wait_exit(self._proc)

    def tail(self, n: int = 40) -> str:
        """The last ``n`` lines seen on stdout and stderr (redacted).

        In chunk mode the recent stdout lines come after the stderr lines (their interleaving is not kept).
        """
        texts = [line.text for line in self._tail] + self._out_tail_lines()
        return redact_text("\n".join(texts[-n:]), self._secrets)

    def _out_tail_lines(self) -> list[str]:
        """Chunk mode: the recent stdout lines (about ``_TAIL_CHARS`` characters; [] in line mode)."""
        if not self._out_tail:
            return []
        text = "".join(self._out_tail)
        if len(text) <= _TAIL_CHARS:
            return text.splitlines()
        return text[-_TAIL_CHARS:].splitlines()[1:]  # the first one is cut

    # -- stdin ------------------------------------------------------------------------------

    async def write_stdin(self, data: bytes) -> None:
        """Write to flyctl's stdin (spawned with ``keep_stdin_open=True``)."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("stdin is not open (spawn with keep_stdin_open=True)")
        await _feed(self._proc.stdin, data, close=False)

    def close_stdin(self) -> None:
        """Close flyctl's stdin (e.g. ``fly proxy --watch-stdin`` then exits)."""
        if self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.close()

    # -- reading ----------------------------------------------------------------------------

    async def _read(self, stream: asyncio.StreamReader, name: str) -> None:
        splitter = _LineSplitter(self._max_line)
        decoder: codecs.IncrementalDecoder | None = None
        try:
            while chunk := await stream.read(_READ_CHUNK):
                if self._raw:
                    if decoder is None:  # switched to chunk mode: keep the unfinished line
                        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                        chunk = splitter.take() + chunk
                    await self._push_chunk(name, decoder.decode(chunk))
                    continue
                lines = splitter.feed(chunk)
                if lines:
                    await self._push(name, lines)
            if decoder is not None:
                await self._push_chunk(name, decoder.decode(b"", final=True))
            else:
                rest = splitter.flush()
                if rest:
                    await self._push(name, rest)
        finally:
            self._eofs += 1
            self._data.set()

    async def _push_chunk(self, name: str, text: str) -> None:
        """Chunk mode: queue raw text (bounded: wait while too much is pending); keep tails for errors."""
        if not text:
            return
        while self._chunk_chars >= _MAX_PENDING_CHARS and not self._closing:
            self._space.clear()
            await self._space.wait()
        now = time.monotonic()
        self._chunks.append(StreamChunk(name, text, now))
        self._chunk_chars += len(text)
        if name == "err":  # rare and small: keep lines for tail() / wait_for / error messages
            for line in text.splitlines():
                entry = StreamLine(name, line[: self._max_line], now)
                self._tail.append(entry)
                if self._waiters:
                    self._match_waiters(entry.text)
        else:
            self._out_tail.append(text)
            self._out_tail_chars += len(text)
            while self._out_tail_chars - len(self._out_tail[0]) >= _TAIL_CHARS:
                self._out_tail_chars -= len(self._out_tail.popleft())
            if self._waiters:
                for line in text.splitlines():
                    self._match_waiters(line)
        self._data.set()

    async def _push(self, name: str, texts: list[str]) -> None:
        while len(self._pending) >= self._max_buffer and not self._closing:
            self._space.clear()
            await self._space.wait()
        now = time.monotonic()
        for text in texts:
            line = StreamLine(name, text, now)
            self._pending.append(line)
            self._tail.append(line)
            if self._waiters:
                self._match_waiters(text)
        self._data.set()

    def _match_waiters(self, text: str) -> None:
        for rx, fut in list(self._waiters):
            if not fut.done():
                m = rx.search(text)
                if m:
                    fut.set_result(m)

    async def _watch(self) -> None:
        """When flyctl exits: let the pipes drain, fail pending ``wait_for``s, log the end."""
        assert self._proc is not None
        rc = await _wait_exit(self._proc)
        readers = [t for t in self._tasks[:2] if not t.done()]
        if readers:
            await asyncio.wait(readers, timeout=_PIPE_EOF_WAIT)
        self._exited = True
        if not _group_alive(self._proc.pid):
            _LIVE_GROUPS.pop(self._proc.pid, None)
        for rx, fut in list(self._waiters):
            if not fut.done():
                fut.set_exception(self._exit_error(rx, rc))
        err_tail = redact_text(_tail_text("\n".join(l.text for l in self._tail if l.stream == "err")), self._secrets)
        duration = time.monotonic() - self._t0
        stopped = self._closing and rc in _STOP_CODES
        self._runner._emit(Invocation(self.argv, self._started_wall, duration, rc, err_tail, self._kind, stopped))
        log.debug("end [%s] %s -> %s in %.2fs", self._kind, shlex.join(self.argv), rc, duration)

    def _exit_error(self, rx: re.Pattern[str], rc: int | None) -> FlyctlError:
        stderr = redact_text("\n".join(l.text for l in self._tail if l.stream == "err"), self._secrets)
        stdout = redact_text("\n".join([l.text for l in self._tail if l.stream == "out"] + self._out_tail_lines()),
                             self._secrets)
        error = classify(self.argv, rc, stderr, stdout)
        if type(error) is FlyctlError and not error_summary(stderr, stdout):
            error.message = f"`{shlex.join(self.argv)}` exited with code {rc} before printing {rx.pattern!r}"
        elif type(error) is FlyctlError:
            error.message = f"{error.message} (flyctl exited with code {rc} before it was ready)"
        return error

    async def batches(self, max_batch: int = 500, interval: float = 0.05) -> AsyncIterator[list[StreamLine]]:
        """Lists of lines: up to ``max_batch`` at once, or whatever arrived within ``interval`` s.

        Ends once both stdout and stderr reached EOF and every line was yielded.
        """
        if self._proc is None:
            await self.start()
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._eofs >= 2:
                    return
                self._data.clear()
                await self._data.wait()
                continue
            await self._fill(lambda: len(self._pending) >= max_batch, loop.time() + interval)
            count = min(max_batch, len(self._pending))
            batch = [self._pending.popleft() for _ in range(count)]
            self._space.set()
            yield batch

    async def chunks(self, max_chars: int = 1 << 20, interval: float = 0.05) -> AsyncIterator[list[StreamChunk]]:
        """Raw decoded text, batched: lists of :class:`StreamChunk` (consecutive pieces of one stream merged).

        No per-line work at all (the fast path for ``fly logs --json``). A batch holds what arrived within
        ``interval`` s, or about ``max_chars`` characters. Call it instead of :meth:`batches`; lines split
        before the first call come first (as text). Ends once both pipes reached EOF and everything was
        yielded. In this mode ``wait_for`` matches stdout per chunk (a line cut across two chunks can be
        missed) and ``tail()`` lists stderr lines before the recent stdout lines.
        """
        self._raw = True
        if self._proc is None:
            await self.start()
        self._adopt_pending_lines()
        loop = asyncio.get_running_loop()
        while True:
            if not self._chunks:
                if self._eofs >= 2:
                    return
                self._data.clear()
                await self._data.wait()
                continue
            await self._fill(lambda: self._chunk_chars >= max_chars, loop.time() + interval)
            yield self._take_chunks(max_chars)

    async def _fill(self, full: Callable[[], bool], deadline: float) -> None:
        """Let more output arrive until the batch is ``full``, both pipes hit EOF, or ``deadline`` passes."""
        loop = asyncio.get_running_loop()
        while not full() and self._eofs < 2:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._data.clear()
            try:
                await asyncio.wait_for(self._data.wait(), remaining)
            except TimeoutError:
                return

    def _adopt_pending_lines(self) -> None:
        """Lines split before the switch to chunk mode become chunks (in front of newer chunks)."""
        if not self._pending:
            return
        lines, self._pending = list(self._pending), deque()
        adopted: list[StreamChunk] = []
        for line in lines:
            if adopted and adopted[-1].stream == line.stream:
                last = adopted[-1]
                adopted[-1] = StreamChunk(last.stream, last.text + line.text + "\n", line.t)
            else:
                adopted.append(StreamChunk(line.stream, line.text + "\n", line.t))
        self._chunks.extendleft(reversed(adopted))
        self._chunk_chars += sum(len(c.text) for c in adopted)

    def _take_chunks(self, max_chars: int) -> list[StreamChunk]:
        """Pop about ``max_chars`` characters of queued chunks, merging neighbours of the same stream."""
        groups: list[tuple[str, list[str], float]] = []
        taken = 0
        chunks = self._chunks
        while chunks and (taken < max_chars or not groups):
            c = chunks.popleft()
            taken += len(c.text)
            if groups and groups[-1][0] == c.stream:
                groups[-1][1].append(c.text)
                groups[-1] = (c.stream, groups[-1][1], c.t)
            else:
                groups.append((c.stream, [c.text], c.t))
        self._chunk_chars -= taken
        self._space.set()
        return [StreamChunk(stream, "".join(texts), t) for stream, texts, t in groups]

    async def wait_for(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait for a line (stdout or stderr) matching ``pattern``; lines already seen count.

        Raises the classified :class:`FlyctlError` (with the output tail) if flyctl exits first,
        :class:`FlyctlTimeout` after ``timeout`` seconds (the process is left running).
        """
        if self._proc is None:
            await self.start()
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        seen = [line.text for line in self._tail] + self._out_tail_lines()
        for text in seen:
            m = rx.search(text)
            if m:
                return m
        if self._exited:
            raise self._exit_error(rx, self.returncode)
        fut: asyncio.Future[re.Match[str]] = asyncio.get_running_loop().create_future()
        entry = (rx, fut)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise FlyctlTimeout(
                f"`{shlex.join(self.argv)}` did not print {rx.pattern!r} within {timeout:g} s",
                argv=self.argv, returncode=self.returncode, stderr=self.tail(), stdout="",
            ) from None
        finally:
            self._waiters.remove(entry)


__all__ = [
    "CHILD_ENV",
    "CompletedRun",
    "FlyProcess",
    "FlyctlRunner",
    "Invocation",
    "StreamChunk",
    "StreamLine",
    "kill_all_children",
    "live_groups",
    "parse_json_values",
    "resolve_flyctl",
]
