"""MPG clusters pane: Fly Managed Postgres clusters per org (``fly mpg list --org ORG --json``) with status, region,
plan, version and attached apps; detail (``mpg status`` + databases + users), ``fly mpg proxy`` into the tunnels view,
attach/detach to the current app, destroy behind the typed-name confirm. Shaped like the volumes pane."""
from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from flytui.ui import commands
from flytui.ui.screens.confirm import ConfirmRequest
from flytui.ui.screens.dialog import Dialog
from flytui.ui.screens.pane import Pane
from flytui.ui.widgets.fields import text

STATUS_STYLES = {"ready": "green", "initializing": "cyan", "provisioning": "cyan", "creating": "cyan",
                 "error": "bold red", "deleting": "magenta", "deleted": "red"}


def cluster_row(c: Any) -> dict[str, Any]:
    return {
        "id": text(c.id),
        "name": text(c.name),
        "org": text(c.org_slug),
        "status": Text(c.status or "-", style=STATUS_STYLES.get(c.status, "")),
        "region": text(c.region),
        "plan": text(c.plan),
        "version": f"v{c.version}",
        "attached": c.attached_text,
    }


def render_cluster_detail(detail: Any, databases: Any, users: Any) -> str:
    """Plain text (shown with markup off). The password flyctl prints is never shown."""
    if isinstance(detail, BaseException):
        return f"mpg status failed: {getattr(detail, 'message', detail)}\n{getattr(detail, 'hint', '') or ''}".strip()
    c, cred = detail.cluster, detail.credentials
    fields = [("Cluster", f"{c.name} ({c.id})"),
              ("Status", f"{c.status}" + ("   (initializing: not reachable yet; fly mpg proxy/connect refuse until it "
                                          "is ready)" if c.status == "initializing" else "")),
              ("Org", c.org_slug), ("Region", c.region),
              ("Plan", f"{c.plan}   disk {c.disk_gb} GB   replicas {c.replicas}   MPG v{c.version}"),
              ("Direct IP", c.direct_ip or "-"), ("Attached", c.attached_text),
              ("Default", f"user {cred.user or '-'}   database {cred.dbname or '-'}   password "
                          + ("*** (flytui never shows it)" if cred.password else "-"))]
    lines = [f"{label:<11}{value}" for label, value in fields]  # two spaces after the longest label
    lines.append("\nDatabases")
    if isinstance(databases, BaseException):
        lines.append(f"  unavailable: {getattr(databases, 'message', databases)}")
    else:
        lines += [f"  {d.name}" for d in databases] or ["  (none)"]
    lines.append("\nUsers")
    if isinstance(users, BaseException):
        lines.append(f"  unavailable: {getattr(users, 'message', users)}")
    else:
        lines += [f"  {u.name:<24} {u.role}" for u in users] or ["  (none)"]
    return "\n".join(lines)


class ClusterDetailScreen(Dialog[None]):
    CSS_PATH = "confirm.tcss"
    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False)]

    def __init__(self, cluster_id: str, title: str) -> None:
        super().__init__()
        self.cluster_id = cluster_id
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(Text(self.title_text), id="confirm-title")
            with VerticalScroll(id="detail-scroll"):
                yield Static("loading…", id="cluster-detail-body", markup=False)
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("↑/↓", "scroll"), ("esc/q", "close")]

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="cluster-detail", exit_on_error=False)
    async def load(self) -> None:
        client = self.app.client

        async def safe(fn: Any, *args: Any) -> Any:
            try:
                return await fn(*args)
            except Exception as exc:  # noqa: BLE001 - each section shows its own error
                return exc

        detail, dbs, users = await asyncio.gather(safe(client.mpg_status, self.cluster_id),
                                                  safe(client.mpg_databases, self.cluster_id),
                                                  safe(client.mpg_users, self.cluster_id))
        self.query_one("#cluster-detail-body", Static).update(render_cluster_detail(detail, dbs, users))

    def action_close(self) -> None:
        self.dismiss(None)


