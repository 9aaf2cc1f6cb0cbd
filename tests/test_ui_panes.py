"""Pilot tests of the console panes through the sandbox flyctl (real FlyctlRunner + FlyClient):
DATABASE_URL doctor, volume destroy, create app, org switcher, app and machine details, faults-only,
machine state following and flyctl failures inside a pane."""
from __future__ import annotations

import threading
from typing import Any

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.state import add_release
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config

from tests.test_ui_sandbox import scan_cmdlines, wait_until
from tests.helpers.settle import settle

PASSWORD = "Pw-d0ctor-9f3kQ"


class RecordingApp(FlytuiApp):
    """FlytuiApp that remembers every notification (message, title, severity)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.notes: list[tuple[str, str, str]] = []

    def notify(self, message: str, *, title: str = "", severity: str = "information", **kw: Any) -> None:
        self.notes.append((str(message), title, severity))
        super().notify(message, title=title, severity=severity, **kw)

    def errors(self) -> list[tuple[str, str, str]]:
        return [n for n in self.notes if n[2] == "error"]


def make(sandbox, **kw) -> RecordingApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    return RecordingApp(Config(refresh_interval=60), client, **kw)


def screen_name(app: FlytuiApp) -> str:
    return type(app.screen).__name__


def body_text(app: FlytuiApp) -> str:
    return str(app.screen.query_one("#detail-body").render())


# --- DATABASE_URL doctor -----------------------------------------------------------------------
async def test_dburl_doctor_pasted_url_masked_diff_and_fix_on_stdin(sandbox):
    sandbox.create_app("alpha")
    bad = f"postgres://alpha:{PASSWORD}@alpha-db.flycast:5432/alpha?sslmode=disable"
    sandbox.set_secret("alpha", "DATABASE_URL", bad)
    app = make(sandbox, current_app="alpha")
    stop, hits = threading.Event(), []
    scanner = threading.Thread(target=scan_cmdlines, args=(stop, hits, PASSWORD), daemon=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("3")
        secrets = app.main.query_one("#secrets")
        assert await wait_until(pilot, lambda: "DATABASE_URL" in secrets.table.rows_data)
        await pilot.press("b")
        assert await wait_until(pilot, lambda: screen_name(app) == "DatabaseUrlScreen")
        await pilot.press(*bad, "enter")
        result = str(app.screen.query_one("#dburl-result").render())
        diff = app.screen.diff_text()  # the two-column diff (marker, masked value)
        assert "- postgres://alpha:***@alpha-db.flycast:5432/alpha?sslmode=disable" in diff
        assert "+ postgresql+psycopg://alpha:***@alpha-db.flycast:5432/alpha" in diff
        assert PASSWORD not in result and PASSWORD not in diff
        fix = app.screen.query_one("#dburl-fix")
        assert fix.disabled is False
        scanner.start()
        fix.focus()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: screen_name(app) == "MainScreen", timeout=20)
        stop.set()
        scanner.join()
    value = sandbox.read()["apps"]["alpha"]["secrets"]["DATABASE_URL"]["value"]
    assert value.startswith("postgresql+psycopg://alpha:") and PASSWORD in value
    assert hits == []
    entries = sandbox.argv_log_entries()
    imports = [e for e in entries if e["argv"][:2] == ["secrets", "import"]]
    assert imports and imports[-1]["stdin_len"] > len(PASSWORD)
    assert not any(PASSWORD in " ".join(e["argv"]) for e in entries)
    assert not any(PASSWORD in n[0] for n in app.notes)


async def test_dburl_doctor_good_url_has_nothing_to_fix(sandbox):
    sandbox.create_app("alpha")
    app = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("3")
        assert await wait_until(pilot, lambda: app.main.query("#secrets") and app.main.query_one("#secrets").loads)
        await pilot.press("b")
        assert await wait_until(pilot, lambda: screen_name(app) == "DatabaseUrlScreen")
        await pilot.press(*f"postgresql+psycopg://u:{PASSWORD}@h:5432/d", "enter")
        assert "nothing to fix" in str(app.screen.query_one("#dburl-result").render())
        assert app.screen.query_one("#dburl-fix").disabled


# --- volumes ---------------------------------------------------------------------------------------
def seed_volume(sandbox, app: str, vid: str, name: str = "pgdata", attached: str | None = None) -> None:
    with sandbox.transaction() as st:
        st["apps"][app]["volumes"].append({
            "id": vid, "name": name, "state": "created", "size_gb": 3, "region": "nrt", "zone": "a1b2",
            "encrypted": True, "attached_machine_id": attached, "created_at": "2026-01-02T03:04:05Z"})


async def test_volume_destroy_needs_typed_confirmation(sandbox):
    sandbox.create_app("alpha")
    seed_volume(sandbox, "alpha", "vol_abc123")
    app = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("4")
        vols = app.main.query_one("#volumes")
        assert await wait_until(pilot, lambda: "vol_abc123" in vols.table.rows_data)
        row = vols.table.rows_data["vol_abc123"]
        assert (row["name"], row["size"], row["region"]) == ("pgdata", "3GB", "nrt")
        await pilot.press("ctrl+d")
        assert await wait_until(pilot, lambda: screen_name(app) == "ConfirmScreen")
        argv = str(app.screen.query_one("#confirm-argv").render())
        assert "volumes destroy vol_abc123 -a alpha --yes" in argv
        await pilot.press("escape")  # cancel: nothing runs
        assert await wait_until(pilot, lambda: screen_name(app) == "MainScreen")
        await settle(pilot, what="the cancel handled: nothing more happens")
        assert not any(a[:2] == ["volumes", "destroy"] for a in sandbox.argv_log())
        await pilot.press("ctrl+d")
        assert await wait_until(pilot, lambda: screen_name(app) == "ConfirmScreen")
        await pilot.press(*"vol_abc", "enter")  # wrong name: still open
        assert screen_name(app) == "ConfirmScreen"
        await pilot.press(*"123", "enter")
        assert await wait_until(pilot, lambda: "vol_abc123" not in vols.table.rows_data)
    assert sandbox.read()["apps"]["alpha"]["volumes"] == []


# --- create app -------------------------------------------------------------------------------------
async def test_create_app_validates_name_and_uses_chosen_org(sandbox):
    sandbox.add_org("acme", "Acme Corp")
    app = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        apps = app.main.query_one("#apps")
        assert await wait_until(pilot, lambda: apps.loads >= 1)
        await pilot.press("c")
        assert await wait_until(pilot, lambda: screen_name(app) == "CreateAppScreen")
        modal = app.screen
        assert await wait_until(pilot, lambda: len(modal.query_one("#create-org")._options) >= 3)
        await pilot.press(*"Bad_Name")
        assert "lowercase letters" in str(modal.query_one("#create-error").render())
        await pilot.press("enter")  # refused: still open
        assert screen_name(app) == "CreateAppScreen"
        for _ in "Bad_Name":
            await pilot.press("backspace")
        await pilot.press(*"new-app")
        assert str(modal.query_one("#create-error").render()) == ""
        await pilot.press("enter")  # two orgs and none chosen: asks for one
        assert screen_name(app) == "CreateAppScreen"
        assert "organization" in str(modal.query_one("#create-error").render()).lower()
        assert modal.query_one("#create-org").has_focus  # the error moved focus to the org choice
        await pilot.press("enter")  # open the org select
        assert await wait_until(pilot, lambda: modal.query_one("#create-org").expanded)
        await pilot.press("down", "down", "enter")
        assert await wait_until(pilot, lambda: modal.query_one("#create-org").value == "acme")
        await pilot.press("shift+tab")
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: "new-app" in apps.table.rows_data, timeout=20)
        assert apps.table.rows_data["new-app"]["org"] == "acme"
    assert sandbox.read()["apps"]["new-app"]["org"] == "acme"
    assert ["apps", "create", "new-app", "--org", "acme", "--json"] in sandbox.argv_log()


async def test_create_app_form_and_client_share_flyctls_name_rule(sandbox):
    # "1app": flyctl @ ad0172f accepts it (launch/plan_builder.go validateAppName allows [a-z0-9-]); the form
    # and FlyClient.create_app once disagreed (the form accepted it, the client refused it)
    app = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        apps = app.main.query_one("#apps")
        await wait_until(pilot, lambda: apps.loads >= 1)
        await pilot.press("c")
        assert await wait_until(pilot, lambda: screen_name(app) == "CreateAppScreen")
        modal = app.screen
        assert await wait_until(pilot, lambda: modal.query_one("#create-org").value == "personal")
        await pilot.press(*"1app")
        assert str(modal.query_one("#create-error").render()) == ""
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: "1app" in apps.table.rows_data, timeout=20)
    assert ["apps", "create", "1app", "--org", "personal", "--json"] in sandbox.argv_log()


# --- org switcher --------------------------------------------------------------------------------
async def test_org_switcher_filters_apps(sandbox):
    sandbox.add_org("acme", "Acme Corp")
    sandbox.create_app("mine")
    sandbox.create_app("theirs", org="acme")
    app = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        apps = app.main.query_one("#apps")
        assert await wait_until(pilot, lambda: {"mine", "theirs"} <= set(apps.table.rows_data))
        await pilot.press("O")
        assert await wait_until(pilot, lambda: screen_name(app) == "PickerScreen")
        await pilot.press(*"acme", "enter")
        assert await wait_until(pilot, lambda: set(apps.table.rows_data) == {"theirs"})
        assert app.org_filter == "acme"
        assert "org acme" in str(app.main.query_one("#header").render())
        await pilot.press("O")
        assert await wait_until(pilot, lambda: screen_name(app) == "PickerScreen")
        await pilot.press("enter")  # "All organizations"
        assert await wait_until(pilot, lambda: {"mine", "theirs"} <= set(apps.table.rows_data))
        assert app.org_filter is None


# --- details ---------------------------------------------------------------------------------------
async def test_app_detail_shows_status_machines_releases_ips_and_url(sandbox):
    sandbox.create_app("alpha", deployed=True)
    with sandbox.transaction() as st:
        a = st["apps"]["alpha"]
        add_release(a, st, image="registry.fly.io/alpha:deployment-1", description="Deploy image")
        a["ips"].append({"ID": "ip1", "Address": "2a09:8280:1::5:abcd", "Type": "v6", "Region": "global",
                         "CreatedAt": "2026-01-02T03:04:05Z"})
    m = sandbox.add_machine("alpha", state="started", region="nrt")
    app = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        apps = app.main.query_one("#apps")
        assert await wait_until(pilot, lambda: "alpha" in apps.table.rows_data)
        await pilot.press("i")
        assert await wait_until(pilot, lambda: screen_name(app) == "AppDetailScreen")
        assert await wait_until(pilot, lambda: "Machines (1)" in body_text(app), timeout=20)
        body = body_text(app)
        assert "https://alpha.fly.dev" in body
        assert m["id"] in body and "started" in body and "nrt" in body
        assert "v1" in body and "Deploy image" in body
        assert "2a09:8280:1::5:abcd" in body
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: screen_name(app) == "MainScreen")


async def test_machine_detail_shows_config_events_checks(sandbox):
    sandbox.create_app("alpha", deployed=True)
    m = sandbox.add_machine("alpha", state="started", region="nrt")
    app = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        machines = app.main.query_one("#machines")
        assert await wait_until(pilot, lambda: m["id"] in machines.table.rows_data)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: screen_name(app) == "MachineDetailScreen")
        assert await wait_until(pilot, lambda: '"memory_mb": 256' in body_text(app), timeout=20)
        body = body_text(app)
        assert "servicecheck-00-http-8080: passing" in body
        assert "launch -> created" in body and "start -> started" in body
        assert '"fly_process_group": "app"' in body


# --- faults only, state following -----------------------------------------------------------------
async def test_faults_only_toggle(sandbox):
    sandbox.create_app("alpha", deployed=True)
    ok = sandbox.add_machine("alpha", state="started")
    down = sandbox.add_machine("alpha", state="stopped")
    app = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        machines = app.main.query_one("#machines")
        assert await wait_until(pilot, lambda: {ok["id"], down["id"]} <= set(machines.table.rows_data))
        await pilot.press("f")
        assert machines.table.visible_keys() == [down["id"]]
        await pilot.press("f")
        assert set(machines.table.visible_keys()) == {ok["id"], down["id"]}


async def test_machine_stop_shows_transition_until_settled(sandbox):
    sandbox.create_app("alpha", deployed=True)
    m = sandbox.add_machine("alpha", state="started")
    sandbox.inject_fault("machine stop", latency=1.0)
    app = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        machines = app.main.query_one("#machines")
        assert await wait_until(pilot, lambda: m["id"] in machines.table.rows_data)
        seen: list[str] = []
        original = machines.table.update_row

        def spy(key, row):
            seen.append(row["state"].plain)
            original(key, row)

        machines.table.update_row = spy
        await pilot.press("t")
        assert await wait_until(pilot, lambda: screen_name(app) == "ConfirmScreen")
        await pilot.press("y")
        assert await wait_until(pilot, lambda: seen[:1] == ["stopping"], timeout=5)
        assert machines.table.get_row(m["id"])[3].plain == "stopping"  # visible in the table
        assert await wait_until(pilot, lambda: machines.table.rows_data[m["id"]]["state"].plain == "stopped",
                                timeout=20)
        assert seen[0] == "stopping" and seen[-1] == "stopped"
        assert machines.following == set()
    assert sandbox.read()["apps"]["alpha"]["machines"][0]["state"] == "stopped"


# --- flyctl failures inside a pane -------------------------------------------------------------------
@pytest.mark.parametrize("fault, expect_message, expect_hint", [
    ({"fail": "failed to list machines: upstream connect error"}, "upstream connect error", "flyctl output"),
    ({"payment_required": True}, "payment information", "billing"),
    ({"logged_out": True}, "no access token available", "fly auth login"),
])
async def test_pane_failure_is_a_notification_and_pane_keeps_working(sandbox, fault, expect_message, expect_hint):
    sandbox.create_app("alpha", deployed=True)
    m = sandbox.add_machine("alpha", state="started")
    sandbox.inject_fault("machine list", times=1, **fault)
    app = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        machines = app.main.query_one("#machines")
        assert await wait_until(pilot, lambda: app.errors() != [], timeout=20)
        message, title, _ = app.errors()[0]
        assert expect_message in message and expect_hint in message, message
        assert "Traceback" not in message and title.endswith("failed")
        assert screen_name(app) == "MainScreen" and machines.table.rows_data == {}
        await pilot.press("r")  # the fault was one-shot: the pane recovers
        assert await wait_until(pilot, lambda: m["id"] in machines.table.rows_data, timeout=20)
        await pilot.press("t")  # and still takes keys
        assert await wait_until(pilot, lambda: screen_name(app) == "ConfirmScreen")
        await pilot.press("escape")


# --- empty states --------------------------------------------------------------------------------
async def test_empty_states_say_what_to_do(sandbox):
    app = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        apps = app.main.query_one("#apps")
        empty = app.main.query_one("#apps-empty")
        assert await wait_until(pilot, lambda: apps.loads >= 1)
        assert empty.display and "No apps found" in str(empty.render()) and "press c" in str(empty.render()).lower()
        sandbox.create_app("alpha")
        await pilot.press("r")
        assert await wait_until(pilot, lambda: "alpha" in apps.table.rows_data)
        assert not empty.display
        await pilot.press("slash", *"zzz")
        assert empty.display and "No rows match the filter 'zzz'" in str(empty.render())
        await pilot.press("escape", "escape")
        assert not empty.display and apps.table.visible_keys() == ["alpha"]
