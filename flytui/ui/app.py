"""``FlytuiApp``: the Textual application shell (header, panes, command registry, errors, confirm)."""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.content import Content
from textual.css.query import NoMatches, WrongType
from textual.reactive import reactive
from textual.widgets import Static

from flytui.fly.client import FlyClient
from flytui.fly.commandlog import CommandLog
from flytui.fly.errors import FlyctlNotFound, FlyError
from flytui.fly.runner import kill_all_children
from flytui.fly.runner import FlyctlRunner
from flytui.ui import commands, navigation
from flytui.ui.config import Config
from flytui.ui.failures import FailureLog
from flytui.ui.modals.confirm import ConfirmRequest, ConfirmScreen
from flytui.ui.openers import OpenersMixin
from flytui.ui.palette import RegistryProvider
from flytui.ui.screens.main import MainScreen
from flytui.ui.panes.base import Pane
from flytui.ui.seams import AppSeams, run_async
from flytui.ui.widgets.status import OperationsStatus

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.tunnel import TunnelManager

#: seconds the header facts wait at most for the first pane load before starting anyway
FIRST_DATA_BOUND = 1.5
#: seconds the first frame may wait for the launch-time read, so a prompt answer is painted in the first frame
FIRST_FRAME_WAIT = 0.1
#: seconds during which the same error (type and text) is not notified again
ERROR_REPEAT_WINDOW = 3.0
#: the main screen or one of its widgets is not there (not composed yet, or the app is closing)
_NO_MAIN = (NoMatches, WrongType, StopIteration)


