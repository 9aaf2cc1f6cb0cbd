"""The MPG clusters pane (Pilot, real FlyctlRunner + FlyClient against the sandbox flyctl)."""
from __future__ import annotations

import os

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.commands.mpg import add_cluster
from flytui.ui import commands
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.cluster_detail import ClusterDetailScreen
from flytui.ui.modals.confirm import ConfirmScreen
from tests.helpers.wait import until as wait_until


def make(sandbox, read_only: bool = False, **kw) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    return FlytuiApp(Config(refresh_interval=60, read_only=read_only), client, **kw)


async def pane_of(app, pilot, name: str):
    assert await wait_until(pilot, lambda: bool(app.main.query(f"#{name}")))
    return app.main.query_one(f"#{name}")


def test_registry_has_clusters_view_and_mutating_commands():
    assert commands.resolve("mpg").id == "clusters" and commands.resolve("clusters").id == "clusters"
    muts = {c.id for c in commands.for_group(commands.CLUSTERS) if c.mutating}
    assert muts == {"cluster-attach", "cluster-detach", "cluster-destroy"}


async def test_clusters_listed_detail_and_destroy_typed_name(sandbox_pg):
    sandbox_pg.add_org("acme", "Acme Corp", "SHARED")
    sandbox_pg.create_app("web")
    c = add_cluster(sandbox_pg, "web-db", region="ams")
    other = add_cluster(sandbox_pg, "acme-db", org="acme", status="initializing", ready_in=3600)
    assert sandbox_pg.run("mpg", "attach", c["id"], "-a", "web").returncode == 0
    app = make(sandbox_pg)
    async with app.run_test(size=(180, 45)) as pilot:
        apps = await pane_of(app, pilot, "apps")
        assert await wait_until(pilot, lambda: apps.loads > 0)
        await pilot.press("colon", *"mpg", "enter")
        pane = await pane_of(app, pilot, "clusters")
        assert await wait_until(pilot, lambda: {c["id"], other["id"]} <= set(pane.table.rows_data))
        row = pane.table.rows_data[c["id"]]
        assert (row["name"], row["org"], row["region"], row["plan"], row["version"], row["attached"]) == (
            "web-db", "personal", "ams", "basic", "v2", "web")
        assert row["status"].plain == "ready" and pane.table.rows_data[other["id"]]["status"].plain == "initializing"

        pane.table.move_cursor(row=pane.table.get_row_index(c["id"]))
        assert await wait_until(pilot, lambda: pane.table.selected_key == c["id"])
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ClusterDetailScreen))
        body = app.screen.query_one("#cluster-detail-body")
        assert await wait_until(pilot, lambda: "fly-user" in str(body.render()))
        shown = str(body.render())
        assert "fly-db" in shown and "schema_admin" in shown and "Attached   web" in shown
        password = sandbox_pg.read()["mpg_clusters"][c["id"]]["passwords"]["fly-user"]
        assert password not in shown
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: not isinstance(app.screen, ClusterDetailScreen))

        await pilot.press("ctrl+d")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.request.typed_name == "web-db"
        assert list(app.screen.request.commands[0].args[-3:]) == ["destroy", c["id"], "--yes"]
        dialog = app.screen  # typed keys go to the name field only once it is composed and focused
        assert await wait_until(pilot, lambda: dialog.query("#confirm-input") and dialog.focused is not None
                                and dialog.focused.id == "confirm-input")
        await pilot.press(*"web-db", "enter")
        assert await wait_until(pilot, lambda: c["id"] not in pane.table.rows_data)
    assert sandbox_pg.read()["mpg_clusters"][c["id"]].get("deleted")
    assert any(a[:3] == ["mpg", "destroy", c["id"]] for a in sandbox_pg.argv_log())


async def test_proxy_shows_in_tunnels_and_closes_on_exit(sandbox_pg):
    c = add_cluster(sandbox_pg, "web-db")
    app = make(sandbox_pg)
    async with app.run_test(size=(180, 45)) as pilot:
        apps = await pane_of(app, pilot, "apps")
        assert await wait_until(pilot, lambda: apps.loads > 0)
        await pilot.press("5")
        pane = await pane_of(app, pilot, "clusters")
        assert await wait_until(pilot, lambda: c["id"] in pane.table.rows_data)
        await pilot.press("p")
        assert await wait_until(pilot, lambda: c["id"] in pane.held)
        tunnel = pane.held[c["id"]]
        pid = tunnel.pid
        assert tunnel.state == "up" and pid
        await pilot.press("P")
        tunnels = await pane_of(app, pilot, "tunnels")
        assert await wait_until(pilot, lambda: len(tunnels.table.rows_data) == 1)
        (row,) = tunnels.table.rows_data.values()
        assert row["app"] == c["id"] and row["state"].plain == "up" and row["target"] == f"mpg {c['id']}:5432"
        assert row["connect"] == f"psql -h 127.0.0.1 -p {tunnel.local_port} -U fly-user fly-db"
    assert tunnel.state == "closed"
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


async def test_read_only_refuses_every_mutating_cluster_command(sandbox_pg):
    sandbox_pg.create_app("web")
    c = add_cluster(sandbox_pg, "web-db")
    app = make(sandbox_pg, read_only=True, current_app="web")
    async with app.run_test(size=(180, 45)) as pilot:
        first = await pane_of(app, pilot, "machines")
        assert await wait_until(pilot, lambda: first.loads > 0)
        app.show_view("clusters")
        pane = await pane_of(app, pilot, "clusters")
        assert await wait_until(pilot, lambda: pane.loads > 0 and c["id"] in pane.table.rows_data)
        pane.table.move_cursor(row=0)
        for cmd in ("cluster-attach", "cluster-detach", "cluster-destroy"):
            assert await app.action_command(cmd) is False
        assert not isinstance(app.screen, ConfirmScreen)
    assert not any(a[:2] == ["mpg", "attach"] or a[:2] == ["mpg", "destroy"] for a in sandbox_pg.argv_log())


async def test_attach_and_detach_current_app_with_confirm(sandbox_pg):
    sandbox_pg.create_app("web")
    c = add_cluster(sandbox_pg, "web-db")
    app = make(sandbox_pg, current_app="web")
    async with app.run_test(size=(180, 45)) as pilot:
        first = await pane_of(app, pilot, "machines")
        assert await wait_until(pilot, lambda: first.loads > 0)
        await pilot.press("5")
        pane = await pane_of(app, pilot, "clusters")
        assert await wait_until(pilot, lambda: pane.loads > 0 and c["id"] in pane.table.rows_data)
        pane.table.move_cursor(row=0)
        await pilot.press("a")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert list(app.screen.request.commands[0].args[-4:]) == ["attach", c["id"], "-a", "web"]
        await pilot.press("y")
        assert await wait_until(pilot, lambda: pane.table.rows_data.get(c["id"], {}).get("attached") == "web")
        secret = sandbox_pg.read()["apps"]["web"]["secrets"]["DATABASE_URL"]["value"]
        assert secret.startswith("postgresql://fly-user:") and f"@pgbouncer.{c['id']}.flympg.net/fly-db" in secret
        assert not any(secret in str(n.message) for n in app._notifications)
        await pilot.press("D")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        assert await wait_until(pilot, lambda: pane.table.rows_data.get(c["id"], {}).get("attached")
                                == "<no attached apps>")
    assert "DATABASE_URL" in sandbox_pg.read()["apps"]["web"]["secrets"]  # detach keeps the secret, like flyctl
