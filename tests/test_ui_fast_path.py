"""Start-up order (first data first) and the machines pane polling through the sandbox's Machines API."""
from __future__ import annotations


import pytest

from flytui.fly.client import FlyClient
from flytui.fly.machines_api import MachinesAPI
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.api_server import SandboxApiServer
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from tests.helpers.wait import until as wait_until


def seed(sandbox) -> list[str]:
    sandbox.create_app("web", deployed=True)
    sandbox.add_machine("web", state="started")
    sandbox.add_machine("web", state="started")
    return [m["id"] for m in sandbox.read()["apps"]["web"]["machines"]]


@pytest.fixture
def sandbox_api(sandbox):
    server = SandboxApiServer(sandbox.dir).start()
    try:
        yield server
    finally:
        server.stop()


def state_of(app: FlytuiApp, mid: str) -> str:
    cell = app.main.pane.table.rows_data.get(mid, {}).get("state")
    return getattr(cell, "plain", str(cell))


async def test_first_flyctl_call_fills_the_screen_and_header_waits_for_it(sandbox):
    seed(sandbox)
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    app = FlytuiApp(Config(refresh_interval=60), client, current_app="web")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: "flyctl v" in app.header_info.get("version", "")
                         and app.header_info.get("user") not in (None, "…"), what="the header")
        assert len(app.main.pane.table.rows_data) == 2
        entries = sorted(app.command_log.entries(), key=lambda e: e.started)
        first = entries[0]
        assert first.argv[1:3] == ("machine", "list"), [e.argv for e in entries]
        ended = first.started + (first.duration or 0)
        header = [e for e in entries if e.argv[1:2] in (("version",), ("auth",))]
        assert {e.argv[1] for e in header} == {"version", "auth"}
        assert all(e.started >= ended for e in header), "header facts competed with the first load"


async def test_machines_pane_polls_through_the_api_and_sees_flyctl_changes(sandbox, sandbox_api):
    ids = seed(sandbox)
    env = {k: v for k, v in sandbox.env.items() if k not in ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")}
    env["FLY_CONFIG_DIR"] = str(sandbox.dir)
    runner = FlyctlRunner(sandbox.flyctl, env=env)
    api = MachinesAPI(sandbox_api.url, runner=runner, environ=env)
    app = FlytuiApp(Config(refresh_interval=60), FlyClient(runner, api=api), current_app="web")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.main.pane.table.rows_data) == 2, what="the first rows")
        await wait_until(pilot, lambda: api.ready, what="the API warm-up after the first data")
        flyctl_lists = sum(1 for a in sandbox.argv_log() if a[1:3] == ["machine", "list"])
        assert sandbox.run("machine", "stop", ids[0], "-a", "web").returncode == 0
        app.main.pane.reload()  # one poll
        await wait_until(pilot, lambda: state_of(app, ids[0]) == "stopped", what="the stopped state")
        assert state_of(app, ids[1]) == "started"
        assert sum(1 for a in sandbox.argv_log() if a[1:3] == ["machine", "list"]) == flyctl_lists  # no process
        assert sandbox_api.requests[-1]["path"] == "/v1/apps/web/machines"
        api_rows = [e for e in app.command_log.entries() if e.kind == "api"]
        assert api_rows and api_rows[0].command_line == "GET /v1/apps/web/machines" and api_rows[0].status == "200"


