"""Machines pane operations the other Fly consoles have (issue 19): cordon / uncordon, kill, stop with a signal,
and leases (a FLAGS column shows ``cordoned`` and who holds a lease; ``e`` lists the leases).

flyctl @ ad0172f: internal/command/machine/{cordon,uncordon,kill,stop,leases}.go (see flytui/fly/ops.py).
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable

from rich.text import Text

from flytui.fly.command import FlyCommand
from flytui.fly.errors import FlyError
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.fly.models import Machine
from flytui.fly.ops import MachineLease
from flytui.ui.panes.base import Pane
from flytui.ui.seams import run_async


#: seconds between two lease reads of the same machines (``e`` reads at once)
LEASE_REFRESH = 30.0


def flags_cell(machine: Machine | None, lease: MachineLease | None = None, now: datetime | None = None) -> Text:
    """``cordoned`` and ``lease OWNER (Nm)`` for one machine; ``-`` when neither."""
    parts: list[tuple[str, str]] = []
    if machine is not None and machine.cordoned:
        parts.append(("cordoned", "bold yellow"))
    if lease is not None and lease.held(now):
        left = ""
        if lease.expires_at is not None:
            secs = int((lease.expires_at - (now or datetime.now(timezone.utc))).total_seconds())
            left = f" ({secs // 60}m)" if secs >= 60 else f" ({max(secs, 0)}s)"
        parts.append((f"lease {lease.owner or '?'}{left}", "magenta"))
    if not parts:
        return Text("-", style="grey62")
    out = Text()
    for i, (label, style) in enumerate(parts):
        if i:
            out.append(" · ")
        out.append(label, style=style)
    return out


class MachineOpsMixin(Pane):
    """Mixed into :class:`flytui.ui.panes.machines.MachinesPane` (uses its table, token, machines, follow)."""

    leases: dict[str, MachineLease]
    lease_error: str | None
    machines: dict[str, Machine]
    _bulk_limit: asyncio.Semaphore
    #: ((app, machine ids), when) of the last leases read
    _lease_loaded: tuple[tuple[str, tuple[str, ...]], float] | None = None

    async def follow(self, app: str, mid: str, target: str | None, timeout: float = 60.0) -> str | None:
        raise NotImplementedError  # MachinesPane.follow

    # --- leases -----------------------------------------------------------------------------------
    def start_lease_refresh(self, force: bool = False) -> None:
        """After a load: one ``fly machine leases view IDS --json`` call fills the FLAGS column. flyctl asks the API
        once per machine (leases.go FindLease), so it runs at most every ``LEASE_REFRESH`` seconds for the same
        machines (``e`` and the end of a cordon/kill/signal force it)."""
        app, ids = self.token(), list(self.table.rows_data)
        if not app or not ids:
            self.apply_flags()
            return
        key = (app, tuple(sorted(ids)))
        now = time.monotonic()
        last = self._lease_loaded
        if not force and last is not None and last[0] == key and now - last[1] < LEASE_REFRESH:
            self.apply_flags()
            return
        self._lease_loaded = (key, now)
        run_async(self, partial(self._load_leases, app, ids), name="machine-leases", group="machines-leases",
                        exclusive=True, exit_on_error=False)

    async def _load_leases(self, app: str, ids: list[str]) -> None:
        try:
            leases = await self.host.client.machine_leases(app, ids)
        except FlyError as exc:  # never breaks the list: the column says it does not know
            self.lease_error = exc.message
            leases = {}
        else:
            self.lease_error = None
        if self.token() == app:
            self.leases = leases
            self.apply_flags()

    def apply_flags(self) -> None:
        for mid, row in list(self.table.rows_data.items()):
            cell = flags_cell(self.machines.get(mid), self.leases.get(mid))
            if self.lease_error and cell.plain == "-":
                cell = Text("lease ?", style="grey62")
            if row.get("flags") is None or str(row.get("flags")) != cell.plain:
                row = dict(row)
                row["flags"] = cell
                self.table.update_row(mid, row)

    def action_leases(self) -> None:
        app, ids = self.token(), list(self.table.rows_data)
        if not app or not ids:
            self.app.notify("No machines loaded", severity="warning")
            return

        async def run() -> None:
            op = self.host.begin_op(f"leases of {app}")
            try:
                leases = await self.host.client.machine_leases(app, ids)
            finally:
                self.host.end_op(op)
            self.leases = leases
            self.lease_error = None
            self.apply_flags()
            held = [lease for lease in leases.values() if lease.held()]
            if not held:
                self.app.notify(f"No leases held on the {len(ids)} machine(s) of {app}", title="leases",
                                markup=False)
                return
            lines = [f"{lz.machine_id}: {lz.owner or '?'} until "
                     f"{lz.expires_at.strftime('%H:%M:%S UTC') if lz.expires_at else '?'} (nonce {lz.nonce})"
                     for lz in held]
            lines.append(f"Clear a stale one: fly machine leases clear ID -a {app}")
            self.app.notify("\n".join(lines), title=f"{len(held)} lease(s) held", timeout=15, markup=False)

        run_async(self, run, name="machine-leases", group="machines-leases-view", exit_on_error=False)

    def action_clear_lease(self) -> None:
        app, mid = self.token(), self.table.selected_key
        if not app or not mid:
            self.app.notify("No machine selected", severity="warning")
            return
        lease = self.leases.get(mid)
        if lease is None or not lease.held():
            self.app.notify(f"No lease known on {mid}: press e to read the leases first", severity="warning",
                            markup=False)
            return
        until = lease.expires_at.strftime("%H:%M:%S UTC") if lease.expires_at else "?"
        self._run_ops(app, "leases clear", lambda: ConfirmRequest(
            f"Clear the lease {lease.owner or '?'} holds on {mid} until {until}? If that owner (a deploy, a script) "
            "is still working, it can fail half way.", [mid],
            commands=[self.host.client.machine_lease_clear_command(app, mid)], danger=True,
            confirm_label="Clear lease"))

    # --- cordon / kill / signal -------------------------------------------------------------------
    def _selection(self) -> tuple[str | None, list[str]]:
        app, ids = self.token(), self.table.targets()
        if not app or not ids:
            self.app.notify("No machine selected", severity="warning")
            return None, []
        return app, ids

    def action_cordon(self, on: bool) -> None:
        app, ids = self._selection()
        if not app:
            return
        verb = "cordon" if on else "uncordon"
        what = ("The proxy stops sending new requests to it; the machine keeps running." if on
                else "The proxy sends requests to it again.")
        self._run_ops(app, verb, lambda: ConfirmRequest(
            f"{verb.capitalize()} {len(ids)} machine(s) of {app}? {what}", ids,
            commands=[self.host.client.machine_cordon_command(app, mid, on) for mid in ids],
            confirm_label=verb.capitalize()))

    def action_kill(self) -> None:
        app, ids = self._selection()
        if not app:
            return
        if len(ids) > 1:  # flyctl's kill takes one machine (cobra.RangeArgs(0, 1))
            self.app.notify("Kill works on one machine at a time (fly machine kill takes one ID)",
                            severity="warning")
            return
        self._run_ops(app, "kill", lambda: ConfirmRequest(
            f"Kill machine {ids[0]} of {app}? SIGKILL: its processes die at once, requests in flight are lost.", ids,
            commands=[self.host.client.machine_kill_command(app, ids[0])], danger=True, confirm_label="Kill"),
            target="stopped")

    def action_signal(self) -> None:
        from flytui.fly.ops import SIGNALS
        from flytui.ui.modals.picker import PickerScreen

        app, ids = self._selection()
        if not app:
            return

        def chosen(sig: str | None) -> None:
            if not sig:
                return
            self._run_ops(app, f"stop --signal {sig}", lambda: ConfirmRequest(
                f"Stop {len(ids)} machine(s) of {app} with {sig}?", ids,
                commands=[self.host.client.machine_signal_command(app, mid, sig) for mid in ids],
                danger=sig == "SIGKILL", confirm_label=f"Send {sig}"), target="stopped")

        self.app.push_screen(PickerScreen(f"Stop {len(ids)} machine(s) with which signal?",
                                          [(s, s) for s in SIGNALS]), chosen)

    def _run_ops(self, app: str, label: str, request: Callable[[], ConfirmRequest], target: str | None = None) -> None:
        """In a worker: build and confirm the request, then run its commands (one per machine, ``command.target``
        = the machine id) and follow the machines to ``target``."""

        async def run() -> None:
            req = request()
            ids = [command.target for command in req.commands]
            if not await self.host.confirm(req):
                return
            self.table.marked.clear()

            async def one(command: FlyCommand) -> Any:
                mid = command.target
                async with self._bulk_limit:
                    op = self.host.begin_op(f"{label} {mid}")
                    try:
                        await self.host.client.execute(command)
                    except FlyError as exc:
                        return exc
                    finally:
                        self.host.end_op(op)
                    if target:
                        await self.follow(app, mid, target)
                    return None

            results = await asyncio.gather(*(one(c) for c in req.commands))
            failed = [(m, r) for m, r in zip(ids, results, strict=True) if r is not None]
            lines = [f"{label}: {len(ids) - len(failed)}/{len(ids)} succeeded"]
            for mid, exc in failed:
                lines.append(f"✗ {mid}: {exc.message}")
                if exc.hint:
                    lines.append(f"  {exc.hint}")
            self.app.notify("\n".join(lines), title=f"machine {label}", markup=False,
                            severity="error" if failed else "information", timeout=12 if failed else 4)
            if self.token() == app:
                self._lease_loaded = None  # the next load reads the leases again
                self.reload()

        run_async(self, run, name=f"machine-{label.split()[0]}", group="machines-mutate", exclusive=False,
                        exit_on_error=False)

