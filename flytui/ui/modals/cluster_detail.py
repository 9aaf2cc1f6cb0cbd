"""Details of one Fly Managed Postgres cluster: ``fly mpg status`` + databases + users, each section with its own
error (opened by the clusters pane's enter)."""
from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog


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
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.DETAIL])

    def __init__(self, cluster_id: str, title: str) -> None:
        super().__init__()
        self.cluster_id = cluster_id
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(Text(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="detail-scroll"):
                yield Static("loading…", id="cluster-detail-body", markup=False)
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("↑/↓", "scroll"), ("esc/q", "close")]

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
