"""The one releases view (the main screen's releases pane) and rollback, through the real sandbox flyctl.

* refresh (``r``) updates changed cells in place and keeps the cursor on its release;
* rollback: ``R`` on an earlier release, one confirmation, and the deploy screen runs
  ``fly deploy --image OLD_IMAGE`` at once (progress, push label), creating a new release whose image is
  the old one; ``v`` on the deploy screen then opens the releases pane with that release on top.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from tests.helpers.wait import until

PROJECT = Path(__file__).parent / "fixtures" / "sandbox" / "project"


def make(sandbox: Any, **kw: Any) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env, grace=1.0))
    return FlytuiApp(Config(refresh_interval=60), client, **kw)


async def open_releases(pilot: Any) -> Any:
    app = pilot.app
    await until(pilot, lambda: any(p.active for p in app.main.query(".pane")))
    await pilot.press("colon", *"releases", "enter")
    await until(pilot, lambda: bool(app.main.query("#releases")) and app.main.pane.id == "releases")
    return app.main.query_one("#releases")


async def test_releases_pane_refresh_in_place_keeps_the_cursor(sandbox: Any) -> None:
    from flytui.sandbox.state import add_release

    sandbox.create_app("shop-api")
    with sandbox.transaction() as st:
        a = st["apps"]["shop-api"]
        add_release(a, st, image="registry.fly.io/shop-api:deployment-1", status="failed")
        add_release(a, st, image="registry.fly.io/shop-api:deployment-2")
    app = make(sandbox, current_app="shop-api")
    async with app.run_test(size=(200, 40)) as pilot:
        pane = await open_releases(pilot)
        await until(pilot, lambda: len(pane.table.rows_data) == 2)
        t = pane.table
        assert t.visible_keys() == ["v2", "v1"]
        assert t.rows_data["v2"]["image"] == "registry.fly.io/shop-api:deployment-2"
        assert t.rows_data["v2"]["version"].plain == "v2 ★" and t.rows_data["v1"]["status"].plain == "failed"
        t.move_cursor(row=1)
        loads = pane.loads
        with sandbox.transaction() as st:
            st["apps"]["shop-api"]["releases"][0]["status"] = "reverted"
        await pilot.press("r")
        await until(pilot, lambda: pane.loads > loads)
        assert t.rows_data["v1"]["status"].plain == "reverted" and t.row_count == 2
        assert str(t.get_row("v1")[1]) == "reverted"  # the cell itself was updated in place
        assert t.cursor_row == 1 and t.selected_key == "v1"  # cursor kept on refresh


@pytest.fixture
def deployed(sandbox: Any, tmp_path: Path) -> tuple[Path, list[str]]:
    """``web-app`` deployed twice from the test project (real sandbox deploys): (project, [image v1, image v2])."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    sandbox.create_app("web-app")
    for _ in range(2):
        done = sandbox.run("deploy", "-a", "web-app", "--yes", cwd=project)
        assert done.returncode == 0, done.stderr[-2000:]
    images = [r["image_ref"] for r in sandbox.read()["apps"]["web-app"]["releases"]]
    assert len(images) == 2 and images[0] != images[1]
    return project, images


async def test_rollback_runs_the_deploy_at_once_and_v_opens_the_releases_pane(sandbox: Any, deployed: Any) -> None:
    from flytui.ui.screens.deploy import DeployScreen

    project, images = deployed
    app = make(sandbox, current_app="web-app", project_dir=project)
    async with app.run_test(size=(200, 50)) as pilot:
        pane = await open_releases(pilot)
        await until(pilot, lambda: "v1" in pane.table.rows_data)
        pane.table.focus()
        pane.table.move_cursor(row=pane.table.get_row_index("v1"))
        await pilot.press("R")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        argv_text = str(app.screen.query_one("#confirm-argv").render())
        assert f"deploy -a web-app --yes --image {images[0]}" in argv_text
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, DeployScreen))
        scr = app.screen
        await until(pilot, lambda: scr.running or (scr.tracker is not None and scr.tracker.finished), 10)
        assert not scr.query_one("#deploy-form").display  # started without a second key press
        await until(pilot, lambda: scr.tracker is not None and scr.tracker.finished and not scr.running, 60)
        assert scr.tracker.succeeded, scr.query_one("#deploy-transcript").lines[-20:]
        assert scr.tracker.image == images[0]
        deploys = [a for a in sandbox.argv_log() if a[:1] == ["deploy"]]
        assert deploys[-1] == ["deploy", "-a", "web-app", "--yes", "--image", images[0]]  # exactly the confirmed argv
        state = sandbox.read()["apps"]["web-app"]
        assert [(r["version"], r["status"], r["image_ref"]) for r in state["releases"]][-1] == (3, "complete", images[0])
        assert all(m["config"]["image"] == images[0] for m in state["machines"] if m["state"] != "destroyed")
        await until(pilot, lambda: scr.probe_results != [], 30)
        await pilot.press("v")
        await until(pilot, lambda: app.screen is app.main and app.main.pane.id == "releases")
        await until(pilot, lambda: "v3" in pane.table.rows_data)
        assert pane.table.visible_keys()[0] == "v3" and pane.table.rows_data["v3"]["image"] == images[0]
        assert pane.table.rows_data["v3"]["version"].plain == "v3 ★"
