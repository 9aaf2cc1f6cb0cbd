"""``fly deploy`` and the rolling machine update (also used by ``fly secrets set/unset/import/deploy``).

Stage texts follow shared/flyctl/README.md ("fly deploy") and the seed transcript: ``==>``/``-->`` stage
lines and progress on **stderr**; ``Watch your deployment at`` and ``Visit your newly deployed app at``
on **stdout**. Pacing is realistic (≈5–8 s) and divided by ``$FLYTUI_SANDBOX_SPEED``. Machines really
run (see :mod:`flytui.sandbox.procs`); health checks are real HTTP GETs on each machine's local port,
and the release command really runs. In the sandbox the app URL is ``http://127.0.0.1:<port>/``.

Failure scenarios: fault ``{"deploy": {"fail_stage": "build"|"push"|"release"|"health"|"payment"}}``.

Machine progress follows the flyctl generation the sandbox plays (``$FLYTUI_SANDBOX_FLYCTL_VERSION``,
:mod:`flytui.sandbox.generations`): the status-logger lines of v0.1.104+ come from :mod:`flytui.sandbox.rolling`,
the 2023 lines (machines_deploymachinesapp.go @ v0.1.103) from :func:`rolling_update` / :func:`_first_launch` here.
"""
from __future__ import annotations

import os
import random
import secrets as _secrets
import shlex
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

from flytui.fly.lifeline import die_with_parent
from flytui.sandbox import generations, procs
from flytui.sandbox.commands import Ctx
from flytui.sandbox.state import (FLYCTL_VERSION, SandboxError, add_event, add_release, get_app, new_machine,
                                  ulid_like)

PAYMENT = ("We need your payment information to continue! Add a credit card or buy credit: "
           "https://fly.io/dashboard/personal/billing")


