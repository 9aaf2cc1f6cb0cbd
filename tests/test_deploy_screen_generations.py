"""The deploy screen on a real sandbox deploy: today's flyctl, the oldest flytui supports (v0.2.77), 2023 lines.

The sandbox plays ``$FLYTUI_SANDBOX_FLYCTL_VERSION`` (flytui/sandbox/generations.py): today's machine lines are
internal/statuslogger's non-interactive ``> [1/2] Updating ID [app]`` … ``✔ [1/2] Machine ID [app] update
succeeded`` (flyctl @ ad0172f); v0.1.90 prints ``  [1/2] Updating ID [app]`` … ``update finished: success``
(machines_deploymachinesapp.go @ v0.1.103).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flytui.ui.screens.deploy import DeployScreen
from tests.helpers.screen_app import ScreenApp, client_for, sandbox_project
from tests.helpers.wait import until


@pytest.fixture
def project(tmp_path: Path, sandbox: Any) -> Path:
    return sandbox_project(tmp_path, sandbox)


@pytest.mark.parametrize("version", [None, "0.2.77", "0.1.90"], ids=["today", "oldest-supported-v0.2.77",
                                                                  "2023-lines-v0.1.90"])
async def test_machine_rows_reach_done_and_push_bar_is_not_left_waiting(sandbox: Any, project: Path,
                                                                       version: str | None) -> None:
    if version:
        sandbox.env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = version
    assert sandbox.run("deploy", "--image", "registry.fly.io/web-app:v0", cwd=project).returncode == 0
    ids = {m["id"] for m in sandbox.read()["apps"]["web-app"]["machines"]}
    assert len(ids) == 2
    # a redeploy of an image (the rollback path): no build, no layers to push
    screen = DeployScreen("web-app", project, image="registry.fly.io/web-app:v0", auto_start=True)
    app = ScreenApp(client_for(sandbox), screen)
    async with app.run_test(size=(140, 50)) as pilot:
        await until(pilot, lambda: screen.tracker is not None and screen.tracker.finished and not screen.running, 60)
        assert screen.tracker.succeeded, screen.tracker.transcript[-20:]
        table = screen.query_one("#deploy-machines")
        assert set(table.rows) == ids
        for mid in ids:
            assert table.get_cell(mid, "state") == "done"
        assert screen.query_one("#deploy-stages").get_cell("machines", "icon") == "✓"
        label = str(screen.query_one("#deploy-push-label").render())
        assert label == "push: not needed (no image built)"
        bar = screen.query_one("#deploy-push")
        assert bar.percentage == 1.0
