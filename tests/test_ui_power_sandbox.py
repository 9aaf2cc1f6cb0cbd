"""Power layer (issue 9) Pilot tests through the sandbox flyctl: command log, tunnels, bulk restart with an
injected failure, shell argv, scale, releases/rollback, filters on every table, palette/help/`:` coverage."""
from __future__ import annotations

import contextlib
import socket

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui import commands
from flytui.ui.app import FlytuiApp
from flytui.ui.palette import RegistryProvider
from flytui.ui.config import Config, parse_config
from tests.helpers.wait import until as wait_until
from tests.helpers.settle import settle


def make(sandbox, config: Config | None = None, **kw) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    return FlytuiApp(config or Config(refresh_interval=60), client, **kw)


def record_notes(app: FlytuiApp) -> list[str]:
    notes: list[str] = []
    orig = app.notify

    def notify(message, *a, **kw):
        notes.append(f"{kw.get('title') or ''}|{message}")
        return orig(message, *a, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return notes


async def colon(pilot, line: str) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: any(p.active for p in app.main.query(".pane")))
    await pilot.press("colon", *line, "enter")


def visible(app: FlytuiApp, pane: str) -> list[str]:
    return app.main.query_one(f"#{pane}").table.visible_keys()


def rows(app: FlytuiApp, pane: str) -> dict:
    """Rows of a pane (empty while the pane is not built yet: panes may be mounted on first use)."""
    found = app.main.query(f"#{pane}")
    return found.first().table.rows_data if found else {}


async def pane_of(pilot, name: str):
    """The pane ``name`` once it is the visible one."""
    app = pilot.app
    assert await wait_until(pilot, lambda: bool(app.main.query(f"#{name}")) and app.main.pane.id == name), name
    return app.main.query_one(f"#{name}")


async def set_filter(pilot, app: FlytuiApp, text: str) -> None:
    app.main.open_filter()
    box = app.main.query_one("#filter")
    box.value = text
    table = app.main.pane.table
    await wait_until(pilot, lambda: table.filter_text == text, what=f"the filter {text!r} applied")
    table.focus()  # like pressing enter: back to the table, keys are commands again
    await wait_until(pilot, lambda: table.has_focus, what="the table focused")


# --- 1. `:` completeness: palette, help, completion ------------------------------------------------
async def test_every_command_in_palette_help_and_completion_and_user_remaps(sandbox):
    sandbox.create_app("alpha")
    cfg = parse_config('refresh_interval = 60\n[aliases]\nportfw = "tunnels"\n[keymap]\ntunnels = "ctrl+t"\n')
    app = make(sandbox, cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: any(p.active for p in app.main.query(".pane")), what="the first pane")
        texts = [hit.text async for hit in RegistryProvider(app.screen).discover()]
        suggester = app.main.query_one("#command").suggester
        for cmd in commands.COMMANDS:
            assert any(f"(:{cmd.id})" in t for t in texts), cmd.id
            assert await suggester.get_suggestion(cmd.id[:-1]) is not None, cmd.id
            assert await suggester.get_suggestion(cmd.id) == cmd.id, cmd.id
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: app.screen.query("#help-table")
                         and app.screen.query_one("#help-table").row_count > 0, what="the help table")
        help_ids = {rk.value for rk in app.screen.query_one("#help-table").rows}
        assert help_ids == {c.id for c in commands.ALL}
        await pilot.press("escape")
        await colon(pilot, "portfw")  # user alias from the config file
        assert await wait_until(pilot, lambda: app.main.pane.id == "tunnels")
        await colon(pilot, "a")
        assert await wait_until(pilot, lambda: app.main.pane.id == "apps")
        await pilot.press("ctrl+t")  # user key remap from the config file
        assert await wait_until(pilot, lambda: app.main.pane.id == "tunnels")
        await pilot.press("at")
        assert await wait_until(pilot, lambda: app.main.pane.id == "command-log")
        await colon(pilot, "-")
        assert await wait_until(pilot, lambda: app.main.pane.id == "tunnels")


