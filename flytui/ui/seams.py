"""What screens, panes and widgets may ask of the app: :class:`AppSeams`.

``FlytuiApp`` implements it (checked by mypy at the bottom of ``flytui/ui/app.py``); a test that hosts one
screen in a smaller app implements the same Protocol (``tests/helpers/host.py``). Screens reach it through
:attr:`Hosted.host` instead of probing ``self.app`` with ``getattr``/``hasattr``: a renamed member fails type
checking instead of silently doing nothing.

Textual's own API (``push_screen``, ``pop_screen``, ``run_worker``, ``screen``...) stays on ``self.app``.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App
    from textual.dom import DOMNode
    from textual.notifications import SeverityLevel
    from textual.worker import Worker

    from flytui.db.tunnel import TunnelManager
    from flytui.fly.client import FlyClient
    from flytui.fly.commandlog import CommandLog
    from flytui.fly.runner import FlyctlRunner
    from flytui.ui.config import Config
    from flytui.ui.failures import FailureLog
    from flytui.ui.modals.confirm import ConfirmRequest

R = TypeVar("R")


class AppSeams(Protocol):
    """The app as screens see it: the flyctl client, the config, confirmation, operations, notifications."""

    # --- what the console works on ----------------------------------------------------------------
    client: FlyClient
    #: the flyctl runner (tunnels, migrations, the shell); None only in a host without flyctl children
    runner: FlyctlRunner | None
    config: Config
    project_dir: Path | None
    org_filter: str | None
    #: the DATABASE_URL flytui knows (memory only), offered by the doctor and the migrations screen
    database_url: str | None
    command_log: CommandLog
    failures: FailureLog
    #: set once the first pane load ended; the header facts and the footer wait for it
    first_data: asyncio.Event

    @property
    def current_app(self) -> str | None: ...

    @current_app.setter
    def current_app(self, value: str | None) -> None: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def tunnels(self) -> TunnelManager | None: ...

    # --- errors, confirmation, read-only -------------------------------------------------------
    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None: ...

    def report_error(self, exc: BaseException | None, action: str, *, repeat_key: str | None = None) -> bool: ...

    def confirm(self, request: ConfirmRequest) -> Awaitable[bool]: ...

    def guard_mutation(self, name: str) -> bool: ...

    # --- operations in progress (the status line's spinner) -------------------------------------
    def begin_op(self, label: str) -> int: ...

    def end_op(self, op_id: int) -> None: ...

    def flyctl_program(self) -> str: ...

    def flyctl_argv(self, *args: str) -> list[str]: ...

    # --- commands and views --------------------------------------------------------------------
    def run_command_id(self, command_id: str, args: list[str] | None = None) -> None: ...

    def execute_line(self, line: str) -> None: ...

    def show_view(self, name: str, remember: bool = True) -> None: ...

    def known_apps(self) -> list[str]: ...

    def update_header(self) -> None: ...

    def action_refresh_view(self) -> None: ...

    def load_header(self) -> Any: ...

    def run_in_terminal(self, *args: str, title: str) -> int | None: ...

    async def close_tunnels(self) -> None: ...

    # --- first data --------------------------------------------------------------------------------
    def take_prefetch(self, kind: str, token: Any) -> asyncio.Future[Any] | None: ...

    def ready_prefetch(self, kind: str, token: Any) -> Any: ...

    def data_shown(self) -> None: ...


class _Node(Protocol):
    @property
    def app(self) -> App[Any]: ...


class Hosted:
    """Mixin for screens and widgets: :attr:`host` is ``self.app`` typed as :class:`AppSeams`."""

    @property
    def host(self: _Node) -> AppSeams:
        # every app that mounts flytui's screens implements AppSeams: FlytuiApp, and the test hosts
        # (both checked statically); Textual types `app` as App[object]
        return cast("AppSeams", self.app)


def run_async(node: DOMNode, work: Callable[[], Coroutine[Any, Any, R]], *, name: str = "",
              group: str = "default", exclusive: bool = False, exit_on_error: bool = True) -> Worker[R]:
    """``node.run_worker(work, ...)`` for an async callable, typed.

    Textual types ``work`` as ``Callable[[], Coroutine[None, None, R]] | Callable[[], R] | Awaitable[R]``: an
    async callable matches the first two with different ``R``s and mypy settles on ``Never``.
    """
    runner = cast("Callable[..., Worker[R]]", node.run_worker)
    return runner(work, name=name, group=group, exclusive=exclusive, exit_on_error=exit_on_error)
