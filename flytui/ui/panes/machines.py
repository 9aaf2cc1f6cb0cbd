"""Machines pane: machines of the current app; actions with confirm, ``--force`` offer, bulk marks and
state following (the row shows the transition until the machine settles)."""
from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, get_args

from rich.text import Text

from flytui.fly.command import FlyCommand
from flytui.fly.client import MachineAction
from flytui.fly.errors import FlyError, MachineNeedsForce
from flytui.fly.models import Machine
from flytui.fly.ops import MachineLease
from flytui.ui import commands
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.machine_ops import MachineOpsMixin, flags_cell
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import SETTLED, fmt_time, state_cell, text
from flytui.ui.seams import run_async

TRANSITION = {"start": "starting", "stop": "stopping", "restart": "restarting", "suspend": "suspending",
              "destroy": "destroying"}
TARGET_STATE = {"start": "started", "stop": "stopped", "restart": "started", "suspend": "suspended",
                "destroy": "destroyed"}
HEALTHY = {"started"}


def checks_cell(m: Machine) -> Text:
    """flyctl's CHECKS column (``passing/total``, fly-go's synthetic compat checks left out)."""
    if not m.checks_total:
        return Text("-")
    return Text(m.checks_text, style="green" if m.checks_passing == m.checks_total else "bold red")


def machine_row(m: Machine) -> dict[str, Any]:
    return {
        "id": text(m.id),
        "name": text(m.name),
        "state": state_cell(m.state),
        "region": text(m.region),
        "image": text(m.image),  # repository:tag, else config.image (Machine.image)
        "checks": checks_cell(m),
        "process": text(m.process_group),
        "size": text(m.size),  # flyctl's SIZE column, e.g. shared-cpu-1x:256MB
        "updated": fmt_time(m.updated_at),
        "flags": flags_cell(m),  # cordoned; leases are merged in by MachineOpsMixin.apply_flags
    }


def is_fault(row: dict[str, Any]) -> bool:
    """Not started, or with a failing check."""
    state = row["state"].plain if isinstance(row["state"], Text) else str(row["state"])
    checks = row["checks"].plain if isinstance(row["checks"], Text) else str(row["checks"])
    if state not in HEALTHY:
        return True
    if "/" in checks:
        ok, total = checks.split("/", 1)
        return ok != total
    return False


#: at most this many machine actions (and their follow-up polls) run at once in a bulk action
BULK_CONCURRENCY = 6



def as_machine_action(name: str) -> MachineAction:
    """A registry action name as the client's ``MachineAction`` (ValueError for anything else)."""
    for action in get_args(MachineAction):
        if action == name:
            return action  # get_args() is untyped (Any): the Literal's own values
    raise ValueError(f"unknown machine action {name!r}")