# --- 2. command log --------------------------------------------------------------------------------
async def test_command_log_live_copyable_with_failure_tail_and_filter(sandbox):
    sandbox.create_app("alpha")
    app = make(sandbox)
    async with app.run_test(size=(180, 50)) as pilot:
        apps = app.main.query_one("#apps")
        assert await wait_until(pilot, lambda: "alpha" in apps.table.rows_data)
        await colon(pilot, "cl")
        pane = await pane_of(pilot, "command-log")
        assert await wait_until(pilot, lambda: app.main.pane is pane and pane.table.row_count >= 3)
        lines = [pane.table.rows_data[k]["command"] for k in pane.table.visible_keys()]
        assert any(line.startswith("flytui-sandbox-flyctl apps list") for line in lines), lines
        # live: a failing call made now shows up on top, with exit code and stderr tail
        sandbox.inject_fault("status", fail="failed to get app: rate limit exceeded", exit=1, times=1)
        await app.runner.run("status", "-a", "alpha", check=False)
        assert await wait_until(pilot, lambda: pane.table.visible_keys()
                                and pane.table.rows_data[pane.table.visible_keys()[0]]["command"]
                                .endswith("status -a alpha")
                                and pane.table.rows_data[pane.table.visible_keys()[0]]["status"].plain != "running")
        top = pane.table.rows_data[pane.table.visible_keys()[0]]
        assert top["status"].plain == "exit 1" and "rate limit exceeded" in top["error"]
        pane.table.move_cursor(row=0)
        assert await wait_until(
            pilot, lambda: "rate limit exceeded" in str(app.main.query_one("#command-log-detail").render()))
        await pilot.press("y")
        assert app.clipboard == "flytui-sandbox-flyctl status -a alpha"
        await set_filter(pilot, app, "!status:ok")
        assert await wait_until(pilot, lambda: len(visible(app, "command-log")) == 1)
        await set_filter(pilot, app, r"command:/apps\s+list/")
        assert await wait_until(pilot, lambda: visible(app, "command-log")
                                and all("apps list" in pane.table.rows_data[k]["command"]
                                        for k in visible(app, "command-log")))


# --- 3. tunnels ------------------------------------------------------------------------------------
async def test_tunnels_open_psql_close_and_filter(sandbox_pg, pg_server):
    sandbox = sandbox_pg
    sandbox.create_postgres("db")
    app = make(sandbox)
    notes = record_notes(app)
    async with app.run_test(size=(180, 50)) as pilot:
        await colon(pilot, "tunnels")
        pane = await pane_of(pilot, "tunnels")
        assert await wait_until(pilot, lambda: app.main.pane is pane)
        await pilot.press("n")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "OpenTunnelScreen")
        await pilot.press(*"db", "tab")
        await pilot.press("enter")  # remote port prefilled: 5432
        assert await wait_until(pilot, lambda: "db:5432:" in pane.table.rows_data, timeout=30)
        assert await wait_until(pilot, lambda: pane.table.rows_data["db:5432:"]["state"].plain == "up")
        row = pane.table.rows_data["db:5432:"]
        port = int(row["local"].rsplit(":", 1)[1])
        assert row["target"] == "[db.internal]:5432" and row["connect"] == f"psql -h 127.0.0.1 -p {port} -U postgres"
        assert any("Tunnel up" in n and f"-p {port}" in n for n in notes)
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            pass
        import psycopg  # the forwarded port really reaches PostgreSQL

        with psycopg.connect(host="127.0.0.1", port=port, user=pg_server.user, dbname="postgres",
                             connect_timeout=5) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        await pilot.press("y")
        assert app.clipboard == f"psql -h 127.0.0.1 -p {port} -U postgres"
        await set_filter(pilot, app, "!state:up")
        assert await wait_until(pilot, lambda: visible(app, "tunnels") == [])
        await set_filter(pilot, app, "app:db")
        assert await wait_until(pilot, lambda: visible(app, "tunnels") == ["db:5432:"])
        pane.table.focus()
        await pilot.press("ctrl+d")
        assert await wait_until(pilot, lambda: "db:5432:" not in pane.table.rows_data, timeout=15)
        assert await wait_until(pilot, lambda: not _accepts(port))
        log = app.command_log.entries()
        assert any(e.argv[1:3] == ("proxy", f"{port}:5432") for e in log)


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


