"""Details of one Fly Managed Postgres cluster: ``fly mpg status`` + databases + users, each section with its own
error (opened by the clusters pane's enter)."""
from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from flytui.ui import commands
from flytui.ui.seams import Hosted


def render_cluster_detail(detail: Any, databases: Any, users: Any) -> str:
    """Plain text (shown with markup off). The password flyctl prints is never shown."""
    if isinstance(detail, BaseException):
        return f"mpg status failed: {getattr(detail, 'message', detail)}\n{getattr(detail, 'hint', '') or ''}".strip()
    c, cred = detail.cluster, detail.credentials
    lines = [f"Cluster   {c.name} ({c.id})", f"Status    {c.status}"
             + ("   (initializing: not reachable yet; fly mpg proxy/connect refuse until it is ready)"
                if c.status == "initializing" else ""),
             f"Org       {c.org_slug}", f"Region    {c.region}", f"Plan      {c.plan}   disk {c.disk_gb} GB   "
             f"replicas {c.replicas}   MPG v{c.version}", f"Direct IP {c.direct_ip or '-'}",
             f"Attached  {c.attached_text}",
             f"Default   user {cred.user or '-'}   database {cred.dbname or '-'}   password "
             + ("*** (flytui never shows it)" if cred.password else "-")]
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


class ClusterDetailScreen(ModalScreen[None], Hosted):
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.DETAIL])

    def __init__(self, cluster_id: str, title: str) -> None:
        super().__init__()
        self.cluster_id = cluster_id
        self.title_text = title

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box"):
            yield Label(Text(self.title_text), classes="dialog-title")
            yield Static("loading…", id="cluster-detail-body", markup=False)

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="cluster-detail", exit_on_error=False)
    async def load(self) -> None:
        client = self.host.client

        async def safe(fn: Any, *args: Any) -> Any:
            try:
                return await fn(*args)
            except Exception as exc:  # noqa: BLE001 - each section shows its own error
                return exc

        detail, dbs, users = await asyncio.gather(safe(client.mpg_status, self.cluster_id),
                                                  safe(client.mpg_databases, self.cluster_id),
                                                  safe(client.mpg_users, self.cluster_id))
        self.query_one("#cluster-detail-body", Static).update(render_cluster_detail(detail, dbs, users))

    def action_cancel(self) -> None:
        self.dismiss(None)
