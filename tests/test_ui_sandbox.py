"""End-to-end Pilot tests: the real FlyctlRunner + FlyClient driving the sandbox flyctl emulator."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from tests.helpers.wait import until as wait_until

SECRET = "sup3r-s3cret-value-XYZ"


def make(sandbox, **kw) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    return FlytuiApp(Config(refresh_interval=60), client, **kw)


def scan_cmdlines(stop: threading.Event, hits: list[str], needle: str) -> None:
    """Scan every process's /proc/*/cmdline until ``stop`` is set; record any hit."""
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                data = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if needle.encode() in data:
                hits.append(pid)
        time.sleep(0.005)


async def test_apps_and_machines_through_sandbox(sandbox):
    sandbox.create_app("alpha", deployed=True)
    sandbox.create_app("beta")
    m = sandbox.add_machine("alpha", state="stopped", region="nrt")
    app = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        apps = app.main.query_one("#apps")
        assert await wait_until(pilot, lambda: {"alpha", "beta"} <= set(apps.table.rows_data))
        await pilot.press("colon", *"m alpha", "enter")
        machines = app.main.query_one("#machines")
        assert await wait_until(pilot, lambda: m["id"] in machines.table.rows_data)
        row = machines.table.rows_data[m["id"]]
        assert row["state"].plain == "stopped" and row["region"] == "nrt"
        await pilot.press("slash", *"state:started", "escape")
        assert await wait_until(pilot, lambda: machines.table.visible_keys() == [])


async def test_destroy_app_typed_name_through_sandbox(sandbox):
    sandbox.create_app("doomed")
    app = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        apps = app.main.query_one("#apps")
        assert await wait_until(pilot, lambda: "doomed" in apps.table.rows_data)
        await pilot.press("ctrl+d")
        assert await wait_until(pilot, lambda: app.screen.query("#confirm-input")
                                and app.screen.query_one("#confirm-input").has_focus, what="the typed-name field")
        await pilot.press(*"doomed", "enter")
        assert await wait_until(pilot, lambda: "doomed" not in apps.table.rows_data)
    assert not any(a.get("name") == "doomed" for a in sandbox.read().get("apps", {}).values()) \
        if isinstance(sandbox.read().get("apps"), dict) else True
    assert any(argv[:3] == ["apps", "destroy", "doomed"] for argv in sandbox.argv_log())


async def test_secret_value_never_in_argv(sandbox):
    sandbox.create_app("alpha")
    app = make(sandbox, current_app="alpha")
    stop, hits = threading.Event(), []
    scanner = threading.Thread(target=scan_cmdlines, args=(stop, hits, SECRET), daemon=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("3")
        secrets = app.main.query_one("#secrets")
        assert await wait_until(pilot, lambda: secrets.loads >= 1, what="the secrets pane loaded")
        await pilot.press("n")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "SetSecretScreen"), app.screen
        await pilot.press(*"API_KEY", "enter", *SECRET, "ctrl+r")
        assert app.screen.query_one("#secret-value").password is False  # reveal toggle
        scanner.start()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: "API_KEY" in secrets.table.rows_data, timeout=30)
        stop.set()
        scanner.join()
    assert hits == []
    log = sandbox.argv_log()
    assert any(argv[:2] == ["secrets", "import"] for argv in log)
    assert not any(SECRET in " ".join(argv) for argv in log)