async def test_tunnels_closed_when_the_app_exits(sandbox_pg):
    sandbox_pg.create_postgres("db")
    app = make(sandbox_pg)
    async with app.run_test(size=(160, 45)) as pilot:
        await colon(pilot, "tunnels")
        pane = await pane_of(pilot, "tunnels")
        assert await wait_until(pilot, lambda: app.main.pane is pane)
        worker = pane.open_tunnel("db", 5432)
        await worker.wait()
        tunnel = worker.result
        assert tunnel is not None and tunnel.state == "up"
        port, pid = tunnel.local_port, tunnel.pid
    assert tunnel.state == "closed" and not _accepts(port)
    assert pid is not None and not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    return False


# --- 4. bulk restart with one injected failure -------------------------------------------------------
async def test_bulk_restart_of_20_machines_reports_exactly_the_failure(sandbox):
    sandbox.create_app("alpha")
    ids = [sandbox.add_machine("alpha", state="started", region="nrt")["id"] for _ in range(20)]
    victim = ids[13]  # picked up front: the fault applies to this machine only, whatever the call order
    sandbox.inject_fault("machine restart", fail="failed to restart machine: lease currently held by someone",
                         exit=1, machine=victim)
    app = make(sandbox, current_app="alpha")
    notes = record_notes(app)
    async with app.run_test(size=(180, 50)) as pilot:
        pane = await pane_of(pilot, "machines")
        assert await wait_until(pilot, lambda: set(ids) <= set(pane.table.rows_data))
        pane.table.focus()
        pane.table.move_cursor(row=0)
        for _ in ids:
            await pilot.press("space")
        assert pane.table.marked == set(ids)
        await pilot.press("R")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        target = str(app.screen.query_one("#confirm-target").render())
        assert "20 machine(s)" in str(app.screen.query_one("#confirm-title").render())
        assert all(mid in target for mid in ids[:12]) and "+8 more" in target
        await pilot.press("y")
        assert await wait_until(pilot, lambda: any(n.startswith("machine restart|") for n in notes), timeout=90)
    summary = next(n for n in notes if n.startswith("machine restart|"))
    assert "19/20 succeeded" in summary
    failed_lines = [ln for ln in summary.splitlines() if ln.startswith("✗")]
    assert len(failed_lines) == 1 and "lease currently held" in failed_lines[0]
    assert failed_lines[0].split()[1].rstrip(":") == victim  # the failure is reported on the right machine
    machines = {m["id"]: m for m in sandbox.read()["apps"]["alpha"]["machines"]}
    restarted = {mid for mid, m in machines.items() if any(e["type"] == "restart" for e in m["events"])}
    assert restarted == set(ids) - {victim}  # exactly the victim was not restarted


# --- 5. shell --------------------------------------------------------------------------------------
async def test_shell_suspends_and_runs_ssh_console_on_the_selected_machine(sandbox, monkeypatch):
    sandbox.create_app("alpha")
    mid = sandbox.add_machine("alpha", state="started")["id"]
    calls: list[tuple[list[str], dict[str, str]]] = []
    import flytui.fly.runner as runner_mod

    monkeypatch.setattr(runner_mod, "_run_attached", lambda argv, env, cwd: calls.append((list(argv), env)) or 0)
    app = make(sandbox, current_app="alpha")
    suspended: list[bool] = []

    @contextlib.contextmanager
    def fake_suspend():
        suspended.append(True)
        yield

    monkeypatch.setattr(app, "suspend", fake_suspend)
    async with app.run_test(size=(160, 45)) as pilot:
        pane = await pane_of(pilot, "machines")
        assert await wait_until(pilot, lambda: mid in pane.table.rows_data)
        loads = pane.loads
        pane.table.focus()
        await pilot.press("x")
        assert await wait_until(pilot, lambda: bool(calls))
        assert await wait_until(pilot, lambda: pane.loads > loads)  # refreshed after resume
    argv, env = calls[0]
    assert argv == [sandbox.flyctl, "ssh", "console", "-a", "alpha", "--machine", mid]
    assert suspended == [True] and env["FLYTUI_SANDBOX_DIR"] == str(sandbox.dir)
    entry = next(e for e in app.command_log.entries() if e.kind == "interactive")
    assert entry.kind == "interactive" and entry.returncode == 0 and entry.argv[1:3] == ("ssh", "console")