class MachinesPane(MachineOpsMixin, Pane):
    GROUP = commands.MACHINES
    TITLE = "Machines"
    MARKABLE = True
    EMPTY = ("No machines in {token}. Deploy the project (d, from the folder with fly.toml) to create them, "
             "or pick another app (A).")
    # (key, label, priority): on a narrow terminal the image shrinks first, then updated, size, process ...
    COLUMNS = [("id", "ID", 100), ("name", "NAME", 60), ("state", "STATE", 90), ("flags", "FLAGS", 70),
               ("region", "REGION", 50), ("image", "IMAGE", 10), ("checks", "CHECKS", 80), ("process", "PROCESS", 40),
               ("size", "SIZE", 30), ("updated", "UPDATED", 20)]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.machines: dict[str, Machine] = {}
        self.faults_only = False
        self.following: set[str] = set()
        self._bulk_limit = asyncio.Semaphore(BULK_CONCURRENCY)
        self.leases: dict[str, MachineLease] = {}
        self.lease_error: str | None = None

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        early = self.host.take_prefetch("machines", token)  # started at launch
        return self.rows_for(await (early if early is not None else self.host.client.machines(token)))

    def prefilled(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any] | None:
        machines = self.host.ready_prefetch("machines", token)
        return None if machines is None else self.rows_for(machines)

    def rows_for(self, machines: list[Machine]) -> tuple[dict[str, dict[str, Any]], dict[str, Machine]]:
        by_id = {m.id: m for m in machines}
        rows = {mid: machine_row(m) for mid, m in by_id.items()}
        for mid in self.following & set(rows):  # keep showing the transition while we follow it
            rows[mid]["state"] = self.table.rows_data.get(mid, rows[mid])["state"]
        return rows, by_id

    def after_load(self, extra: Any) -> None:
        self.machines = extra or {}
        self.start_lease_refresh()

    # --- toggles ----------------------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        self.table.toggle_mark()

    def action_toggle_faults(self) -> None:
        self.faults_only = not self.faults_only
        self.table.row_filter = (lambda key, row: is_fault(row)) if self.faults_only else None
        self.table.set_filter(self.table.filter_text)
        self.update_empty()
        self.app.notify("Showing faults only" if self.faults_only else "Showing all machines")

    def action_detail(self) -> None:
        mid = self.table.selected_key
        app = self.token()
        if mid and app:
            from flytui.ui.modals.machine_detail import MachineDetailScreen

            self.app.push_screen(MachineDetailScreen(app, mid, self.machines.get(mid)))

    # --- actions ---------------------------------------------------------------------------------
    def action_machine(self, action: str) -> None:
        app, ids = self.token(), self.table.targets()
        if not app or not ids:
            self.app.notify("No machine selected", severity="warning")
            return
        run_async(self, partial(self._run_action, app, ids, action), name=f"machine-{action}", group="machines-mutate",
                        exclusive=False, exit_on_error=False)

    async def _run_action(self, app: str, ids: list[str], action: str) -> None:
        client = self.host.client
        commands = [client.machine_action_command(app, mid, as_machine_action(action)) for mid in ids]
        # destroying cannot be undone: type the machine id (or the app name for several machines)
        typed = (ids[0] if len(ids) == 1 else app) if action == "destroy" else None
        req = ConfirmRequest(f"{action.capitalize()} {len(ids)} machine(s) of {app}?", ids, commands=commands,
                             typed_name=typed, danger=action == "destroy", confirm_label=action.capitalize())
        if not await self.host.confirm(req):
            return
        self.table.marked.clear()
        results = await asyncio.gather(*(self._bounded(app, cmd, action) for cmd in commands))
        needs_force = [cmd for cmd, res in zip(commands, results, strict=True) if isinstance(res, MachineNeedsForce)]
        if needs_force:
            forcing = [client.machine_action_command(app, cmd.target, as_machine_action(action), force=True)
                       for cmd in needs_force]
            req = ConfirmRequest(f"flyctl says {len(needs_force)} machine(s) must be forced. {action} with --force?",
                                 [cmd.target for cmd in forcing], commands=forcing,
                                 danger=True, confirm_label=f"{action.capitalize()} --force")
            if await self.host.confirm(req):
                forced = dict(zip((c.target for c in forcing),
                                  await asyncio.gather(*(self._bounded(app, c, action) for c in forcing)), strict=True))
                results = [forced.get(mid, r) for mid, r in zip(ids, results, strict=True)]
        self._summarise(action, ids, results)

    async def _bounded(self, app: str, command: FlyCommand, action: str) -> Any:
        """`_one` under the pane's concurrency limit: bulk actions never start dozens of flyctl at once."""
        async with self._bulk_limit:
            return await self._one(app, command, action)

    async def _one(self, app: str, command: FlyCommand, action: str) -> Any:
        """Run one confirmed action and follow the machine; returns None on success, else the exception."""
        mid = command.target
        self._set_state(mid, TRANSITION.get(action, action))
        self.following.add(mid)
        op = self.host.begin_op(f"{action} {mid}")
        try:
            await self.host.client.execute(command)
        except FlyError as exc:
            self.following.discard(mid)
            self.host.end_op(op)
            await self._refresh_one(app, mid)
            return exc
        self.host.end_op(op)
        await self.follow(app, mid, TARGET_STATE.get(action))
        return None

    def _set_state(self, mid: str, state: str) -> None:
        row = self.table.rows_data.get(mid)
        if row is not None and self.token():
            row = dict(row)
            row["state"] = state_cell(state)
            self.table.update_row(mid, row)

    async def _refresh_one(self, app: str, mid: str) -> Any:
        try:
            m = await self.host.client.machine(app, mid)
        except FlyError:
            return None
        if self.token() == app and mid in self.table.rows_data:
            self.machines[mid] = m
            self.table.update_row(mid, machine_row(m))
        return m

    async def follow(self, app: str, mid: str, target: str | None, timeout: float = 60.0) -> str | None:
        """Poll the machine with backoff (0.2 s doubling to 3 s) until it settles; returns the last state."""
        delay, waited, state = 0.2, 0.0, None
        try:
            while waited < timeout:
                try:
                    m = await self.host.client.machine(app, mid)
                except FlyError:
                    if target == "destroyed":  # gone
                        if self.token() == app and mid in self.table.rows_data:
                            rows = dict(self.table.rows_data)
                            rows.pop(mid)
                            self.table.set_rows(rows)
                            self.update_empty()
                        return "destroyed"
                    raise
                state = m.state
                if self.token() == app and mid in self.table.rows_data:
                    self.machines[mid] = m
                    row = machine_row(m)
                    self.table.update_row(mid, row)
                if state == target or state in ("failed", "destroyed") or (target is None and state in SETTLED):
                    return state
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 3.0)
            return state
        finally:
            self.following.discard(mid)

    def _summarise(self, action: str, ids: list[str], results: list[Any]) -> None:
        failed = [(mid, r) for mid, r in zip(ids, results, strict=True) if r is not None]
        ok = len(ids) - len(failed)
        lines = [f"{action}: {ok}/{len(ids)} succeeded"]
        for mid, exc in failed:
            lines.append(f"✗ {mid}: {getattr(exc, 'message', str(exc))}")
        self.app.notify("\n".join(lines), title=f"machine {action}", severity="error" if failed else "information",
                        timeout=8 if failed else 4)
