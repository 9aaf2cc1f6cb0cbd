"""UI shell tests with an in-process fake FlyClient (fast; the sandbox end-to-end tests are in
tests/test_ui_sandbox.py). The fake returns real ``flytui.fly.models`` objects and raises real errors."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.errors import MachineNeedsForce
from flytui.fly.names import app_name_error
from flytui.fly.runner import FlyctlRunner
from flytui.fly.models import App, AppStatus, Machine, Organization, Secret, VersionInfo, Volume, WhoAmI
from flytui.ui import commands
from flytui.ui.app import FlytuiApp
from flytui.ui.palette import RegistryProvider
from flytui.ui.config import Config, ConfigError, default_config_path, parse_config
from flytui.ui.widgets.filter import parse_filter, row_matches
from tests.helpers.settle import settle as settle_screen
from tests.helpers.wait import until

T0 = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
MUTATING = {"create_app", "destroy_app", "machine_action", "set_secrets", "unset_secrets", "destroy_volume"}


class FakeClient(FlyClient):
    """Records every call; machines move through transitional states like the real API.

    A FlyClient (the app's typed seam) whose flyctl is missing: a call not faked here fails like a missing flyctl.
    The command builders are FlyClient's own (the UI confirms and runs those objects); ``execute`` maps each
    built command back onto the recorded fake call, so what is recorded is what the UI ran."""

    def __init__(self) -> None:
        super().__init__(FlyctlRunner("/nonexistent/flyctl"))
        self.calls: list[tuple] = []
        org = Organization(slug="personal", name="Jane")
        self.apps_ = {n: App(name=n, status="deployed", deployed=True, hostname=f"{n}.fly.dev", organization=org,
                             current_release_status="complete", current_release_created_at=T0)
                      for n in ("alpha", "beta", "gamma")}
        self.machines_ = {
            "m1": Machine(id="m1", state="started", name="web-1", region="nrt", updated_at=T0),
            "m2": Machine(id="m2", state="stopped", name="web-2", region="iad", updated_at=T0),
        }
        self.pending: dict[str, list[str]] = {}
        self.force_needed: set[str] = set()
        self.secrets_ = {"DATABASE_URL": Secret(name="DATABASE_URL", digest="abc", status="Deployed")}

    async def version(self):
        return VersionInfo(name="fly", version="0.3.164")

    async def whoami(self):
        return WhoAmI(email="jane@example.com")

    async def orgs(self):
        return [Organization(slug="personal", name="Jane")]

    async def apps(self, org=None):
        self.calls.append(("apps", org))
        return list(self.apps_.values())

    async def status(self, app):
        self.calls.append(("status", app))
        a = self.apps_[app]
        return AppStatus(name=app, status=a.status, deployed=a.deployed, hostname=a.hostname, version=3)

    async def machines(self, app):
        self.calls.append(("machines", app))
        return list(self.machines_.values())

    async def machine(self, app, mid):
        steps = self.pending.get(mid)
        if steps:
            state = steps.pop(0)
            self.machines_[mid] = Machine(id=mid, state=state, name=self.machines_[mid].name,
                                          region=self.machines_[mid].region, updated_at=T0)
        return self.machines_[mid]

    async def machine_action(self, app, mid, action, force=False):
        self.calls.append(("machine_action", app, mid, action, force))
        if mid in self.force_needed and not force:
            raise MachineNeedsForce(f"machine {mid} currently started, either stop first or use --force flag")
        self.pending[mid] = {"stop": ["stopping", "stopped"], "start": ["starting", "started"]}.get(
            action, ["started"])

    async def secrets(self, app):
        return list(self.secrets_.values())

    async def set_secrets(self, app, values, stage=False):
        self.calls.append(("set_secrets", app, dict(values), stage))

    async def unset_secrets(self, app, names, stage=False):
        self.calls.append(("unset_secrets", app, list(names)))

    async def volumes(self, app):
        return [Volume(id="vol_1", name="data", size_gb=1, region="nrt", attached_machine_id="m1")]

    async def destroy_volume(self, app, vid):
        self.calls.append(("destroy_volume", app, vid))

    async def create_app(self, name, org):
        self.calls.append(("create_app", name, org))

    async def destroy_app(self, name):
        self.calls.append(("destroy_app", name))
        self.apps_.pop(name, None)

    async def machine_leases(self, app, machine_ids):
        return {}

    async def warm_api(self):
        return False

    async def releases(self, app):
        return []

    async def execute(self, command):
        a = list(command.args)
        app = a[a.index("-a") + 1] if "-a" in a else None
        if a[:2] == ["apps", "destroy"]:
            return await self.destroy_app(a[2])
        if a[0] == "machine":
            return await self.machine_action(app, a[2], a[1], force="--force" in a)
        if a[:2] == ["secrets", "unset"]:
            return await self.unset_secrets(app, a[2:a.index("-a")])
        if a[:2] == ["secrets", "import"]:  # plain values only here: NAME=VALUE lines on stdin
            values = dict(line.split("=", 1) for line in command.stdin.decode().splitlines())
            return await self.set_secrets(app, values, stage="--stage" in a)
        if a[:2] == ["volumes", "destroy"]:
            return await self.destroy_volume(app, a[2])
        raise AssertionError(f"unexpected command {a}")


def make_app(client: FakeClient | None = None, **cfg) -> FlytuiApp:
    return FlytuiApp(Config(refresh_interval=60, **cfg), client or FakeClient())


async def settle(pilot, n: int = 0) -> None:
    """Wait for a settled screen (tests/helpers/settle.py: messages handled, no worker running, two identical
    renders), never a fixed pause; while a dialog is open, the worker that awaits its answer may run. (``n``: the
    old number of 20 ms pauses, ignored.)"""
    from textual.screen import ModalScreen

    app = pilot.app

    def idle() -> bool:  # a dialog's worker awaits the answer: it is the one that may run
        return isinstance(app.screen, ModalScreen) or all(w.is_finished for w in app.workers)

    await settle_screen(pilot, idle, workers_idle=False)


# --- pure parts -----------------------------------------------------------------------------------
def test_filter_grammar():
    row = {"id": "m1", "state": "stopped", "region": "nrt", "name": "web-1"}
    assert row_matches(parse_filter("state:stopped", {"state", "region"}), row)
    assert not row_matches(parse_filter("state:started", {"state"}), row)
    assert row_matches(parse_filter("!state:started region:nrt", {"state", "region"}), row)
    assert row_matches(parse_filter("/^web-\\d$/"), row)
    assert not row_matches(parse_filter("!web"), row)
    assert row_matches(parse_filter("/[unclosed/"), {"x": "a/[unclosed/b"})  # invalid regex -> literal
    assert row_matches(parse_filter("WEB"), row)  # case-insensitive


def test_command_parse_aliases_prefix_and_errors():
    assert commands.parse(":a").command.id == "apps"
    assert commands.parse(":m my-app").args == ["my-app"]
    assert commands.parse("s").command.id == "secrets"
    assert commands.parse("-").command.id == "previous"
    assert commands.parse("mach").command.id == "machines"
    assert commands.parse("mig").command.id == "migrations"
    assert commands.parse("pg x", aliases={"pg": "machines"}).command.id == "machines"
    with pytest.raises(commands.CommandParseError, match="unknown"):
        commands.parse(":nope")
    assert commands.complete("mac") == "machines"
    assert commands.complete("zz") is None


def test_registry_ids_and_keys_are_unique_per_scope():
    ids = [c.id for c in commands.COMMANDS]
    assert len(ids) == len(set(ids))
    for group in commands.PANE_GROUPS:
        keys = [c.key for c in commands.COMMANDS if c.group in (group, commands.GLOBAL, commands.VIEW) and c.key]
        assert len(keys) == len(set(keys)), group


def test_app_name_validation():
    # flyctl @ ad0172f internal/command/launch/plan_builder.go validateAppName: only [a-z0-9-] (so "1app", "ab"
    # and "a--b" are names flyctl accepts); 63 characters at most (machine/run.go); no leading dash (a flag)
    for good in ("my-app-1", "1app", "ab", "a--b", "x" * 63):
        assert app_name_error(good) is None, good
    for bad in ("", "A", "My_App", "-x-", "app name", "äpp", "x" * 64):
        assert app_name_error(bad), bad


def test_config_parse_and_errors(tmp_path):
    cfg = parse_config('refresh_interval = 2\ntheme = "nord"\nread_only = true\n[aliases]\npg = "machines"\n')
    assert cfg.refresh_interval == 2.0 and cfg.theme == "nord" and cfg.read_only and cfg.aliases == {"pg": "machines"}
    with pytest.raises(ConfigError, match="refresh_interval"):
        parse_config('refresh_interval = "fast"')
    with pytest.raises(ConfigError, match="invalid TOML"):
        parse_config("x = [")
    assert default_config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "flytui" / "config.toml"
    assert cfg.with_overrides(read_only=None, flyctl="/x").flyctl == "/x"


# --- Pilot tests ----------------------------------------------------------------------------------
async def test_apps_pane_lists_apps_and_header():
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.main.query_one("#apps").table
        assert table.visible_keys() == ["alpha", "beta", "gamma"]
        assert table.rows_data["alpha"]["hostname"] == "alpha.fly.dev"
        header = str(app.main.query_one("#header").render())
        assert "flyctl v0.3.164" in header and "jane@example.com" in header
        statuses = [c for c in app.client.calls if c[0] == "status"]
        assert len(statuses) == 3


async def test_filter_key_and_escape():
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"bet")
        await settle(pilot, 2)
        assert app.main.query_one("#apps").table.visible_keys() == ["beta"]
        await pilot.press("escape")  # leave the input (filter kept)
        await pilot.press("escape")  # clear the filter
        await settle(pilot, 2)
        assert app.main.query_one("#apps").table.visible_keys() == ["alpha", "beta", "gamma"]


async def test_command_mode_switches_view_and_app_and_back():
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"m beta", "enter")
        await settle(pilot)
        assert app.current_app == "beta"
        assert app.main.pane.id == "machines"
        assert app.main.pane.table.visible_keys() == ["m1", "m2"]
        await pilot.press("colon", "minus", "enter")
        await settle(pilot)
        assert app.main.pane.id == "apps"


async def test_read_only_refuses_every_mutating_command():
    client = FakeClient()
    app = make_app(client, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        header = str(app.main.query_one("#header").render())
        assert "READ-ONLY" in header
        mutating = [c for c in commands.COMMANDS if c.mutating]
        assert len(mutating) >= 10
        for cmd in mutating:
            if cmd.group in commands.PANE_GROUPS:
                app.current_app = "alpha"
                app.show_view(cmd.group)
                await settle(pilot, 3)
            assert await app.action_command(cmd.id) is False, cmd.id
        await settle(pilot)
        assert not [c for c in client.calls if c[0] in MUTATING]
        assert len(app.screen_stack) == 2  # no dialog opened


async def test_destroy_app_requires_typed_name():
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down")  # beta
        await pilot.press("ctrl+d")
        await settle(pilot)
        dialog = app.screen
        assert "beta" in str(dialog.query_one("#confirm-target").render())
        assert "apps destroy beta --yes" in str(dialog.query_one("#confirm-argv").render())
        await pilot.press(*"bet", "enter")  # wrong name: nothing happens
        await settle(pilot, 2)
        assert not [c for c in client.calls if c[0] == "destroy_app"]
        assert dialog.query_one("#confirm-yes").disabled
        await pilot.press("a", "enter")
        await settle(pilot)
        assert ("destroy_app", "beta") in client.calls
        assert "beta" not in app.main.query_one("#apps").table.visible_keys()


async def test_machine_stop_follows_state_and_bulk_summary():
    client = FakeClient()
    app = FlytuiApp(Config(refresh_interval=60), client, current_app="alpha")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        pane = app.main.pane
        assert pane.id == "machines"
        await pilot.press("space", "space")  # mark m1 and m2
        assert pane.table.marked == {"m1", "m2"}
        await pilot.press("t")
        await settle(pilot, 2)
        assert "m1, m2" in str(app.screen.query_one("#confirm-target").render())
        await pilot.press("y")
        await until(pilot, lambda: pane.table.rows_data["m1"]["state"].plain == "stopped" and not pane.following,
                    what="m1 stopped and no longer followed")
        assert {c[2] for c in client.calls if c[0] == "machine_action"} == {"m1", "m2"}
        assert pane.table.rows_data["m1"]["state"].plain == "stopped"
        assert not pane.table.marked


async def test_machine_destroy_offers_force():
    client = FakeClient()
    client.force_needed.add("m1")
    app = FlytuiApp(Config(refresh_interval=60), client, current_app="alpha")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+d")
        await settle(pilot, 2)
        await pilot.press("y", "enter")  # destroying needs the machine id typed: "y" is not it
        await settle(pilot, 2)
        assert not [c for c in client.calls if c[0] == "machine_action"]
        await pilot.press("backspace", *"m1", "enter")
        await settle(pilot, 4)
        assert "--force" in str(app.screen.query_one("#confirm-argv").render())
        await pilot.press("y")
        # the pane then follows the machine's state (a worker that goes on): wait for the forced call itself
        await until(pilot, lambda: [c for c in client.calls if c[0] == "machine_action"][-1][4] is True,
                    what="the forced destroy")
        actions = [c for c in client.calls if c[0] == "machine_action"]
        assert actions[0][4] is False and actions[-1][4] is True


async def test_set_secret_modal_sends_values_to_client():
    client = FakeClient()
    app = FlytuiApp(Config(refresh_interval=60), client, current_app="alpha")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert app.main.pane.table.visible_keys() == ["DATABASE_URL"]
        await pilot.press("n")
        await settle(pilot, 2)
        await pilot.press(*"API_KEY", "enter", *"s3cr3t")
        value_input = app.screen.query_one("#secret-value")
        assert value_input.password is True
        await pilot.press("enter")
        await settle(pilot)
        assert ("set_secrets", "alpha", {"API_KEY": "s3cr3t"}, False) in client.calls


async def test_help_and_palette_list_every_command():
    app = make_app()
    async with app.run_test(size=(140, 60)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot, 2)
        table = app.screen.query_one("#help-table")
        assert {rk.value for rk in table.rows} == {c.id for c in commands.ALL}  # every key, dialogs and screens too
        await pilot.press("escape")
        provider = RegistryProvider(app.screen)
        texts = [hit.text async for hit in provider.discover()]
        for cmd in commands.COMMANDS:
            assert any(f"(:{cmd.id})" in t for t in texts), cmd.id
        assert "Switch app: gamma" in texts


async def test_stale_results_are_discarded():
    client = FakeClient()
    app = FlytuiApp(Config(refresh_interval=60), client, current_app="alpha")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        pane = app.main.pane
        loads = pane.loads
        pane.post_message(pane.Loaded(pane, "someone-else", {"zz": {"id": "zz"}}))
        await settle(pilot, 2)
        assert pane.loads == loads and "zz" not in pane.table.rows_data


def test_first_frame_without_heavy_imports():
    code = textwrap.dedent('''
        import sys
        from flytui.ui.app import FlytuiApp
        from tests.test_ui_shell import FakeClient
        from flytui.ui.config import Config
        HEAVY = ("sqlalchemy", "alembic", "psycopg", "asyncssh", "httpx")
        class A(FlytuiApp):
            def on_mount(self):
                super().on_mount()
                self.heavy = [m for m in HEAVY if m in sys.modules]
        async def main():
            app = A(Config(), FakeClient())
            async with app.run_test() as pilot:
                await pilot.pause()
            print("HEAVY", app.heavy)
        import asyncio; asyncio.run(main())
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
