"""``MigrationSession``: one Alembic project + one database, reached through a shared ``fly proxy`` tunnel.

Plain asyncio, no UI imports; heavy libraries are imported lazily by the services it calls. It ties together:

- the database URL: typed by the user, read from an environment variable they name, or (explicit request
  only) the app's ``DATABASE_URL`` read from a running machine. It lives in memory only, never on disk, and
  is shown masked (:attr:`MigrationSession.masked_url`);
- the database app derived from the URL host (``X.flycast``, ``X.internal``, ``top2.nearest.of.X.internal``),
  or given by the user; a Fly Managed Postgres URL (``pgbouncer.<cluster>.flympg.net``) names its cluster and is
  tunnelled with ``fly mpg proxy`` (:class:`~flytui.db.mpg_tunnel.MpgTunnel`); local hosts are used directly;
- the tunnel (``fly proxy L:5432 -a X``) from a shared :class:`~flytui.db.tunnel.TunnelManager`, and the
  local URL (``fix_url`` + ``tunnel_url``: ``postgresql+psycopg://``, ``sslmode=disable`` kept);
- history, current heads, pending revisions (:class:`Snapshot`);
- previews before running (:class:`ActionPreview`: the revisions that will run, ``--sql`` of the range,
  lint findings, downgrade warnings, stamp warning);
- runs through :class:`~flytui.db.alembic_service.AlembicRunner` with the advisory lock (``MigrationLocked``
  names the holder), or inside a machine (remote mode, ``flytui.db.remote.RemoteAlembic``); every run ends
  with a :class:`RunSummary` (real exit code, heads before/after, whether the tunnel dropped meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flytui.db.alembic_service import (
    AlembicProject,
    AlembicRunner,
    History,
    RunFinished,
    RunResult,
    current_heads_async,
    load_history,
)
from flytui.db.lock import MigrationLock
from flytui.db.migration_types import (  # re-exported
    STAMP_WARNING, ActionKind, ActionPreview, DatabaseAppUnknown, MigrationAction, MigrationSessionError,
    RemoteUnavailable,
    RevisionPreview, RunSummary, SessionEvent, Snapshot, UrlSource, _url_host, db_app_from_host, is_local_host,
)


if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.tunnel import Tunnel, TunnelManager

__all__ = [
    "ActionKind", "MigrationAction", "ActionPreview", "RevisionPreview", "Snapshot", "RunSummary",
    "MigrationSession", "MigrationSessionError", "RemoteUnavailable", "db_app_from_host", "is_local_host",
    "STAMP_WARNING",
]


# --------------------------------------------------------------------------- the session


class MigrationSession:
    """One Alembic project against one database. See the module docstring.

    ``runner``: the app's FlyctlRunner (tunnels); ``client``: FlyClient (reading DATABASE_URL, remote mode);
    ``tunnels``: a TunnelManager shared by the whole app (one is made if None); ``alembic_command``:
    argv prefix of the project's alembic (autodetected if None).
    """

    def __init__(self, project: AlembicProject, *, runner: Any = None, client: Any = None,
                 tunnels: "TunnelManager | None" = None, alembic_command: Sequence[str] | None = None,
                 env_extra: Mapping[str, str] | None = None, x_args: Sequence[str] = (),
                 lock: bool = True, url_via: str = "env:DATABASE_URL", cwd: Path | None = None,
                 pass_config: bool | None = None, verify_target: bool = True,
                 command_source: str = "the caller") -> None:
        self.project = project
        self.runner = runner
        self.client = client
        self._tunnels = tunnels
        from flytui.db.interpreter import find_alembic_command

        found = find_alembic_command(cwd or project.root, alembic_command, flask=project.flask_migrate,
                                     override_source=command_source)
        self.command_reason = found.reason
        self.alembic = AlembicRunner(project, list(found.argv), lock=lock,
                                     processes=runner if hasattr(runner, "spawn_program") else None,
                                     url_via=url_via, cwd=cwd, pass_config=pass_config)
        self.verify_target = verify_target
        self.env_extra: dict[str, str] = dict(env_extra or {})
        self.x_args: list[str] = list(x_args)
        self._url: str | None = None
        self.url_source: UrlSource | None = None
        self.db_app: str | None = None
        #: the Fly Managed Postgres cluster the URL names (``pgbouncer.<id>.flympg.net``): tunnel by ``fly mpg proxy``
        self.mpg_cluster: str | None = None
        self.remote_port = 5432
        self.direct = False
        self.tunnel: Tunnel | None = None
        self._local_base: str | None = None   # fixed URL (postgresql+psycopg), host/port not yet replaced
        self.history: History | None = None
        self.remote_app: str | None = None
        self.remote_machine: str | None = None
        self._drops = 0
        self._unlisten: Any = None
        self._run_lock = asyncio.Lock()

    # ---------------------------------------------------------------- URL
    @property
    def has_url(self) -> bool:
        return self._url is not None

    @property
    def masked_url(self) -> str | None:
        """The user's URL with the password replaced by ``***`` (safe to show)."""
        from flytui.db.urls import mask_url

        return mask_url(self._url) if self._url else None

    @property
    def masked_local_url(self) -> str | None:
        from flytui.db.urls import mask_url

        return mask_url(self.local_url) if self.local_url else None

    def set_url(self, url: str, *, source: UrlSource = "prompt", db_app: str | None = None) -> str | None:
        """Remember ``url`` (in memory only) and derive the database app; returns the app (None: local host).

        MigrationSessionError when the URL is unusable or the host names no Fly app and ``db_app`` is None.
        """
        from flytui.db.urls import UrlError, diagnose_url

        url = url.strip()
        try:
            host, port = _url_host(url)
        except UrlError as exc:
            raise MigrationSessionError(str(exc), "expected postgres://USER:PASSWORD@HOST:5432/DB") from None
        diag = diagnose_url(url)
        blocking = [p for p in diag.errors if not p.fixable]
        if blocking:
            raise MigrationSessionError(blocking[0].message, blocking[0].hint)
        from flytui.db.mpg_urls import parse_mpg_url

        mpg = None if db_app else parse_mpg_url(url)
        app = None if mpg else (db_app or db_app_from_host(host))
        direct = app is None and mpg is None and is_local_host(host)
        if app is None and mpg is None and not direct:
            raise DatabaseAppUnknown(
                f"cannot tell which Fly app serves the database host {host!r}",
                "name the Postgres app (the one to `fly proxy` to)")
        self._url, self.url_source, self.db_app, self.remote_port, self.direct = url, source, app, port, direct
        self.mpg_cluster = mpg.cluster_id if mpg else None
        self._local_base = None
        return app

    def url_from_env(self, name: str, environ: Mapping[str, str] | None = None) -> str | None:
        """Use the URL in environment variable ``name`` (``$NAME`` accepted)."""
        env = os.environ if environ is None else environ
        name = name.strip().lstrip("$")
        value = env.get(name)
        if not value:
            raise MigrationSessionError(f"environment variable {name} is not set",
                                        "export it before starting flytui, or type the URL")
        return self.set_url(value, source="env")

    async def url_from_app(self, app: str, machine: str | None = None) -> str | None:
        """Read the app's ``DATABASE_URL`` from a running machine (``fly ssh console -C printenv``)."""
        if self.client is None:
            raise MigrationSessionError("no Fly client", "")
        value = await self.client.read_database_url(app, machine=machine)
        if not value:
            raise MigrationSessionError(f"DATABASE_URL is not set on {app}'s machine",
                                        f"attach a database: fly mpg attach <cluster> -a {app} (Managed Postgres) "
                                        f"or fly postgres attach <pg-app> -a {app}")
        return self.set_url(value, source="app")

    # ---------------------------------------------------------------- tunnel
    @property
    def tunnels(self) -> "TunnelManager":
        if self._tunnels is None:
            from flytui.db.tunnel import TunnelManager

            self._tunnels = TunnelManager(self.runner)
        return self._tunnels

    @property
    def target_label(self) -> str:
        """Where the database is, for the header: ``db app X``, ``MPG cluster X`` or ``local database``."""
        if self.mpg_cluster:
            return f"MPG cluster {self.mpg_cluster}"
        return f"db app {self.db_app}" if self.db_app else "local database"

    @property
    def tunnel_state(self) -> str:
        """``direct``, ``none`` or the tunnel's state (connecting / up / dropped / closed / failed)."""
        if self.direct and self.local_url:
            return "direct"
        return self.tunnel.state if self.tunnel is not None else "none"

    async def connect(self) -> str:
        """Open (or share) the tunnel and build the local URL; returns it. Idempotent."""
        from flytui.db.urls import fix_url, tunnel_url

        if self._url is None:
            raise MigrationSessionError("no database URL yet", "enter one (c), or read the app's (F)")
        if self.direct:
            self._local_base = fix_url(self._url)
            return self._local_base
        if self.tunnel is None or self.tunnel.state in ("closed", "failed"):
            await self.disconnect()
            if self.runner is None:
                raise MigrationSessionError("no flyctl runner for the tunnel", "")
            if self.mpg_cluster:
                tunnel = await self.tunnels.acquire_mpg(self.mpg_cluster)
            else:
                tunnel = await self.tunnels.acquire(self.db_app or "", self.remote_port)
            self.tunnel = tunnel
            self._unlisten = tunnel.add_listener(self._on_tunnel_state)
        assert self.tunnel is not None
        if self.tunnel.state != "up":
            await self.tunnel.wait_state("up", "failed", timeout=60)
        if self.tunnel.local_port is None:
            raise MigrationSessionError("the tunnel has no local port", "")
        self._local_base = fix_url(self._url)
        return tunnel_url(self._local_base, self.tunnel.local_port)

    @property
    def local_url(self) -> str | None:
        """The URL alembic gets: the tunnel's current local end (it may move to another port on reconnect)."""
        from flytui.db.urls import tunnel_url

        if self._local_base is None:
            return None
        if self.direct:
            return self._local_base
        if self.tunnel is None or self.tunnel.local_port is None:
            return None
        return tunnel_url(self._local_base, self.tunnel.local_port)

    def _on_tunnel_state(self, tunnel: "Tunnel", state: str) -> None:
        if state == "dropped":
            self._drops += 1

    def add_tunnel_listener(self, cb: Any) -> None:
        """``cb(tunnel, state)`` on tunnel state changes (also for tunnels opened later)."""
        self.tunnels.add_listener(cb)

    async def disconnect(self) -> None:
        """Release the shared tunnel (the manager closes it when nobody uses it)."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        tunnel, self.tunnel = self.tunnel, None
        if tunnel is not None:
            self.tunnels.release(tunnel)

    async def close(self) -> None:
        await self.disconnect()

    # ---------------------------------------------------------------- reading
    async def load_history(self, *, prefer_static: bool = False) -> History:
        """History from ScriptDirectory, else the static fallback (in a thread)."""
        history = await asyncio.to_thread(load_history, self.project, prefer_static=prefer_static,
                                          cwd=self.alembic.cwd)
        if history.source == "static" and not prefer_static:
            from flytui.db.history_read import history_via_project

            history = await history_via_project(self.alembic, self.env_extra, history)
        self.history = history
        return self.history

    async def current_heads(self) -> tuple[str, ...]:
        """The version table's rows, read through the tunnel."""
        url = await self.connect()
        return await current_heads_async(url, self.project.version_table, self.project.version_table_schema)

    async def snapshot(self, *, reload_history: bool = True, with_database: bool = True) -> Snapshot:
        """History (+ current heads when a URL is set and ``with_database``; ``with_database=False``: the history
        alone, e.g. to still show it when the database cannot be read)."""
        history = await self.load_history() if reload_history or self.history is None else self.history
        current = await self.current_heads() if self._url is not None and with_database else None
        return self._snapshot(history, current)

    @staticmethod
    def _snapshot(history: History, current: tuple[str, ...] | None) -> Snapshot:
        states: dict[str, str] = dict(history.states(current or ()))
        pending = tuple(history.pending(current or ()))
        return Snapshot(history, current, states, pending, history.graph_column())

    # ---------------------------------------------------------------- previews
    @property
    def env_sets_lock_timeout(self) -> bool:
        """env.py runs ``SET [LOCAL] lock_timeout`` before the migrations (lint's timeout rule is then met)."""
        from flytui.db.target import read_env_py

        return read_env_py(self.project.script_location / "env.py").sets_lock_timeout

    async def preview(self, action: MigrationAction) -> ActionPreview:
        """Which revisions ``action`` runs, their SQL (``--sql cur:target``), lint findings, downgrade warnings."""
        from flytui.db.previews import preview_action

        history = self.history or await self.load_history()
        return await preview_action(self.alembic, history, await self.current_heads(), action, self.local_url or "",
                                    self.env_extra, self.x_args, lock_timeout_set=self.env_sets_lock_timeout)

    async def preview_revision(self, rev_id: str) -> RevisionPreview:
        """Upgrade SQL ``parent:rev`` and downgrade SQL ``rev:parent`` of one revision (no DB state used)."""
        from flytui.db.previews import preview_one

        history = self.history or await self.load_history()
        return await preview_one(self.alembic, history, rev_id, self.local_url, self.env_extra, self.x_args,
                                 lock_timeout_set=self.env_sets_lock_timeout)

    # ---------------------------------------------------------------- running
    def set_remote(self, app: str | None, machine: str | None = None) -> None:
        """Remote mode on (``app``: the web app whose machine runs alembic) or off (None)."""
        if app is not None:
            _remote_module()  # RemoteUnavailable now rather than at run time
        self.remote_app, self.remote_machine = app, machine

    @property
    def remote(self) -> bool:
        return self.remote_app is not None

    async def run(self, action: MigrationAction, *, total: int | None = None) -> AsyncIterator[SessionEvent]:
        """Run ``action``; yields the runner's events and finally a :class:`RunSummary`.

        Local mode: the project's alembic with ``DATABASE_URL`` = the tunnel URL and the advisory lock
        (``MigrationLocked`` before anything starts). Remote mode: inside a machine; the lock is still held
        through the tunnel when one is open.
        """
        if self._run_lock.locked():
            raise MigrationSessionError("a migration is already running in this session", "wait for it")
        async with self._run_lock:
            if not self.remote:
                await self.connect()
            # heads before: read concurrently with the lock + process start-up (alembic needs ~1 s to import
            # before it touches the database, and a transactional run commits only at its end)
            before_task = asyncio.ensure_future(self._heads_or_none())
            drops = self._drops
            result: RunResult | None = None
            exact = True
            try:
                async for event in self._events(action, total):
                    if isinstance(event, RunFinished):
                        result = event.result
                        exact = bool(getattr(result, "exit_code_exact", True))
                    yield event
            except BaseException:
                before_task.cancel()
                raise
            before = await before_task
            assert result is not None
            dropped = await self._dropped_since(drops, result.ok)
            after = await self._heads_after(dropped)
            yield self._summary(action, result, before or (), after, dropped, exact)

    async def _events(self, action: MigrationAction, total: int | None) -> AsyncIterator[Any]:
        if not self.remote:
            assert self.local_url is not None
            verify = self._verify if (self.verify_target and self.alembic.lock) else None
            async for event in self.alembic.run(action.args, self.local_url, self.env_extra, self.x_args,
                                                total=total, verify=verify):
                yield event
            return
        remote = _remote_module().RemoteAlembic(self.client, self.remote_app, self.remote_machine,
                                               runner=self.runner)
        lock = MigrationLock(self.local_url) if (self.local_url and self.alembic.lock) else None
        if lock is not None:
            await lock.acquire()
        try:
            # aclosing: a consumer that stops early closes the SSH session and the proxy and deletes the key now
            async with contextlib.aclosing(remote.run(action.args, self.env_extra or None, total=total)) as events:
                async for event in events:
                    yield event
        finally:
            if lock is not None:
                await asyncio.shield(lock.release())

    def _verify(self, probe: Any) -> str:
        """The target check (while the lock is held): a log line, or TargetMismatch (nothing is run)."""
        from flytui.db.target import judge
        from flytui.db.urls import UrlError, parse_url

        try:
            shown = parse_url(self._url or "").database
        except UrlError:
            shown = None
        return judge(probe, shown, self.project, self.alembic)

    async def _dropped_since(self, drops: int, ok: bool) -> bool:
        """Did the tunnel drop during the run? After a failure, give the supervisor a moment to notice."""
        if self.remote or self.tunnel is None:
            return False
        deadline = asyncio.get_running_loop().time() + (0 if ok else 1.0)
        while True:
            if self._drops > drops or self.tunnel.state != "up":
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def _heads_or_none(self) -> tuple[str, ...] | None:
        if self._url is None:
            return None
        try:
            return await self.current_heads()
        except Exception:  # noqa: BLE001 - informative only
            return None

    async def _heads_after(self, dropped: bool) -> tuple[str, ...] | None:
        """Heads after a run; after a drop, wait for the tunnel to come back first."""
        if self._url is None:
            return None
        if dropped and self.tunnel is not None:
            with contextlib.suppress(Exception):
                await self.tunnel.wait_state("up", "failed", timeout=30)
        return await self._heads_or_none()

    def _summary(self, action: MigrationAction, result: RunResult, before: tuple[str, ...],
                 after: tuple[str, ...] | None, dropped: bool, exact: bool) -> RunSummary:
        at = (", ".join(after) or "base") if after is not None else "unknown (database not reachable)"
        from flytui.db.target import not_as_planned

        mismatch = not_as_planned(self.history, result, after) if not self.remote else None
        if mismatch:
            note = f"{action.label} FAILED: {mismatch}; the shown database is at {at}"
            return RunSummary(action, result, before, after, dropped, self.remote, exact, note, mismatch)
        if result.ok:
            note = f"{action.label} succeeded (exit 0); the database is at {at}"
        else:
            which = f" in revision {result.failed_revision}" if result.failed_revision else ""
            code = f"exit {result.returncode}" + ("" if exact else ", collapsed by `fly ssh console -C`")
            note = f"{action.label} failed{which} ({code}); the database is at {at}"
            if dropped:
                note = (f"the tunnel dropped during {action.label}: alembic lost its connection and the "
                        f"transaction was rolled back by PostgreSQL; the database is at {at}")
        if dropped and result.ok:
            note += " (the tunnel dropped and reconnected during the run)"
        return RunSummary(action, result, before, after, dropped, self.remote, exact, note)

    async def merge_heads(self, message: str = "merge heads") -> tuple[int, str]:
        """``alembic merge heads -m MESSAGE`` (writes a new revision file; no database). (exit code, output)."""
        return await self.alembic.run_command(["merge", "heads", "-m", message], self.local_url, self.env_extra,
                                              self.x_args)


def _remote_module() -> Any:
    try:
        return importlib.import_module("flytui.db.remote")
    except ImportError:
        raise RemoteUnavailable("remote mode not available", "flytui.db.remote is not installed") from None


def find_project(start: Path | None) -> AlembicProject | None:
    """The Alembic project at ``start`` (or the working directory) or a parent."""
    from flytui.db.alembic_service import find_alembic_project

    return find_alembic_project(Path(start) if start else Path.cwd())
