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
from flytui.ui.widgets.fields import fmt_time, pick, text


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj if isinstance(obj, (str, int, float, bool, type(None))) else str(obj)


def render_machine(m: Any) -> str:
    out = [f"{text(pick(m, 'id'))}  {text(pick(m, 'name'))}  state={text(pick(m, 'state'))}  "
           f"region={text(pick(m, 'region'))}", "", "Checks"]
    for c in pick(m, "checks", default=[]) or []:
        out.append(f"  {text(pick(c, 'name'))}: {text(pick(c, 'status'))}  {text(pick(c, 'output'))}")
    out += ["", "Events"]
    for e in (pick(m, "events", default=[]) or [])[:20]:
        out.append(f"  {fmt_time(pick(e, 'timestamp'))}  {text(pick(e, 'type'))} -> {text(pick(e, 'status'))} "
                   f"({text(pick(e, 'source'))})")
    out += ["", "Config"]
    cfg = pick(m, "config", default={})
    out.append(json.dumps(_jsonable(cfg), indent=2, sort_keys=True))
    return "\n".join(out)


class MachineDetailScreen(Dialog[None]):
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.DETAIL])

    def __init__(self, app_name: str, machine_id: str, machine: Any = None) -> None:
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
            m = await self.app.client.machine(self.app_name, self.machine_id)
        except Exception as exc:  # noqa: BLE001
            self.app.report_error(exc, "machine status")
            return
        self.query_one("#detail-body", Static).update(render_machine(m))