class DeployConfig:
    """What the sandbox needs from fly.toml and the Dockerfile."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        http = self.data.get("http_service") or {}
        services = self.data.get("services") or []
        self.internal_port = int(http.get("internal_port") or (services[0].get("internal_port") if services else 0)
                                 or 8080)
        checks = http.get("checks") or []
        self.check_path: str | None = checks[0].get("path", "/") if checks else None
        self.release_command: str | None = (self.data.get("deploy") or {}).get("release_command")
        self.env: dict[str, str] = {k: str(v) for k, v in (self.data.get("env") or {}).items()}
        self.region: str = self.data.get("primary_region") or "iad"
        vm = (self.data.get("vm") or [{}])[0]
        mem = str(vm.get("memory", "256mb")).lower()
        self.memory_mb = int(float(mem.rstrip("gbm")) * (1024 if mem.endswith("gb") else 1)) if mem else 256
        self.cpu_kind = vm.get("cpu_kind", "shared")
        self.cpus = int(vm.get("cpus", 1))


def dockerfile_steps(source_dir: Path) -> list[str]:
    """The Dockerfile's instructions (continuations joined), for the builder transcript."""
    try:
        text = (source_dir / "Dockerfile").read_text(encoding="utf-8")
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    return [" ".join(ln.split()) for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


# ---- health / rolling update ---------------------------------------------------------------

def wait_healthy(sb_ctx: Ctx, app_name: str, machine_id: str, timeout: float) -> tuple[bool, str]:
    """Wait for the machine's real process to answer; (ok, reason) with reason crashed|timeout."""
    deadline = time.monotonic() + timeout
    while True:
        app = get_app(sb_ctx.sb.read(), app_name)
        m = next((x for x in app["machines"] if x["id"] == machine_id), None)
        if m is None:
            return False, "destroyed"
        if not procs.runnable(app):
            return True, ""
        info = m.get("sandbox", {})
        # like flyctl's smoke checks: any exit of the main process while starting means crashing
        if not procs.pid_alive(info.get("pid")) or procs.read_exits(sb_ctx.sb, machine_id):
            return False, "crashed"
        path = (app.get("config") or {}).get("check_path") or "/"
        from flytui.sandbox.commands.basic import http_ok

        if http_ok(info.get("port"), path, timeout=0.5):
            return True, ""
        if time.monotonic() > deadline:
            return False, "timeout"
        time.sleep(0.1)


def last_log_lines(ctx: Ctx, app_name: str, machine_id: str, n: int = 100) -> list[str]:
    """The last ``n`` log messages of one machine (for failure texts)."""
    import json

    try:
        lines = ctx.sb.log_path(app_name).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for ln in lines:
        try:
            e = json.loads(ln)
        except ValueError:
            continue
        if e.get("instance") == machine_id:
            out.append(f"{e['timestamp'][:19]}Z {e['provider']}[{e['instance']}] {e['region']} "
                       f"[{e['level']}]{e['message']}")
    return out[-n:]


def health_failure(ctx: Ctx, app_name: str, mid: str, reason: str) -> SandboxError:
    """Print flyctl's smoke-check / never-started texts and return the error to raise."""
    tail = last_log_lines(ctx, app_name, mid, 20)
    if reason == "crashed":
        ctx.err(f"Smoke checks for {mid} failed: the app appears to be crashing")
        ctx.err(f"Check its logs: here's the last lines below, or run 'fly logs -i {mid}':")
        for ln in tail:
            ctx.err(f"  {ln}")
        return SandboxError(f"smoke checks for {mid} failed: the app appears to be crashing")
    ctx.err('Your machine never reached the state "started".')
    ctx.err("You can try increasing the timeout with the --wait-timeout flag")
    for ln in tail:
        ctx.err(f"  {ln}")
    return SandboxError(f"timeout reached waiting for health checks to pass for machine {mid}: "
                        "context deadline exceeded")


def rolling_update(ctx: Ctx, app_name: str, *, image: str | None = None, release: dict[str, Any] | None = None,
                   fail_health: bool = False, wait: bool = True) -> None:
    """Update and restart every ``app`` machine one by one, printing flyctl's rolling-update lines.

    flyctl v0.1.104+ (the default): :func:`flytui.sandbox.rolling.rolling_update`. Older (``$FLYTUI_SANDBOX_
    FLYCTL_VERSION``): the 2023 lines below (machines_deploymachinesapp.go @ v0.1.103, all on stderr here)."""
    timeout = float(ctx.flag("wait_timeout", "0").rstrip("s") or 0) or 30.0
    app = get_app(ctx.sb.read(), app_name)
    targets = [m["id"] for m in app["machines"]
               if m["config"]["metadata"].get("fly_process_group", "app") == "app"
               and m["state"] not in ("destroyed", "destroying")]
    if generations.at_least(generations.STATUSLOGGER):
        from flytui.sandbox import rolling

        rolling.rolling_update(ctx, app_name, targets, image=image, release=release, fail_health=fail_health,
                               wait=wait, timeout=timeout)
        return
    ctx.err(f"Updating existing machines in '{app_name}' with rolling strategy")
    ctx.err("")
    ctx.err("-------")
    n = len(targets)
    for i, mid in enumerate(targets, 1):
        pre = f"  [{i}/{n}]"
        ctx.err(f"{pre} Updating {mid} [app]")
        ctx.pace(0.4)
        update_machine(ctx, app_name, mid, image, release)
        ctx.err(f"{pre} Waiting for {mid} [app] to have state: started")
        ctx.pace(0.3)
        if not wait:
            continue
        ctx.err(f"{pre} Checking that {mid} [app] is up and running")
        ok, reason = (False, "crashed") if fail_health else wait_healthy(ctx, app_name, mid, timeout)
        if not ok:
            if fail_health:
                with ctx.sb.transaction() as st:
                    procs.stop_machine_process(next(x for x in get_app(st, app_name)["machines"] if x["id"] == mid))
            raise health_failure(ctx, app_name, mid, reason)
        ctx.err(f"{pre} Waiting for {mid} [app] to become healthy: 1/1")
        ctx.err(f"{pre} Machine {mid} [app] update finished: success")
    ctx.err("-------")
    ctx.err("  Finished deploying")
    ctx.err("")


def update_machine(ctx: Any, app_name: str, mid: str, image: str | None, release: dict[str, Any] | None) -> None:
    """One machine of a deploy: the new release applied, replaced and started (its process restarted)."""
    with ctx.sb.transaction() as st:
        a = get_app(st, app_name)
        m = next(x for x in a["machines"] if x["id"] == mid)
        _apply_release(a, m, image, release)
        add_event(m, "update", "replacing", "user")
        add_event(m, "start", "started", "flyd")
        m["state"] = "started"
        procs.start_machine_process(ctx.sb, a, m, state=st)


def _apply_release(app: dict[str, Any], m: dict[str, Any], image: str | None, release: dict[str, Any] | None) -> None:
    cfg = app.get("config") or {}
    if image:
        repo_tag = image.split("/", 1)[-1]
        repository, _, tag = repo_tag.partition(":")
        m["config"]["image"] = image
        m["image_ref"].update({"repository": repository, "tag": tag or "latest",
                               "digest": "sha256:" + _secrets.token_hex(32)})
    if release:
        m["config"]["metadata"]["fly_release_id"] = release["id"]
        m["config"]["metadata"]["fly_release_version"] = str(release["version"])
    m["config"]["env"].update(cfg.get("env") or {})
    m["version"] = ulid_like()


# ---- deploy ---------------------------------------------------------------------------------

def deploy(ctx: Ctx) -> int:
    """``fly deploy``: verify, build, push, release command, machines, health, DNS, visit."""
    fault = ctx.fault or {}
    fail = fault.get("fail_stage")
    generations.deploy_retries(ctx)  # flag errors come first, like cobra's
    cfg_path = Path(ctx.flag("config") or "fly.toml").resolve()
    if not cfg_path.exists() and ctx.flag("image") and ctx.flag("app"):
        # redeploying an image without a local fly.toml: flyctl uses the app's config from the platform,
        # which the sandbox keeps as the fly.toml of the last deploy
        stored = ctx.sb.read()["apps"].get(ctx.flag("app"), {}).get("source_dir")
        if stored and (Path(stored) / "fly.toml").exists():
            cfg_path = Path(stored) / "fly.toml"
    if not cfg_path.exists():
        raise SandboxError("the config for your app is missing an app name, add an app field to the fly.toml "
                           "file or specify with the -a flag")
    cfg = DeployConfig(cfg_path)
    app_name = ctx.flag("app") or os.environ.get("FLY_APP") or cfg.data.get("app")
    source = cfg_path.parent
    ctx.err("==> Verifying app config")
    ctx.err(f"Validating {cfg_path}")
    ctx.pace(0.3)
    ctx.err("✓ Configuration is valid")
    ctx.err("--> Verified app config")
    state = ctx.sb.read()
    if not app_name or app_name not in state["apps"]:
        raise SandboxError(f"the app name {app_name} could not be found, did you create the app or misspell it "
                           "in the fly.toml file or via -a?")
    with ctx.sb.transaction() as st:
        app = get_app(st, app_name)
        app["source_dir"] = str(source)
        app["config"] = {"internal_port": cfg.internal_port, "check_path": cfg.check_path,
                         "env": cfg.env, "release_command": cfg.release_command}
    tag = f"deployment-{ulid_like()}"
    image = ctx.flag("image") or f"registry.fly.io/{app_name}:{tag}"
    if not ctx.flag("image"):
        _build(ctx, app_name, source, fail == "build")
        _push(ctx, app_name, tag, fail == "push")
    else:
        ctx.err("==> Building image")
        ctx.err(f"Searching for image '{image}' remotely...")
        ctx.pace(0.3)
        ctx.err(f"image found: img_{_secrets.token_hex(8)}")
    ctx.err(f"image: {image}")
    ctx.err(f"image size: {random.choice([124, 243, 812])} MB")
    ctx.out("")
    ctx.out(f"Watch your deployment at https://fly.io/apps/{app_name}/monitoring")
    ctx.out("")
    if cfg.release_command:
        _release_command(ctx, app_name, source, cfg.release_command, image, fail == "release")
    if fail == "payment":
        _record_release(ctx, app_name, image, "failed")
        raise SandboxError(PAYMENT)
    app = get_app(ctx.sb.read(), app_name)
    group = [m for m in app["machines"] if m["config"]["metadata"].get("fly_process_group", "app") == "app"
             and m["state"] not in ("destroyed", "destroying")]
    release = _record_release(ctx, app_name, image, "running")
    try:
        if group:
            rolling_update(ctx, app_name, image=image, release=release, fail_health=fail == "health",
                           wait=not ctx.flag("detach"))
        else:
            _first_launch(ctx, app_name, cfg, image, release, fail == "health")
    except SandboxError:
        _finish_release(ctx, app_name, release["version"], "failed")
        raise
    _finish_release(ctx, app_name, release["version"], "complete")
    ctx.err(f"Checking DNS configuration for {app_name}.fly.dev")
    ctx.pace(0.3)
    ctx.err("✓ DNS configuration verified")
    url = procs.machine_url(get_app(ctx.sb.read(), app_name)) or f"https://{app_name}.fly.dev/"
    ctx.out("")
    ctx.out(f"Visit your newly deployed app at {url}")
    return 0


def _build(ctx: Ctx, app_name: str, source: Path, fail: bool) -> None:
    ctx.err("==> Building image")
    if not ctx.flag("local_only"):
        builder = f"fly-builder-{random.choice(['misty', 'green', 'quiet'])}-{random.choice(['sun', 'tree', 'pond'])}-{random.randint(1000, 9999)}"
        ctx.err(f"Waiting for remote builder {builder}...")
        ctx.pace(0.6)
        ctx.err(f"🌍 Remote builder {builder} ready")
    ctx.err("==> Building image with Docker")
    ctx.err(f"--> docker host: 25.0.5 linux {'x86_64'}")
    steps = [s for s in dockerfile_steps(source) if s.split()[0].upper() not in ("ARG", "LABEL")]
    n = sum(1 for s in steps if s.split()[0].upper() not in ("CMD", "ENTRYPOINT", "EXPOSE", "ENV", "USER"))
    ctx.err(f"[+] Building {2.0 + n * 0.8:.1f}s ({n + 3}/{n + 3}) FINISHED")
    ctx.err("#1 [internal] load build definition from Dockerfile")
    ctx.err("#1 transferring dockerfile: 512B done")
    ctx.err("#1 DONE 0.0s")
    ctx.err("#2 [internal] load .dockerignore")
    ctx.err("#2 DONE 0.0s")
    k, num = 0, 3
    for step in steps:
        word = step.split()[0].upper()
        if word in ("CMD", "ENTRYPOINT", "EXPOSE", "ENV", "USER"):
            continue
        k += 1
        ctx.err(f"#{num} [{k}/{n}] {step}")
        ctx.pace(2.0 / max(n, 1))
        if fail and word == "RUN":
            ctx.err(f"#{num} ERROR: process \"/bin/sh -c {step[4:]}\" did not complete successfully: exit code: 1")
            raise SandboxError("failed to fetch an image or build from source: error building: failed to solve: "
                               f"process \"/bin/sh -c {step[4:]}\" did not complete successfully: exit code: 1")
        ctx.err(f"#{num} {'CACHED' if word == 'FROM' else 'DONE ' + format(random.uniform(0.1, 3), '.1f') + 's'}")
        num += 1
    if fail:
        raise SandboxError("failed to fetch an image or build from source: error building: failed to solve: "
                           "failed to read dockerfile: open Dockerfile: no such file or directory")
    ctx.err(f"#{num} exporting to image")
    ctx.err(f"#{num} writing image sha256:{_secrets.token_hex(32)} done")
    ctx.err(f"#{num} DONE 0.4s")
    ctx.err("--> Building image done")


def _push(ctx: Ctx, app_name: str, tag: str, fail: bool) -> None:
    ctx.err("==> Pushing image to fly")
    ctx.err(f"The push refers to repository [registry.fly.io/{app_name}]")
    for i in range(7):
        ctx.pace(0.15)
        layer = _secrets.token_hex(6)
        if fail and i == 3:
            ctx.err(f"{layer}: Retrying in 5 seconds")
            raise SandboxError("failed to fetch an image or build from source: failed to push image: "
                               f"unexpected status from PUT request to https://registry.fly.io/v2/{app_name}/"
                               "manifests/" + tag + ": 401 Unauthorized")
        ctx.err(f"{layer}: Pushed ")
    ctx.err(f"{tag}: digest: sha256:{_secrets.token_hex(32)} size: 2633")
    ctx.err("--> Pushing image done")


def run_in_app(app: dict[str, Any], server: dict[str, Any] | None, cmd: str,
               *, capture: bool) -> subprocess.Popen[bytes]:
    """Run ``cmd`` (shlex split, no shell) like a machine would: app dir, secrets env, venv bin first.

    The env is the machine's (``DATABASE_URL`` exactly as set, plus ``PGHOSTADDR`` for its Postgres
    app, whose forwarder is started if needed); call it outside a state transaction. ``server`` is unused.
    """
    argv = procs.resolve_program(shlex.split(cmd))
    cwd = app.get("source_dir") or os.getcwd()
    env = procs.app_env(app, server)
    try:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE if capture else None,
                                stderr=subprocess.STDOUT if capture else None, preexec_fn=die_with_parent())
    except OSError as exc:
        raise SandboxError(f'ssh shell: exec: "{argv[0]}": executable file not found in $PATH ({exc.strerror})') from exc


