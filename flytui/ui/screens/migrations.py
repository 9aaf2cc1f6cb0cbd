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
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Log, Static

from flytui.ui import commands
from flytui.ui.screens.confirm import ConfirmRequest, ConfirmScreen
from flytui.ui.screens.migrations_stop import RunStopMixin
from flytui.ui.widgets.plain import PlainDataTable

HERE = Path(__file__).parent
STATE_STYLE = {"current": "b $success", "applied": "$success", "pending": "$warning", "head": "b $warning",
               "running": "b $accent", "failed": "b $error"}
LOG_FLUSH = 0.05  # seconds between Log batches


def _esc(text: str) -> str:
    """Escape ``[`` for Textual markup."""
    return text.replace("[", r"\[")


class MigrationConfirmScreen(ConfirmScreen):
    """The shared confirm dialog plus the plan: revisions, SQL and lint findings."""

    CSS_PATH = [str(HERE / "confirm.tcss"), str(HERE / "migrations.tcss")]

    def __init__(self, request: ConfirmRequest, body: str) -> None:
        super().__init__(request)
        self.body = body

    async def on_mount(self) -> None:
        # (Textual also runs ConfirmScreen.on_mount: it focuses the buttons)
        scroll = VerticalScroll(Static(self.body, id="mig-confirm-body", markup=True), id="mig-confirm-scroll")
        await self.query_one("#confirm-box").mount(scroll, before="#confirm-buttons")
        self._fit_body(self.app.size)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_body(event.size)

    def _fit_body(self, size: Any) -> None:
        """The plan scrolls in what the terminal leaves: title, command, buttons and keys stay in view at 80x24."""
        inner = max(20, min(80, size.width) - 6)  # the box's text width (confirm.tcss: 80 wide, border, padding)

        def rows_of(line: str) -> int:
            """Rows of ``line`` wrapped like a Static: at spaces; a longer word starts a row and is folded."""
            rows, col = 1, 0
            for word in line.split(" "):
                need = len(word) + (1 if col else 0)
                if col + need <= inner:
                    col += need
                    continue
                if col:
                    rows, col = rows + 1, 0
                full, col = divmod(len(word), inner)
                rows += full - (1 if full and not col else 0)
                col = col or (inner if full else 0)
            return rows

        rows = sum(rows_of(line) for line in self._argv_lines())
        rows += rows_of("Target: " + ", ".join(self.request.targets))
        # border 2, title 2, command block margins 2, buttons 4, key line 2 (+ the typed-name field)
        chrome = 12 + rows + (4 if self.request.typed_name else 0)
        for scroll in self.query("#mig-confirm-scroll"):
            scroll.styles.max_height = max(3, min(24, size.height - chrome))

    def _argv_lines(self) -> list[str]:
        return ["$ " + shlex.join(a) for a in self.request.argvs[:8]]