class FlytuiApp(OpenersMixin, App[None]):
    """The console. ``client`` is a ``flytui.fly.client.FlyClient``; the UI only knows a flyctl path."""

    CSS_PATH = str(Path(__file__).with_name("flytui.tcss"))
    TITLE = "flytui"
    COMMANDS = {RegistryProvider}
    #: the "Everywhere" and "Views" keys on every screen (hidden here: the main screen's footer shows them);
    #: a screen's own binding of the same key wins (flytui/ui/navigation.py)
    BINDINGS = [replace(b, show=False) for b in commands.bindings([commands.GLOBAL, commands.VIEW])]
    ENABLE_COMMAND_PALETTE = True

    current_app: reactive[str | None] = reactive(None)

    def __init__(self, config: Config | None, client: FlyClient, *, runner: FlyctlRunner | None = None,
                 current_app: str | None = None, project_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config or Config()
        self.client = client
        #: the runner of flytui's own children (tunnels, migrations, the shell): the client's, unless given
        self.runner: FlyctlRunner | None = runner if runner is not None else (
            client.runner if isinstance(client.runner, FlyctlRunner) else None)
        self.project_dir = project_dir
        self.org_filter: str | None = self.config.default_org
        self._initial_app = current_app
        self.view_history: list[str] = []
        self.header_info: dict[str, str] = {}
        self.command_log = CommandLog()  # every flyctl call (redacted), for the command log pane
        self.command_log.attach(self.runner)
        self.command_log.attach(client.api)  # Machines API requests (redacted: no token)
        self._tunnels: TunnelManager | None = None
        #: set once the first pane load ended (see :meth:`data_shown`); the header facts wait for it
        self.first_data = asyncio.Event()
        self._prefetched: dict[tuple[str, Any], asyncio.Future[Any]] = {}
        self._recent_errors: dict[tuple[str, str], float] = {}
        #: the DATABASE_URL flytui knows (set by the DATABASE_URL fix): memory only, never on disk, shown masked;
        #: the doctor checks it and the migrations screen offers it
        self.database_url: str | None = None
        self.failures = FailureLog()  # repeated poll failures: one toast, then a counted status line
        if self.config.theme:
            try:
                self.theme = self.config.theme
            except Exception:  # noqa: BLE001 - unknown theme name in the config file
                pass

    # --- basics -----------------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.config.read_only

    async def on_mount(self) -> None:
        if self.config.keymap:
            self.set_keymap({f"{cmd.group}.{cmd.id}": key for cmd in commands.ALL
                             for cid, key in self.config.keymap.items() if cid == cmd.id})
        self._prefetch_first()  # its flyctl call runs while the main screen is composed and painted
        self.current_app = self._initial_app  # before compose: it picks the initial pane
        await self.push_screen(MainScreen())  # composed and mounted, not painted yet
        early = next(iter(self._prefetched.values()), None)
        if early is not None:  # data that arrives within the bound is in the very first frame
            await asyncio.wait([early], timeout=FIRST_FRAME_WAIT)
        self._start()

    def _start(self) -> None:
        """First data first: the current pane's load starts now, so its flyctl call runs while the first frame
        is painted; the header facts (``version``, ``auth whoami``) and the Machines API warm-up wait for it
        (:meth:`load_header`), so nothing competes with it for the CPU."""
        if not any(p.active or p.activate_on_mount for p in self.main.query(Pane)):  # user already switched
            self.show_view("machines" if self.current_app else "apps", remember=False)
        self.load_header()

    def _prefetch_first(self) -> None:
        """Start the first pane's read (``machine list`` of the current app, else ``apps list``) at once."""
        key: tuple[str, str | None]
        fetch: Callable[[], Coroutine[Any, Any, Any]]
        if self._initial_app:
            key, fetch = ("machines", self._initial_app), partial(self.client.machines, self._initial_app)
        else:
            org = self.org_filter
            key, fetch = ("apps", org), (partial(self.client.apps, org=org) if org else self.client.apps)
        try:
            task = asyncio.ensure_future(fetch())
        except AttributeError:  # a test double's client without that method: the pane loads it itself
            return
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved here: never "never retrieved"
        self._prefetched[key] = task

    def take_prefetch(self, kind: str, token: Any) -> "asyncio.Future[Any] | None":
        """The launch-time read for (``kind``, ``token``), once; None when there is none (or it is taken)."""
        return self._prefetched.pop((kind, token), None)

    def ready_prefetch(self, kind: str, token: Any) -> Any:
        """The launch-time read's result when it already succeeded (taken), else None (left for the load)."""
        task = self._prefetched.get((kind, token))
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        del self._prefetched[(kind, token)]
        return task.result()

    def data_shown(self) -> None:
        """Called by a pane when a load ended (rows on screen, or its error reported): releases the header."""
        if not self.first_data.is_set():
            self.call_after_refresh(self.first_data.set)

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def begin_op(self, label: str) -> int:
        try:
            return self.main.query_one("#ops", OperationsStatus).begin(label)
        except _NO_MAIN:  # no main screen (shutting down)
            return -1

    def end_op(self, op_id: int) -> None:
        try:
            self.main.query_one("#ops", OperationsStatus).end(op_id)
        except _NO_MAIN:  # shutting down: nothing shows operations any more
            pass

    def flyctl_program(self) -> str:
        """The flyctl executable's basename for shown command lines (``fly`` when not resolved)."""
        try:
            path = self.runner.path if self.runner is not None else ""
        except FlyctlNotFound:  # said when the command runs
            path = ""
        return os.path.basename(path) or "fly"

    def flyctl_argv(self, *args: str) -> list[str]:
        """A command line to show that flytui does not run itself (``fly`` + args, the real basename)."""
        return [self.flyctl_program(), *args]

    def known_apps(self) -> list[str]:
        try:
            return list(self.main.query_one("#apps", Pane).table.rows_data)
        except _NO_MAIN:  # the apps pane is built on first use
            return []

    @property
    def tunnels(self) -> TunnelManager | None:
        """The app's one ``TunnelManager`` (created on first use, closed on exit); None without a runner."""
        if self._tunnels is None and self.runner is not None:
            from flytui.db.tunnel import TunnelManager

            self._tunnels = TunnelManager(self.runner)
        return self._tunnels

    async def close_tunnels(self) -> None:
        """Close every ``fly proxy`` the app owns (bounded wait; the group kill on exit is the backstop)."""
        manager, self._tunnels = self._tunnels, None
        if manager is not None:
            try:
                await asyncio.wait_for(manager.close_all(), 5.0)
            except Exception:  # noqa: BLE001 - exiting anyway
                pass

    # --- header -----------------------------------------------------------------------------------
    @work(exclusive=True, group="header", exit_on_error=False)
    async def load_header(self) -> None:
        try:  # never competing with the first screen of data (bounded: a slow first load does not hide them)
            await asyncio.wait_for(self.first_data.wait(), FIRST_DATA_BOUND)
        except asyncio.TimeoutError:
            pass
        # the Machines API fast path (httpx import, token) is readied off the first load
        run_async(self, self.client.warm_api, group="api-warm", exit_on_error=False)
        # each failure is reported on its own (flyctl missing, not logged in); the header says what it knows
        version, who = await asyncio.gather(self.client.version(), self.client.whoami(), return_exceptions=True)
        if isinstance(version, BaseException):
            self.report_error(version, "flyctl version")
            self.header_info["version"] = "flyctl ?"
        else:
            self.header_info["version"] = f"flyctl v{version.version or '?'}"
        if isinstance(who, BaseException):
            self.report_error(who, "whoami")
            self.header_info["user"] = "not logged in"
        else:
            self.header_info["user"] = who.email or "?"
        self.update_header()

    def update_header(self) -> None:
        # names and flyctl's texts are variables (inserted as plain text), never markup
        values = {"version": self.header_info.get("version", "flyctl …"), "user": self.header_info.get("user", "…"),
                  "org": self.org_filter or "", "app": self.current_app or ""}
        parts = ["[b]flytui[/b]", "$version", "$user"]
        if self.org_filter:
            parts.append("org [b]$org[/b]")
        parts.append("app [b]$app[/b]" if self.current_app else "no app")
        line = "  ·  ".join(parts)
        if self.read_only:
            line += "  [reverse $warning] READ-ONLY [/]"
        try:
            self.main.query_one("#header", Static).update(Content.from_markup(line, **values))
        except _NO_MAIN:  # before the main screen is composed, or after it closed
            pass

    def watch_current_app(self, old: str | None, new: str | None) -> None:
        self.update_header()
        if old == new:
            return
        try:
            pane = self.main.pane
        except Exception:  # noqa: BLE001 - not mounted yet
            return
        if pane.NEEDS_APP and pane.active:
            pane.activate()

    # --- errors, confirm, read-only ---------------------------------------------------------------
    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification is plain text: messages carry flyctl's texts and names (``must be one of [ams iad]``),
        never markup (``markup`` is ignored: ``Widget.notify`` always passes True)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def report_error(self, exc: BaseException | None, action: str, *, repeat_key: str | None = None) -> bool:
        """The one place that turns errors into notifications (never a traceback).

        ``repeat_key`` (a polling pane's group): the same error again under that key is only counted in
        ``self.failures`` (the pane shows the count), not notified again. Returns True when a toast was shown.
        """
        if exc is None:
            return False
        if repeat_key is not None and self.failures.record(repeat_key, exc, action).repeated:
            self.log.error(f"{action} (again): {exc!r}")
            return False
        if isinstance(exc, FlyError):
            body = exc.message + (f"\n{exc.hint}" if exc.hint else "")
            # the same failure from calls made together (e.g. no flyctl: version, whoami and the first view
            # all fail at once) is one notification, not a stack of identical ones
            now, key = time.monotonic(), (type(exc).__name__, body)
            self._recent_errors = {k: t for k, t in self._recent_errors.items() if now - t < ERROR_REPEAT_WINDOW}
            if key in self._recent_errors:
                self.log.error(f"{action}: {exc!r} (shown already)")
                return False
            self._recent_errors[key] = now
            title = "flyctl not found" if isinstance(exc, FlyctlNotFound) else f"{action} failed"
            self.notify(body, title=title, severity="error", timeout=10)
        else:
            first = (str(exc).splitlines() or [""])[0][:200]
            self.notify(f"{type(exc).__name__}: {first}" if first else type(exc).__name__,
                        title=f"{action} failed", severity="error", timeout=10)
        self.log.error(f"{action}: {exc!r}")
        return True

    def confirm(self, request: ConfirmRequest) -> "asyncio.Future[bool]":
        """Show the confirm dialog; await the result (True only on explicit confirmation)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(result: bool | None) -> None:
            if not fut.done():
                fut.set_result(bool(result))

        if request.commands:
            request = replace(request, program=self.flyctl_program())
        self.push_screen(ConfirmScreen(request), done)
        return fut

    def guard_mutation(self, name: str) -> bool:
        if self.read_only:
            self.notify(f"{name}: disabled in read-only mode (started with --read-only or read_only = true)",
                        title="read-only", severity="warning")
            return False
        return True

    # --- command dispatch ----------------------------------------------------------------------
    def run_command_id(self, command_id: str, args: list[str] | None = None) -> None:
        run_async(self, partial(self.action_command, command_id, args), group="command", exit_on_error=False)

    async def action_command(self, command_id: str, args: list[str] | None = None) -> bool:
        """Run a registry command: the single place where read-only mode refuses mutating commands."""
        cmd = commands.get(command_id)
        if cmd.group in (commands.GLOBAL, commands.VIEW):
            if not navigation.prepare(self, cmd):
                return False
            if navigation.on_screen(self, cmd):
                return True
        if cmd.mutating and not self.guard_mutation(cmd.title):
            return False
        if cmd.group in commands.PANE_GROUPS:
            pane = self.main.pane
            if pane.GROUP != cmd.group:
                self.notify(f"{cmd.title} works in the {cmd.group} view (:{cmd.group})", severity="warning")
                return False
            await pane.run_action(cmd.action)
            return True
        if cmd.action.startswith("screen.") and not hasattr(self.screen, "action_" + cmd.action[7:].split("(")[0]):
            # a command of a screen that is not open (palette / `:` mode): open that screen first
            opener = commands.SCREEN_OPENERS.get(cmd.group)
            if opener is None:
                self.notify(f"{cmd.title} works in the {cmd.group} screen", severity="warning")
                return False
            await self.run_action(opener)
            self.notify(f"Opened {cmd.group}: press {commands.key_label(cmd.key)} again for {cmd.title}",
                        severity="information")
            return False
        if args and cmd.takes_arg:
            if cmd.id == "switch-app":
                self.select_app(args[0])
                return True
            if cmd.id == "switch-org":
                self.set_org(args[0])
                return True
            self.current_app = args[0]
        await self.run_action(cmd.action)
        return True

    def execute_line(self, line: str) -> None:
        """``:`` mode entry point (``machines my-app``, ``a``, ``-``)."""
        try:
            parsed = commands.parse(line, self.config.aliases)
        except commands.CommandParseError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.run_command_id(parsed.command.id, parsed.args)

    # --- views ----------------------------------------------------------------------------------
    def show_view(self, name: str, remember: bool = True) -> None:
        main = self.main
        current = main.pane.id
        if remember and current is not None and current != name:
            self.view_history.append(current)
        main.show_pane(name)

    def action_show_view(self, name: str) -> None:
        self.show_view(name)

    def action_previous_view(self) -> None:
        if not self.view_history:
            self.notify("No previous view")
            return
        self.show_view(self.view_history.pop(), remember=False)

    def action_refresh_view(self) -> None:
        self.main.pane.reload()

    def action_start_filter(self) -> None:
        self.main.open_filter()

    def action_command_mode(self) -> None:
        self.main.open_command()

    async def action_back(self) -> None:
        main = self.main
        if self.screen is not main:
            return
        if main.close_inputs() or main.clear_filter():
            return
        self.action_previous_view()

    def action_help(self) -> None:
        from flytui.ui.modals.help import HelpScreen

        self.push_screen(HelpScreen())

    def select_app(self, name: str) -> None:
        self.current_app = name
        if not self.main.pane.NEEDS_APP:
            self.show_view("machines")

    def set_org(self, org: str | None) -> None:
        self.org_filter = org or None
        self.update_header()
        apps = self.main.query("#apps").first(Pane) if self.main.query("#apps") else None  # built on first use
        if apps is not None and apps.active:
            apps.activate()

    async def action_quit(self) -> None:
        busy = navigation.busy_screens(self)
        if busy:  # asked in a worker: a key handler must never wait for a dialog
            self.run_worker(self._confirm_quit(busy), group="quit", exclusive=True, exit_on_error=False)
            return
        await self._quit_now()

    async def _confirm_quit(self, busy: list[str]) -> None:
        req = ConfirmRequest("Quit flytui? " + "; ".join(busy) + ".", ["flytui"], danger=True,
                             confirm_label="Quit anyway", cancel_label="Stay")
        if await self.confirm(req):
            await self._quit_now()

    async def _quit_now(self) -> None:
        await self.close_tunnels()
        self._kill_children()
        self.exit()

    def _kill_children(self) -> None:
        kill_all_children()  # every flyctl group still running (the runner's registry); never raises

    async def on_unmount(self) -> None:
        for task in self._prefetched.values():  # a launch-time read nobody took (the user moved on)
            task.cancel()
        await self.close_tunnels()
        self._kill_children()
        if self.client.api is not None:
            await self.client.api.aclose()


if TYPE_CHECKING:  # pragma: no cover
    def _implements_seams(app: FlytuiApp) -> AppSeams:
        """mypy checks here that FlytuiApp is everything screens may ask of the app."""
        return app
