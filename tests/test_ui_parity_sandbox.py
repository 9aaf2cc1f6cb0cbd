"""Issue 19 (what flyradar / fly-tui have): Pilot tests through the sandbox flyctl for cordon / uncordon, kill,
stop with a signal, leases, apps restart, the Fly dashboard, the services & IPs view and org members.

Shapes and texts the sandbox plays: flyctl @ ad0172f (tests/fixtures/flyctl/parity/SOURCES.md)."""
from __future__ import annotations


from rich.text import Text

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.commands.parity import hold_lease, seed_members
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from tests.helpers.wait import until
from tests.helpers.settle import settle


def make(sandbox, **kw) -> FlytuiApp:  # type: ignore[no-untyped-def]
    return FlytuiApp(Config(refresh_interval=600), FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env)), **kw)


def record_notes(app: FlytuiApp) -> list[str]:
    notes: list[str] = []
    orig = app.notify

    def notify(message, *a, **kw):  # type: ignore[no-untyped-def]
        notes.append(f"{kw.get('title') or ''}|{message}")
        return orig(message, *a, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return notes


def machine(sandbox, app: str, mid: str) -> dict:  # type: ignore[no-untyped-def]
    return next(m for m in sandbox.read()["apps"][app]["machines"] if m["id"] == mid)


def confirming(app: FlytuiApp) -> bool:
    return type(app.screen).__name__ == "ConfirmScreen"


def argv_text(app: FlytuiApp) -> str:
    return str(app.screen.query_one("#confirm-argv").render())


async def open_pane(pilot, key: str, name: str):  # type: ignore[no-untyped-def]
    """Press the view's key once the main screen is up; the pane, once it is the current one."""
    app = pilot.app
    await until(pilot, lambda: app.main.pane.active)
    await pilot.press(key)
    await until(pilot, lambda: bool(app.main.query(f"#{name}")) and app.main.pane.id == name)
    return app.main.query_one(f"#{name}")


async def select_row(pilot, pane, key: str) -> None:  # type: ignore[no-untyped-def]
    pane.table.move_cursor(row=pane.table.get_row_index(key), animate=False)
    pane.table.focus()
    await until(pilot, lambda: pane.table.has_focus and pane.table.selected_key == key, what=f"row {key} selected")


async def test_cordon_uncordon_lease_signal_and_kill(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    m1, m2, m3 = (sandbox.add_machine("alpha", state="started")["id"] for _ in range(3))
    hold_lease(sandbox, "alpha", m2, owner="ci@example.com")
    app = make(sandbox, current_app="alpha")
    notes = record_notes(app)
    async with app.run_test(size=(200, 45)) as pilot:
        pane = app.main.query_one("#machines")
        assert await until(pilot, lambda: len(pane.table.rows_data) == 3)
        # the lease is shown on its machine only
        assert await until(pilot, lambda: "lease ci@example.com" in pane.table.rows_data[m2]["flags"].plain)
        assert pane.table.rows_data[m1]["flags"].plain == "-"

        # cordon: confirmed, exact argv, then the row and flyctl's state say cordoned
        await select_row(pilot, pane, m1)
        await pilot.press("c")
        assert await until(pilot, lambda: confirming(app))
        assert f"machine cordon {m1} -a alpha" in argv_text(app)
        await pilot.press("y")
        assert await until(pilot, lambda: machine(sandbox, "alpha", m1)["cordoned"] is True)
        assert await until(pilot, lambda: "cordoned" in pane.table.rows_data[m1]["flags"].plain)
        await select_row(pilot, pane, m1)
        await pilot.press("u")
        assert await until(pilot, lambda: confirming(app))
        await pilot.press("y")
        assert await until(pilot, lambda: machine(sandbox, "alpha", m1)["cordoned"] is False)

        # a held lease: flyctl's refusal, and what to do about it
        await select_row(pilot, pane, m2)
        await pilot.press("c")
        assert await until(pilot, lambda: confirming(app))
        await pilot.press("y")
        assert await until(pilot, lambda: any("lease currently held by ci@example.com" in n for n in notes))
        note = next(n for n in notes if "lease currently held" in n)
        assert "0/1 succeeded" in note and f"fly machine leases clear {m2}" in note
        assert machine(sandbox, "alpha", m2)["cordoned"] is False

        # stop with a chosen signal (flyctl: fly machine stop --signal)
        await select_row(pilot, pane, m1)
        await pilot.press("g")
        assert await until(pilot, lambda: type(app.screen).__name__ == "PickerScreen")
        await pilot.press(*"USR1", "enter")
        assert await until(pilot, lambda: confirming(app))
        assert f"machine stop {m1} --signal SIGUSR1 -a alpha" in argv_text(app)
        await pilot.press("y")
        assert await until(pilot, lambda: machine(sandbox, "alpha", m1)["state"] == "stopped")
        assert machine(sandbox, "alpha", m1)["sandbox"]["stop_signal"] == "SIGUSR1"
        assert await until(pilot, lambda: pane.table.rows_data[m1]["state"].plain == "stopped")

        # kill: a danger confirmation; escape first runs nothing
        await select_row(pilot, pane, m3)
        before = len(sandbox.argv_log())
        await pilot.press("K")
        assert await until(pilot, lambda: confirming(app))
        assert f"machine kill {m3} -a alpha" in argv_text(app)
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is app.main)
        assert not any(a[:2] == ["machine", "kill"] for a in sandbox.argv_log()[before:])
        await select_row(pilot, pane, m3)
        await pilot.press("K")
        assert await until(pilot, lambda: confirming(app))
        await pilot.press("y")
        assert await until(pilot, lambda: machine(sandbox, "alpha", m3)["state"] == "stopped")
        assert ["machine", "kill", m3, "-a", "alpha"] in sandbox.argv_log()
        assert await until(pilot, lambda: any("kill: 1/1 succeeded" in n for n in notes))

        # e: the leases, with owner and how to clear one
        await pilot.press("e")
        assert await until(pilot, lambda: any("1 lease(s) held" in n for n in notes))
        assert any(f"{m2}: ci@example.com until" in n for n in notes)

        # E: clear the stale lease (danger confirmation), then cordon works
        await select_row(pilot, pane, m2)
        await pilot.press("E")
        assert await until(pilot, lambda: confirming(app))
        assert f"machine leases clear {m2} -a alpha" in argv_text(app)
        await pilot.press("y")
        assert await until(pilot, lambda: "lease" not in (machine(sandbox, "alpha", m2).get("sandbox") or {}))
        assert await until(pilot, lambda: "lease" not in pane.table.rows_data[m2]["flags"].plain)


async def test_apps_restart_confirmed_and_dashboard_opens(sandbox, monkeypatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **kw: opened.append(url) or True)
    sandbox.create_app("alpha", deployed=True)
    started = sandbox.add_machine("alpha", state="started")["id"]
    sandbox.add_machine("alpha", state="stopped")
    app = make(sandbox)
    notes = record_notes(app)
    async with app.run_test(size=(180, 45)) as pilot:
        pane = app.main.query_one("#apps")
        assert await until(pilot, lambda: "alpha" in pane.table.rows_data)
        await select_row(pilot, pane, "alpha")
        await pilot.press("D")
        assert await until(pilot, lambda: opened == ["https://fly.io/apps/alpha"])
        await pilot.press("R")
        assert await until(pilot, lambda: confirming(app))
        assert "apps restart alpha" in argv_text(app)
        await pilot.press("y")
        assert await until(pilot, lambda: any("Restarted 1 machine(s) of alpha" in n for n in notes))
        assert ["apps", "restart", "alpha"] in sandbox.argv_log()
        events = [e["type"] for e in machine(sandbox, "alpha", started)["events"]]
        assert "restart" in events

        hold_lease(sandbox, "alpha", started, owner="deployer")
        await select_row(pilot, pane, "alpha")
        await pilot.press("R")
        assert await until(pilot, lambda: confirming(app))
        await pilot.press("y")
        assert await until(pilot, lambda: any("lease currently held by deployer" in n for n in notes))
        assert any("fly machine leases view" in n for n in notes if "lease currently held" in n)


async def test_services_and_ips_view(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    with sandbox.transaction() as st:
        st["apps"]["alpha"]["ips"].append({"ID": "ip1", "Address": "66.241.124.7", "Type": "shared_v4",
                                           "Region": "global", "CreatedAt": "2026-08-01T10:00:00Z"})
    sandbox.add_machine("alpha", state="started")
    sandbox.add_machine("alpha", state="stopped")
    app = make(sandbox, current_app="alpha")
    async with app.run_test(size=(220, 45)) as pilot:
        pane = await open_pane(pilot, "6", "services")
        assert await until(pilot, lambda: len(pane.table.rows_data) == 3)
        rows = pane.table.rows_data
        https = rows["service TCP-443 => 8080-False-[HTTP,TLS]"]
        assert https["machines"].plain == "1/2 started"
        assert https["checks"].plain == "1/2"  # the stopped machine's check is critical
        assert https["min"].plain == "0"
        assert "min_machines_running = 0" in https["note"].plain
        assert rows["ip 66.241.124.7"]["detail"].plain == "public ingress (shared)"
        # flyctl's own services table agrees on the grouping (services/list.go)
        out = sandbox.run("services", "list", "-a", "alpha").stdout
        assert "443 => 8080" in out and "[HTTP,TLS]" in out


async def test_org_members_invite_and_remove_with_typed_email(sandbox) -> None:
    seed_members(sandbox, "personal", [{"email": "demo@example.com", "name": "Demo", "role": "admin"},
                                       {"email": "bob@example.com", "name": "Bob [admin]", "role": "member"}])
    app = make(sandbox)
    notes = record_notes(app)
    async with app.run_test(size=(180, 45)) as pilot:
        pane = await open_pane(pilot, "7", "members")
        assert await until(pilot, lambda: set(pane.table.rows_data) == {"demo@example.com", "bob@example.com"})
        assert "you are admin" in str(pane.query_one(".pane-title").render())
        name = pane.table.rows_data["bob@example.com"]["name"]
        assert isinstance(name, Text) and name.plain == "Bob [admin]"  # a name is text, never Rich markup

        await pilot.press("n")
        assert await until(pilot, lambda: type(app.screen).__name__ == "InviteScreen")
        await pilot.press(*"not-an-email", "enter")
        await until(pilot, lambda: str(app.screen.query_one("#invite-error").render()).strip() != "",
                    what="the address refused")
        assert type(app.screen).__name__ == "InviteScreen"  # refused before flyctl
        app.screen.query_one("#invite-email").value = ""
        await pilot.press(*"carol@example.com", "enter")
        assert await until(pilot, lambda: any("Invitation sent to carol@example.com" in n for n in notes))
        assert ["orgs", "invite", "personal", "carol@example.com", "--json"] in sandbox.argv_log()

        await select_row(pilot, pane, "bob@example.com")
        await pilot.press("ctrl+d")
        assert await until(pilot, lambda: confirming(app))
        assert "orgs remove personal bob@example.com" in argv_text(app)
        await pilot.press("enter")  # nothing typed: nothing runs
        await pilot.press(*"bob", "enter")
        await settle(pilot, lambda: app.screen.query_one("#confirm-input").value == "bob", workers_idle=False,
                     what="the wrong name typed and submitted")
        assert confirming(app)
        assert not any(a[:2] == ["orgs", "remove"] for a in sandbox.argv_log())
        app.screen.query_one("#confirm-input").value = ""
        await pilot.press(*"bob@example.com", "enter")
        assert await until(pilot, lambda: any("Removed bob@example.com from personal" in n for n in notes))
        assert await until(pilot, lambda: set(pane.table.rows_data) == {"demo@example.com"})
        assert [m["email"] for m in sandbox.read()["org_members"]["personal"]] == ["demo@example.com"]


async def test_org_remove_that_flyctl_silently_skips_is_reported(sandbox) -> None:
    """flyctl's orgs remove exits 0 without output when the org cannot be used (remove.go `return nil`)."""
    seed_members(sandbox, "personal", [{"email": "demo@example.com", "role": "member"},
                                       {"email": "bob@example.com", "role": "admin"}])
    app = make(sandbox)
    notes = record_notes(app)
    async with app.run_test(size=(180, 45)) as pilot:
        pane = await open_pane(pilot, "7", "members")
        assert await until(pilot, lambda: "bob@example.com" in pane.table.rows_data)
        await select_row(pilot, pane, "bob@example.com")
        await pilot.press("ctrl+d")
        assert await until(pilot, lambda: confirming(app))
        await pilot.press(*"bob@example.com", "enter")
        assert await until(pilot, lambda: any("did not remove bob@example.com" in n for n in notes))
        assert not any("Removed bob" in n for n in notes)
        assert "bob@example.com" in pane.table.rows_data


ACCOUNTS = """
[[account]]
name = "me"
token = "fly"

[[account]]
name = "work"
token = "env:FLY_TOKEN_WORK"
read_only = true
must_stay_up = ["shop-*"]

[[account]]
name = "broken"
token = "env:FLY_TOKEN_MISSING"
"""


async def test_fleet_accounts_orgs_apps_tokens_by_env_and_read_only_account(sandbox, tmp_path, monkeypatch) -> None:
    from flytui.sandbox.commands.parity import add_token

    (tmp_path / "accounts.toml").write_text(ACCOUNTS, encoding="utf-8")
    monkeypatch.setenv("FLYTUI_ACCOUNTS", str(tmp_path / "accounts.toml"))
    monkeypatch.setenv("FLY_TOKEN_WORK", "fo1_work-secret-token")
    sandbox.add_org("acme", "Acme")
    sandbox.create_app("home-app", deployed=True)
    sandbox.create_app("shop-api", org="acme", deployed=True)
    sandbox.create_app("blog", org="acme", deployed=True)
    sandbox.add_machine("shop-api", state="started")
    sandbox.add_machine("blog", state="stopped")
    add_token(sandbox, "fo1_work-secret-token", "ops@acme.example", ["acme"])
    # the shell exports a token of a third account: flyctl reads FLY_ACCESS_TOKEN first (config.go), so each
    # account must override it, or its rows would be the shell's account's
    add_token(sandbox, "fo1_shell-token", "shell@example.com", ["personal"])
    monkeypatch.setenv("FLY_ACCESS_TOKEN", "fo1_shell-token")
    app = make(sandbox)
    notes = record_notes(app)
    async with app.run_test(size=(200, 45)) as pilot:
        pane = await open_pane(pilot, "8", "fleet")
        want = {"me/home-app", "me/shop-api", "me/blog", "work/shop-api", "work/blog", "broken/"}
        assert await until(pilot, lambda: set(pane.table.rows_data) == want), pane.table.rows_data.keys()
        rows = pane.table.rows_data
        # the token was honoured (work sees acme only) and went by environment, never argv
        assert "work/home-app" not in rows
        assert not any("fo1_work-secret-token" in " ".join(a) for a in sandbox.argv_log())
        assert rows["work/shop-api"]["machines"].plain == "1/1" and rows["work/shop-api"]["min"].plain == "0"
        assert "must stay up" in rows["work/shop-api"]["warning"].plain
        assert "must stay up" not in rows["me/shop-api"]["warning"].plain  # not declared for this account
        assert "scale to zero" in rows["work/blog"]["warning"].plain
        assert rows["work/shop-api"]["account"].plain == "work (ro)"
        assert "FLY_TOKEN_MISSING is not set" in rows["broken/"]["warning"].plain  # one account failing: its row

        # enter: the console uses the read-only account; a mutating command is refused before flyctl runs
        await select_row(pilot, pane, "work/shop-api")
        await pilot.press("enter")
        assert await until(pilot, lambda: app.current_app == "shop-api" and app.main.pane.id == "machines")
        assert app.read_only and app.runner.env["FLY_ACCESS_TOKEN"] == "fo1_work-secret-token"
        assert await until(pilot, lambda: "ops@acme.example" in str(app.main.query_one("#header").render()))
        machines = app.main.query_one("#machines")
        assert await until(pilot, lambda: len(machines.table.rows_data) == 1)
        before = len(sandbox.argv_log())
        await pilot.press("c")  # cordon
        assert await until(pilot, lambda: any("read-only" in n for n in notes))
        assert not any(a[:2] == ["machine", "cordon"] for a in sandbox.argv_log()[before:])

        # back to the console's own login: read-write again
        await pilot.press("8")
        assert await until(pilot, lambda: app.main.pane.id == "fleet")
        assert await until(pilot, lambda: "me/home-app" in pane.table.rows_data)
        await select_row(pilot, pane, "me/home-app")
        await pilot.press("enter")
        assert await until(pilot, lambda: app.current_app == "home-app")
        assert not app.read_only and app.runner.env.get("FLY_ACCESS_TOKEN") == ""


async def test_members_with_several_orgs_asks_for_one(sandbox) -> None:
    sandbox.add_org("acme", "Acme")
    seed_members(sandbox, "acme", [{"email": "demo@example.com", "role": "admin"},
                                   {"email": "eve@acme.example", "role": "member"}])
    app = make(sandbox)
    async with app.run_test(size=(180, 45)) as pilot:
        pane = await open_pane(pilot, "7", "members")
        empty = pane.query_one(".empty-state")
        assert await until(pilot, lambda: "choose one with O" in str(empty.render()))
        assert not any(a[:2] == ["orgs", "show"] for a in sandbox.argv_log())
        app.set_org("acme")
        await pilot.press("7")
        assert await until(pilot, lambda: set(pane.table.rows_data) == {"demo@example.com", "eve@acme.example"})
        assert ["orgs", "show", "acme", "--json"] in sandbox.argv_log()
