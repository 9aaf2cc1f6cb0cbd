"""Pane load workers: replacing a load that has not started yet (or exiting) leaves no un-awaited coroutine."""
from __future__ import annotations

import gc
import warnings

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from tests.helpers.wait import until


async def test_no_never_awaited_pane_load_when_loads_are_replaced_and_at_exit(sandbox) -> None:
    sandbox.create_app("alpha")
    app = FlytuiApp(Config(refresh_interval=60), FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.main.pane.active, what="the first pane")
            pane = app.main.pane
            for _ in range(5):  # each exclusive reload replaces the previous one before it ran
                pane.reload()
            await until(pilot, lambda: pane.loads, what="a load ran to the end")
            assert pane.loads == 1  # only the last load ran to the end
            pane.reload()
            app.run_command_id("refresh")  # and one more, still pending when the app exits
        gc.collect()
    never = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert never == []
