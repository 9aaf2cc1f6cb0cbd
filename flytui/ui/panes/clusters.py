"""MPG clusters pane: Fly Managed Postgres clusters per org (``fly mpg list --org ORG --json``) with status, region,
plan, version and attached apps; detail (``mpg status`` + databases + users), ``fly mpg proxy`` into the tunnels view,
attach/detach to the current app, destroy behind the typed-name confirm. Shaped like the volumes pane."""
from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual.widgets import Label

from flytui.ui import commands
from flytui.ui.modals.cluster_detail import ClusterDetailScreen
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.base import Pane
from flytui.ui.seams import run_async
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


class ClustersPane(Pane):
    GROUP = commands.CLUSTERS
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
        client = self.host.client
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
        run_async(self, partial(self._proxy, c), name="cluster-proxy", group="cluster-proxy", exit_on_error=False)

    async def _proxy(self, c: Any) -> None:
        manager = self.host.tunnels
        if manager is None:
            self.app.notify("Tunnels are not available", severity="warning")
            return
        op = self.host.begin_op(f"fly mpg proxy {c.id}")
        try:
            tunnel = await manager.acquire_mpg(c.id)
        finally:
            self.host.end_op(op)
        if c.id in self.held:
            manager.release(tunnel)
        else:
            self.held[c.id] = tunnel
        self.app.notify(f"127.0.0.1:{tunnel.local_port} → {c.name} ({c.id}):5432\n"
                        f"psql -h 127.0.0.1 -p {tunnel.local_port} -U fly-user fly-db   (P: tunnels)",
                        title="MPG tunnel up", timeout=10, markup=False)

    def _app_or_warn(self) -> str | None:
        app = self.host.current_app
        if not app:
            self.app.notify("No current app: press A to choose the app first", severity="warning")
        return app

    def action_attach(self) -> None:
        self._attach_or_detach(attach=True)

    def action_detach(self) -> None:
        self._attach_or_detach(attach=False)

    def _attach_or_detach(self, attach: bool) -> None:
        """``fly mpg attach|detach ID -a APP`` for the selected cluster and the current app, confirmed."""
        c, app = self._need_selection(), None
        if c is not None:
            app = self._app_or_warn()
        if c is None or not app:
            return
        client, verb = self.host.client, "attach" if attach else "detach"
        if attach:
            title = f"Attach MPG cluster {c.name} to {app}? It sets the DATABASE_URL secret of {app}."
            target = f"{c.name} ({c.id}) → {app}"
            done = (f"Attached {c.name} to {app}: DATABASE_URL is set (a deploy applies it to machines that do not "
                    "run yet).")  # attach's stdout holds the password: never shown
        else:
            title = f"Detach MPG cluster {c.name} from {app}? The DATABASE_URL secret stays set."
            target = f"{c.name} ({c.id}) ✕ {app}"
            done = (f"Detached {c.name} from {app}. DATABASE_URL is still set: unset it in the secrets view (3) if "
                    "the app should stop using it.")
        build = client.mpg_attach_command if attach else client.mpg_detach_command
        self.run_confirmed(lambda: ConfirmRequest(title, [target], commands=[build(c.id, app)],
                                                  confirm_label=verb.capitalize()),
                           f"mpg {verb} {c.id}", done, worker=f"cluster-{verb}", title=f"mpg {verb}")

    def action_destroy(self) -> None:
        c = self._need_selection()
        if c is None:
            return

        apps = f" Attached apps lose their database: {c.attached_text}." if c.attached_apps else ""

        async def close_tunnel() -> None:  # this pane's MPG tunnel to it goes first
            held = self.held.pop(c.id, None)
            manager = self.host.tunnels
            if held is not None and manager is not None:
                await held.close()
                manager.release(held)

        self.run_confirmed(lambda: ConfirmRequest(f"Destroy MPG cluster {c.name} ({c.id}) of org {c.org_slug}? All "
                                                  f"its data is permanently lost.{apps}", [f"{c.name} ({c.id})"],
                                                  commands=[self.host.client.mpg_destroy_command(c.id)],
                                                  typed_name=c.name, danger=True, confirm_label="Destroy"),
                           f"destroy cluster {c.id}", f"MPG cluster {c.name} ({c.id}) scheduled to be destroyed",
                           worker="cluster-destroy", before=close_tunnel)
