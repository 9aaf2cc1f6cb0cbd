"""The migrations pane: Alembic history like ``flyway info`` with a lane graph, previews, and runs through the tunnel.

All I/O goes through :class:`flytui.db.migrations.MigrationSession` inside named workers; results come back as
messages. Keys come from the command registry (group ``migrations``), so read-only mode refuses the mutating
ones in ``FlytuiApp.action_command``.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static

from flytui.ui import commands
from flytui.ui.modals.confirm import ConfirmRequest, ConfirmScreen
from flytui.ui.screens.migrations_prompt import MigrationPromptsMixin
from flytui.ui.screens.migrations_render import (
    detail_markup, esc, header_markup, progress_text, remote_line, render_action_preview, render_revision_preview,
    table_rows,
)
from flytui.ui.screens.migrations_stop import RunStopMixin
from flytui.ui.seams import Hosted
from flytui.ui.widgets.migration_views import HeadsBanner, MigrationsHeader, RevisionTable
from flytui.ui.widgets.prompt_bar import PromptBar

LOG_FLUSH = 0.05  # seconds between Log batches


class MigrationsScreen(MigrationPromptsMixin, RunStopMixin, Screen[None], Hosted):
    """Status table + detail/preview + live log of one Alembic project. ``MigrationsScreen(app, project_dir)``."""

    BINDINGS = [
        *commands.local_bindings([commands.SCREEN, commands.MIGRATIONS]),
        *(replace(b, show=True) for b in commands.bindings([commands.MIGRATIONS])),
    ]

    # --- messages -------------------------------------------------------------------------------
    class Loaded(Message):
        def __init__(self, snapshot: Any) -> None:
            super().__init__()
            self.snapshot = snapshot

    class Connected(Message):
        def __init__(self, db_app: str | None) -> None:
            super().__init__()
            self.db_app = db_app

    class TunnelChanged(Message):
        def __init__(self, state: str) -> None:
            super().__init__()
            self.state = state

    class Detail(Message):
        def __init__(self, rev_id: str, text: str) -> None:
            super().__init__()
            self.rev_id = rev_id
            self.text = text

    class LogBatch(Message):
        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

    class RunProgress(Message):
        def __init__(self, progress: Any) -> None:
            super().__init__()
            self.progress = progress

    class RunDone(Message):
        def __init__(self, summary: Any) -> None:
            super().__init__()
            self.summary = summary

    # --- lifecycle ------------------------------------------------------------------------------
    def __init__(self, app_name: str | None = None, project_dir: Path | None = None) -> None:
        super().__init__()
        self.app_name = app_name
        self.project_dir = Path(project_dir) if project_dir else None
        self.session: Any = None
        self.setup: Any = None
        self.snapshot: Any = None
        self.running = False
        self.running_label: str | None = None
        self.running_argv: list[str] | None = None
        self.run_worker_handle: Any = None
        self.stop_text: str | None = None
        self.keep_detail: str | None = None   # the row selected when a failure was shown in the detail panel
        self.last_summary: Any = None
        self.progress_text = ""

    def compose(self) -> ComposeResult:
        yield MigrationsHeader(id="mig-header")
        yield HeadsBanner(id="mig-banner")
        with Horizontal(id="mig-main"):
            yield RevisionTable(id="mig-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="mig-side"):
                yield Static("Select a revision", id="mig-detail")
        yield Static("", id="mig-progress")
        yield Log(id="mig-log", max_lines=5000)
        yield PromptBar(id="mig-input")
        yield Footer()

    @property
    def table(self) -> RevisionTable:
        return self.query_one("#mig-table", RevisionTable)

    @property
    def status_text(self) -> str:
        return self.query_one("#mig-header", MigrationsHeader).status

    def on_mount(self) -> None:
        from flytui.db.migration_setup import choice_text, prepare

        self._update_header()
        self.setup = setup = prepare(self.project_dir)
        if setup.settings is not None and not self.app_name:
            self.app_name = setup.settings.app
        if setup.error:
            self._set_status(f"project settings: {setup.error}")
            return
        if not setup.projects:
            self._set_status(f"No Alembic project in {setup.start} or its parents, nor below the repository root "
                             "(alembic.ini, [tool.alembic], backend/, migrations/, src/…)")
            return
        if len(setup.projects) > 1:
            self.show_detail_text(Text(choice_text(setup)))
            self.ask_project()
            return
        self._start(setup.projects[0])

    def _start(self, project: Any) -> None:
        """Open the session for ``project`` (with the project settings), read its history, connect if told how."""
        from flytui.db.migration_setup import make_session

        # $FLYTUI_ALEMBIC (one run) > the project settings' command > the flytui config's alembic_command > detected
        config_command = self.host.config.alembic_command or None
        self.session = make_session(self.host.runner, self.host.client, self._tunnel_manager(), self.setup, project,
                                    os.environ.get("FLYTUI_ALEMBIC") or None, config_command)
        self.session.add_tunnel_listener(lambda _t, state: self.post_message(self.TunnelChanged(state)))
        self._update_header()
        self.load()
        env_name = self._setting("migrations_url_env", "FLYTUI_MIGRATIONS_URL_ENV")
        if env_name:
            self.use_url(f"${env_name}")
        else:
            self.table.focus()

    def _setting(self, field: str, env_var: str) -> str | None:
        """A migrations setting: ``$env_var`` when set (one run), else the config file's ``field``."""
        return os.environ.get(env_var) or getattr(self.host.config, field, None) or None

    def _tunnel_manager(self) -> Any:
        """The app-wide TunnelManager (``app.tunnels``), so one tunnel per database is shared."""
        return self.host.tunnels

    async def on_unmount(self) -> None:
        if self.session is not None:
            await self.session.close()

    def action_close(self) -> None:
        if self.prompt.mode is not None:
            self.prompt.close()
            return
        if self.running:
            self._ask_stop(then_quit=False)
            return
        self.dismiss()

    # --- header ---------------------------------------------------------------------------------
    def _update_header(self) -> None:
        s = self.session
        known = self.known_url() if s is not None and not s.has_url else None
        line = header_markup(s, self.snapshot, known, self.host.read_only)
        if s is not None and self.setup is not None:
            from flytui.db.migration_setup import setup_header

            line += "\n" + esc(setup_header(s, self.setup))
        self.query_one("#mig-header", MigrationsHeader).summary = line

    def _set_status(self, text: str) -> None:
        self.query_one("#mig-header", MigrationsHeader).status = text
        self._update_header()

    # --- loading --------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="mig-load", exit_on_error=False)
    async def load(self) -> None:
        if self.session is None:
            return
        try:
            snap = await self.session.snapshot()
        except Exception as exc:  # noqa: BLE001 - shown (FlyError/MigrationError: the text and hint); history still read
            self.host.report_error(exc, "load migrations")
            try:  # still show the history without the database
                snap = await self.session.snapshot(with_database=False)
            except Exception as exc2:  # noqa: BLE001 - the user's revision files can fail in any way: shown
                self.host.report_error(exc2, "read history")
                return
        self.post_message(self.Loaded(snap))

    def on_migrations_screen_loaded(self, msg: "MigrationsScreen.Loaded") -> None:
        self.snapshot = snap = msg.snapshot
        self.table.rows_by_id = table_rows(snap, self.session.project.root)
        self.query_one("#mig-banner", HeadsBanner).heads = tuple(snap.history.heads) if snap.multiple_heads else ()
        self._update_header()
        if self.keep_detail is None:  # a failure's detail stays until the selection moves
            self._show_detail()

    # --- URL ------------------------------------------------------------------------------------
    @work(exclusive=True, group="mig-connect", exit_on_error=False)
    async def connect(self) -> None:
        self._set_status("connecting…")
        try:
            await self.session.connect()
        except Exception as exc:  # noqa: BLE001 - shown with what failed (FlyError/alembic/DB errors alike)
            self._set_status("")
            self.host.report_error(exc, "open the database tunnel")
            return
        self.post_message(self.Connected(self.session.db_app))

    def on_migrations_screen_connected(self, msg: "MigrationsScreen.Connected") -> None:
        self._set_status("")
        self.load()

    def on_migrations_screen_tunnel_changed(self, msg: "MigrationsScreen.TunnelChanged") -> None:
        if msg.state == "dropped":
            self._set_status("tunnel dropped: reconnecting…")
        elif msg.state == "up" and self.status_text.startswith("tunnel dropped"):
            self._set_status("tunnel reconnected")
        elif msg.state == "failed":
            self._set_status("tunnel failed: press c to enter the URL again")
        self._update_header()

    @work(exclusive=True, group="mig-connect", exit_on_error=False)
    async def action_url_from_app(self) -> None:
        """Explicit request: read DATABASE_URL from a running machine of the current app."""
        if self.session is None:
            return
        if not self.app_name:
            self.app.notify("Select an app first (A or :machines APP)", severity="warning")
            return
        self._set_status(f"reading DATABASE_URL from a machine of {self.app_name}…")
        try:
            await self.session.url_from_app(self.app_name)
            await self.session.connect()
        except Exception as exc:  # noqa: BLE001 - shown with what failed (FlyError/alembic/DB errors alike)
            self._set_status("")
            self.host.report_error(exc, "read DATABASE_URL")
            return
        self.post_message(self.Connected(self.session.db_app))

    # --- details --------------------------------------------------------------------------------
    def selected(self) -> str | None:
        return self.table.selected()

    def show_detail_text(self, text: Any) -> None:
        self.query_one("#mig-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.keep_detail is not None and self.selected() == self.keep_detail:
            return
        self.keep_detail = None
        self._show_detail()

    def _show_detail(self) -> None:
        rid = self.selected()
        if rid is None or self.snapshot is None:
            return
        self.show_detail_text(detail_markup(self.snapshot.history.get(rid), self.snapshot))

    @work(exclusive=True, group="mig-preview", exit_on_error=False)
    async def action_preview(self) -> None:
        rid = self.selected()
        if rid is None or self.session is None:
            return
        self.show_detail_text(f"rendering SQL of {esc(rid)}…")
        try:
            pv = await self.session.preview_revision(rid)
        except Exception as exc:  # noqa: BLE001 - shown with what failed (FlyError/alembic/DB errors alike)
            self.host.report_error(exc, "SQL preview")
            return
        self.post_message(self.Detail(rid, render_revision_preview(pv)))

    def on_migrations_screen_detail(self, msg: "MigrationsScreen.Detail") -> None:
        self.show_detail_text(msg.text)

    def action_show_import_error(self) -> None:
        h = self.snapshot.history if self.snapshot else None
        if h is None:
            return
        if h.source != "static":
            self.app.notify(f"History: {h.how or 'read with Alembic'}", markup=False)
            return
        self.show_detail_text("[b]History read statically[/b] (ast of versions/*.py): " + esc(h.how or "")
                              + f"\n\n{esc(h.import_error or '?')}\n\nRunning still uses the project's own alembic.")

    # --- actions --------------------------------------------------------------------------------
    def action_migrate(self, what: str) -> None:
        """``up`` (+1), ``head``, ``heads``, ``to`` (selected), ``down`` (-1), ``down_to`` (selected), ``stamp``."""
        from flytui.db.migrations import MigrationAction

        if not self.host.guard_mutation(f"migrate {what}"):
            return
        if self.session is None or not self.session.has_url:
            self.app.notify("No database yet: press c to enter its URL (or F to read the app's)", severity="warning")
            return
        if self.running:
            self.app.notify("A migration is running", severity="warning")
            return
        sel = self.selected()
        if what in ("to", "down_to", "stamp") and sel is None:
            self.app.notify("Select a revision first", severity="warning")
            return
        action = {
            "up": MigrationAction("upgrade", "+1"), "head": MigrationAction("upgrade", "head"),
            "heads": MigrationAction("upgrade", "heads"), "to": MigrationAction("upgrade", sel or ""),
            "down": MigrationAction("downgrade", "-1"), "down_to": MigrationAction("downgrade", sel or ""),
            "stamp": MigrationAction("stamp", sel or ""),
        }[what]
        self.prepare(action)

    @work(exclusive=True, group="mig-preview", exit_on_error=False)
    async def prepare(self, action: Any) -> None:
        """Preview (plan + SQL + lint), confirm, then run."""
        self._set_status(f"preparing {action.label}…")
        try:
            pv = await self.session.preview(action)
        except Exception as exc:  # noqa: BLE001 - shown with what failed (FlyError/alembic/DB errors alike)
            self._set_status("")
            self.host.report_error(exc, action.label)
            return
        self._set_status("")
        if pv.error:
            self.app.notify(pv.error, title=f"{action.label}: not possible", severity="error", timeout=10)
            return
        argv = self.session.alembic.argv(action.args, self.session.x_args)
        where = "DATABASE_URL=" + (self.session.masked_local_url or "")
        targets = [r.id for r in pv.revisions] or [action.target]
        request = ConfirmRequest(
            title=f"alembic {action.label}" + (" (remote, inside a machine)" if self.session.remote else ""),
            targets=targets, argvs=[argv, [where]], danger=action.needs_confirmation,
            confirm_label=action.kind.capitalize())
        ok = await self._confirm(request, render_action_preview(pv))
        if ok:
            self.running_argv = argv
            self.run_worker_handle = self.run_action_worker(action, len(pv.revisions) or None)

    async def _confirm(self, request: ConfirmRequest, body: str) -> bool:
        import asyncio

        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(result: bool | None) -> None:
            if not fut.done():
                fut.set_result(bool(result))

        # the one confirm dialog; the plan (revisions, SQL, lint findings: escaped markup) goes in its body slot
        self.app.push_screen(ConfirmScreen(replace(request, body=body, body_markup=True)), done)
        return await fut

    @work(exclusive=True, group="mig-run", exit_on_error=False)
    async def run_action_worker(self, action: Any, total: int | None) -> None:
        from flytui.db.alembic_service import LogLine, Progress, RunStarted
        from flytui.db.migrations import RunSummary

        import asyncio

        self.running = True
        self.running_label = action.label
        self.query_one("#mig-log", Log).write_line(f"$ alembic {action.label}")
        buf: list[str] = []
        last = time.monotonic()
        op = self.host.begin_op(f"alembic {action.label}")
        try:
            # aclosing: leaving early (cancel, error) closes the run at once (SSH session, proxy, issued key)
            async with contextlib.aclosing(self.session.run(action, total=total)) as events:
                async for event in events:
                    if isinstance(event, LogLine):
                        buf.append(event.text)
                    elif isinstance(event, RunStarted):
                        buf.append(f"[flytui] started pid {event.pid}; migration lock held by backend {event.lock_pid}")
                    elif isinstance(event, Progress):
                        self.post_message(self.RunProgress(event))
                    elif isinstance(event, RunSummary):
                        if buf:
                            self.post_message(self.LogBatch(buf))
                            buf = []
                        self.post_message(self.RunDone(event))
                    now = time.monotonic()
                    if buf and (now - last >= LOG_FLUSH or len(buf) >= 200):
                        self.post_message(self.LogBatch(buf))
                        buf, last = [], now
        except asyncio.CancelledError:  # stopped by the user (Esc/q, confirmed): alembic's group is gone now
            if buf:
                self.post_message(self.LogBatch(buf))
            self.post_message(RunStopMixin.RunStopped(action.label))
            raise
        except Exception as exc:  # noqa: BLE001 - MigrationLocked, TargetMismatch, tunnel errors ...
            if buf:
                self.post_message(self.LogBatch(buf))
            self.post_message(self.RunDone(exc))
        finally:
            self.running = False
            self.running_label = None
            self.host.end_op(op)

    def on_migrations_screen_log_batch(self, msg: "MigrationsScreen.LogBatch") -> None:
        self.query_one("#mig-log", Log).write_lines(msg.lines)

    def on_migrations_screen_run_progress(self, msg: "MigrationsScreen.RunProgress") -> None:
        self.progress_text = progress_text(msg.progress)
        self.query_one("#mig-progress", Static).update(esc(self.progress_text))
        self.table.mark_running(msg.progress.revision)

    def on_migrations_screen_run_done(self, msg: "MigrationsScreen.RunDone") -> None:
        from flytui.db.lock import MigrationLocked

        s = msg.summary
        self.last_summary = s
        progress = self.query_one("#mig-progress", Static)
        log = self.query_one("#mig-log", Log)
        if isinstance(s, BaseException):
            if isinstance(s, MigrationLocked):
                text = f"{s.message}. {s.hint}"
            else:
                hint = getattr(s, "hint", "")
                text = f"{getattr(s, 'message', None) or s}" + (f" — {hint}" if hint else "")
            progress.update(f"[b $error]not started:[/] {esc(text)}")
            log.write_line(f"[flytui] not started: {text}")
            self.host.report_error(s, "migration")
        elif s.ok:
            remote = remote_line(s)
            progress.update(f"[b $success]✓[/] {esc(s.note)}" + (f"\n{esc(remote)}" if remote else ""))
            log.write_lines([f"[flytui] {s.note}"] + ([f"[flytui] {remote}"] if remote else []))
            self.app.notify(s.note + (f"\n{remote}" if remote else ""), title="migration finished")
        else:
            r = s.result
            detail = f"\nerror: {r.error}" if r.error else ""
            remote = remote_line(s)
            progress.update(f"[b $error]✗[/] {esc(s.note)}{esc(detail)}" + (f"\n{esc(remote)}" if remote else ""))
            log.write_lines(["[flytui] " + s.note, *([f"[flytui] {remote}"] if remote else []),
                             "[flytui] error output:", *r.error_output.splitlines()[-15:]])
            self.app.notify(s.note + detail, title="migration failed", severity="error", timeout=15)
            if r.failed_revision:
                self._show_failed(r.failed_revision, r)
        self.load()

    def _show_failed(self, rev_id: str, result: Any) -> None:
        self.keep_detail = self.selected()
        self.show_detail_text(f"[b $error]failed revision {esc(rev_id)}[/]\nexit code {result.returncode}\n"
                              f"{esc(result.error or '')}\n\n{esc(result.error_output)}")

    async def action_merge_heads(self) -> None:
        self.merge_worker()

    @work(exclusive=True, group="mig-merge", exit_on_error=False)
    async def merge_worker(self) -> None:
        if self.session is None:
            return
        argv = self.session.alembic.argv(["merge", "heads", "-m", "merge heads"])
        ok = await self._confirm(ConfirmRequest("alembic merge heads (writes a new revision file)",
                                                list(self.snapshot.history.heads if self.snapshot else []),
                                                [argv], confirm_label="Merge"),
                                 "Creates a merge revision in the project's versions folder. No database change.")
        if not ok:
            return
        code, out = await self.session.merge_heads()
        self.post_message(self.LogBatch([f"$ {shlex.join(argv)}", *out.splitlines(), f"[flytui] exit {code}"]))
        self.load()
