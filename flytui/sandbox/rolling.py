"""Machine updates of ``fly deploy`` / ``fly secrets set`` as flyctl v0.1.104+ prints them (internal/statuslogger).

:func:`flytui.sandbox.transcripts.rolling_update` calls :func:`rolling_update` here unless the sandbox plays a
flyctl older than v0.1.104 (see :mod:`flytui.sandbox.generations`). Lines, from flyctl's source @ ad0172f:

* rolling (machines_deploymachinesapp.go ``updateEntriesGroup`` / ``updateMachine`` / ``waitForMachine``,
  internal/machine/leasable_machine.go): ``> [1/2] Updating ID [app]`` (twice: the status line, then
  ``updateMachine``'s ``Logf``), ``Waiting for ID [app] to have state: started``, ``Machine ID [app] has state:
  started``, ``Checking that ID [app] is up and running``, ``Waiting for ID [app] to become healthy: 1/1`` (its
  format ends in ``\\n``, so a blank line follows), then ``✔ [1/2] Machine ID [app] update succeeded`` or
  ``✖ [1/2] Machine ID [app] update failed: <error>``. v0.1.104–v0.1.111 (machines_deploymachinesapp.go
  @ v0.1.111): a bare ``> [1/2] Updating`` first, ``update finished: success``, and ``  Finished deploying``.
* ``--deploy-retries`` (plan.go ``updateMachinesWRecovery``): leases for every machine first, then per machine
  ``Updating machine config for ID`` … ``✔ Machine ID is now in a good state``; failures print the bare error
  (``✖ [1/2] smoke checks for ID failed: …``); leases are cleared at the end.
* first launch (``deployCreateMachinesForGroups`` / ``spawnMachineInGroup``): ``> Launching new machine``,
  ``Machine ID [app] was created``, ``✔ Machine ID [app] update finished: success``.

Streams: status lines on stdout (noninteractive.go). The other lines keep the sandbox's streams.
"""
from __future__ import annotations

from typing import Any

from flytui.sandbox import generations as gen
from flytui.sandbox import procs
from flytui.sandbox.commands import Ctx
from flytui.sandbox.generations import FAILURE, RUNNING, SUCCESS, StatusLogger
from flytui.sandbox.state import SandboxError, get_app


def _update_machine(ctx: Ctx, app_name: str, mid: str, image: str | None, release: dict[str, Any] | None) -> None:
    from flytui.sandbox.transcripts import update_machine

    update_machine(ctx, app_name, mid, image, release)


def _check(ctx: Ctx, app_name: str, mid: str, fail_health: bool, timeout: float) -> SandboxError | None:
    """Smoke + health checks; the error (texts already printed on stderr) or None."""
    from flytui.sandbox.transcripts import health_failure, wait_healthy

    ok, reason = (False, "crashed") if fail_health else wait_healthy(ctx, app_name, mid, timeout)
    if ok:
        return None
    if fail_health:
        with ctx.sb.transaction() as st:
            procs.stop_machine_process(next(x for x in get_app(st, app_name)["machines"] if x["id"] == mid))
    return health_failure(ctx, app_name, mid, reason)


def _has_checks(ctx: Ctx, app_name: str) -> bool:
    return bool((get_app(ctx.sb.read(), app_name).get("config") or {}).get("check_path"))