def _release_command(ctx: Ctx, app_name: str, source: Path, cmd: str, image: str, fail: bool) -> None:
    state = ctx.sb.read()
    app = get_app(state, app_name)
    mid = _secrets.token_hex(7)
    ctx.err(f"Running {app_name} release_command: {cmd}")
    ctx.err("")
    ctx.err("-------")
    ctx.err(f"  Starting machine {mid}")
    ctx.pace(0.5)
    log = ctx.sb.log_path(app_name)
    if fail:
        code, lines = 1, ["Error: release command failed: simulated failure (sandbox fault fail_stage=release)"]
    else:
        proc = run_in_app(app, state.get("postgres_server"), cmd, capture=True)
        assert proc.stdout is not None
        lines = [ln.decode("utf-8", "replace").rstrip("\n") for ln in proc.stdout]
        code = proc.wait()
    for ln in lines:
        procs.append_log(log, mid, app["machines"][0]["region"] if app["machines"] else "iad", ln)
    if code != 0:
        ctx.err("-------")
        ctx.err(f"Error release_command failed running on machine {mid} with exit code {code}.")
        ctx.err("Checking logs: fetching the last 100 lines below:")
        for ln in lines[-100:]:
            ctx.err(f"  {ln}")
        _record_release(ctx, app_name, image, "failed")
        raise SandboxError("release command failed - aborting deployment. "
                           f"error release_command machine {mid} exited with non-zero status of {code}")
    for ln in lines:
        ctx.err(f"  {ln}")
    ctx.err(f" ✔ release_command {mid} completed successfully")
    ctx.err("-------")