async def test_shell_without_suspend_support_shows_the_command(sandbox):
    sandbox.create_app("alpha")
    mid = sandbox.add_machine("alpha", state="started")["id"]
    app = make(sandbox, current_app="alpha")
    notes = record_notes(app)
    async with app.run_test(size=(160, 45)) as pilot:  # headless: App.suspend is not supported
        pane = await pane_of(pilot, "machines")
        assert await wait_until(pilot, lambda: mid in pane.table.rows_data)
        pane.table.focus()
        await pilot.press("x")
        assert await wait_until(pilot, lambda: any("ssh console -a alpha --machine " + mid in n for n in notes))


# --- 6. scale --------------------------------------------------------------------------------------
async def test_scale_prefilled_confirmed_and_applied(sandbox):
    sandbox.create_app("alpha")
    for _ in range(2):
        sandbox.add_machine("alpha", state="started")
    app = make(sandbox, current_app="alpha")
    notes = record_notes(app)
    async with app.run_test(size=(160, 50)) as pilot:
        await colon(pilot, "scale")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "ScaleScreen")
        screen = app.screen
        assert await wait_until(pilot, lambda: bool(screen.query("#scale-count-app")))
        count = screen.query_one("#scale-count-app")
        assert count.value == "2" and screen.query_one("#scale-vm").value == "shared-cpu-1x"
        count.value = "3"
        screen.query_one("#scale-vm").value = "shared-cpu-2x"
        await pilot.click("#scale-yes")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        argv_text = str(app.screen.query_one("#confirm-argv").render())
        assert "scale count 3 --process-group app -a alpha --yes" in argv_text
        assert "scale vm shared-cpu-2x -a alpha" in argv_text
        await pilot.press("y")
        assert await wait_until(pilot, lambda: sum(n.startswith("Scaled|") for n in notes) == 2, timeout=30)
    machines = [m for m in sandbox.read()["apps"]["alpha"]["machines"]]
    assert len(machines) == 3 and all(m["config"]["guest"]["cpus"] == 2 for m in machines)


async def test_scale_refused_in_read_only_mode(sandbox):
    sandbox.create_app("alpha")
    app = make(sandbox, Config(refresh_interval=60, read_only=True), current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        await colon(pilot, "scale")
        await settle(pilot, what=":scale handled")
        assert type(app.screen).__name__ == "MainScreen"
    assert not any(a[:1] == ["scale"] for a in sandbox.argv_log())


# --- 7. releases and rollback ------------------------------------------------------------------------
def seed_releases(sandbox, app: str) -> list[str]:
    from flytui.sandbox.state import add_release

    images = [f"registry.fly.io/{app}:deployment-0{i}" for i in (1, 2, 3)]
    with sandbox.transaction() as st:
        a = st["apps"][app]
        add_release(a, st, image=images[0], description="first")
        add_release(a, st, image=images[1], status="failed", description="broken")
        add_release(a, st, image=images[2], description="hotfix")
    return images


async def test_releases_list_filter_and_redeploy_confirmation(sandbox):
    sandbox.create_app("alpha")
    images = seed_releases(sandbox, "alpha")
    app = make(sandbox)
    record_notes(app)
    async with app.run_test(size=(200, 50)) as pilot:
        await colon(pilot, "rel alpha")
        pane = await pane_of(pilot, "releases")
        assert await wait_until(pilot, lambda: len(pane.table.rows_data) == 3)
        assert pane.table.visible_keys() == ["v3", "v2", "v1"]
        v1 = pane.table.rows_data["v1"]
        assert v1["image"] == images[0] and v1["description"] == "first" and v1["user"] == "demo@example.com"
        assert pane.table.rows_data["v3"]["version"].plain == "v3 ★"
        await set_filter(pilot, app, "status:failed")
        assert await wait_until(pilot, lambda: visible(app, "releases") == ["v2"])
        await set_filter(pilot, app, "!status:failed /deployment-0[13]/")
        assert await wait_until(pilot, lambda: visible(app, "releases") == ["v3", "v1"])
        pane.table.focus()
        pane.table.move_cursor(row=1)
        await pilot.press("R")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        argv_text = str(app.screen.query_one("#confirm-argv").render())
        assert f"deploy -a alpha --yes --image {images[0]}" in argv_text
        await pilot.press("escape")  # cancelled: nothing deployed
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="the dialog closed")
        await settle(pilot, what="the cancel handled: nothing more happens")
    assert not any(a[:1] == ["deploy"] for a in sandbox.argv_log())


