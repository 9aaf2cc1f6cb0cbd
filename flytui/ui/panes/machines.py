"""Machines pane: machines of the current app; actions with confirm, ``--force`` offer, bulk marks and
state following (the row shows the transition until the machine settles)."""
from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from rich.text import Text

from flytui.fly.command import FlyCommand
from flytui.fly.errors import FlyError, MachineNeedsForce
from flytui.ui import commands
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.machine_ops import MachineOpsMixin, flags_cell
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import SETTLED, fmt_time, pick, state_cell, text

TRANSITION = {"start": "starting", "stop": "stopping", "restart": "restarting", "suspend": "suspending",
              "destroy": "destroying"}
TARGET_STATE = {"start": "started", "stop": "stopped", "restart": "started", "suspend": "suspended",
                "destroy": "destroyed"}
HEALTHY = {"started"}


def machine_size(m: Any) -> str:
    guest = pick(m, "guest", "config.guest")
    if guest is None:
        return text(pick(m, "size"))
    kind, cpus, mem = pick(guest, "cpu_kind", default="shared"), pick(guest, "cpus", default=1), pick(guest, "memory_mb")
    return f"{kind}-cpu-{cpus}x:{mem}MB" if mem else f"{kind}-cpu-{cpus}x"


def checks_cell(m: Any) -> Text:
    checks = pick(m, "checks", default=[]) or []
    total = len(checks)
    passing = sum(1 for c in checks if str(pick(c, "status", default="")).lower() == "passing")
    if not total:
        return Text("-")
    return Text(f"{passing}/{total}", style="green" if passing == total else "bold red")


def machine_image(m: Any) -> str:
    ref = pick(m, "image_ref")
    if ref is not None and not isinstance(ref, str):
        repo, tag = pick(ref, "repository"), pick(ref, "tag")
        if repo:
            return f"{repo}:{tag}" if tag else str(repo)
    return text(pick(m, "image", "image_ref", "config.image"))


def machine_row(m: Any) -> dict[str, Any]:
    return {
        "id": text(pick(m, "id")),
        "name": text(pick(m, "name")),
        "state": state_cell(pick(m, "state")),
        "region": text(pick(m, "region")),
        "image": machine_image(m),
        "checks": checks_cell(m),
        "process": text(pick(m, "process_group", "config.metadata.fly_process_group")),
        "size": machine_size(m),
        "updated": fmt_time(pick(m, "updated_at", "updated")),
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
        self.machines: dict[str, Any] = {}
        self.faults_only = False
        self.following: set[str] = set()
        self._bulk_limit = asyncio.Semaphore(BULK_CONCURRENCY)
        self.leases: dict[str, Any] = {}
        self.lease_error: str | None = None

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        early = getattr(self.app, "take_prefetch", lambda *_: None)("machines", token)  # started at launch
        return self.rows_for(await (early if early is not None else self.app.client.machines(token)))

    def prefilled(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any] | None:
        machines = getattr(self.app, "ready_prefetch", lambda *_: None)("machines", token)
        return None if machines is None else self.rows_for(machines)

    def rows_for(self, machines: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        by_id = {pick(m, "id"): m for m in machines}
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
        self.run_worker(partial(self._run_action, app, ids, action), name=f"machine-{action}", group="machines-mutate",
                        exclusive=False, exit_on_error=False)

    async def _run_action(self, app: str, ids: list[str], action: str) -> None:
        client = self.app.client
        commands = [client.machine_action_command(app, mid, action) for mid in ids]
        # destroying cannot be undone: type the machine id (or the app name for several machines)
        typed = (ids[0] if len(ids) == 1 else app) if action == "destroy" else None
        req = ConfirmRequest(f"{action.capitalize()} {len(ids)} machine(s) of {app}?", ids, commands=commands,
                             typed_name=typed, danger=action == "destroy", confirm_label=action.capitalize())
        if not await self.app.confirm(req):
            return
        self.table.marked.clear()
        results = await asyncio.gather(*(self._bounded(app, cmd, action) for cmd in commands))
        needs_force = [cmd for cmd, res in zip(commands, results) if isinstance(res, MachineNeedsForce)]
        if needs_force:
            forcing = [client.machine_action_command(app, cmd.target, action, force=True) for cmd in needs_force]
            req = ConfirmRequest(f"flyctl says {len(needs_force)} machine(s) must be forced. {action} with --force?",
                                 [cmd.target for cmd in forcing], commands=forcing,
                                 danger=True, confirm_label=f"{action.capitalize()} --force")
            if await self.app.confirm(req):
                forced = dict(zip((c.target for c in forcing),
                                  await asyncio.gather(*(self._bounded(app, c, action) for c in forcing))))
                results = [forced.get(mid, r) for mid, r in zip(ids, results)]
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
        op = self.app.begin_op(f"{action} {mid}")
        try:
            await self.app.client.execute(command)
        except FlyError as exc:
            self.following.discard(mid)
            self.app.end_op(op)
            await self._refresh_one(app, mid)
            return exc
        self.app.end_op(op)
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
            m = await self.app.client.machine(app, mid)
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
                    m = await self.app.client.machine(app, mid)
                except FlyError:
                    if target == "destroyed":  # gone
                        if self.token() == app and mid in self.table.rows_data:
                            rows = dict(self.table.rows_data)
                            rows.pop(mid)
                            self.table.set_rows(rows)
                            self.update_empty()
                        return "destroyed"
                    raise
                state = str(pick(m, "state", default=""))
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
        failed = [(mid, r) for mid, r in zip(ids, results) if r is not None]
        ok = len(ids) - len(failed)
        lines = [f"{action}: {ok}/{len(ids)} succeeded"]
        for mid, exc in failed:
            lines.append(f"✗ {mid}: {getattr(exc, 'message', str(exc))}")
        self.app.notify("\n".join(lines), title=f"machine {action}", severity="error" if failed else "information",
                        timeout=8 if failed else 4)
