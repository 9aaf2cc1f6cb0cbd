"""What the app opens: pickers (switch app / org), the full screens (logs, deploy, migrations, doctor, fly.toml),
the scale dialog, the releases view and the interactive shell.

A mixin of :class:`flytui.ui.app.FlytuiApp`. Screens are imported when first opened (startup stays fast); an
ImportError there is a bug and surfaces as one, never as "not available".
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import App

from flytui.fly.errors import FlyError
from flytui.ui import commands


if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.client import FlyClient
    from flytui.fly.runner import FlyctlRunner
    from flytui.ui.screens.main import MainScreen
    from flytui.ui.seams import AppSeams


class OpenersMixin(App[None]):
    """Needs the app: ``current_app``, ``project_dir``, ``client``, ``runner``, ``main``, ``known_apps`` …"""

    current_app: Any  # FlytuiApp's reactive (str | None)
    project_dir: Path | None
    client: FlyClient
    runner: FlyctlRunner | None

    if TYPE_CHECKING:  # FlytuiApp's own members (flytui/ui/app.py)
        @property
        def main(self) -> MainScreen: ...

        def known_apps(self) -> list[str]: ...

        def select_app(self, name: str) -> None: ...

        def set_org(self, org: str | None) -> None: ...

        def show_view(self, name: str, remember: bool = True) -> None: ...

        def action_refresh_view(self) -> None: ...

        def flyctl_argv(self, *args: str) -> list[str]: ...

        def report_error(self, exc: BaseException | None, action: str, *, repeat_key: str | None = None) -> bool: ...

    def action_switch_app(self) -> None:
        from flytui.ui.modals.picker import PickerScreen

        names = self.known_apps()
        if not names:
            self.notify("No apps loaded yet: open the apps view (1) first", severity="warning")
            return
        self.push_screen(PickerScreen("Switch app", [(n, n) for n in names]),
                         lambda v: self.select_app(v) if v else None)

    @work(exclusive=True, group="orgs", exit_on_error=False)
    async def action_switch_org(self) -> None:
        from flytui.ui.modals.picker import PickerScreen

        try:
            orgs = await self.client.orgs()
        except Exception as exc:  # noqa: BLE001 - whatever failed is shown (FlyError: flyctl's text and hint)
            self.report_error(exc, "list organizations")
            return
        options = [("All organizations", "")] + [
            (f"{o.name or o.slug} ({o.slug})", o.slug) for o in orgs]
        self.push_screen(PickerScreen("Switch organization", options),
                         lambda v: self.set_org(v) if v is not None else None)

    def action_open_logs(self, one_machine: bool = False) -> None:
        """Logs of the current app; ``one_machine``: of the machine selected in the machines pane only."""
        if not self.current_app:
            self.notify("Select an app first (A or :machines APP)", severity="warning")
            return
        machine = None
        if one_machine:
            pane = self.main.pane
            machine = pane.table.selected_key if pane.GROUP == commands.MACHINES else None
            if not machine:
                self.notify("Select a machine in the machines view (2) first", severity="warning")
                return
        from flytui.ui.screens.logs import LogsScreen

        self.push_screen(LogsScreen(self.current_app, machine))

    def action_open_releases(self, app_name: str | None = None) -> None:
        """The one releases view (the main screen's releases pane) of ``app_name`` or the current app.

        Screens above the main screen are closed first (e.g. the deploy screen's ``v`` after a deploy).
        """
        if self.screen is not self.main and getattr(self.screen, "running", False):
            self.notify("Something is still running on this screen: wait for it or cancel it first",
                        severity="warning")
            return
        while len(self.screen_stack) > 1 and self.screen is not self.main:
            self.pop_screen()
        if app_name:
            self.current_app = app_name
        self.show_view("releases")

    def action_open_deploy(self) -> None:
        if not self.current_app or not self.project_dir:
            self.notify("Deploy needs a project folder with fly.toml (run flytui from it)", severity="warning")
            return
        from flytui.ui.screens.deploy import DeployScreen

        self.push_screen(DeployScreen(self.current_app, self.project_dir))

    def action_open_migrations(self) -> None:
        from flytui.ui.screens.migrations import MigrationsScreen

        self.push_screen(MigrationsScreen(self.current_app, self.project_dir))

    def action_open_doctor(self) -> None:
        from flytui.ui.screens.doctor import DoctorScreen

        self.push_screen(DoctorScreen(self.current_app, self.project_dir))

    def action_open_flytoml(self) -> None:
        if not self.project_dir:
            self.notify("fly.toml needs a project folder (run flytui in the folder with fly.toml)", severity="warning")
            return
        from flytui.ui.screens.flytoml import FlyTomlScreen

        self.push_screen(FlyTomlScreen(self.project_dir))

    def action_open_scale(self) -> None:
        if not self.current_app:
            self.notify("Select an app first (A or :scale APP)", severity="warning")
            return
        from flytui.ui.modals.scale import ScaleScreen

        self.push_screen(ScaleScreen(self.current_app), lambda changed: self.action_refresh_view() if changed else None)

    def action_open_shell(self) -> None:
        from flytui.ui.shell import open_shell

        pane = self.main.pane
        open_shell(cast("AppSeams", self), pane.table.selected_key if pane.GROUP == commands.MACHINES else None)

    def run_in_terminal(self, *args: str, title: str) -> int | None:
        """Suspend the UI, run ``flyctl ARGS`` on the real terminal through the runner, resume.

        Returns flyctl's exit code, or None when it could not run here (a terminal that cannot be handed
        over: the command is shown instead; flyctl missing: reported).
        """
        import shlex

        from textual.app import SuspendNotSupported

        shown = shlex.join(self.flyctl_argv(*args))
        if self.runner is None:  # a client over another runner: nothing to hand the terminal to
            self.notify(f"Run it yourself, then press r:\n{shown}", title=title, severity="warning", timeout=15)
            return None
        try:
            with self.suspend():
                return self.runner.run_interactive(*args)
        except SuspendNotSupported:
            self.notify(f"This terminal cannot be handed over. Run it yourself, then press r:\n{shown}",
                        title=title, severity="warning", timeout=15)
        except (FlyError, OSError) as exc:
            self.report_error(exc, title)
        return None
