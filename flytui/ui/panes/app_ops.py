"""Apps pane operations the other Fly consoles have (issue 19): ``fly apps restart`` (rolling, confirmed) and the
app's Fly dashboard page in the browser. flyctl @ ad0172f: internal/command/apps/restart.go, apps/open.go."""
from __future__ import annotations

from typing import Any

from flytui.fly.errors import FlyError
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.base import Pane
from flytui.ui.seams import run_async

DASHBOARD_URL = "https://fly.io/apps/{app}"


def open_in_browser(app: Any, url: str, what: str) -> None:
    """Open ``url`` with :mod:`webbrowser` in a thread; say so, and say when no browser could be started."""

    def run() -> None:
        import webbrowser

        try:
            ok = webbrowser.open(url)
        except Exception:  # noqa: BLE001 - webbrowser raises webbrowser.Error and OS errors alike
            ok = False
        if not ok:
            app.call_from_thread(app.notify, f"No browser could be started here. Open it yourself:\n{url}",
                                 title=what, severity="warning", timeout=15, markup=False)

    app.run_worker(run, name="open-url", group="open-url", thread=True, exit_on_error=False)
    app.notify(f"Opening {url}", title=what, markup=False)


class AppOpsMixin(Pane):
    """Mixed into :class:`flytui.ui.panes.apps.AppsPane`."""

    def selected(self) -> str | None:
        raise NotImplementedError  # AppsPane.selected

    def action_open_dashboard(self) -> None:
        name = self.selected()
        if name:
            open_in_browser(self.app, DASHBOARD_URL.format(app=name), "Fly dashboard")

    def action_restart(self) -> None:
        name = self.selected()
        if not name:
            return

        async def run() -> None:
            command = self.host.client.apps_restart_command(name)
            req = ConfirmRequest(f"Restart app {name}? Every started machine restarts, one after the other "
                                 "(stopped machines stay stopped).", [name], commands=[command],
                                 confirm_label="Restart")
            if not await self.host.confirm(req):
                return
            op = self.host.begin_op(f"restart {name}")
            try:
                run = await self.host.client.execute(command)
            except FlyError as exc:
                self.host.report_error(exc, f"restart {name}")
                return
            finally:
                self.host.end_op(op)
            restarted = run.stdout.count("restarted successfully")
            self.app.notify(f"Restarted {restarted} machine(s) of {name}" if restarted else
                            f"{name}: no started machine to restart (flyctl restarts started machines only)",
                            title="apps restart", markup=False)
            self.reload()

        run_async(self, run, name="restart-app", group="apps-mutate", exit_on_error=False)
