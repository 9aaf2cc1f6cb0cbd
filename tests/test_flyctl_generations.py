"""Every flyctl generation flytui supports: deploy machine progress, the proxy ready line, ``fly version``.

Shapes come from flyctl's source (superfly/flyctl, ``git -C /work/.mirror/superfly+flyctl/repo``):

* today (ad0172f, v0.4.87-6): internal/statuslogger/noninteractive.go + shared.go (flytui runs flyctl without a
  TTY, so ``IsInteractive()`` is false: one stdout line per update, ``<glyph> [i/n] text``), lines from
  internal/command/deploy/machines_deploymachinesapp.go and internal/machine/leasable_machine.go;
* ``--deploy-retries``: internal/command/deploy/plan.go @ ad0172f (since v0.2.94, 1bdffec08);
* v0.1.104–v0.1.111: machines_deploymachinesapp.go @ v0.1.111 (``update finished: success``, ``Finished deploying``);
* before v0.1.104 (the oldest flytui still parses): machines_deploymachinesapp.go @ v0.1.103;
* proxy: proxy/connect.go (``Proxying local port`` until v0.3.153, ``Proxying localhost:`` since ab42f7ecb, v0.3.154).

Machine ids and app names below are invented.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flytui.db.remote import PROXY_READY
from flytui.db.tunnel import READY_RE, Tunnel
from flytui.fly.client import FlyClient
from flytui.fly.deploy import FAILED, OK, DeployTracker
from flytui.fly.runner import FlyctlRunner
from tests.helpers.screen_app import client_for, sandbox_project

A, B = "148e2d4f7e5e89", "9080524f610e38"


def states(lines: list[str]) -> tuple[DeployTracker, dict[str, list[str]]]:
    """Feed line by line; every row's distinct states in order."""
    tr = DeployTracker("shop-api")
    seen: dict[str, list[str]] = {}
    for ln in lines:
        tr.feed_line(ln)
        for row in tr.machines.values():
            hist = seen.setdefault(row.id, [])
            if not hist or hist[-1] != row.state:
                hist.append(row.state)
    return tr, seen


# ---------------------------------------------------------------- tracker, one transcript per generation
# updateEntriesGroup + updateMachine + waitForMachine @ ad0172f, two machines, non-interactive logger
TODAY_ROLLING = [
    "Updating existing machines in 'shop-api' with rolling strategy",
    f"> [1/2] Updating {A} [app]",
    f"> [1/2] Updating {A} [app]",
    f"> [1/2] Waiting for {A} [app] to have state: started",
    f"> [1/2] Machine {A} [app] has state: started",
    f"> [1/2] Checking that {A} [app] is up and running",
    f"> [1/2] Waiting for {A} [app] to become healthy: 1/1",
    "",  # logHealthCheckStatus's format ends in \n and Fprintln adds one
    f"✔ [1/2] Machine {A} [app] update succeeded",
    f"> [2/2] Updating {B} [app]",
    f"> [2/2] Updating {B} [app]",
    f"> [2/2] Waiting for {B} [app] to have state: started",
    f"> [2/2] Machine {B} [app] has state: started",
    f"> [2/2] Checking that {B} [app] is up and running",
    f"✔ [2/2] Machine {B} [app] update succeeded",
]


def test_today_rolling_rows_go_to_done() -> None:
    tr, seen = states(TODAY_ROLLING)
    assert seen[A] == ["updating", "started", "checking", "done"]
    assert seen[B] == ["updating", "started", "checking", "done"]
    assert (tr.machines[A].index, tr.machines[A].total) == (1, 2)
    assert tr.stages["machines"].status == OK  # no "Finished deploying" since v0.1.112
    assert tr.stages["machines"].detail == "2/2 machines updated"


def test_today_rolling_failure_marks_the_row_failed() -> None:
    # statusFailure: "Machine %s update %s: %s" with the smoke-check error (smokeChecksError.Error())
    lines = TODAY_ROLLING[:6] + [
        f"✖ [1/2] Machine {A} [app] update failed: smoke checks for {A} failed: the app appears to be crashing",
        f"Error: smoke checks for {A} failed: the app appears to be crashing",
    ]
    tr, seen = states(lines)
    assert seen[A][-1] == "failed"
    tr.finish(1)
    assert tr.failure is not None and tr.failure.kind == "smoke_checks" and tr.failure.machine == A
    assert tr.stages["health"].status == FAILED


def test_padded_index_and_canceled_machine() -> None:
    # formatIndex pads to the width of the total ("[01/12]"); statusSkipped prints "update canceled" with ✖
    tr, seen = states([
        f"> [01/12] Updating {A} [app]",
        f"✔ [01/12] Machine {A} [app] update succeeded",
        f"✖ [02/12] Machine {B} [app] update canceled",
    ])
    assert seen == {A: ["updating", "done"], B: ["failed"]}
    assert tr.machines[B].index == 2 and tr.machines[B].total == 12