async def test_demo_serves_the_machines_api_to_the_product(monkeypatch):
    """`flytui --demo`: start_demo's env carries the sandbox API's URL (FLY_FLAPS_BASE_URL, as flyctl reads it) and
    a FLY_CONFIG_DIR without the developer's ~/.fly; the product's client reads the demo's machines through it."""
    import os

    from flytui import cli
    from flytui.sandbox import demo as demo_mod

    monkeypatch.setenv("FLY_API_TOKEN", "fo1_developers-real-token")  # must never reach the sandbox API
    flyctl, env, project_dir, cleanup = demo_mod.start_demo(speed=50)
    try:
        url = env["FLY_FLAPS_BASE_URL"]
        assert url.startswith("http://127.0.0.1:") and env["FLY_CONFIG_DIR"]
        full = {**os.environ, **env}  # exactly what cli.main hands the runner (the exported token is still there)
        assert full["FLY_API_TOKEN"] == "fo1_developers-real-token" and full["FLY_ACCESS_TOKEN"] == ""
        config = Config().with_overrides(machines_api_url=url)
        client = cli._make_client(flyctl, full, project_dir, config)
        assert await client.warm_api() and client.api.token_source == "fly auth token"
        via_api = await client.api.machines(demo_mod.DEMO_DB_APP)
        assert via_api is not None and len(via_api) == 1 and via_api[0].state == "started"
        await client.api.aclose()
    finally:
        cleanup()
        os.environ.pop("FLYTUI_DATABASE_URL", None)


async def test_footer_rebuilt_once_per_refresh_shows_the_current_keys(sandbox):
    """flytui/ui/widgets/footer.py joins bindings signals into one rebuild: the keys still follow the focus."""
    from textual.widgets._footer import FooterKey

    seed(sandbox)
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    app = FlytuiApp(Config(refresh_interval=60), client, current_app="web")

    def footer_actions() -> set[str]:
        return {k.action for k in app.main.query(FooterKey)} - {"command_palette"}  # shown apart from bindings

    def shown_actions() -> set[str]:
        return {b.action for (_, b, _, _) in app.main.active_bindings.values() if b.show}

    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.main.pane.table.rows_data) == 2, what="the rows")
        await wait_until(pilot, lambda: footer_actions() and footer_actions() == shown_actions(),
                         what="the machines keys in the footer")
        machines_keys = footer_actions()
        app.show_view("apps")
        await wait_until(pilot, lambda: app.main.pane.id == "apps" and footer_actions() == shown_actions()
                         and footer_actions() != machines_keys, what="the apps keys in the footer")


async def test_apps_pane_statuses_come_from_one_list_request_per_org(sandbox, sandbox_api):
    """The apps pane's refresh with the fast path on: ``GET /v1/apps?org_slug=`` (fly-go @ 22d6e518 flaps
    ``ListApps``) fills every row's STATUS; no `fly status` process; a state changed in the sandbox shows on the
    next refresh."""
    seed(sandbox)
    sandbox.create_app("idle")  # never deployed: pending
    env = {k: v for k, v in sandbox.env.items() if k not in ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")}
    env["FLY_CONFIG_DIR"] = str(sandbox.dir)
    runner = FlyctlRunner(sandbox.flyctl, env=env)
    api = MachinesAPI(sandbox_api.url, runner=runner, environ=env)
    app = FlytuiApp(Config(refresh_interval=60), FlyClient(runner, api=api), current_app="web")

    def status_of(name: str) -> str:
        pane = app.main.pane
        if pane.id != "apps" or not pane.is_mounted or not pane.query("ResourceTable"):
            return ""
        cell = pane.table.rows_data.get(name, {}).get("status")
        return getattr(cell, "plain", str(cell))

    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.main.pane.table.rows_data) == 2, what="the machines")
        await wait_until(pilot, lambda: api.ready, what="the API warm-up after the first data")
        status_calls = sum(1 for a in sandbox.argv_log() if a[1:2] == ["status"])
        app.show_view("apps")
        await wait_until(pilot, lambda: status_of("idle") == "pending" and status_of("web") == "deployed",
                         what="the apps' statuses")
        with sandbox.transaction() as st:
            st["apps"]["web"]["status"] = "suspended"
        app.main.pane.reload()
        await wait_until(pilot, lambda: status_of("web") == "suspended", what="the suspended app")
        assert sum(1 for a in sandbox.argv_log() if a[1:2] == ["status"]) == status_calls  # no process
        lists = [e for e in app.command_log.entries() if e.kind == "api" and e.argv[1].startswith("/v1/apps?")]
        assert [e.command_line for e in lists] == ["GET /v1/apps?org_slug=personal"] * 2
        assert all(e.status == "200" for e in lists)
