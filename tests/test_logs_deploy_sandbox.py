"""Logs and deploy screens against the real sandbox flyctl (``flytui-sandbox-flyctl``).

Deploys are real: the sandbox builds nothing but starts the project's app as a local process per machine, so
the probe hits the real URL printed on the ``Visit`` line. Failures come from the sandbox's deploy faults.
The log stream is ``fly logs --json`` with the sandbox's generator (``FLYTUI_SANDBOX_LOG_RATE``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from flytui.fly.runner import live_groups
from flytui.sandbox.state import pid_alive
from flytui.ui.screens.deploy import DeployScreen
from flytui.ui.screens.logs import LogsScreen
from flytui.ui.widgets.log_view import LogView
from tests.helpers.screen_app import ScreenApp, client_for, sandbox_project
from tests.helpers.wait import until

@pytest.fixture
def project(tmp_path: Path, sandbox: Any) -> Path:
    return sandbox_project(tmp_path, sandbox)


def result(app: App) -> str:
    return str(app.screen.query_one("#deploy-result").render())


# --- logs -------------------------------------------------------------------------------------------------
async def test_logs_stream_from_sandbox_generator_filter_and_machine(sandbox: Any) -> None:
    sandbox.create_app("web-app", deployed=True)
    m1 = sandbox.add_machine("web-app", region="iad", state="started")
    m2 = sandbox.add_machine("web-app", region="cdg", state="started")
    client = client_for(sandbox, FLYTUI_SANDBOX_LOG_RATE="400")
    app = ScreenApp(client, LogsScreen("web-app"))
    async with app.run_test(size=(140, 30)) as pilot:
        scr = app.screen
        assert isinstance(scr, LogsScreen)
        await until(pilot, lambda: scr.buffer is not None and len(scr.buffer) > 200)
        view = scr.query_one(LogView)
        assert {r.instance for r in scr.buffer} == {m1["id"], m2["id"]}
        assert all(r.message.startswith("INFO:") and "GET /items/" in r.message for r in view.rows)
        await pilot.press("r")  # first known region
        assert scr.filter.region == "cdg" and {r.instance for r in view.rows} == {m2["id"]}
        await pilot.press("p")
        n = len(view.rows)
        await until(pilot, lambda: scr.pending_new > 50)
        assert len(view.rows) == n  # paused: counted, not shown
        await pilot.press("p")
        assert len(view.rows) > n and scr.pending_new == 0
        argv = [a for a in sandbox.argv_log() if a[:1] == ["logs"]]
        assert argv and argv[0][:4] == ["logs", "-a", "web-app", "--json"]
        pid = scr.tail.process.pid
        app.pop_screen()
        await until(pilot, lambda: not pid_alive(pid), timeout=5)
    # one machine (what `L` in the machines pane opens): flyctl gets -i and only that machine's lines come back
    app = ScreenApp(client, LogsScreen("web-app", m1["id"]))
    async with app.run_test(size=(140, 30)) as pilot:
        scr = app.screen
        await until(pilot, lambda: scr.buffer is not None and len(scr.buffer) > 50)
        assert {r.instance for r in scr.buffer} == {m1["id"]}
        assert ["-i", m1["id"]] == [a for a in sandbox.argv_log() if a[:1] == ["logs"]][-1][4:6]
    assert live_groups() == {}


# --- deploy -----------------------------------------------------------------------------------------------
async def test_deploy_success_real_machine_probe_and_release_history(sandbox: Any, project: Path) -> None:
    app = ScreenApp(client_for(sandbox), DeployScreen("web-app", project))
    async with app.run_test(size=(140, 50)) as pilot:
        scr = app.screen
        assert isinstance(scr, DeployScreen)
        await pilot.press("d")
        await until(pilot, lambda: scr.probe_results != [], timeout=60)
        tr = scr.tracker
        assert tr is not None and tr.succeeded, scr.query_one("#deploy-transcript").lines[-20:]
        assert tr.url.startswith("http://127.0.0.1:")
        machines = sandbox.read()["apps"]["web-app"]["machines"]
        assert machines and all(m["state"] == "started" and pid_alive(m["sandbox"]["pid"]) for m in machines)
        stages = scr.query_one("#deploy-stages")
        for stage in ("build", "push", "machines"):
            assert stages.get_cell(stage, "icon") == "✓", stage
        assert scr.query_one("#deploy-machines").row_count == len(machines)
        res = result(app)
        assert f"GET {tr.url} → 200" in res  # the real app process answered
        label = str(scr.query_one("#deploy-push-label").render())
        assert re.fullmatch(r"push: (\d+)/\1 layers", label) and label != "push: 0/0 layers", label
        assert sandbox.read()["apps"]["web-app"]["releases"][-1]["status"] == "complete"
        await pilot.press("v")  # the releases view (registry: deploy-releases -> the main screen's releases pane)
        await until(pilot, lambda: app.commands == ["releases"])


@pytest.mark.parametrize("stage,kind,row", [
    ("build", "build", "build"),
    ("push", "push", "push"),
    ("payment", "payment_required", None),
    ("health", "smoke_checks", "health"),
])
async def test_deploy_failure_from_sandbox_fault(sandbox: Any, project: Path, stage: str, kind: str,
                                                 row: str | None) -> None:
    sandbox.inject_fault("deploy", fail_stage=stage)
    app = ScreenApp(client_for(sandbox), DeployScreen("web-app", project))
    async with app.run_test(size=(140, 50)) as pilot:
        scr = app.screen
        await pilot.press("d")
        await until(pilot, lambda: scr.tracker is not None and scr.tracker.finished and not scr.running, 60)
        f = scr.tracker.failure
        assert f is not None and f.kind == kind, (f, scr.query_one("#deploy-transcript").lines[-15:])
        if row:
            assert f.stage == row and scr.query_one("#deploy-stages").get_cell(row, "icon") == "✗"
        res = result(app)
        assert "failed:" in res and "Hint:" in res
        if stage == "payment":
            assert "billing" in res


async def test_deploy_release_command_failure_shows_its_output(sandbox: Any, project: Path) -> None:
    sandbox.set_secret("web-app", "RELEASE_EXIT", "5")
    app = ScreenApp(client_for(sandbox), DeployScreen("web-app", project))
    async with app.run_test(size=(140, 50)) as pilot:
        scr = app.screen
        await pilot.press("d")
        await until(pilot, lambda: scr.tracker is not None and scr.tracker.finished and not scr.running, 60)
        f = scr.tracker.failure
        assert f is not None and f.kind == "release_command" and f.stage == "release"
        assert "exit code 5" in result(app)


async def test_deploy_cancel_kills_group_and_leaves_no_orphan(sandbox: Any, project: Path) -> None:
    client = client_for(sandbox)
    client.runner.env["FLYTUI_SANDBOX_SPEED"] = "1"  # real pacing: time to cancel mid-build
    app = ScreenApp(client, DeployScreen("web-app", project))
    async with app.run_test(size=(140, 50)) as pilot:
        scr = app.screen
        await pilot.press("d")
        await until(pilot, lambda: scr.tracker is not None and scr.tracker.reached("build"))
        pid = scr.process.pid
        assert pid_alive(pid)
        await pilot.press("x")
        await until(pilot, lambda: not scr.running)
        assert app.confirms and app.confirms[0].argvs[0][1:3] == ["deploy", "-a"]
        assert not pid_alive(pid) and live_groups() == {}
        assert "cancelled" in result(app)
    assert not sandbox.read()["apps"]["web-app"]["machines"]  # cancelled before the release: nothing deployed