def _record_release(ctx: Ctx, app_name: str, image: str, status: str) -> dict[str, Any]:
    with ctx.sb.transaction() as st:
        return add_release(get_app(st, app_name), st, image=image, status=status,
                           strategy=(ctx.flag("strategy") or "rolling").upper())


def _finish_release(ctx: Ctx, app_name: str, version: int, status: str) -> None:
    with ctx.sb.transaction() as st:
        app = get_app(st, app_name)
        for r in app["releases"]:
            if r["version"] == version:
                r["status"] = status
        if status == "complete":
            app["deployed"] = True
            app["status"] = "deployed"
            for s in app["secrets"].values():
                s["status"] = "Deployed"


def _first_launch(ctx: Ctx, app_name: str, cfg: DeployConfig, image: str, release: dict[str, Any],
                  fail_health: bool) -> None:
    from flytui.sandbox import rolling

    count = 1 if ctx.flag("ha") is False else 2
    ctx.err("This deployment will:")
    ctx.err(f' * create {count} "app" machine{"s" if count > 1 else ""}')
    ctx.err("")
    # v0.1.104+: a status line per new group, printed before "No machines in group" (rolling.py)
    sl = rolling.first_launch_logger(ctx) if generations.at_least(generations.STATUSLOGGER) else None
    ctx.err("No machines in group app, launching a new machine")
    timeout = float(str(ctx.flag("wait_timeout", "0")).rstrip("s") or 0) or 30.0
    for i in range(count):
        if i == 1:
            ctx.err(rolling.second_machine_text())
        with ctx.sb.transaction() as st:
            app = get_app(st, app_name)
            app["config"]["env"] = cfg.env
            for s in app["secrets"].values():
                s["status"] = "Deployed"
            m = new_machine(app, region=cfg.region, image=image, state="started",
                            internal_port=cfg.internal_port, check_path=cfg.check_path or "/",
                            memory_mb=cfg.memory_mb, cpu_kind=cfg.cpu_kind, cpus=cfg.cpus)
            m["config"]["metadata"]["fly_release_id"] = release["id"]
            m["config"]["metadata"]["fly_release_version"] = str(release["version"])
            m["config"]["metadata"]["fly_flyctl_version"] = FLYCTL_VERSION
            m["config"]["env"].update(cfg.env)
            procs.start_machine_process(ctx.sb, app, m, state=st)
            mid = m["id"]
        ctx.pace(0.8)
        if sl is not None:  # spawnMachineInGroup: its machine does not log its waits (showLogs false)
            sl.log(0, f"Machine {mid} [app] was created")
        else:
            ctx.err(f"  Waiting for {mid} to have state: started")
        if ctx.flag("detach"):
            continue
        ok, reason = (False, "crashed") if fail_health else wait_healthy(ctx, app_name, mid, timeout)
        if not ok:
            if fail_health:
                with ctx.sb.transaction() as st:
                    mm = next(x for x in get_app(st, app_name)["machines"] if x["id"] == mid)
                    procs.stop_machine_process(mm)
            err = health_failure(ctx, app_name, mid, reason)
            if sl is not None:
                sl.failed(0, err.message)  # deployCreateMachinesForGroups: statuslogger.Failed(ctx, err)
            raise err
        if sl is not None:
            sl.log_status(0, generations.SUCCESS, f"Machine {mid} [app] update finished: success")
        else:
            ctx.err(f"  Machine {mid} update finished: success")
    ctx.err("Finished launching new machines")
    ctx.err("-------")
    ctx.err("NOTE: The machines for [app] have services with 'auto_stop_machines = \"stop\"' that will be "
            "stopped when idling")
    ctx.err("")
    ctx.err("-------")