class ClustersPane(Pane):
    GROUP = commands.CLUSTERS
    BINDINGS = commands.bindings([commands.CLUSTERS])
    TITLE = "MPG clusters"
    NEEDS_APP = False
    EMPTY = ("No Managed Postgres clusters in {where}. Create one with `fly mpg create --org ORG --region REGION` "
             "(or let `fly launch` create it).")
    COLUMNS = [("id", "ID"), ("name", "NAME"), ("org", "ORG"), ("status", "STATUS"), ("region", "REGION"),
               ("plan", "PLAN"), ("version", "MPG"), ("attached", "ATTACHED APPS")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clusters: dict[str, Any] = {}
        self.held: dict[str, Any] = {}  # MPG tunnels this pane opened (one reference each)

    def empty_text(self) -> str:
        org = self.token()
        return self.EMPTY.format(where=f"org {org}" if org else "any of your orgs")

    def title_text(self) -> str:
        org = self.token()
        return f"{self.TITLE} — org {org}" if org else f"{self.TITLE} — every org"

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        client = self.app.client
        orgs = [token] if token else [o.slug for o in await client.orgs()]
        found: dict[str, Any] = {}
        for org in orgs:  # one flyctl call per org (mpg list has no "every org")
            for c in await client.mpg_list(org):
                found[c.id] = c
        return {cid: cluster_row(c) for cid, c in found.items()}, found

    def after_load(self, extra: Any) -> None:
        self.clusters = dict(extra or {})
        self.query_one(".pane-title", Label).update(self.title_text() + f" — {len(self.clusters)}")

    def selected(self) -> Any:
        cid = self.table.selected_key
        return self.clusters.get(cid) if cid else None

    def _need_selection(self) -> Any:
        c = self.selected()
        if c is None:
            self.app.notify("No cluster selected", severity="warning")
        return c

    # --- actions ----------------------------------------------------------------------------------
    def action_detail(self) -> None:
        c = self._need_selection()
        if c is not None:
            self.app.push_screen(ClusterDetailScreen(c.id, f"MPG cluster {c.name} ({c.id})"))

    def action_proxy(self) -> None:
        c = self._need_selection()
        if c is None:
            return
        if c.status != "ready":
            self.app.notify(f"Cluster {c.name} is {c.status}: fly mpg proxy works once it is ready.",
                            severity="warning", markup=False)
            return
        self.run_worker(partial(self._proxy, c), name="cluster-proxy", group="cluster-proxy", exit_on_error=False)

    async def _proxy(self, c: Any) -> None:
        manager = getattr(self.app, "tunnels", None)
        if manager is None:
            self.app.notify("Tunnels are not available", severity="warning")
            return
        op = self.app.begin_op(f"fly mpg proxy {c.id}")
        try:
            tunnel = await manager.acquire_mpg(c.id)
        finally:
            self.app.end_op(op)
        if c.id in self.held:
            manager.release(tunnel)
        else:
            self.held[c.id] = tunnel
        self.app.notify(f"127.0.0.1:{tunnel.local_port} → {c.name} ({c.id}):5432\n"
                        f"psql -h 127.0.0.1 -p {tunnel.local_port} -U fly-user fly-db   (P: tunnels)",
                        title="MPG tunnel up", timeout=10, markup=False)

    def _app_or_warn(self) -> str | None:
        app = self.app.current_app
        if not app:
            self.app.notify("No current app: press A to choose the app first", severity="warning")
        return app

    def action_attach(self) -> None:
        c, app = self._need_selection(), None
        if c is not None:
            app = self._app_or_warn()
        if c is None or not app:
            return

        async def run() -> None:
            req = ConfirmRequest(f"Attach MPG cluster {c.name} to {app}? It sets the DATABASE_URL secret of {app}.",
                                 [f"{c.name} ({c.id}) → {app}"], [self.app.flyctl_argv("mpg", "attach", c.id, "-a", app)],
                                 confirm_label="Attach")
            if not await self.app.confirm(req):
                return
            op = self.app.begin_op(f"mpg attach {c.id}")
            try:
                await self.app.client.mpg_attach(c.id, app)  # its stdout holds the password: never shown
            finally:
                self.app.end_op(op)
            self.app.notify(f"Attached {c.name} to {app}: DATABASE_URL is set (a deploy applies it to machines "
                            "that do not run yet).", title="mpg attach", markup=False)
            self.reload()

        self.run_worker(run, name="cluster-attach", group="clusters-mutate", exit_on_error=False)

    def action_detach(self) -> None:
        c, app = self._need_selection(), None
        if c is not None:
            app = self._app_or_warn()
        if c is None or not app:
            return

        async def run() -> None:
            req = ConfirmRequest(f"Detach MPG cluster {c.name} from {app}? The DATABASE_URL secret stays set.",
                                 [f"{c.name} ({c.id}) ✕ {app}"], [self.app.flyctl_argv("mpg", "detach", c.id, "-a", app)],
                                 confirm_label="Detach")
            if not await self.app.confirm(req):
                return
            op = self.app.begin_op(f"mpg detach {c.id}")
            try:
                await self.app.client.mpg_detach(c.id, app)
            finally:
                self.app.end_op(op)
            self.app.notify(f"Detached {c.name} from {app}. DATABASE_URL is still set: unset it in the secrets "
                            "view (3) if the app should stop using it.", title="mpg detach", markup=False)
            self.reload()

        self.run_worker(run, name="cluster-detach", group="clusters-mutate", exit_on_error=False)

    def action_destroy(self) -> None:
        c = self._need_selection()
        if c is None:
            return

        async def run() -> None:
            apps = f" Attached apps lose their database: {c.attached_text}." if c.attached_apps else ""
            req = ConfirmRequest(f"Destroy MPG cluster {c.name} ({c.id}) of org {c.org_slug}? All its data is "
                                 f"permanently lost.{apps}", [f"{c.name} ({c.id})"],
                                 [self.app.flyctl_argv("mpg", "destroy", c.id, "--yes")], typed_name=c.name,
                                 danger=True, confirm_label="Destroy")
            if not await self.app.confirm(req):
                return
            held = self.held.pop(c.id, None)
            manager = getattr(self.app, "tunnels", None)
            if held is not None and manager is not None:
                await held.close()
                manager.release(held)
            op = self.app.begin_op(f"destroy cluster {c.id}")
            try:
                await self.app.client.mpg_destroy(c.id)
            finally:
                self.app.end_op(op)
            self.app.notify(f"MPG cluster {c.name} ({c.id}) scheduled to be destroyed", markup=False)
            self.reload()

        self.run_worker(run, name="cluster-destroy", group="clusters-mutate", exit_on_error=False)
