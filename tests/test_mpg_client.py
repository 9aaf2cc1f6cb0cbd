"""MPG models and FlyClient methods (fixtures: tests/fixtures/flyctl/mpg/, flyctl @ ad0172f, see SOURCES.md) and the
DATABASE_URL recogniser (flytui/db/mpg_urls.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from flytui.db.mpg_urls import database_target, parse_mpg_url
from flytui.fly.client import FlyClient
from flytui.fly.errors import FlyctlError, FlyctlOutputError
from flytui.fly.mpg import (MpgCluster, MpgClusterDetail, json_or_empty, parse_mpg_databases, parse_mpg_list,
                            parse_mpg_users)
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.commands.mpg import add_cluster

FIX = Path(__file__).parent / "fixtures" / "flyctl" / "mpg"


def load(name: str):
    return json.loads((FIX / name).read_text())


def test_list_fixture_parses():
    (c,) = parse_mpg_list(load("list.json"))
    assert (c.id, c.name, c.region, c.status, c.plan, c.org_slug, c.version) == (
        "zkvpn6wymq10ol9r", "my-app-db", "iad", "ready", "basic", "personal", 2)
    assert c.attached_apps == ("my-app",) and c.attached_text == "my-app" and c.ready
    assert c.direct_ip == "fdaa:0:3b99:a7b:2:7258::2" and c.disk_gb == 10


def test_status_fixture_parses_and_password_stays_out_of_repr():
    d = MpgClusterDetail.from_json(load("status.json"))
    assert d.cluster.id == "zkvpn6wymq10ol9r" and d.cluster.version == 2 and d.cluster.attached_apps == ()
    assert d.credentials.user == "fly-user" and d.credentials.dbname == "fly-db"
    assert d.credentials.password == "EXAMPLEPASSWORD"
    assert "EXAMPLEPASSWORD" not in repr(d)


def test_databases_users_and_empty_texts():
    assert [d.name for d in parse_mpg_databases(load("databases.json"))] == ["fly-db"]
    assert [(u.name, u.role) for u in parse_mpg_users(load("users.json"))] == [("fly-user", "schema_admin")]
    empty = (FIX / "list-empty.txt").read_text()
    assert json_or_empty(empty, "mpg list", "No ") == []
    with pytest.raises(FlyctlOutputError):
        json_or_empty("<html>502</html>", "mpg list", "No ")


def test_missing_id_is_an_output_error():
    bad = load("list.json")
    del bad[0]["id"]
    with pytest.raises(FlyctlOutputError, match="missing field 'id'"):
        parse_mpg_list(bad)
    with pytest.raises(FlyctlOutputError):
        MpgCluster.from_json({"id": 3})


@pytest.mark.parametrize("url,kind,name", [
    ("postgresql://fly-user:pw@pgbouncer.zkvpn6wymq10ol9r.flympg.net/fly-db", "mpg", "zkvpn6wymq10ol9r"),
    ("postgresql+psycopg://fly-user:pw@direct.abc123.flympg.net/other", "mpg", "abc123"),
    ("postgres://u:p@my-db.flycast:5432/u?sslmode=disable", "fly-postgres", "my-db"),
    ("postgres://u:p@top2.nearest.of.my-db.internal:5432/u", "fly-postgres", "my-db"),
    ("postgresql://u:p@db.example.com/x", "other", ""),
    ("not a url", "invalid", ""),
])
def test_database_target(url, kind, name):
    t = database_target(url)
    assert (t.kind, t.name) == (kind, name)


def test_mpg_url_fields():
    m = parse_mpg_url("postgresql://fly-user:pw@pgbouncer.zkvpn6wymq10ol9r.flympg.net/fly-db")
    assert m is not None and (m.cluster_id, m.user, m.database, m.pooled) == ("zkvpn6wymq10ol9r", "fly-user",
                                                                               "fly-db", True)
    assert parse_mpg_url("postgresql://u:p@flympg.net.evil.com/x") is None


async def test_client_against_sandbox(sandbox_pg):
    sandbox_pg.create_app("my-app")
    c = add_cluster(sandbox_pg, "my-app-db")
    client = FlyClient(FlyctlRunner(sandbox_pg.flyctl, env=sandbox_pg.env))
    assert await client.mpg_list("personal") == [await _one(client, c["id"])]
    run = await client.mpg_attach(c["id"], "my-app")
    assert run.returncode == 0
    (listed,) = await client.mpg_list("personal")
    assert listed.attached_apps == ("my-app",)
    detail = await client.mpg_status(c["id"])
    assert detail.cluster.status == "ready" and detail.credentials.password
    assert [d.name for d in await client.mpg_databases(c["id"])] == ["fly-db"]
    assert [u.name for u in await client.mpg_users(c["id"])] == ["fly-user"]
    with pytest.raises(FlyctlError) as err:
        await client.mpg_attach(c["id"], "my-app")
    assert "already has DATABASE_URL set" in err.value.message
    await client.mpg_destroy(c["id"])
    assert await client.mpg_list("personal") == []
    with pytest.raises(FlyctlError, match="not found"):
        await client.mpg_status(c["id"])
    argvs = [a[:3] for a in sandbox_pg.argv_log()]
    assert ["mpg", "destroy", c["id"]] in argvs
    assert any(a[:2] == ["mpg", "destroy"] and "--yes" in a for a in sandbox_pg.argv_log())


async def _one(client: FlyClient, cid: str) -> MpgCluster:
    (c,) = [c for c in await client.mpg_list("personal") if c.id == cid]
    return c
