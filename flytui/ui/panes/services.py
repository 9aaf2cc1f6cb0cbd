"""Services & IPs pane (issue 19): what ``fly services list`` and ``fly ips list`` show, in one table, with each
service's checks and a warning where the service can go fully down.

``fly services list`` has no JSON output (internal/command/services/list.go @ ad0172f): like flyctl, the services
are grouped from the machines' ``config.services`` (``fly machine list --json``; flytui/fly/ops.py). IPs come from
``fly ips list --json`` (fly-go ``IPAddress``), described as flyctl's ips/render.go does.
"""
from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text

from flytui.fly.errors import FlyError
from flytui.fly.ops import Service, services_from_machines
from flytui.ui import commands
from flytui.ui.panes.app_ops import DASHBOARD_URL, open_in_browser
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import fmt_time

#: internal/command/ips/render.go @ ad0172f
IP_TYPES = {"v4": ("v4", "public ingress (dedicated, $2/mo)"), "shared_v4": ("v4", "public ingress (shared)"),
            "v6": ("v6", "public ingress (dedicated)"), "private_v6": ("v6", "private ingress"),
            "egress_v4": ("v4", "egress"), "egress_v6": ("v6", "egress")}


def service_note(svc: Service) -> Text:
    """What a user must know about the service's availability."""
    if svc.machines and svc.started == 0 and not svc.may_scale_to_zero:
        return Text("no started machine", style="bold red")
    if svc.min_machines_running and svc.started < svc.min_machines_running:
        return Text(f"{svc.started} started < min {svc.min_machines_running}", style="bold red")
    if svc.may_scale_to_zero:
        return Text(f"may stop every machine (min_machines_running = 0, auto_stop {svc.auto_stop})",
                    style="yellow")
    return Text("-", style="grey62")


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Strings from flyctl shown as text, never as Rich markup (a DataTable parses ``str`` cells as markup)."""
    return {k: Text(v) if isinstance(v, str) else v for k, v in row.items()}


def service_row(svc: Service) -> dict[str, Any]:
    failing = [c for c in svc.checks if c.status != "passing"]
    checks = Text(svc.checks_text or "-", style="bold red" if failing else ("green" if svc.checks else "grey62"))
    return _plain({
        "kind": Text(f"service {svc.protocol}", style="bold"),
        "what": svc.ports,
        "detail": f"{svc.handlers} force https {svc.force_https.lower()}",
        "process": ",".join(p for p in svc.process_groups if p) or "-",
        "regions": ",".join(svc.regions) or "-",
        "machines": f"{svc.started}/{svc.machines} started",
        "checks": checks,
        "min": "-" if svc.min_machines_running is None else str(svc.min_machines_running),
        "note": service_note(svc),
    })


def ip_row(ip: Any) -> dict[str, Any]:
    version, kind = IP_TYPES.get(ip.type, (ip.type, "private" if ip.address.startswith("fdaa") else "public"))
    return _plain({"kind": Text(f"ip {version}", style="cyan"), "what": ip.address, "detail": kind, "process": "-",
                   "regions": ip.region or "-", "machines": "", "checks": "", "min": "",
                   "note": Text(f"allocated {fmt_time(ip.created_at)}" if ip.created_at else "-", style="grey62")})


class ServicesPane(Pane):
    GROUP = commands.SERVICES
    TITLE = "Services & IPs"
    EMPTY = ("{token} has no services and no IP addresses. Add [[services]] or [http_service] to fly.toml and deploy "
             "(d); `fly ips allocate-v4 --shared -a {token}` gives it a public address.")
    COLUMNS = [("kind", "KIND"), ("what", "PORTS / ADDRESS"), ("detail", "HANDLERS / TYPE"), ("process", "PROCESS"),
               ("regions", "REGIONS"), ("machines", "MACHINES"), ("checks", "CHECKS"), ("min", "MIN RUNNING"),
               ("note", "NOTE")]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.services: list[Service] = []

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        machines, ips = await asyncio.gather(self.host.client.machines(token), self.host.client.ips(token),
                                             return_exceptions=True)
        if isinstance(machines, BaseException):
            raise machines
        rows: dict[str, dict[str, Any]] = {}
        services = services_from_machines(machines)
        for svc in services:
            rows[f"service {svc.key}"] = service_row(svc)
        if isinstance(ips, FlyError):  # the services are still worth showing; say what is missing
            self.host.report_error(ips, f"ips list {token}")
        elif isinstance(ips, BaseException):
            raise ips
        else:
            for ip in ips:
                rows[f"ip {ip.address}"] = ip_row(ip)
        return rows, services

    def after_load(self, extra: Any) -> None:
        self.services = extra or []

    def action_open_url(self) -> None:
        app = self.token()
        if app:
            open_in_browser(self.app, f"https://{app}.fly.dev", "App URL")

    def action_open_dashboard(self) -> None:
        app = self.token()
        if app:
            open_in_browser(self.app, DASHBOARD_URL.format(app=app), "Fly dashboard")