class MigrationsScreen(RunStopMixin, Screen[None]):
    """Status table + detail/preview + live log of one Alembic project. ``MigrationsScreen(app, project_dir)``."""

    CSS_PATH = str(HERE / "migrations.tcss")
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("q", "quit_asking", "Quit", show=False),
        Binding("r", "reload", "Refresh"),
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
        self.prompt_mode: str | None = None
        self.pending_url: str | None = None
        self.running = False
        self.running_label: str | None = None
        self.running_argv: list[str] | None = None
        self.run_worker_handle: Any = None
        self.stop_text: str | None = None
        self.keep_detail: str | None = None   # the row selected when a failure was shown in the detail panel
        self.last_summary: Any = None
        self.status_text = ""
        self.progress_text = ""

    def compose(self) -> ComposeResult:
        yield Static("Migrations", id="mig-header")
        yield Static("", id="mig-banner")
        with Horizontal(id="mig-main"):
            yield PlainDataTable(id="mig-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="mig-side"):
                yield Static("Select a revision", id="mig-detail")
        yield Static("", id="mig-progress")
        yield Log(id="mig-log", max_lines=5000)
        yield Input(id="mig-input")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#mig-table", DataTable)
        # by priority, left to right: a narrow terminal cuts the message and file, never the state
        for key, label in (("graph", "graph"), ("id", "revision"), ("state", "state"), ("message", "message"),
                           ("file", "file")):
            table.add_column(label, key=key)
        self.query_one("#mig-banner").display = False
        self.query_one("#mig-input").display = False
        from flytui.ui.screens.migrations_setup import choice_text, prepare

        self.setup = setup = prepare(self.project_dir)
        if setup.settings is not None and not self.app_name:
            self.app_name = setup.settings.app
        if setup.error:
            self.status_text = f"project settings: {setup.error}"
            self._update_header()
            return
        if not setup.projects:
            self.status_text = (f"No Alembic project in {setup.start} or its parents, nor below the repository root "
                                "(alembic.ini, [tool.alembic], backend/, migrations/, src/…)")
            self._update_header()
            return
        if len(setup.projects) > 1:
            self.query_one("#mig-detail", Static).update(Text(choice_text(setup)))
            self._prompt("project", f"project number (1-{len(setup.projects)})")
            return
        self._start(setup.projects[0])

    def _start(self, project: Any) -> None:
        """Open the session for ``project`` (with the project settings), read its history, connect if told how."""
        from flytui.ui.screens.migrations_setup import make_session

        # $FLYTUI_ALEMBIC (one run) > the project settings' command > the flytui config's alembic_command > detected
        config_command = getattr(getattr(self.app, "config", None), "alembic_command", None) or None
        self.session = make_session(self.app, self.setup, project, os.environ.get("FLYTUI_ALEMBIC") or None,
                                    config_command)
        self.session.add_tunnel_listener(lambda _t, state: self.post_message(self.TunnelChanged(state)))
        self._update_header()
        self.load()
        env_name = self._setting("migrations_url_env", "FLYTUI_MIGRATIONS_URL_ENV")
        if env_name:
            self.use_url(f"${env_name}")
        else:
            self.query_one("#mig-table", DataTable).focus()

    def _setting(self, field: str, env_var: str) -> str | None:
        """A migrations setting: ``$env_var`` when set (one run), else the config file's ``field``."""
        return os.environ.get(env_var) or getattr(getattr(self.app, "config", None), field, None) or None

    def _tunnel_manager(self) -> Any:
        """The app-wide TunnelManager (``app.tunnels``), so one tunnel per database is shared."""
        return getattr(self.app, "tunnels", None)

    async def on_unmount(self) -> None:
        if self.session is not None:
            await self.session.close()

    def action_close(self) -> None:
        if self.query_one("#mig-input").display:
            self._end_prompt()
            return
        if self.running:
            self._ask_stop(then_quit=False)
            return
        self.dismiss()

    # --- header ---------------------------------------------------------------------------------
    def _update_header(self) -> None:
        s = self.session
        parts = ["[b]Migrations[/b]"]
        if s is not None:
            parts.append(_esc(str(s.project.root)))
            if s.has_url:
                state = s.tunnel_state
                style = {"up": "$success", "direct": "$success", "connecting": "$warning",
                         "dropped": "$error", "failed": "$error"}.get(state, "$foreground-muted")
                where = f"[b]{_esc(s.target_label)}[/b]"
                port = f" :{s.tunnel.local_port}" if s.tunnel is not None and s.tunnel.local_port else ""
                parts.append(f"{where} · tunnel [{style}]{state}{port}[/] · {_esc(s.masked_url or '')}")
            else:
                known = self.known_url()
                if known:
                    from flytui.db.urls import mask_url

                    parts.append(f"not connected · [$accent]c, enter: connect with the DATABASE_URL flytui knows[/] "
                                 f"({_esc(mask_url(known))}) · F: read the app's")
                else:
                    parts.append("no database URL (c: enter one or $ENV_VAR, F: read the app's)")
            if self.snapshot is not None:
                h = self.snapshot.history
                via = " (project's Python; e)" if "project's Python" in getattr(h, "how", "") else ""
                src = (f"history: alembic{via}" if h.source == "alembic"
                       else "[reverse $warning] history: static read (revision modules did not import; e) [/]")
                parts.append(src)
            mode = (f"[reverse $accent] REMOTE on {s.remote_app} [/]" if s.remote else "local alembic")
            parts.append(mode)
        if self.app.read_only:
            parts.append("[reverse $warning] READ-ONLY [/]")
        line = "  ·  ".join(parts)
        if s is not None and self.setup is not None:
            from flytui.ui.screens.migrations_setup import setup_header

            line += "\n" + _esc(setup_header(s, self.setup))
        if self.status_text:
            line += "\n" + _esc(self.status_text)
        self.query_one("#mig-header", Static).update(line)

    def _set_status(self, text: str) -> None:
        self.status_text = text
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
        except Exception as exc:  # noqa: BLE001
            self.app.report_error(exc, "load migrations")
            try:  # still show the history without the database
                snap = self.session._snapshot(await self.session.load_history(), None)
            except Exception as exc2:  # noqa: BLE001
                self.app.report_error(exc2, "read history")
                return
        self.post_message(self.Loaded(snap))

    def on_migrations_screen_loaded(self, msg: "MigrationsScreen.Loaded") -> None:
        self.snapshot = snap = msg.snapshot
        table = self.query_one("#mig-table", DataTable)
        wanted = [r.id for r in snap.history.revisions]
        existing = [str(k.value) for k in table.rows]
        root = self.session.project.root
        rows = {}
        for rev in snap.history.revisions:
            state = self._state_label(rev, snap)
            path = str(rev.path.relative_to(root)) if rev.path and rev.path.is_relative_to(root) else str(rev.path)
            rows[rev.id] = (snap.graph.get(rev.id, "*"), rev.id, state, rev.message, path)
        if existing != wanted:
            cursor = table.cursor_row
            table.clear()
            for rid in wanted:
                table.add_row(*rows[rid], key=rid)
            if wanted:
                table.move_cursor(row=min(cursor, len(wanted) - 1))
        else:
            for rid in wanted:
                for col, value in zip(("graph", "id", "state", "message", "file"), rows[rid]):
                    if table.get_cell(rid, col) != value:
                        table.update_cell(rid, col, value)
        banner = self.query_one("#mig-banner", Static)
        if snap.multiple_heads:
            banner.update(f"Multiple heads: {_esc(', '.join(snap.history.heads))} — `upgrade head` is ambiguous. "
                          "H: upgrade heads (all branches)   m: alembic merge heads (new merge revision)")
            banner.display = True
        else:
            banner.display = False
        self._update_header()
        if self.keep_detail is None:  # a failure's detail stays until the selection moves
            self._show_detail()

    @staticmethod
    def _state_label(rev: Any, snap: Any) -> str:
        """applied / pending / current (or not connected), then head / merge / branch point: a pending head reads
        ``pending · head``, never a bare ``head``."""
        state = snap.states.get(rev.id, "pending") if snap.current is not None else "not connected"
        if state == "head":  # History.state's name for a head not applied yet
            state = "pending"
        extra = [x for x, on in (("merge", rev.is_merge), ("branch point", rev.is_branch_point)) if on]
        if rev.is_head:
            extra.insert(0, "head")
        return " · ".join([state, *extra])

    # --- URL ------------------------------------------------------------------------------------
    def known_url(self) -> str | None:
        """The DATABASE_URL flytui already knows, fixed for SQLAlchemy + psycopg 3: ``app.database_url`` (set by
        the DATABASE_URL fix), else ``$FLYTUI_DATABASE_URL`` (copied from ``fly postgres attach``). Memory only."""
        url = getattr(self.app, "database_url", None) or os.environ.get("FLYTUI_DATABASE_URL")
        if not url:
            return None
        try:
            from flytui.db.urls import fix_url

            return fix_url(url)
        except Exception:  # noqa: BLE001 - not a URL: let the user type one
            return None

    def action_prompt_url(self) -> None:
        self._prompt("url", "database URL, or $ENV_VAR holding it (kept in memory only)", password=True)
        known = self.known_url() if self.session is not None and not self.session.has_url else None
        if known:  # offer the known URL: enter connects, or type another one
            inp = self.query_one("#mig-input", Input)
            inp.value = known
            inp.placeholder = "enter: connect with the known DATABASE_URL (masked), or type another URL / $ENV_VAR"

    def _prompt(self, mode: str, placeholder: str, password: bool = False) -> None:
        inp = self.query_one("#mig-input", Input)
        self.prompt_mode = mode
        inp.placeholder = placeholder
        inp.password = password
        inp.value = ""
        inp.display = True
        inp.focus()

    def _end_prompt(self) -> None:
        inp = self.query_one("#mig-input", Input)
        inp.display = False
        inp.value = ""
        self.prompt_mode = None
        self.query_one("#mig-table").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        mode, value = self.prompt_mode, event.value.strip()
        self._end_prompt()
        if not value:
            return
        if mode == "url":
            self.use_url(value)
        elif mode == "db_app" and self.pending_url:
            url, self.pending_url = self.pending_url, None
            self.use_url(url, db_app=value)
        elif mode == "remote":
            self._set_remote(value)
        elif mode == "project":
            self._choose_project(value)

    def _choose_project(self, value: str) -> None:
        projects = self.setup.projects
        if not value.isdigit() or not 1 <= int(value) <= len(projects):
            self.app.notify(f"Type a number from 1 to {len(projects)}", severity="warning")
            self._prompt("project", f"project number (1-{len(projects)})")
            return
        self.query_one("#mig-detail", Static).update("Select a revision")
        self._start(projects[int(value) - 1])

    def use_url(self, value: str, db_app: str | None = None) -> None:
        """A URL or ``$NAME``: remember it, then connect (asks for the database app when the host names none)."""
        from flytui.db.migrations import MigrationSessionError

        if self.session is None:
            return
        try:
            if value.startswith("$") and db_app is None:
                self.session.url_from_env(value)
            else:
                if value.startswith("$"):
                    value = os.environ.get(value[1:], "")
                self.session.set_url(value, source="prompt", db_app=db_app)
        except MigrationSessionError as exc:
            settings = getattr(self.setup, "settings", None)
            if "which Fly app" in exc.message and db_app is None and settings is not None and settings.database_app:
                self.use_url(value, db_app=settings.database_app)  # [tool.flytui] database_app
                return
            if "which Fly app" in exc.message:
                self.pending_url = value if not value.startswith("$") else os.environ.get(value[1:], "")
                self._prompt("db_app", f"{exc.message}: {exc.hint}")
                return
            self.app.notify(exc.message + (f"\n{exc.hint}" if exc.hint else ""), title="database URL",
                            severity="error")
            return
        self._update_header()
        self.connect()

    @work(exclusive=True, group="mig-connect", exit_on_error=False)
    async def connect(self) -> None:
        self._set_status("connecting…")
        try:
            await self.session.connect()
        except Exception as exc:  # noqa: BLE001
            self._set_status("")
            self.app.report_error(exc, "open the database tunnel")
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
        except Exception as exc:  # noqa: BLE001
            self._set_status("")
            self.app.report_error(exc, "read DATABASE_URL")
            return
        self.post_message(self.Connected(self.session.db_app))

    # --- details --------------------------------------------------------------------------------
    def selected(self) -> str | None:
        table = self.query_one("#mig-table", DataTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001
            return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.keep_detail is not None and self.selected() == self.keep_detail:
            return
        self.keep_detail = None
        self._show_detail()

    def _show_detail(self) -> None:
        rid = self.selected()
        if rid is None or self.snapshot is None:
            return
        rev = self.snapshot.history.get(rid)
        lines = [f"[b]{_esc(rev.id)}[/b]  {_esc(rev.message)}",
                 "state: " + (self._state_label(rev, self.snapshot) if self.snapshot.current is not None
                              else "unknown until connected (c: database URL)"),
                 f"revises: {_esc(', '.join(rev.down_revisions)) or '<base>'}"]
        children = [r.id for r in self.snapshot.history.revisions if rev.id in r.down_revisions]
        lines.append(f"next: {_esc(', '.join(children)) or '(head)'}")
        if rev.branch_labels:
            lines.append(f"branch labels: {_esc(', '.join(rev.branch_labels))}")
        if rev.depends_on:
            lines.append(f"depends on: {_esc(', '.join(rev.depends_on))}")
        lines.append(f"file: {_esc(str(rev.path))}")
        lines.append("\n[i]p: SQL preview of upgrade and downgrade[/i]")
        self.query_one("#mig-detail", Static).update("\n".join(lines))

    @work(exclusive=True, group="mig-preview", exit_on_error=False)
    async def action_preview(self) -> None:
        rid = self.selected()
        if rid is None or self.session is None:
            return
        self.query_one("#mig-detail", Static).update(f"rendering SQL of {_esc(rid)}…")
        try:
            pv = await self.session.preview_revision(rid)
        except Exception as exc:  # noqa: BLE001
            self.app.report_error(exc, "SQL preview")
            return
        self.post_message(self.Detail(rid, _render_revision_preview(pv)))

    def on_migrations_screen_detail(self, msg: "MigrationsScreen.Detail") -> None:
        self.query_one("#mig-detail", Static).update(msg.text)

    def action_show_import_error(self) -> None:
        h = self.snapshot.history if self.snapshot else None
        if h is None:
            return
        if h.source != "static":
            self.app.notify(f"History: {h.how or 'read with Alembic'}", markup=False)
            return
        self.query_one("#mig-detail", Static).update(
            "[b]History read statically[/b] (ast of versions/*.py): " + _esc(h.how or "")
            + f"\n\n{_esc(h.import_error or '?')}\n\nRunning still uses the project's own alembic.")

    # --- actions --------------------------------------------------------------------------------
    def action_migrate(self, what: str) -> None:
        """``up`` (+1), ``head``, ``heads``, ``to`` (selected), ``down`` (-1), ``down_to`` (selected), ``stamp``."""
        from flytui.db.migrations import MigrationAction

        if not self.app.guard_mutation(f"migrate {what}"):
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
        except Exception as exc:  # noqa: BLE001
            self._set_status("")
            self.app.report_error(exc, action.label)
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
        ok = await self._confirm(request, _render_action_preview(pv))
        if ok:
            self.running_argv = argv
            self.run_worker_handle = self.run_action_worker(action, len(pv.revisions) or None)

    async def _confirm(self, request: ConfirmRequest, body: str) -> bool:
        import asyncio

        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(result: bool | None) -> None:
            if not fut.done():
                fut.set_result(bool(result))

        self.app.push_screen(MigrationConfirmScreen(request, body), done)
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
        op = self.app.begin_op(f"alembic {action.label}") if hasattr(self.app, "begin_op") else -1
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
            if hasattr(self.app, "end_op"):
                self.app.end_op(op)

    def on_migrations_screen_log_batch(self, msg: "MigrationsScreen.LogBatch") -> None:
        self.query_one("#mig-log", Log).write_lines(msg.lines)

    def on_migrations_screen_run_progress(self, msg: "MigrationsScreen.RunProgress") -> None:
        p = msg.progress
        total = f"/{p.total}" if p.total else ""
        src = ", ".join(p.from_revisions) or "base"
        dst = ", ".join(p.to_revisions) or "base"
        self.progress_text = f"step {p.index}{total}: {p.direction} {src} → {dst}  {p.message}"
        self.query_one("#mig-progress", Static).update(_esc(self.progress_text))
        rev = p.revision
        table = self.query_one("#mig-table", DataTable)
        if rev and rev in {str(k.value) for k in table.rows}:
            table.update_cell(rev, "state", "running…")

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
            progress.update(f"[b $error]not started:[/] {_esc(text)}")
            log.write_line(f"[flytui] not started: {text}")
            self.app.report_error(s, "migration")
        elif s.ok:
            remote = remote_line(s)
            progress.update(f"[b $success]✓[/] {_esc(s.note)}" + (f"\n{_esc(remote)}" if remote else ""))
            log.write_lines([f"[flytui] {s.note}"] + ([f"[flytui] {remote}"] if remote else []))
            self.app.notify(s.note + (f"\n{remote}" if remote else ""), title="migration finished")
        else:
            r = s.result
            detail = f"\nerror: {r.error}" if r.error else ""
            remote = remote_line(s)
            progress.update(f"[b $error]✗[/] {_esc(s.note)}{_esc(detail)}" + (f"\n{_esc(remote)}" if remote else ""))
            log.write_lines(["[flytui] " + s.note, *([f"[flytui] {remote}"] if remote else []),
                             "[flytui] error output:", *r.error_output.splitlines()[-15:]])
            self.app.notify(s.note + detail, title="migration failed", severity="error", timeout=15)
            if r.failed_revision:
                self._show_failed(r.failed_revision, r)
        self.load()

    def _show_failed(self, rev_id: str, result: Any) -> None:
        self.keep_detail = self.selected()
        self.query_one("#mig-detail", Static).update(
            f"[b $error]failed revision {_esc(rev_id)}[/]\nexit code {result.returncode}\n"
            f"{_esc(result.error or '')}\n\n{_esc(result.error_output)}")

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

    # --- remote ---------------------------------------------------------------------------------
    def action_toggle_remote(self) -> None:
        from flytui.db.migrations import RemoteUnavailable

        if self.session is None:
            return
        if self.session.remote:
            self.session.set_remote(None)
            self.app.notify("Local mode: the project's alembic runs here, through the tunnel")
            self._update_header()
            return
        if not self.app_name:
            self._prompt("remote", "Fly app whose machine runs alembic")
            return
        try:
            self._set_remote(self.app_name)
        except RemoteUnavailable as exc:
            self.app.notify(exc.message, severity="warning")

    def _set_remote(self, app: str) -> None:
        from flytui.db.migrations import RemoteUnavailable

        try:
            self.session.set_remote(app)
        except RemoteUnavailable as exc:
            self.app.notify(exc.message, severity="warning")
            return
        self.app.notify(f"Remote mode: alembic runs inside a machine of {app} over SSH")
        self._update_header()


# --- rendering ----------------------------------------------------------------------------------
def remote_line(summary: Any) -> str:
    """For a remote run: where it ran, whether the exit code is exact, and the runner's own ``result.note``.

    E.g. ``remote: ssh on 3d8d… · exit code exact`` or ``remote: ssh-console on 3d8d… · exit code collapsed by
    fly ssh console -C · Ran with `fly ssh console -C` because …``. Empty for a local run.
    """
    if not getattr(summary, "remote", False):
        return ""
    r = summary.result
    where = f"{getattr(r, 'transport', 'ssh')} on {getattr(r, 'machine', '') or 'a machine'}"
    exact = "exit code exact" if summary.exit_code_exact else "exit code collapsed to 1 by fly ssh console -C"
    note = getattr(r, "note", "")
    return f"remote: {where} · {exact}" + (f" · {note}" if note else "")


def _render_findings(findings: Any) -> list[str]:
    out = []
    for f in findings:
        color = "$error" if f.severity == "error" else "$warning"
        out.append(f"[{color}]⚠ {f.rule}[/] line {f.line}: {_esc(f.message)}\n    {_esc(f.statement)}\n"
                   f"    → {_esc(f.advice)}")
    return out


def _render_action_preview(pv: Any) -> str:
    """Body of the confirm dialog: revisions, warnings, lint, SQL."""
    lines = [f"Database at: [b]{_esc(', '.join(pv.current)) or 'base'}[/b]"]
    if pv.revisions:
        lines.append(f"Will run {len(pv.revisions)} revision(s), in order:")
        lines += [f"  {i}. {_esc(r.id)}  {_esc(r.message)}" for i, r in enumerate(pv.revisions, 1)]
    for w in pv.warnings:
        lines.append(f"[b $warning]⚠ {_esc(w)}[/]")
    for w in pv.downgrade_warnings:
        lines.append(f"[b $warning]⚠ {_esc(w.revision)} line {w.line}: {_esc(w.message)}[/]")
    unrendered = getattr(pv, "unrendered", ())
    if pv.findings:
        lines.append(f"[b]Lint: {len(pv.findings)} finding(s)[/b]")
        lines += _render_findings(pv.findings)
    elif pv.sql is not None and getattr(pv, "lint_checked", pv.sql.ok):
        lines.append("[$success]Lint: no findings[/]")
    if unrendered:
        lines.append(f"[b $warning]Lint: not checked for {len(unrendered)} revision(s) — no offline SQL:[/]")
        lines += [f"  {_esc(u.revision)}: {_esc(u.reason)}" for u in unrendered]
    if pv.sql is not None:
        lines.append(f"[b]SQL ({_esc(pv.sql.range)}):[/b]")
        lines.append(_esc(pv.sql.sql.strip()) if pv.sql.ok else f"[$error]preview failed:[/] {_esc(pv.sql.error or '')}")
    return "\n".join(lines)


def _render_revision_preview(pv: Any) -> str:
    rev = pv.revision
    lines = [f"[b]{_esc(rev.id)}[/b]  {_esc(rev.message)}", f"file: {_esc(str(rev.path))}", ""]
    for title, sql in (("upgrade", pv.upgrade), ("downgrade", pv.downgrade)):
        lines.append(f"[b]{title} --sql {_esc(sql.range)}[/b]")
        lines.append(_esc(sql.sql.strip()) if sql.ok else f"[$error]cannot render:[/] {_esc(sql.error or '')}")
        lines.append("")
    if pv.upgrade_findings:
        lines.append("[b]Lint (upgrade)[/b]")
        lines += _render_findings(pv.upgrade_findings)
    elif pv.upgrade.ok:
        lines.append("[$success]Lint (upgrade): no findings[/]")
    else:
        lines.append("[b $warning]Lint (upgrade): not checked — the SQL could not be rendered offline[/]")
    for w in pv.downgrade_warnings:
        lines.append(f"[b $warning]⚠ downgrade line {w.line}: {_esc(w.message)}[/]")
    return "\n".join(lines)
