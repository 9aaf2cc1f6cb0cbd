"""Doctor: which database DATABASE_URL names (Fly Postgres app / MPG cluster / other), the MPG cluster is ready, app and
cluster share org and region (flytui/doctor_db.py), through the sandbox flyctl."""
from __future__ import annotations

import pytest

from flytui.doctor import FAIL, OK, SKIP, WARN, run_doctor
from flytui.doctor_db import check_database_kind
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.commands.mpg import add_cluster, connection_uri


def client_for(sb) -> FlyClient:
    return FlyClient(FlyctlRunner(sb.flyctl, env=sb.env))


@pytest.mark.parametrize("url,status,words", [
    ("postgresql://fly-user:pw@pgbouncer.zkvpn6wymq10ol9r.flympg.net/fly-db", WARN,
     ["Managed Postgres cluster zkvpn6wymq10ol9r", "pooled", "psycopg2"]),
    ("postgresql+psycopg://fly-user:pw@direct.zkvpn6wymq10ol9r.flympg.net/fly-db", OK,
     ["Managed Postgres cluster zkvpn6wymq10ol9r", "direct endpoint"]),
    ("postgres://web:pw@web-db.flycast:5432/web?sslmode=disable", OK, ["Fly Postgres app web-db"]),
    ("postgresql+psycopg://u:pw@db.example.com/x", OK, ["another database (db.example.com)"]),
])
async def test_kind_from_url(url, status, words):
    c = await check_database_kind(None, None, url)
    assert c.status == status, c.detail
    assert all(w in c.detail for w in words), c.detail
    assert "pw" not in c.detail.replace("pwd", "")


async def test_attached_initializing_cluster_fails_then_ready(sandbox_pg):
    sandbox_pg.create_app("web")
    c = add_cluster(sandbox_pg, "web-db")
    assert sandbox_pg.run("mpg", "attach", c["id"], "-a", "web").returncode == 0
    with sandbox_pg.transaction() as st:
        st["mpg_clusters"][c["id"]].update(status="initializing", ready_at=9e12)
    report = await run_doctor(client_for(sandbox_pg), None, app="web")
    kind = report.by_id("database_kind")
    assert kind.status == OK and f"({c['id']}) is attached to web" in kind.detail
    ready = report.by_id("mpg_ready")
    assert ready.status == FAIL and "cluster is still initializing, wait a bit more" in ready.detail
    url_check = report.by_id("database_url")
    assert url_check.status == WARN and "by `fly mpg attach`" in url_check.detail and "psycopg2" in url_check.detail
    with sandbox_pg.transaction() as st:
        st["mpg_clusters"][c["id"]]["ready_at"] = 0
    report = await run_doctor(client_for(sandbox_pg), None, app="web")
    assert report.by_id("mpg_ready").status == OK
    assert report.by_id("mpg_placement").status == OK


async def test_other_org_and_other_region(sandbox_pg):
    sandbox_pg.add_org("acme", "Acme")
    sandbox_pg.create_app("web")
    sandbox_pg.add_machine("web", region="nrt", state="stopped")
    other_org = add_cluster(sandbox_pg, "acme-db", org="acme")
    far = add_cluster(sandbox_pg, "far-db", region="iad")
    client = client_for(sandbox_pg)
    report = await run_doctor(client, None, app="web", database_url=connection_uri(other_org))
    place = report.by_id("mpg_placement")
    assert place.status == FAIL and "They must be in the same organization to attach" in place.detail
    report = await run_doctor(client, None, app="web", database_url=connection_uri(far))
    place = report.by_id("mpg_placement")
    assert place.status == WARN and "web runs in nrt, cluster far-db in iad" in place.detail


async def test_destroyed_cluster_and_fly_postgres_app(sandbox_pg):
    sandbox_pg.create_app("web")
    c = add_cluster(sandbox_pg, "gone-db")
    url = connection_uri(c)
    assert sandbox_pg.run("mpg", "destroy", c["id"], "--yes").returncode == 0
    report = await run_doctor(client_for(sandbox_pg), None, app="web", database_url=url)
    ready = report.by_id("mpg_ready")
    assert ready.status == FAIL and f'managed postgres cluster "{c["id"]}" not found' in ready.detail
    report = await run_doctor(client_for(sandbox_pg), None, app="web",
                              database_url="postgres://web:pw@web-db.flycast:5432/web")
    assert report.by_id("database_kind").detail == "Fly Postgres app web-db"
    assert not any(ch.id.startswith("mpg_") for ch in report.checks)
    no_url = await run_doctor(client_for(sandbox_pg), None, app="web")
    assert no_url.by_id("database_kind").status == SKIP
