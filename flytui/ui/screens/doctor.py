"""Doctor screen: the preflight checks of :func:`flytui.doctor.run_doctor`, live, with one-key fixes.

Checks appear as they complete (``on_check`` -> :class:`DoctorScreen.CheckDone`); a re-run (``r``) updates the
rows in place and keeps the cursor. The selected check shows why it matters and the fix; ``f``/``enter`` runs
the one-key fix where the check names one (``Check.fix_action``):

* login        -- suspend the UI, run ``fly auth login`` in the real terminal, re-run the doctor;
* billing      -- open the billing URL in the browser (and show it);
* read URL     -- read DATABASE_URL from a running machine (``fly ssh console``), keep it in memory only,
                  re-run the doctor with it (it is only ever shown masked);
* fix URL      -- open the DATABASE_URL doctor prefilled with that value (the secret goes to flyctl on stdin);
* release_command / internal_port -- open the fly.toml editor on the proposed change (diff, confirm, save);
* create app   -- open the create-app modal prefilled with the fly.toml app name.

Fixes that change something are refused in read-only mode (``guard_mutation``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from flytui.doctor import (
    FAIL,
    FIX_BILLING,
    FIX_CREATE_APP,
    FIX_DATABASE_URL,
    FIX_INTERNAL_PORT,
    FIX_LOGIN,
    FIX_READ_DATABASE_URL,
    FIX_RELEASE_COMMAND,
    OK,
    SKIP,
    WARN,
    Check,
    DoctorReport,
    run_doctor,
)
from flytui.doctor import summary as doctor_summary
from flytui.ui import commands
from flytui.ui.widgets.plain import PlainDataTable
from flytui.ui.seams import Hosted

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.flytoml import FlyToml

MARKS = {OK: "✓ ok", WARN: "! warn", FAIL: "✗ fail", SKIP: "- skip"}
STATUS_COLOR = {OK: "success", WARN: "warning", FAIL: "error", SKIP: "foreground-muted"}
PENDING = "… "

FIX_LABELS = {
    FIX_LOGIN: "run `fly auth login` in this terminal",
    FIX_BILLING: "open the billing page in your browser",
    FIX_READ_DATABASE_URL: "read DATABASE_URL from a running machine (fly ssh console)",
    FIX_DATABASE_URL: "open the DATABASE_URL fix (the secret is set through stdin)",
    FIX_RELEASE_COMMAND: "add [deploy] release_command to fly.toml (shown as a diff first)",
    FIX_INTERNAL_PORT: "set http_service.internal_port in fly.toml (shown as a diff first)",
    FIX_CREATE_APP: "create the app (fly apps create)",
}
# fixes that change something (on Fly.io or on disk): refused in read-only mode
MUTATING_FIXES = frozenset({FIX_DATABASE_URL, FIX_RELEASE_COMMAND, FIX_INTERNAL_PORT, FIX_CREATE_APP})
RELEASE_COMMAND = "alembic upgrade head"


def status_cell(status: str, colors: dict[str, str]) -> Text:
    """The coloured status mark of one check."""
    color = colors.get(STATUS_COLOR.get(status, ""), "")
    return Text(MARKS.get(status, status), style=f"bold {color}".strip())


def short(text: str, limit: int = 96) -> Text:
    """A table cell: first line only, cut at ``limit`` (the detail panel shows everything)."""
    line = (text.splitlines() or [""])[0]
    return Text(line if len(line) <= limit else line[: limit - 1] + "…")


def detail_markup(check: Check, read_only: bool = False) -> str:
    """Markup for the detail panel: what was found, why it matters, the fix and the fix key."""
    color = STATUS_COLOR.get(check.status, "foreground")
    lines = [f"[b]{escape(check.title)}[/b]  [${color}]{escape(MARKS.get(check.status, check.status))}[/]"]
    if check.detail:
        lines.append(escape(check.detail))
    if check.why:
        lines += ["", f"[b]Why it matters[/b]  {escape(check.why)}"]
    if check.fix and check.status != OK:
        lines += ["", f"[b]Fix[/b]  {escape(check.fix)}"]
    if check.fix_action:
        label = FIX_LABELS.get(check.fix_action, check.fix_action)
        if read_only and check.fix_action in MUTATING_FIXES:
            lines += ["", f"[$warning]One-key fix disabled in read-only mode: {escape(label)}[/]"]
        else:
            lines += ["", f"[$accent]Press f or enter to fix:[/] {escape(label)}"]
    return "\n".join(lines)


def summary_line(checks: list[Check]) -> str:
    fixes = sum(1 for c in checks if c.fix_action)
    return doctor_summary(checks) + (f" · {fixes} one-key fix{'es' if fixes != 1 else ''} (f)" if fixes else "")


class DoctorScreen(Screen[None], Hosted):
    """Preflight checks for the current app and project folder."""

    BINDINGS = commands.local_bindings([commands.SCREEN, commands.DOCTOR])

    class CheckDone(Message):
        """One check finished (posted from ``run_doctor``'s ``on_check``)."""

        def __init__(self, run: int, check: Check) -> None:
            super().__init__()
            self.run, self.check = run, check

    class Finished(Message):
        def __init__(self, run: int, report: DoctorReport | None) -> None:
            super().__init__()
            self.run, self.report = run, report

    def __init__(self, app_name: str | None = None, project_dir: Path | None = None) -> None:
        super().__init__()
        self.app_name = app_name
        self.project_dir = Path(project_dir) if project_dir else None
        self.checks: dict[str, Check] = {}
        self.report: DoctorReport | None = None
        self.running = False
        self._run = 0
        self._seen: list[str] = []
        # DATABASE_URL read from a machine: in memory only, never shown unmasked, never written anywhere
        self._database_url: str | None = None

    # --- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="doctor-title")
        table: DataTable[Any] = PlainDataTable(id="doctor-checks", cursor_type="row", zebra_stripes=False)
        table.add_column("status", key="status", width=8)
        table.add_column("check", key="title", width=30)
        table.add_column("detail", key="detail")
        yield table
        yield Static("", id="doctor-detail")
        yield Static("", id="doctor-summary", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._update_title()
        self.query_one(DataTable).focus()
        self.rerun()

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#doctor-checks", DataTable)

    def _update_title(self) -> None:
        where = str(self.project_dir) if self.project_dir else "no project folder"
        app = self.target_app() or "no app"
        self.query_one("#doctor-title", Static).update(
            f"[b]Doctor[/b]  ·  app [b]{escape(app)}[/b]  ·  {escape(where)}"
            + ("  ·  [$accent]DATABASE_URL kept in memory only[/]" if self._database_url else ""))

    def target_app(self) -> str | None:
        """The app the checks are about: the one given, else fly.toml's ``app``."""
        if self.app_name:
            return self.app_name
        if self.project_dir and (self.project_dir / "fly.toml").is_file():
            try:
                from flytui.fly.flytoml import FlyToml

                return FlyToml.load(self.project_dir).app
            except Exception:  # noqa: BLE001 - an invalid fly.toml is reported by the checks themselves
                return None
        return None

    # --- running the checks ---------------------------------------------------------------------------
    def action_rerun(self) -> None:
        self.rerun()

    def rerun(self) -> None:
        """Start (or restart) the checks; rows are updated in place as results arrive."""
        self._run += 1
        self._seen = []
        self.running = True
        table = self.table
        for key in list(table.rows):
            table.update_cell(key, "status", Text(PENDING, style="dim"))
        self.query_one("#doctor-summary", Static).update("running checks…")
        self._update_title()
        self.run_checks(self._run, self.known_database_url())

    def known_database_url(self) -> str | None:
        """The DATABASE_URL to check: read from a machine, else the app's fixed one (memory only), else
        ``$FLYTUI_DATABASE_URL`` (what the user copied from ``fly postgres attach``)."""
        return (self._database_url or self.host.database_url
                or os.environ.get("FLYTUI_DATABASE_URL") or None)

    @work(exclusive=True, group="doctor", exit_on_error=False)
    async def run_checks(self, run: int, database_url: str | None) -> None:
        op = self.host.begin_op("doctor")
        report: DoctorReport | None = None
        try:
            def done(check: Check) -> None:
                self.post_message(self.CheckDone(run, check))

            report = await run_doctor(self.host.client, self.project_dir, app=self.app_name,
                                      database_url=database_url, on_check=done)
        except Exception as exc:  # noqa: BLE001 - run_doctor never raises for a check; this is a bug path
            self.host.report_error(exc, "doctor")
        finally:
            self.host.end_op(op)
            self.post_message(self.Finished(run, report))

    def on_doctor_screen_check_done(self, message: CheckDone) -> None:
        if message.run != self._run:
            return  # a stale result from a cancelled run
        c = message.check
        self.checks[c.id] = c
        self._seen.append(c.id)
        table = self.table
        colors = self.app.get_css_variables()
        cells = {"status": status_cell(c.status, colors), "title": Text(c.title), "detail": short(c.detail)}
        if c.id in table.rows:
            for col, value in cells.items():
                table.update_cell(c.id, col, value)
        else:
            table.add_row(*cells.values(), key=c.id)
        if self.selected_id() == c.id or table.row_count == 1:
            self.show_detail()

    def on_doctor_screen_finished(self, message: Finished) -> None:
        if message.run != self._run:
            return
        self.running = False
        self.report = message.report
        table = self.table
        selected = self.selected_id()
        for key in [k.value for k in list(table.rows) if k.value is not None and k.value not in self._seen]:
            table.remove_row(key)
            self.checks.pop(key, None)
        order = [k.value for k in table.rows]
        if order != self._seen:  # new checks appeared (e.g. after logging in): keep the doctor's order
            table.clear()
            colors = self.app.get_css_variables()
            for cid in self._seen:
                c = self.checks[cid]
                table.add_row(status_cell(c.status, colors), Text(c.title), short(c.detail), key=cid)
            if selected in self._seen:
                table.move_cursor(row=self._seen.index(selected))
        checks = [self.checks[cid] for cid in self._seen]
        self.query_one("#doctor-summary", Static).update(summary_line(checks))
        if message.run == 1:  # first run: land on what needs attention, so f fixes it right away
            target = next((c.id for c in checks if c.status == FAIL),
                          next((c.id for c in checks if c.status == WARN), None))
            if target is not None and table.cursor_row == 0:
                table.move_cursor(row=self._seen.index(target))
        self.show_detail()
        # the detail panel just grew and the table shrank: scroll again once laid out, or the selected check
        # can sit below the table's last visible row (80x24)
        self.call_after_refresh(lambda: table.move_cursor(row=table.cursor_row, scroll=True))

    # --- selection ------------------------------------------------------------------------------------
    def selected_id(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - cursor outside the table while rows change
            return None
        return key.value

    def selected_check(self) -> Check | None:
        cid = self.selected_id()
        return self.checks.get(cid) if cid else None

    def select(self, check_id: str) -> None:
        """Move the cursor to a check (used by tests and after fixes)."""
        table = self.table
        table.move_cursor(row=table.get_row_index(check_id))
        self.show_detail()

    def show_detail(self) -> None:
        check = self.selected_check()
        self.query_one("#doctor-detail", Static).update(
            detail_markup(check, self.host.read_only) if check else "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_fix()

    def busy_reason(self) -> str | None:
        """Running checks may be left at any time (the app's global keys ask; flytui/ui/navigation.py)."""
        return None

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_open_flytoml(self) -> None:
        if not self.project_dir:
            self.notify("No project folder: start flytui in the folder with fly.toml", severity="warning")
            return
        from flytui.ui.screens.flytoml import FlyTomlScreen

        self.app.push_screen(FlyTomlScreen(self.project_dir), self._after_flytoml)

    # --- fixes ----------------------------------------------------------------------------------------
    def action_fix(self) -> None:
        check = self.selected_check()
        if check is None:
            return
        action = check.fix_action
        if not action:
            self.notify(f"{check.title}: no one-key fix" + (f". {check.fix}" if check.fix else ""))
            return
        if action in MUTATING_FIXES and not self.host.guard_mutation(f"Fix: {check.title}"):
            return
        handler: Callable[[Check], None] | None = getattr(self, f"fix_{action}", None)
        if handler is None:
            self.notify(f"flytui cannot perform '{action}' yet", severity="warning")
            return
        handler(check)

    # login ---------------------------------------------------------------------------------------------
    def fix_login(self, check: Check) -> None:
        """Suspend the UI and run ``fly auth login`` in the real terminal (through the runner), then re-run."""
        code = self.host.run_in_terminal("auth", "login", title="fly auth login")
        if code is None:
            return
        if code == 0:
            self.notify("fly auth login finished; re-running the checks", title="fly auth login")
        else:
            self.notify(f"`fly auth login` exited with status {code}", title="fly auth login", severity="warning")
        self.host.load_header()
        self.rerun()

    # billing -------------------------------------------------------------------------------------------
    def fix_open_billing(self, check: Check) -> None:
        url = str(check.data.get("billing_url") or "https://fly.io/dashboard/personal/billing")
        self.notify(f"Opening {url}", title="billing", timeout=15)
        self.open_url(url)

    @work(exclusive=True, group="doctor-browser", thread=True, exit_on_error=False)
    def open_url(self, url: str) -> None:
        import webbrowser

        webbrowser.open(url)

    # DATABASE_URL --------------------------------------------------------------------------------------
    def fix_read_database_url(self, check: Check) -> None:
        app = self.target_app()
        if not app:
            self.notify("No app to read DATABASE_URL from", severity="warning")
            return
        self.read_database_url(app)

    @work(exclusive=True, group="doctor-fix", exit_on_error=False)
    async def read_database_url(self, app: str) -> None:
        """``fly ssh console -C 'printenv DATABASE_URL'``; the value stays in memory, masked on screen."""
        from flytui.db.urls import mask_url

        op = self.host.begin_op(f"read DATABASE_URL {app}")
        try:
            url = await self.host.client.read_database_url(app)
        except Exception as exc:  # noqa: BLE001 - shown via report_error
            self.host.report_error(exc, "read DATABASE_URL")
            return
        finally:
            self.host.end_op(op)
        if not url:
            self.notify(f"DATABASE_URL is not set on {app}'s machine", severity="warning")
            return
        self._database_url = url
        self.notify(f"Read DATABASE_URL from {app}: {mask_url(url)}", title="DATABASE_URL")
        self.rerun()

    def fix_fix_database_url(self, check: Check) -> None:
        app = self.target_app()
        url = self.known_database_url()
        if not url or not app:
            self.notify("Read DATABASE_URL first (select the check and press f)", severity="warning")
            return
        self.open_dburl_fix(app, url)

    def open_dburl_fix(self, app: str, url: str) -> None:
        """Open the DATABASE_URL screen prefilled; it returns the fixed URL once the secret was set."""
        from flytui.ui.modals.dburl import DatabaseUrlScreen

        self.app.push_screen(DatabaseUrlScreen(app, initial=url), self.after_dburl)

    def after_dburl(self, fixed: str | None) -> None:
        if fixed:
            self._database_url = fixed  # what was just set (also app.database_url): re-check it, memory only
        self.rerun()

    # fly.toml ------------------------------------------------------------------------------------------
    def fix_add_release_command(self, check: Check) -> None:
        self.open_flytoml_change("deploy.release_command", RELEASE_COMMAND,
                                 f"Run migrations on every deploy: [deploy] release_command = {RELEASE_COMMAND!r}")

    def fix_set_internal_port(self, check: Check) -> None:
        port = check.data.get("port")
        if not isinstance(port, int):
            self.notify("Cannot tell which port the Dockerfile serves on", severity="warning")
            return
        self.open_flytoml_change("http_service.internal_port", port,
                                 f"Match the Dockerfile: http_service.internal_port = {port}")

    def open_flytoml_change(self, dotted: str, value: Any, reason: str) -> None:
        """Open the fly.toml editor straight on the diff of one proposed value."""
        if not self.project_dir:
            self.notify("No project folder", severity="warning")
            return
        from flytui.fly.flytoml import FlyToml
        from flytui.ui.screens.flytoml import FlyTomlScreen

        try:
            proposed: FlyToml = FlyToml.load(self.project_dir).with_value(dotted, value)
        except Exception as exc:  # noqa: BLE001 - unreadable / invalid fly.toml
            self.host.report_error(exc, "read fly.toml")
            return
        self.app.push_screen(FlyTomlScreen(self.project_dir, proposed=proposed, reason=reason), self._after_flytoml)

    def _after_flytoml(self, saved: bool | None) -> None:
        if saved:
            self.rerun()

    # create app ----------------------------------------------------------------------------------------
    def fix_create_app(self, check: Check) -> None:
        self.open_create_app(self.target_app() or "")

    @work(exclusive=True, group="doctor-fix", exit_on_error=False)
    async def open_create_app(self, name: str) -> None:
        from textual.widgets import Input

        from flytui.ui.modals.create_app import CreateAppScreen

        org = self.host.org_filter or self.host.config.default_org
        screen = CreateAppScreen(default_org=org)
        await self.app.push_screen(screen, self._after_create_app)
        screen.query_one("#create-name", Input).value = name

    def _after_create_app(self, result: tuple[str, str | None] | None) -> None:
        if result:
            self.create_app(*result)

    @work(exclusive=True, group="doctor-fix", exit_on_error=False)
    async def create_app(self, name: str, org: str | None) -> None:
        op = self.host.begin_op(f"create {name}")
        try:
            if not org:
                org = await self._default_org()
            await self.host.client.create_app(name, org)
        except Exception as exc:  # noqa: BLE001 - shown via report_error
            self.host.report_error(exc, f"create app {name}")
            return
        finally:
            self.host.end_op(op)
        self.notify(f"New app created: {name}")
        self.rerun()

    async def _default_org(self) -> str:
        """The only organization, or ``personal``; ValueError when the user must choose."""
        slugs = [o.slug for o in await self.host.client.orgs()]
        if len(slugs) == 1:
            return slugs[0]
        if "personal" in slugs:
            return "personal"
        raise ValueError("choose an organization in the dialog")