# plan.go updateMachinesWRecovery @ ad0172f: acquireLeases, updateMachineWChecks, releaseLeases
RETRIES = [
    "Updating existing machines in 'shop-api' with rolling strategy",
    f"> [1/2] Acquiring lease for {A}",
    f"> [1/2] Acquired lease for {A}",
    f"> [2/2] Acquiring lease for {B}",
    f"> [2/2] Acquired lease for {B}",
    f"> [1/2] Updating machine config for {A}",
    f"> [1/2] Updated machine config for {A}",
    f"> [1/2] Waiting for machine {A} to reach a good state",
    f"> [1/2] Machine {A} reached started state",
    f"> [1/2] Running smoke checks on machine {A}",
    f"> [1/2] Running machine checks on machine {A}",
    f"> [1/2] Checking health of machine {A}",
    f"✔ [1/2] Machine {A} is now in a good state",
    f"> [2/2] Updating machine config for {B}",
    f"> [2/2] Updated machine config for {B}",
    f"> [2/2] Waiting for machine {B} to reach a good state",
    f"> [2/2] Machine {B} reached started state",
    f"> [2/2] Running smoke checks on machine {B}",
    f"✖ [2/2] smoke checks for {B} failed: the app appears to be crashing",
    f"> [1/2] Clearing lease for {A}",
    f"✔ [1/2] Cleared lease for {A}",
    f"> [2/2] Clearing lease for {B}",
    f"✔ [2/2] Cleared lease for {B}",
]


def test_deploy_retries_lines() -> None:
    tr, seen = states(RETRIES)
    assert seen[A] == ["pending", "updating", "started", "checking", "done"]
    assert seen[B] == ["pending", "updating", "started", "checking", "failed"]  # leases never change a row
    assert tr.machines[B].step.startswith("Cleared lease")


def test_deploy_retries_failure_without_id_uses_the_index() -> None:
    tr, _ = states(RETRIES[:6] + ["✖ [1/2] timeout reached waiting for health checks to pass"])
    assert tr.machines[A].state == "failed" and tr.machines[B].state == "pending"
    # an error text with another hex word (a lease nonce) still belongs to the line's machine
    tr, _ = states(RETRIES[:6] + ["✖ [2/2] lease currently held by 0123456789abcdef01"])
    assert tr.machines[B].state == "failed" and set(tr.machines) == {A, B}


# deployCreateMachinesForGroups + spawnMachineInGroup @ ad0172f (one group: no [i/n]); the second machine's
# "was created" inherits the ✔ of the first machine's success on the same status line
FIRST_LAUNCH = [
    "This deployment will:",
    ' * create 2 "app" machines',
    "",
    "> Launching new machine",
    "No machines in group app, launching a new machine",
    f"> Machine {A} [app] was created",
    f"✔ Machine {A} [app] update finished: success",
    "Creating a second machine to increase service availability",
    f"✔ Machine {B} [app] was created",
    f"✔ Machine {B} [app] update finished: success",
    "Finished launching new machines",
]


def test_first_launch_second_machine_is_not_done_when_created() -> None:
    tr, seen = states(FIRST_LAUNCH)
    assert seen == {A: ["updating", "done"], B: ["updating", "done"]}
    assert tr.stages["machines"].status == OK


def test_v0_1_104_statuslogger_lines() -> None:
    # machines_deploymachinesapp.go @ v0.1.111: LogStatus(Running, "Updating"), then updateMachine's Logf
    tr, seen = states([
        "Updating existing machines in 'shop-api' with rolling strategy",
        "> [1/2] Updating",
        f"> [1/2] Updating {A} [app]",
        f"✔ [1/2] Machine {A} [app] update finished: success",
        "> [2/2] Updating",
        f"> [2/2] Updating {B} [app]",
        f"✔ [2/2] Machine {B} [app] update finished: success",
        "  Finished deploying",
    ])
    assert seen == {A: ["updating", "done"], B: ["updating", "done"]}


# machines_releasecommand.go @ ad0172f: a SingleLine status logger (no [i/n]); the release machine's own lines
# must not become machine rows
def test_release_command_status_lines_are_not_machine_rows() -> None:
    rel = "2876e9d1c34618"
    tr, seen = states([
        "Running shop-api release_command: alembic upgrade head",
        f"> Created release_command machine {rel}",
        "Starting machine",
        f"> Waiting for {rel} to have state: started",
        "✖ release_command failed",
        f"Error release_command failed running on machine {rel} with exit code 1.",
        "Checking logs: fetching the last 100 lines below:",
        "2026-08-21T10:00:00Z sqlalchemy.exc.IntegrityError: (psycopg.errors.NotNullViolation)",
        f"✖ Failed: machine {rel} exited with non-zero status of 1",
        f"Error: release command failed - aborting deployment. machine {rel} exited with non-zero status of 1",
    ])
    assert seen == {} and tr.machines == {}
    assert any("Created release_command machine" in ln for ln in tr.stages["release"].lines)
    tr.finish(1)
    assert tr.failure is not None and tr.failure.kind == "release_command" and tr.failure.stage == "release"


