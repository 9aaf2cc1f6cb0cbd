"""Machine detail: full config JSON, events and checks (fresh copy fetched in a worker)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog
from flytui.ui.widgets.fields import fmt_time, text
from flytui.fly.models import Machine


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj if isinstance(obj, (str, int, float, bool, type(None))) else str(obj)


def render_machine(m: Machine) -> str:
    out = [f"{text(m.id)}  {text(m.name)}  state={text(m.state)}  region={text(m.region)}", "", "Checks"]
    for c in m.checks:
        out.append(f"  {text(c.name)}: {text(c.status)}  {text(c.output)}")
    out += ["", "Events"]
    for e in m.events[:20]:
        out.append(f"  {fmt_time(e.timestamp)}  {text(e.type)} -> {text(e.status)} ({text(e.source)})")
    out += ["", "Config"]
    out.append(json.dumps(_jsonable(m.config), indent=2, sort_keys=True))
    return "\n".join(out)


class MachineDetailScreen(Dialog[None]):
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.DETAIL])

    def __init__(self, app_name: str, machine_id: str, machine: Machine | None = None) -> None:
        super().__init__()
        self.app_name, self.machine_id, self.machine = app_name, machine_id, machine

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(f"Machine {self.machine_id} ({self.app_name})", classes="dialog-title", markup=False)
            with VerticalScroll(classes="detail-scroll"):
                yield Static(render_machine(self.machine) if self.machine is not None else "loading…",
                             id="detail-body", markup=False)
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("↑/↓", "scroll"), ("esc/q", "close")]

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="machine-detail", exit_on_error=False)
    async def load(self) -> None:
        try:
            m = await self.host.client.machine(self.app_name, self.machine_id)
        except Exception as exc:  # noqa: BLE001 - whatever failed is shown (FlyError: flyctl's text and hint)
            self.host.report_error(exc, "machine status")
            return
        self.query_one("#detail-body", Static).update(render_machine(m))