def rolling_update(ctx: Ctx, app_name: str, targets: list[str], *, image: str | None, release: dict[str, Any] | None,
                   fail_health: bool, wait: bool, timeout: float) -> None:
    """Update ``targets`` (machine ids of group ``app``) one by one, printing the status-logger lines."""
    strategy = ctx.flag("strategy") or "rolling"
    ctx.out(f"Updating existing machines in '{app_name}' with {strategy} strategy")
    if gen.deploy_retries(ctx) > 0:
        _with_recovery(ctx, app_name, targets, image=image, release=release, fail_health=fail_health, wait=wait,
                       timeout=timeout)
        return
    modern = gen.at_least(gen.UPDATE_SUCCEEDED)
    if modern:
        targets = sorted(targets)  # updateUsingRollingStrategy sorts the entries by machine id (since v0.1.112)
    sl = StatusLogger(ctx, len(targets))
    for i, mid in enumerate(targets):
        fmt_id = f"{mid} [app]"
        if modern:
            sl.log_status(i, RUNNING, f"Updating {fmt_id}")
        else:
            sl.log_status(i, RUNNING, "Updating")
        sl.log(i, f"Updating {fmt_id}")
        ctx.pace(0.4)
        _update_machine(ctx, app_name, mid, image, release)
        if wait:
            sl.log(i, f"Waiting for {fmt_id} to have state: started")
            ctx.pace(0.3)
            sl.log(i, f"Machine {fmt_id} has state: started")
            sl.log(i, f"Checking that {fmt_id} is up and running")
            err = _check(ctx, app_name, mid, fail_health, timeout)
            if err is not None:
                if modern:  # statusFailure; v0.1.104-v0.1.111 returned the error without a status line
                    sl.log_status(i, FAILURE, f"Machine {fmt_id} update failed: {err.message}")
                raise err
            if _has_checks(ctx, app_name):
                sl.log(i, f"Waiting for {fmt_id} to become healthy: 1/1\n")
        if modern:
            sl.log_status(i, SUCCESS, f"Machine {fmt_id} update succeeded")
        else:
            sl.log_status(i, SUCCESS, f"Machine {fmt_id} update finished: success")
    if not modern:
        ctx.err("  Finished deploying")


def _with_recovery(ctx: Ctx, app_name: str, targets: list[str], *, image: str | None,
                   release: dict[str, Any] | None, fail_health: bool, wait: bool, timeout: float) -> None:
    """plan.go ``updateMachinesWRecovery`` (``--deploy-retries`` > 0)."""
    sl = StatusLogger(ctx, len(targets))
    for i, mid in enumerate(targets):  # acquireLeases
        sl.log_status(i, RUNNING, f"Acquiring lease for {mid}")
        sl.log_status(i, RUNNING, f"Acquired lease for {mid}")
    failure: SandboxError | None = None
    for i, mid in enumerate(targets):
        if failure is not None:
            sl.log_status(i, FAILURE, "skipping machine update due to earlier failure")
            continue
        sl.log_status(i, RUNNING, f"Updating machine config for {mid}")
        ctx.pace(0.4)
        _update_machine(ctx, app_name, mid, image, release)
        sl.log_status(i, RUNNING, f"Updated machine config for {mid}")
        if wait:
            sl.log_status(i, RUNNING, f"Waiting for machine {mid} to reach a good state")
            ctx.pace(0.3)
            sl.log_status(i, RUNNING, f"Machine {mid} reached started state")
            sl.log_status(i, RUNNING, f"Running smoke checks on machine {mid}")
            err = _check(ctx, app_name, mid, fail_health, timeout)
            if err is not None:
                sl.log_status(i, FAILURE, err.message)
                failure = SandboxError(f"failed to update machine {mid}: {err.message}")
                continue
            sl.log_status(i, RUNNING, f"Running machine checks on machine {mid}")
            sl.log_status(i, RUNNING, f"Checking health of machine {mid}")
        sl.log_status(i, SUCCESS, f"Machine {mid} is now in a good state")
    for i, mid in enumerate(targets):  # releaseLeases (deferred: also after a failure)
        sl.log_status(i, RUNNING, f"Clearing lease for {mid}")
        sl.log_status(i, SUCCESS, f"Cleared lease for {mid}")
    if failure is not None:
        raise failure


def first_launch_logger(ctx: Ctx) -> StatusLogger:
    """``deployCreateMachinesForGroups``: one line per new group (the sandbox launches group ``app``)."""
    sl = StatusLogger(ctx, 1)
    sl.log_status(0, RUNNING, "Launching new machine")
    return sl


def second_machine_text() -> str:
    """The HA line (its text changed in v0.3.203, 5f5f50ee8; on stdout in machines_deploymachinesapp.go)."""
    if gen.at_least((0, 3, 203)):
        return "Creating a second machine for high availability and zero downtime deployments."
    return "Creating a second machine to increase service availability"