def test_release_command_success_then_first_launch() -> None:
    rel = "2876e9d1c34618"
    tr, seen = states([
        "Running shop-api release_command: alembic upgrade head",
        f"> Created release_command machine {rel}",
        "Starting machine",
        f"✔ release_command {rel} completed successfully",
    ] + FIRST_LAUNCH)
    assert tr.stages["release"].status == OK and set(seen) == {A, B}


# ---------------------------------------------------------------- the real sandbox flyctl
@pytest.fixture
def project(tmp_path: Path, sandbox: Any) -> Path:
    return sandbox_project(tmp_path, sandbox)


async def _deploy(sandbox: Any, project: Path, version: str | None, **env: str) -> tuple[DeployTracker, dict]:
    if version:
        env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = version
    client = client_for(sandbox, **env)
    tr = DeployTracker("web-app")
    seen: dict[str, list[str]] = {}

    def snapshot() -> None:
        for row in tr.machines.values():
            hist = seen.setdefault(row.id, [])
            if not hist or hist[-1] != row.state:
                hist.append(row.state)

    async with client.deploy("web-app", cwd=str(project), image="registry.fly.io/web-app:v1") as proc:
        async for batch in proc.batches():
            for ln in batch:
                tr.feed_line(ln.text)
                snapshot()
        tr.finish(await proc.wait())
        snapshot()  # the 2023 lines carry no failure per machine: finish() marks the unfinished row
    return tr, seen


@pytest.mark.parametrize("version", [None, "0.2.77", "0.1.90"], ids=["today", "oldest-supported-v0.2.77",
                                                                  "2023-lines-v0.1.90"])
async def test_sandbox_redeploy_rows_go_to_done(sandbox: Any, project: Path, version: str | None) -> None:
    if version:
        sandbox.env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = version
    first = sandbox.run("deploy", "--image", "registry.fly.io/web-app:v0", cwd=project)
    assert first.returncode == 0, first.stderr
    ids = sorted(m["id"] for m in sandbox.read()["apps"]["web-app"]["machines"])
    assert len(ids) == 2
    tr, seen = await _deploy(sandbox, project, version)
    assert tr.succeeded, tr.transcript[-20:]
    assert sorted(tr.machines) == ids
    for mid in ids:
        assert seen[mid][-1] == "done" and "updating" in seen[mid], seen
        assert tr.machines[mid].total == 2
    assert sorted(tr.machines[mid].index or 0 for mid in ids) == [1, 2]
    if version != "0.1.90":  # updateUsingRollingStrategy sorts by machine id since v0.1.112 (fb160d4fd)
        assert [tr.machines[mid].index for mid in ids] == [1, 2]
    assert tr.stages["machines"].status == OK
    modern = any(t.startswith("✔ [1/2]") for t in tr.transcript)
    assert modern == (version != "0.1.90")


async def test_sandbox_deploy_retries_rows(sandbox: Any, project: Path) -> None:
    assert sandbox.run("deploy", "--image", "registry.fly.io/web-app:v0", cwd=project).returncode == 0
    tr, seen = await _deploy(sandbox, project, None, FLYTUI_SANDBOX_DEPLOY_RETRIES="2")
    assert tr.succeeded
    assert any("is now in a good state" in t for t in tr.transcript)
    assert all(h[-1] == "done" for h in seen.values()) and len(seen) == 2


def test_sandbox_deploy_retries_flag_by_version(sandbox: Any, project: Path) -> None:
    # internal/command/deploy/deploy.go: --deploy-retries since v0.2.94 (1bdffec08), validated before anything runs
    r = sandbox.run("deploy", "--image", "registry.fly.io/web-app:v0", "--deploy-retries", "x", cwd=project)
    assert r.returncode == 1 and "--deploy-retries must be set to a positive integer, 0, or 'auto'" in r.stderr
    sandbox.env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = "0.2.93"
    r = sandbox.run("deploy", "--image", "registry.fly.io/web-app:v0", "--deploy-retries", "1", cwd=project)
    assert r.returncode == 1 and r.stderr.strip() == "Error: unknown flag: --deploy-retries"


@pytest.mark.parametrize("version", [None, "0.2.77", "0.1.90"], ids=["today", "oldest-supported-v0.2.77",
                                                                  "2023-lines-v0.1.90"])
