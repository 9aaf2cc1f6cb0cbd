"""Apps pane: every app of the current org, with its status refreshed (flytui/fly/statuses.py)."""
from __future__ import annotations

from typing import Any

from rich.text import Text

from flytui.fly.statuses import gather_statuses
from flytui.ui import commands
from flytui.ui.panes.app_ops import AppOpsMixin
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.base import Pane
from flytui.ui.seams import run_async
from flytui.fly.models import App, AppStatus
from flytui.ui.widgets.fields import fmt_time, state_cell, text


def app_row(app: App, status: AppStatus | None = None) -> dict[str, Any]:
    """Table cells for one app (``status``: optional ``AppStatus`` with fresher fields)."""
    src: App | AppStatus = status or app
    ver = status.version if status is not None else 0
    rel_text = "-"
    if app.current_release_status or app.current_release_created_at is not None:  # apps list: CurrentRelease
        rel_text = " ".join(x for x in (f"v{ver}" if ver else "-", text(app.current_release_status),
                                        fmt_time(app.current_release_created_at)) if x != "-") or "-"
    elif ver:
        rel_text = f"v{ver}"
    return {
        "name": text(app.name),
        "org": text(app.organization.slug if app.organization is not None else None),
        "status": state_cell(src.status or app.status),
        "deployed": Text("yes", style="green") if src.deployed else Text("no", style="grey62"),
        "hostname": text(src.hostname or app.hostname),
        "release": rel_text,
    }


class AppsPane(AppOpsMixin, Pane):
    GROUP = commands.APPS
    TITLE = "Apps"
    NEEDS_APP = False
    EMPTY = ("No apps found{where}. Press c to create one, O to switch organization, "
             "or run `fly launch` in your project folder.")
    COLUMNS = [("name", "NAME"), ("org", "ORG"), ("status", "STATUS"), ("deployed", "DEPLOYED"),
               ("hostname", "HOSTNAME"), ("release", "LATEST RELEASE")]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.apps: dict[str, App] = {}

    def empty_text(self) -> str:
        org = self.host.org_filter
        return self.EMPTY.format(where=f" in org {org}" if org else "")

    def title_text(self) -> str:
        org = self.host.org_filter
        return f"Apps — org {org}" if org else "Apps — all orgs"

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        early = self.host.take_prefetch("apps", token)  # started at launch
        if early is not None:
            apps = await early
        else:
            apps = await self.host.client.apps(org=token) if token else await self.host.client.apps()
        by_name: dict[str, App] = {a.name: a for a in apps}
        orgs = {name: a.org_slug for name, a in by_name.items() if a.org_slug}
        # one Machines API request per organization when the fast path is on, else one read per app
        statuses = await gather_statuses(self.host.client, list(by_name), orgs=orgs)
        rows = {}
        for name, app in by_name.items():
            st = statuses.get(name)
            rows[name] = app_row(app, None if st is None or isinstance(st, Exception) else st)
        return rows, by_name

    def after_load(self, extra: Any) -> None:
        self.apps = extra or {}
        current = self.host.current_app
        if current in self.table.rows_data and self.table.selected_key != current and self.loads == 1:
            self.table.move_cursor(row=self.table.get_row_index(current), animate=False)

    def selected(self) -> str | None:
        return self.table.selected_key

    # --- actions (all reached through app.command(id)) ------------------------------------------
    def action_open_selected(self) -> None:
        name = self.selected()
        if name:
            self.host.current_app = name
            self.host.show_view("machines")

    def action_detail(self) -> None:
        name = self.selected()
        if name:
            from flytui.ui.modals.app_detail import AppDetailScreen

            self.app.push_screen(AppDetailScreen(name, self.apps.get(name)))

    def action_create(self) -> None:
        from flytui.ui.modals.create_app import CreateAppScreen

        def done(result: tuple[str, str] | None) -> None:
            if result:
                self._create(*result)

        self.app.push_screen(CreateAppScreen(default_org=self.host.org_filter or self.host.config.default_org), done)

    def _create(self, name: str, org: str) -> None:
        async def run() -> None:
            op = self.host.begin_op(f"create {name}")
            try:
                await self.host.client.create_app(name, org)
            finally:
                self.host.end_op(op)
            self.app.notify(f"New app created: {name}")
            self.reload()

        run_async(self, run, name="create-app", group="apps-mutate", exit_on_error=False)

    def action_destroy(self) -> None:
        name = self.selected()
        if not name:
            return

        def forget() -> None:
            if self.host.current_app == name:
                self.host.current_app = None

        self.run_confirmed(lambda: ConfirmRequest(f"Destroy app {name}?", [name],
                                                  commands=[self.host.client.destroy_app_command(name)],
                                                  typed_name=name, danger=True, confirm_label="Destroy"),
                           f"destroy {name}", f"Destroyed app {name}", worker="destroy-app", after=forget)

    def action_open_url(self) -> None:
        name = self.selected()
        if not name:
            return
        known = self.apps.get(name)
        host = (known.hostname if known is not None else "") or f"{name}.fly.dev"
        url = f"https://{host}"

        def open_browser() -> None:
            import webbrowser

            webbrowser.open(url)

        self.run_worker(open_browser, name="open-url", group="open-url", thread=True, exit_on_error=False)
        self.app.notify(f"Opening {url}")
