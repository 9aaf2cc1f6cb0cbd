"""Running the project's own alembic: events, the runner (through the one process runner), SQL previews,
and the target probe.

Every alembic child goes through :meth:`flytui.fly.runner.FlyctlRunner.spawn_program` /
:meth:`~flytui.fly.runner.FlyctlRunner.run_program`: own process group, the live-group registry (killed on
a forced exit), a reader that takes lines of any length (cut for display with ``…``, nothing after them
lost), timeouts. How the URL reaches env.py is :attr:`AlembicRunner.url_via`: an environment variable
(default ``DATABASE_URL``), ``-x KEY=URL`` or ``sqlalchemy.url`` of the ini — the last two through
``alembic_shim.py`` in the project's Python, so the URL is never in an argv.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# the events and results live in flytui.db.alembic_events; these names stay importable from here
from flytui.db.alembic_events import (
    AlembicEvent as AlembicEvent, AlembicSetupError as AlembicSetupError, EventCollector as EventCollector, LogLine as LogLine, Progress as Progress,
    RunFinished as RunFinished, RunResult as RunResult, RunStarted as RunStarted, SqlPreview as SqlPreview,
    TargetProbe as TargetProbe, _error_block as _error_block, _error_line as _error_line,
    parse_progress as parse_progress, redact as redact,
)
from flytui.db.interpreter import detect_alembic_command, python_entry, with_driver
from flytui.db.lock import LOCK_KEY, MigrationLock, split_key

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.alembic_service import AlembicProject, Direction, History
    from flytui.fly.runner import FlyctlRunner

SHIM = Path(__file__).with_name("alembic_shim.py")
PROBE_MARK = "FLYTUI-PROBE "


def _url_via(value: str) -> tuple[str, str]:
    """``env:NAME`` | ``x:KEY`` | ``ini`` -> (kind, name); ValueError otherwise."""
    value = (value or "env:DATABASE_URL").strip()
    if value == "ini":
        return "ini", "sqlalchemy.url"
    kind, _, name = value.partition(":")
    if kind in ("env", "x") and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name or ""):
        return kind, name
    raise ValueError(f"database_url = {value!r}: expected \"env:NAME\", \"x:KEY\" or \"ini\"")


class AlembicRunner:
    """Runs the project's own alembic through the process runner (argv list, own process group, registry).

    ``command``: argv prefix (``.venv/bin/alembic``, ``uv run alembic``, ``flask db``); ``pass_config``:
    add ``-c <ini>`` (default: yes, except for ``flask db`` and ``[tool.alembic]`` projects); ``cwd``: where
    it runs (default: the ini's folder); ``url_via``: how env.py takes the URL (``env:NAME``, ``x:KEY``,
    ``ini``); ``processes``: the app's :class:`~flytui.fly.runner.FlyctlRunner` (one is made if None).
    """

    def __init__(self, project: AlembicProject, command: Sequence[str] | None = None, *,
                 env: Mapping[str, str] | None = None, lock: bool = True, lock_key: int = LOCK_KEY,
                 tail_lines: int = 40, processes: "FlyctlRunner | None" = None, cwd: Path | None = None,
                 pass_config: bool | None = None, url_via: str = "env:DATABASE_URL",
                 preview_timeout: float = 60.0, probe_timeout: float = 60.0, max_line: int = 8192) -> None:
        self.project = project
        self.command = list(command) if command else detect_alembic_command(project.root)
        self.env = dict(env or {})
        self.lock = lock
        self.lock_key = lock_key
        self.tail_lines = tail_lines
        self.cwd = Path(cwd) if cwd else project.root
        is_flask = project.flask_migrate or any(os.path.basename(c) == "flask" for c in self.command[:3])
        self.flask = is_flask
        self.pass_config = (not is_flask and not project.uses_pyproject) if pass_config is None else pass_config
        self.url_kind, self.url_name = _url_via(url_via)
        self.preview_timeout = preview_timeout
        self.probe_timeout = probe_timeout
        self.max_line = max_line
        if processes is None:
            from flytui.fly.runner import FlyctlRunner

            processes = FlyctlRunner()
        self.processes = processes
        from flytui.db.interpreter import project_driver

        self.driver, self.driver_reason = project_driver(self.command)

    # -- argv / env

    def _parts(self, args: Sequence[str], x_args: Sequence[str]) -> tuple[list[str], int]:
        """Arguments after the command, and where ``-x`` options go (before the subcommand for alembic, after
        it for ``flask db`` whose subcommands take ``-x``)."""
        parts: list[str] = []
        if self.pass_config:
            parts += ["-c", str(self.project.config_file)]
        args = list(args)
        if self.flask and args:  # flask db SUBCOMMAND -d <migrations folder> [-x ...] ARGS
            parts += [args[0], "-d", str(self.project.script_location)]
            x_at = len(parts)
            parts += args[1:]
        else:
            x_at = len(parts)
            parts += args
        for x in reversed(list(x_args)):
            parts[x_at:x_at] = ["-x", x]
        return parts, x_at

    def argv(self, args: Sequence[str], x_args: Sequence[str] = ()) -> list[str]:
        """The argv shown for ``alembic <args>`` (the URL is never in it)."""
        return [*self.command, *self._parts(args, x_args)[0]]

    @property
    def needs_shim(self) -> bool:
        """True when the URL goes in as ``-x`` or ``sqlalchemy.url`` (set inside the project's Python)."""
        return self.url_kind != "env"

    def describe_url_via(self) -> str:
        return {"env": f"${self.url_name}", "x": f"-x {self.url_name}=URL", "ini": "sqlalchemy.url (ini override)"}[
            self.url_kind]

    def _launch(self, args: Sequence[str], x_args: Sequence[str], url: str, env_extra: Mapping[str, str] | None,
                probe: dict[str, int] | None = None) -> tuple[list[str], dict[str, str]]:
        """(argv to execute, whole environment). AlembicSetupError when the shim is needed but the command is
        not Python code flytui can run in the project's interpreter."""
        parts, x_at = self._parts(args, x_args)
        env = self._env(url, env_extra)
        if not self.needs_shim and probe is None:
            return [*self.command, *parts], env
        entry = python_entry(self.command)
        if entry is None:
            raise AlembicSetupError(
                f"cannot run {' '.join(self.command)!r} inside the project's Python (not a Python script), so "
                f"flytui cannot {'check which database env.py reaches' if probe else 'pass the URL as ' + self.describe_url_via()}",
                "set command to the venv's alembic (e.g. \".venv/bin/alembic\") or \"python -m alembic\" in "
                "[tool.flytui.migrations]" + ("; or verify_target = false to run without the check" if probe else ""))
        prefix, (kind, value), rest = entry
        control: dict[str, object] = {"probe": probe}
        if self.url_kind == "x":
            control.update(url_via="x", x_key=self.url_name, x_at=len(rest) + x_at)
        elif self.url_kind == "ini":
            control["url_via"] = "ini"
        env["FLYTUI_SHIM"] = json.dumps(control)
        if self.needs_shim:
            env["FLYTUI_TARGET_URL"] = with_driver(url, self.driver)
        return [*prefix, str(SHIM), kind, value, *rest, *parts], env

    def secrets(self, url: str | None, env_extra: Mapping[str, str] | None = None) -> list[str]:
        """Values to mask in the command log: the URL's password, and env values whose names say secret."""
        from urllib.parse import unquote

        out: list[str] = []
        m = re.match(r"^[^:]+://[^:/@]+:([^@]+)@", url or "")
        if m:
            out += [m.group(1), unquote(m.group(1))]
        for name, value in {**self.env, **(env_extra or {})}.items():
            if re.search(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|DSN|URL", name.upper()) and len(value) >= 4:
                out.append(value)
        return out

    def _env(self, url: str, env_extra: Mapping[str, str] | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(env_extra or {})
        if self.url_kind == "env":
            env[self.url_name] = with_driver(url, self.driver)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("NO_COLOR", "1")
        return env

    # -- running

    async def run(self, args: Sequence[str], url: str, env_extra: Mapping[str, str] | None = None,
                  x_args: Sequence[str] = (), *, total: int | None = None,
                  verify: "VerifyTarget | None" = None) -> AsyncIterator[AlembicEvent]:
        """Run ``alembic <args>``; yields RunStarted, LogLine/Progress events, then RunFinished.

        The migration lock is taken first (MigrationLocked raised before anything starts). ``verify``: called
        with the :class:`TargetProbe` while the lock is held, before the run; it raises to refuse. Cancelling
        (or closing) the consumer kills the process group. ``total``: expected step count (see plan()).
        """
        lock = MigrationLock(url, self.lock_key) if self.lock else None
        if lock is not None:
            await lock.acquire()
        try:
            if verify is not None:
                if lock is None or lock.backend_pid is None:
                    raise AlembicSetupError("checking the target needs the migration lock", "")
                probe = await self.probe_target(url, lock.backend_pid, env_extra, x_args)
                note = verify(probe)
            else:
                note = None
            async for event in self._run_process(args, url, env_extra, x_args, total,
                                                 lock.backend_pid if lock else None, note):
                yield event
        finally:
            if lock is not None:
                await asyncio.shield(lock.release())

    async def run_to_end(self, args: Sequence[str], url: str, env_extra: Mapping[str, str] | None = None,
                         x_args: Sequence[str] = ()) -> RunResult:
        """:meth:`run` without the events: just the result."""
        result: RunResult | None = None
        async for event in self.run(args, url, env_extra, x_args):
            if isinstance(event, RunFinished):
                result = event.result
        assert result is not None
        return result

    async def _run_process(self, args: Sequence[str], url: str, env_extra: Mapping[str, str] | None,
                           x_args: Sequence[str], total: int | None,
                           lock_pid: int | None, note: str | None = None) -> AsyncIterator[AlembicEvent]:
        argv, env = self._launch(args, x_args, url, env_extra)
        shown = self.argv(args, x_args)
        started = time.monotonic()
        collector = EventCollector(total, args[0] if args else None)
        proc = self.processes.spawn_program(argv, env=env, cwd=str(self.cwd), max_line=self.max_line,
                                            kind="alembic", secrets=self.secrets(url, env_extra))
        async with proc:
            yield RunStarted(argv=shown, pid=proc.pid, lock_pid=lock_pid)
            if note:
                yield LogLine("err", note)
            async for batch in proc.batches():
                for item in batch:
                    for event in collector.feed(item.stream, redact(item.text, url)):
                        yield event
            returncode = await proc.wait()
        lines, steps = collector.lines, collector.steps
        ok = returncode == 0
        failed = steps[-1].revision if (steps and not ok) else None
        tail = "\n".join(lines[-self.tail_lines:])
        yield RunFinished(RunResult(
            argv=shown, returncode=returncode, ok=ok, steps=tuple(steps), failed_revision=failed,
            error=None if ok else _error_line(lines), error_output="" if ok else tail,
            output="\n".join(lines), duration=time.monotonic() - started,
        ))

    async def run_command(self, args: Sequence[str], url: str | None, env_extra: Mapping[str, str] | None = None,
                          x_args: Sequence[str] = (), *, timeout: float | None = None) -> tuple[int, str]:
        """A short alembic command (``merge heads``, ``current``): (exit code, merged redacted output).

        FlyctlTimeout after ``timeout`` seconds (default: the preview timeout); the group is killed then.
        """
        argv, env = self._launch(args, x_args, url or "", env_extra) if url else (
            [*self.command, *self._parts(args, x_args)[0]], self._env_without_url(env_extra))
        done = await self.processes.run_program(argv, env=env, cwd=str(self.cwd),
                                                timeout=timeout or self.preview_timeout, kind="alembic",
                                                secrets=self.secrets(url, env_extra))
        out = "\n".join(t for t in (done.stdout, done.stderr) if t)
        return done.returncode, redact(out, url) if url else out

    def _env_without_url(self, env_extra: Mapping[str, str] | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(env_extra or {})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    async def probe_target(self, url: str, lock_pid: int, env_extra: Mapping[str, str] | None = None,
                           x_args: Sequence[str] = ()) -> TargetProbe:
        """Run ``current`` exactly as a run would (same command, env, ``-x``, cwd), stopping at env.py's first
        connection, and report which database it reached (see ``alembic_shim.py``)."""
        from flytui.fly.errors import FlyctlTimeout

        classid, objid = split_key(self.lock_key)
        argv, env = self._launch(["current"], x_args, url, env_extra,
                                 probe={"lock_pid": lock_pid, "classid": classid, "objid": objid})
        shown = self.argv(["current"], x_args)
        try:
            done = await self.processes.run_program(argv, env=env, cwd=str(self.cwd), timeout=self.probe_timeout,
                                                    kind="alembic", secrets=self.secrets(url, env_extra))
        except FlyctlTimeout:
            return TargetProbe(None, None, None, f"env.py did not connect within {self.probe_timeout:g} s "
                               "(is it waiting for a database or a prompt?)", shown, "")
        stderr = redact(done.stderr, url)
        for line in stderr.splitlines():
            if line.startswith(PROBE_MARK):
                data = json.loads(line[len(PROBE_MARK):])
                if "error" in data:
                    return TargetProbe(None, None, None, str(data["error"]), shown, stderr)
                return TargetProbe(bool(data["same"]), data.get("database"), data.get("user"), None, shown, "")
        output = redact(done.stdout, url) + stderr
        error = _error_block(output.splitlines()) or f"exit code {done.returncode}"
        return TargetProbe(None, None, None, f"env.py did not connect to any database ({error})", shown, output)

    async def preview_sql(self, direction: Direction, target: str, url: str, *,
                          history: History | None = None, current: Sequence[str] | None = None,
                          env_extra: Mapping[str, str] | None = None,
                          x_args: Sequence[str] = ()) -> SqlPreview:
        """Offline SQL for ``upgrade cur:target`` / ``downgrade cur:target`` (never raises for alembic
        errors: ``ok=False`` with the error text; a run over ``preview_timeout`` is killed and reported).
        ``cur`` comes from the DB's current heads; relative downgrade targets (``-N``) are resolved with
        :func:`plan` because ``--sql`` needs explicit revisions."""
        from flytui.fly.errors import FlyctlError, FlyctlTimeout

        from flytui.db.alembic_service import current_heads_async

        if current is None:
            current = await current_heads_async(url, self.project.version_table, self.project.version_table_schema)
        try:
            rng = self._sql_range(direction, target, list(current), history)
        except (ValueError, KeyError) as exc:
            return SqlPreview(ok=False, sql="", error=str(exc), argv=[], range="")
        shown = self.argv([direction, rng, "--sql"], x_args)
        try:
            argv, env = self._launch([direction, rng, "--sql"], x_args, url, env_extra)
            done = await self.processes.run_program(argv, env=env, cwd=str(self.cwd), timeout=self.preview_timeout,
                                                    kind="alembic", secrets=self.secrets(url, env_extra))
        except FlyctlTimeout:
            return SqlPreview(ok=False, sql="", argv=shown, range=rng,
                              error=f"alembic did not finish within {self.preview_timeout:g} s and was stopped "
                                    "(env.py may be waiting for a database or a prompt)")
        except (AlembicSetupError, FlyctlError) as exc:
            return SqlPreview(ok=False, sql="", error=getattr(exc, "message", str(exc)), argv=shown, range=rng)
        stdout = redact(done.stdout, url)
        stderr = redact(done.stderr, url)
        if done.returncode != 0:
            return SqlPreview(ok=False, sql=stdout, error=_error_line(stderr.splitlines()) or stderr.strip()
                              or f"exit code {done.returncode}", argv=shown, range=rng)
        return SqlPreview(ok=True, sql=stdout, error=None, argv=shown, range=rng)

    def _sql_range(self, direction: Direction, target: str, current: list[str], history: History | None) -> str:
        from flytui.db.alembic_service import plan

        if len(current) > 1:
            raise ValueError("several current heads: preview one branch at a time (upgrade <branch>@head)")
        cur = current[0] if current else None
        if direction == "upgrade":
            if history is not None and re.fullmatch(r"\+\d+", target):
                steps = plan(history, current, target, "upgrade")
                target = steps[-1].id
            return f"{cur}:{target}" if cur else target
        if cur is None:
            raise ValueError("nothing is applied: nothing to downgrade")
        if re.fullmatch(r"-\d+", target):
            if history is None:
                raise ValueError("a relative downgrade preview needs the history")
            steps = plan(history, current, target, "downgrade")
            remaining = history.ancestors(current) - {s.id for s in steps}
            parents = [p for p in steps[-1].down_revisions if p in remaining]
            target = parents[0] if parents else "base"
        return f"{cur}:{target}"




#: called with the probe while the lock is held; returns a log line to show, or raises to refuse the run
VerifyTarget = Callable[[TargetProbe], "str | None"]
