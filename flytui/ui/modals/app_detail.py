"""App detail: status, machines, releases, IPs and URL, loaded concurrently in one worker."""
from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog
from flytui.ui.widgets.fields import fmt_time, text
from flytui.fly.models import App, AppStatus, IPAddress, Release


def render_detail(name: str, app: App | None, status: AppStatus | BaseException,
                  releases: list[Release] | BaseException, ips: list[IPAddress] | BaseException) -> str:
    lines = [f"App       {name}"]
    src: App | AppStatus | None = status if not isinstance(status, BaseException) else app
    if src is not None:
        lines.append(f"Status    {text(src.status)}   deployed: {'yes' if src.deployed else 'no'}")
    lines.append(f"URL       https://{(src.hostname if src is not None else '') or f'{name}.fly.dev'}")
    org = src.organization if src is not None else None
    lines.append(f"Org       {text(org.slug if org is not None else None)}")
    machines = () if isinstance(status, BaseException) else status.machines
    lines.append(f"\nMachines ({len(machines)})")
    for m in machines:
        lines.append(f"  {text(m.id)}  {text(m.state):<10} {text(m.region)}")
    lines.append("\nReleases")
    if isinstance(releases, BaseException):
        lines.append(f"  unavailable: {getattr(releases, 'message', releases)}")
    else:
        for r in releases[:10]:
            lines.append(f"  v{text(r.version)}  {text(r.status):<10} {fmt_time(r.created_at)}  {text(r.description)}")
    lines.append("\nIP addresses")
    if isinstance(ips, BaseException):
        lines.append("  unavailable")
    else:
        for ip in ips:
            lines.append(f"  {text(ip.type)}  {text(ip.address)}  {text(ip.region)}")
    return "\n".join(lines)


class AppDetailScreen(Dialog[None]):
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.DETAIL])

    def __init__(self, name: str, app_model: App | None = None) -> None:
        super().__init__()
        self.app_name = name
        self.app_model = app_model

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(f"{self.app_name}", classes="dialog-title", markup=False)
            with VerticalScroll(classes="detail-scroll"):
                yield Static("loading…", id="detail-body", markup=False)
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("↑/↓", "scroll"), ("esc/q", "close")]

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="app-detail", exit_on_error=False)
    async def load(self) -> None:
        client = self.host.client

        # each section shows its own error (flyctl's message), the others still show
        status, releases, ips = await asyncio.gather(
            client.status(self.app_name), client.releases(self.app_name), client.ips(self.app_name),
            return_exceptions=True)
        self.query_one("#detail-body", Static).update(
            render_detail(self.app_name, self.app_model, status, releases, ips))

