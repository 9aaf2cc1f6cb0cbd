"""A small app hosting one flytui screen in a test: everything ``flytui.ui.seams.AppSeams`` promises.

Screens reach the app only through that Protocol (``self.host``), so a test host that implements it runs any
screen; it records what the screen asked (errors, confirmations, commands) instead of showing dialogs.
Checked against the Protocol by mypy (``_implements_seams`` below), like ``FlytuiApp``.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.notifications import SeverityLevel
from textual.screen import Screen

from flytui.fly.client import FlyClient
from flytui.fly.commandlog import CommandLog
from flytui.fly.runner import FlyctlRunner
from flytui.ui.config import Config
from flytui.ui.failures import FailureLog
from flytui.ui.modals.confirm import ConfirmRequest
from tests.registry_app import RegistryDispatch

if TYPE_CHECKING:
    from flytui.db.tunnel import TunnelManager
    from flytui.ui.seams import AppSeams


class HostApp(RegistryDispatch, App[None]):
    """Hosts ``screen`` (pushed on mount; a callable: the screen it builds on mount). ``confirm_answer``: what
    every confirmation answers."""

    def __init__(self, client: FlyClient, screen: Any = None, *, config: Config | None = None,
                 confirm_answer: bool = True, project_dir: Path | None = None) -> None:
        super().__init__()
        self.client = client
        self.runner: FlyctlRunner | None = client.runner if isinstance(client.runner, FlyctlRunner) else None
        self.config = config or Config()
        self.project_dir = project_dir
        self.org_filter: str | None = None
        self.database_url: str | None = None
        self.command_log = CommandLog()
        self.failures = FailureLog()
        self.first_data = asyncio.Event()
        self.current_app: str | None = None
        self.errors: list[tuple[BaseException, str]] = []
        self.confirms: list[ConfirmRequest] = []
        self.commands: list[str] = []
        self.views: list[str] = []
        self._first = screen
        self._answer = confirm_answer

    def on_mount(self) -> None:
        if self._first is not None:
            self.push_screen(self._first if isinstance(self._first, Screen) else self._first())

    @property
    def tunnels(self) -> TunnelManager | None:
        return None

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def report_error(self, exc: BaseException | None, action: str, *, repeat_key: str | None = None) -> bool:
        if exc is not None:
            self.errors.append((exc, action))
        return exc is not None

    async def confirm(self, request: ConfirmRequest) -> bool:
        self.confirms.append(request)
        return self._answer

    def guard_mutation(self, name: str) -> bool:
        return not self.read_only

    def begin_op(self, label: str) -> int:
        return -1

    def end_op(self, op_id: int) -> None:
        pass

    def flyctl_program(self) -> str:
        return "fly"

    def flyctl_argv(self, *args: str) -> list[str]:
        return [self.flyctl_program(), *args]

    def run_command_id(self, command_id: str, args: list[str] | None = None) -> None:
        self.commands.append(command_id)

    def execute_line(self, line: str) -> None:
        self.commands.append(line)

    def show_view(self, name: str, remember: bool = True) -> None:
        self.views.append(name)

    def known_apps(self) -> list[str]:
        return []

    def update_header(self) -> None:
        pass

    def action_refresh_view(self) -> None:
        pass

    def load_header(self) -> None:
        pass

    def run_in_terminal(self, *args: str, title: str) -> int | None:
        return None

    async def close_tunnels(self) -> None:
        pass

    def take_prefetch(self, kind: str, token: Any) -> asyncio.Future[Any] | None:
        return None

    def ready_prefetch(self, kind: str, token: Any) -> Any:
        return None

    def data_shown(self) -> None:
        self.first_data.set()


if TYPE_CHECKING:
    def _implements_seams(app: HostApp) -> AppSeams:
        return app