async def test_redeploy_hands_the_image_to_the_deploy_screen(sandbox, tmp_path):
    import importlib

    import pytest

    try:
        deploy_mod = importlib.import_module("flytui.ui.screens.deploy")
    except ImportError:
        pytest.skip("flytui/ui/screens/deploy.py (DeployScreen) is not written yet")
    sandbox.create_app("alpha", deployed=True)
    images = seed_releases(sandbox, "alpha")
    app = make(sandbox, current_app="alpha", project_dir=tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await colon(pilot, "releases")
        pane = await pane_of(pilot, "releases")
        assert await wait_until(pilot, lambda: "v1" in pane.table.rows_data)
        pane.table.focus()
        pane.table.move_cursor(row=pane.table.get_row_index("v1"))
        await pilot.press("R")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, deploy_mod.DeployScreen))
        screen = app.screen

        def handed_over() -> bool:
            if any(a[:1] == ["deploy"] and images[0] in a for a in sandbox.argv_log()):
                return True  # DeployScreen(image=...) started the deploy itself
            fields = screen.query("#deploy-image")
            return bool(fields) and fields.first().value == images[0]  # or its form carries the image

        assert await wait_until(pilot, handed_over, timeout=30)


# --- 8. filter grammar on the remaining tables ----------------------------------------------------------
async def test_filter_grammar_on_apps_machines_secrets_volumes(sandbox):
    sandbox.create_app("alpha")
    sandbox.create_app("beta-api")
    m_nrt = sandbox.add_machine("alpha", state="stopped", region="nrt")["id"]
    m_iad = sandbox.add_machine("alpha", state="started", region="iad")["id"]
    sandbox.set_secret("alpha", "DATABASE_URL", "postgres://u:p@h/db")
    sandbox.set_secret("alpha", "API_KEY", "k")
    with sandbox.transaction() as st:
        for vid, region in (("vol_a1", "nrt"), ("vol_b2", "iad")):
            st["apps"]["alpha"]["volumes"].append({
                "id": vid, "name": "pgdata", "state": "created", "size_gb": 3, "region": region, "zone": "a1b2",
                "encrypted": True, "attached_machine_id": None, "created_at": "2026-01-02T03:04:05Z"})
    app = make(sandbox)
    async with app.run_test(size=(180, 50)) as pilot:
        assert await wait_until(pilot, lambda: len(rows(app, "apps")) == 2)
        await set_filter(pilot, app, "/^beta-/")
        assert visible(app, "apps") == ["beta-api"]
        await set_filter(pilot, app, "!beta")
        assert visible(app, "apps") == ["alpha"]
        app.main.clear_filter()
        await colon(pilot, "m alpha")
        assert await wait_until(pilot, lambda: len(rows(app, "machines")) == 2)
        await set_filter(pilot, app, "region:nrt")
        assert visible(app, "machines") == [m_nrt]
        await set_filter(pilot, app, "!state:stopped")
        assert visible(app, "machines") == [m_iad]
        app.main.clear_filter()
        await colon(pilot, "secrets")
        assert await wait_until(pilot, lambda: len(rows(app, "secrets")) == 2)
        await set_filter(pilot, app, "/^database/")
        assert visible(app, "secrets") == ["DATABASE_URL"]
        app.main.clear_filter()
        await colon(pilot, "volumes")
        assert await wait_until(pilot, lambda: len(rows(app, "volumes")) == 2)
        await set_filter(pilot, app, "!region:nrt")
        assert visible(app, "volumes") == ["vol_b2"]