async def test_sandbox_failed_health_marks_row_failed(sandbox: Any, project: Path, version: str | None) -> None:
    if version:
        sandbox.env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = version
    assert sandbox.run("deploy", "--image", "registry.fly.io/web-app:v0", "--ha=false", cwd=project).returncode == 0
    (mid,) = [m["id"] for m in sandbox.read()["apps"]["web-app"]["machines"]]
    sandbox.inject_fault("deploy", fail_stage="health")
    tr, seen = await _deploy(sandbox, project, version)
    assert tr.failure is not None and tr.failure.kind == "smoke_checks" and tr.failure.machine == mid
    assert seen[mid][0] == "updating" and seen[mid][-1] == "failed"
    if version != "0.1.90":  # the failure comes from the ✖ status line itself (no [i/n]: one machine)
        assert any(t.startswith(f"✖ Machine {mid} [app] update failed: smoke checks") for t in tr.transcript)


async def test_sandbox_first_launch_today(sandbox: Any, project: Path) -> None:
    tr, seen = await _deploy(sandbox, project, None)
    assert tr.succeeded and len(seen) == 2
    assert all(h == ["updating", "done"] for h in seen.values()), seen
    assert "> Launching new machine" in tr.transcript


# ---------------------------------------------------------------- fly version
@pytest.mark.parametrize("version", ["0.1.90", "0.3.150"])
async def test_sandbox_reports_the_chosen_version(sandbox: Any, version: str) -> None:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env={**sandbox.env, "FLYTUI_SANDBOX_FLYCTL_VERSION": version}))
    assert (await client.version()).version == version


# ---------------------------------------------------------------- proxy ready line, both generations
OLD_READY = "Proxying local port 15432 to remote [fly-demo-test-postgres.internal]:5432"  # connect.go @ v0.3.153
NEW_READY = "Proxying localhost:15432 to remote [fly-demo-test-postgres.internal]:5432"   # connect.go @ ad0172f


@pytest.mark.parametrize("line", [OLD_READY, NEW_READY])
def test_ready_patterns_match_both_generations(line: str) -> None:
    m = READY_RE.search(line)
    assert m and m.group("local") == "15432" and m.group("remote") == "5432"
    assert m.group("host") == "fly-demo-test-postgres.internal"
    pm = PROXY_READY.search(line)
    assert pm and pm.group(1) == "15432"


@pytest.mark.parametrize("version", [None, "0.3.153", "0.2.77"], ids=["today", "v0.3.153", "oldest-v0.2.77"])
async def test_sandbox_tunnel_comes_up_on_either_ready_line(sandbox_pg: Any, pg_server: Any,
                                                            version: str | None) -> None:
    import re

    import psycopg

    app = "gen-test-postgres"
    sandbox_pg.create_postgres(app)
    env = dict(sandbox_pg.env)
    if version:
        env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = version
    runner = FlyctlRunner(sandbox_pg.flyctl, env=env, grace=1.0)
    # the sandbox prints this generation's line (so the tunnel below really meets it)
    expected = r"^Proxying localhost:\d+ " if version in (None,) else r"^Proxying local port \d+ "
    async with FlyClient(runner).proxy(0, 5432, app) as proc:
        await proc.wait_for(re.compile(expected), timeout=10)
    async with Tunnel(runner, app, 5432, backoff_base=0.05, backoff_cap=0.2, ready_timeout=10.0) as tunnel:
        assert tunnel.state == "up"
        conninfo = (f"host=127.0.0.1 port={tunnel.local_port} user={pg_server.user} "
                    f"password={pg_server.password} dbname=postgres")
        async with await psycopg.AsyncConnection.connect(conninfo) as conn:
            cur = await conn.execute("select 1")
            assert await cur.fetchone() == (1,)
    assert tunnel.state == "closed"


async def test_tunnel_below_v0_2_77_fails_with_flyctls_unknown_flag(sandbox_pg: Any) -> None:
    # internal/command/proxy/proxy.go got --watch-stdin in v0.2.77 (3501aeb46): cobra rejects it before
    from flytui.fly.errors import FlyctlError

    sandbox_pg.create_postgres("gen-test-postgres")
    runner = FlyctlRunner(sandbox_pg.flyctl, env={**sandbox_pg.env, "FLYTUI_SANDBOX_FLYCTL_VERSION": "0.2.76"},
                          grace=1.0)
    tunnel = Tunnel(runner, "gen-test-postgres", 5432, backoff_base=0.05, backoff_cap=0.2, ready_timeout=10.0)
    with pytest.raises(FlyctlError, match="unknown flag: --watch-stdin"):
        await tunnel.open()
    assert tunnel.state == "failed"
    await tunnel.close()
