"""App detail: status, machines, releases, IPs and URL, loaded concurrently in one worker."""
from __future__ import annotations

import asyncio
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog
from flytui.ui.widgets.fields import fmt_time, pick, text


def render_detail(name: str, app: Any, status: Any, releases: Any, ips: Any) -> str:
    lines = [f"App       {name}"]
    src = status if not isinstance(status, BaseException) else app
    lines.append(f"Status    {text(pick(src, 'status'))}   deployed: {'yes' if pick(src, 'deployed') else 'no'}")
    host = pick(src, "hostname", default=f"{name}.fly.dev")
    lines.append(f"URL       https://{host}")
    lines.append(f"Org       {text(pick(src, 'organization.slug'))}")
    machines = [] if isinstance(status, BaseException) else (pick(status, "machines", default=[]) or [])
    lines.append(f"\nMachines ({len(machines)})")
    for m in machines:
        lines.append(f"  {text(pick(m, 'id'))}  {text(pick(m, 'state')):<10} {text(pick(m, 'region'))}")
    lines.append("\nReleases")
    if isinstance(releases, BaseException):
        lines.append(f"  unavailable: {getattr(releases, 'message', releases)}")
    else:
        for r in list(releases or [])[:10]:
            lines.append(f"  v{text(pick(r, 'version'))}  {text(pick(r, 'status')):<10} "
                         f"{fmt_time(pick(r, 'created_at'))}  {text(pick(r, 'description'))}")
    lines.append("\nIP addresses")
    if isinstance(ips, BaseException) or ips is None:
        lines.append("  unavailable")
    else:
        for ip in ips:
            lines.append(f"  {text(pick(ip, 'type'))}  {text(pick(ip, 'address'))}  {text(pick(ip, 'region'))}")
    return "\n".join(lines)


class AppDetailScreen(Dialog[None]):
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.DETAIL])

    def __init__(self, name: str, app_model: Any = None) -> None:
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
        client = self.app.client

        async def safe(coro_fn, *args) -> Any:
            try:
                return await coro_fn(*args)
            except Exception as exc:  # noqa: BLE001 - each section shows its own error
                return exc

        ips_fn = getattr(client, "ips", None) or getattr(client, "ip_addresses", None)
        status, releases, ips = await asyncio.gather(
            safe(client.status, self.app_name), safe(client.releases, self.app_name),
            safe(ips_fn, self.app_name) if ips_fn else asyncio.sleep(0, None))
        self.query_one("#detail-body", Static).update(
            render_detail(self.app_name, self.app_model, status, releases, ips))

