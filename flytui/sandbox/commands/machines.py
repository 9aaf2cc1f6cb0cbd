"""``fly machine list|status|start|stop|restart|suspend|destroy`` (aliases machines, m; ls)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from flytui.sandbox import procs
from flytui.sandbox.commands import Ctx, command, print_json, print_table, strip_private
from flytui.sandbox.commands.basic import active_machines, refresh_checks
from flytui.sandbox.state import SandboxError, add_event, find_machine, get_app


def _size(m: dict[str, Any]) -> str:
    g = m["config"]["guest"]
    return f"{g['cpu_kind']}-cpu-{g['cpus']}x:{g['memory_mb']}MB"


@command("machine list")
def machine_list(ctx: Ctx) -> int:
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        procs.reconcile_app(ctx.sb, app)
        refresh_checks(app)
        machines = active_machines(app)
    if ctx.json:
        print_json([strip_private(m) for m in machines])
        return 0
    if ctx.flag("quiet"):
        for m in machines:
            ctx.out(m["id"])
        return 0
    if not machines:
        ctx.out(f"No machines are available on this app {app['name']}")
        return 0
    ctx.out(f"{len(machines)} machines have been retrieved from app {app['name']}.")
    ctx.out(f"View them in the UI here (https://fly.io/apps/{app['name']}/machines/)")
    ctx.out("")
    rows = []
    for m in machines:
        checks = m.get("checks") or []
        passing = sum(1 for c in checks if c["status"] == "passing")
        ref = m["image_ref"]
        md = m["config"]["metadata"]
        rows.append([m["id"], m["name"], m["state"], f"{passing}/{len(checks)}" if checks else "",
                     m["region"], md.get("role", ""), f"{ref['repository']}:{ref['tag']}", m["private_ip"], "",
                     m["created_at"], m["updated_at"], md.get("fly_process_group", ""), _size(m)])
    print_table(["ID", "Name", "State", "Checks", "Region", "Role", "Image", "IP Address", "Volume", "Created",
                 "Last Updated", "Process Group", "Size"], rows, title=app["name"])
    return 0


@command("machine status")
def machine_status(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("accepts 1 arg(s), received 0")
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        m = find_machine(app, ctx.args[0])
        procs.reconcile_app(ctx.sb, app)
    if ctx.json:
        print_json(strip_private(m))
        return 0
    ctx.out(f"Machine ID: {m['id']}")
    ctx.out(f"Instance ID: {m['instance_id']}")
    ctx.out(f"State: {m['state']}")
    ctx.out("")
    print_table(["ID", "Instance ID", "State", "Image", "Name", "Private IP", "Region", "Process Group",
                 "CPU Kind", "vCPUs", "Memory", "Created", "Updated", "Command"],
                [[m["id"], m["instance_id"], m["state"], m["config"]["image"], m["name"], m["private_ip"],
                  m["region"], m["config"]["metadata"].get("fly_process_group", ""),
                  m["config"]["guest"]["cpu_kind"], m["config"]["guest"]["cpus"],
                  m["config"]["guest"]["memory_mb"], m["created_at"], m["updated_at"], ""]],
                title="VM")
    ctx.out("Event Logs")
    print_table(["State", "Event", "Source", "Timestamp"],
                [[e["status"], e["type"], e["source"], e["timestamp"]] for e in m["events"]])
    return 0


@contextmanager
def _target_machine(ctx: Ctx, ident: str) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(state, app, machine) of one targeted machine, inside its own state transaction."""
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        yield st, app, find_machine(app, ident)


def _targets(ctx: Ctx) -> list[str]:
    if not ctx.args:
        raise SandboxError("at least one machine ID must be specified when not running interactively")
    return list(ctx.args)


@command("machine start")
def machine_start(ctx: Ctx) -> int:
    for ident in _targets(ctx):
        with _target_machine(ctx, ident) as (st, app, m):
            if m["state"] in ("destroyed", "destroying"):
                raise SandboxError(f"machine could not be started: machine {m['id']} is destroyed")
            add_event(m, "start", "started", "user")
            m["state"] = "started"
            procs.start_machine_process(ctx.sb, app, m, state=st)
        ctx.out(f"{m['id']} has been started")
    return 0


@command("machine stop")
def machine_stop(ctx: Ctx) -> int:
    for ident in _targets(ctx):
        with _target_machine(ctx, ident) as (st, app, m):
            from flytui.sandbox.commands.parity import check_lease

            check_lease(m)  # stop.go: mach.AcquireLeases first
            ctx.out(f"Sending kill signal to machine {m['id']}...")
            m.setdefault("sandbox", {})["stop_signal"] = str(ctx.flag("signal") or "SIGINT").upper()
            procs.stop_machine_process(m)
            add_event(m, "exit", "stopped", "flyd")
            m["state"] = "stopped"
        ctx.out(f"{m['id']} has been successfully stopped")
    return 0


@command("machine suspend")
def machine_suspend(ctx: Ctx) -> int:
    for ident in _targets(ctx):
        with _target_machine(ctx, ident) as (st, app, m):
            if m["state"] != "started":
                raise SandboxError(f"failed to suspend machine {m['id']}: machine is not started")
            ctx.out(f"Suspending machine {m['id']} ...")
            procs.stop_machine_process(m)
            add_event(m, "suspend", "suspended", "user")
            m["state"] = "suspended"
        ctx.out(f"{m['id']} has been suspended")
    return 0


@command("machine restart")
def machine_restart(ctx: Ctx) -> int:
    for ident in _targets(ctx):
        with _target_machine(ctx, ident) as (st, app, m):
            from flytui.sandbox.commands.parity import check_lease

            check_lease(m)  # restart.go: mach.AcquireLeases first
            if m["state"] not in ("started", "stopped", "suspended"):
                raise SandboxError(f"failed to restart machine {m['id']}: machine is {m['state']}")
            ctx.out(f"Restarting machine {m['id']}")
            add_event(m, "restart", "stopping", "user")
            add_event(m, "start", "started", "flyd")
            m["state"] = "started"
            procs.start_machine_process(ctx.sb, app, m, state=st)
        ctx.out(f"  Waiting for {m['id']} to become healthy")
        ctx.out(f"Machine {m['id']} restarted successfully!")
    return 0


@command("machine destroy")
def machine_destroy(ctx: Ctx) -> int:
    for ident in _targets(ctx):
        with _target_machine(ctx, ident) as (st, app, m):
            if m["state"] == "started" and not ctx.flag("force"):
                raise SandboxError(f"machine {m['id']} currently started, either stop first or use --force flag")
            ctx.out(f"machine {m['id']} was found and is currently in {m['state']} state, attempting to destroy...")
            procs.stop_machine_process(m)
            app["machines"].remove(m)
            for v in app["volumes"]:
                if v.get("attached_machine_id") == m["id"]:
                    v["attached_machine_id"] = None
        ctx.out(f"{m['id']} has been destroyed")
    return 0
