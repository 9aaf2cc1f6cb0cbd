"""Contract tests for the sandbox's ``fly mpg``: shapes and texts of tests/fixtures/flyctl/mpg/ (flyctl @ ad0172f,
see SOURCES.md there), plus a real TCP forward through ``fly mpg proxy`` to the embedded PostgreSQL."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from flytui.sandbox.commands.mpg import add_cluster

FIX = Path(__file__).parent / "fixtures" / "flyctl" / "mpg"


def fixture(name: str) -> str:
    return (FIX / name).read_text()


def shape(obj):
    """Keys and value types, recursively (lists: the first element's shape)."""
    if isinstance(obj, dict):
        return {k: shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [shape(obj[0])] if obj else []
    return type(obj).__name__


def errors() -> list[str]:
    return fixture("errors.txt").splitlines()


def template(text: str, **values: str) -> re.Pattern[str]:
    """The fixture text as a regex with its example values replaced by the test's."""
    pattern = re.escape(text)
    for example, actual in values.items():
        pattern = pattern.replace(re.escape(example), actual)
    return re.compile(pattern)


def test_list_empty_text_even_with_json(sandbox):
    assert sandbox.run("mpg", "list", "--org", "personal").stdout == fixture("list-empty.txt")
    # list.go prints the text before looking at --json
    assert sandbox.run("mpg", "list", "--org", "personal", "--json").stdout == fixture("list-empty.txt")
    r = sandbox.run("mpg", "list")
    assert r.returncode == 1 and r.stderr.strip() == errors()[5]


def test_list_and_status_json_shapes(sandbox_pg):
    sandbox_pg.create_app("my-app")
    c = add_cluster(sandbox_pg, "my-app-db")
    assert sandbox_pg.run("mpg", "attach", c["id"], "-a", "my-app").returncode == 0
    data = json.loads(sandbox_pg.run("mpg", "list", "--org", "personal", "--json").stdout)
    assert shape(data) == shape(json.loads(fixture("list.json")))
    assert data[0]["attached_apps"][0]["name"] == "my-app"
    st = json.loads(sandbox_pg.run("mpg", "status", c["id"], "--json").stdout)
    want = json.loads(fixture("status.json"))
    assert set(st) == set(want) and set(st["data"]) == set(want["data"])
    assert shape(st["credentials"]) == shape(want["credentials"])
    table = sandbox_pg.run("mpg", "list", "--org", "personal").stdout
    assert table.splitlines()[0].split() == ["ID", "NAME", "ORG", "REGION", "STATUS", "PLAN", "ATTACHED", "APPS"]
    assert "my-app" in table.splitlines()[1]


def test_databases_and_users_json(sandbox_pg):
    c = add_cluster(sandbox_pg, "db1")
    dbs = json.loads(sandbox_pg.run("mpg", "databases", "list", c["id"], "--json").stdout)
    users = json.loads(sandbox_pg.run("mpg", "users", "ls", c["id"], "--json").stdout)
    assert dbs == json.loads(fixture("databases.json"))
    assert shape(users) == shape(json.loads(fixture("users.json"))) and users[0]["name"] == "fly-user"


def test_create_waits_for_ready_and_prints_connection_string(sandbox_pg):
    r = sandbox_pg.run("mpg", "create", "--name", "new-db", "--region", "iad", "--org", "personal")
    assert r.returncode == 0, r.stderr
    cid = re.search(r"^  ID: (\w+)$", r.stdout, re.M).group(1)
    assert f"Waiting for cluster new-db ({cid}) to be ready..." in r.stdout
    assert re.search(rf"^  Connection string: postgresql://fly-user:[^@]+@pgbouncer\.{cid}\.flympg\.net/fly-db$",
                     r.stdout, re.M)
    assert json.loads(sandbox_pg.run("mpg", "status", cid, "--json").stdout)["data"]["status"] == "ready"
    bad = sandbox_pg.run("mpg", "create", "--name", "x", "--region", "zzz", "--org", "personal")
    assert "region zzz is not available for Managed Postgres" in bad.stderr


def test_initializing_then_ready(sandbox_pg):
    c = add_cluster(sandbox_pg, "slow", status="initializing", ready_in=3600)
    st = json.loads(sandbox_pg.run("mpg", "status", c["id"], "--json").stdout)
    assert st["data"]["status"] == "initializing" and st["credentials"]["password"] == ""
    r = sandbox_pg.run("mpg", "proxy", c["id"], "-p", "0")
    assert r.returncode == 1 and r.stderr.strip() == errors()[1]
    with sandbox_pg.transaction() as s:
        s["mpg_clusters"][c["id"]]["ready_at"] = 0
    st = json.loads(sandbox_pg.run("mpg", "status", c["id"], "--json").stdout)
    assert st["data"]["status"] == "ready" and st["credentials"]["password"]


def test_attach_sets_url_of_source_shape_detach_keeps_it(sandbox_pg):
    sandbox_pg.create_app("my-app")
    c = add_cluster(sandbox_pg, "my-app-db")
    r = sandbox_pg.run("mpg", "attach", c["id"], "-a", "my-app")
    pat = template(fixture("attach.txt"), zkvpn6wymq10ol9r=c["id"], EXAMPLEPASSWORD="[A-Za-z0-9]+")
    assert pat.fullmatch(r.stdout), r.stdout
    url = r.stdout.strip().splitlines()[-1].split("=", 1)[1]
    assert sandbox_pg.read()["apps"]["my-app"]["secrets"]["DATABASE_URL"]["value"] == url
    again = sandbox_pg.run("mpg", "attach", c["id"], "-a", "my-app")
    assert again.returncode == 1 and again.stderr.strip() == errors()[3]
    d = sandbox_pg.run("mpg", "detach", c["id"], "-a", "my-app")
    assert d.stdout == fixture("detach.txt").replace("zkvpn6wymq10ol9r", c["id"])
    assert "DATABASE_URL" in sandbox_pg.read()["apps"]["my-app"]["secrets"]


def test_attach_across_orgs_refused(sandbox_pg):
    sandbox_pg.add_org("acme", "Acme")
    sandbox_pg.create_app("my-app")
    c = add_cluster(sandbox_pg, "other", org="acme")
    r = sandbox_pg.run("mpg", "attach", c["id"], "-a", "my-app")
    assert r.stderr.strip() == errors()[4].replace("zkvpn6wymq10ol9r", c["id"])


def test_destroy_needs_yes_and_one_arg(sandbox_pg):
    c = add_cluster(sandbox_pg, "my-app-db")
    r = sandbox_pg.run("mpg", "destroy", c["id"])
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == errors()[2]
    assert sandbox_pg.run("mpg", "destroy").stderr.strip() == errors()[6]
    ok = sandbox_pg.run("mpg", "destroy", c["id"], "--yes")
    assert ok.stdout == fixture("destroy.txt").replace("zkvpn6wymq10ol9r", c["id"])
    assert sandbox_pg.run("mpg", "list", "--org", "personal").stdout == fixture("list-empty.txt")
    gone = sandbox_pg.run("mpg", "status", c["id"])
    assert gone.stderr.strip() == errors()[0].replace("nosuchcluster", c["id"])


def test_proxy_forwards_to_real_postgres(sandbox_pg):
    sandbox_pg.create_app("my-app")
    c = add_cluster(sandbox_pg, "my-app-db")
    r = sandbox_pg.run("mpg", "attach", c["id"], "-a", "my-app")
    url = urlsplit(r.stdout.strip().splitlines()[-1].split("=", 1)[1])
    assert sandbox_pg.run("mpg", "proxy", c["id"], "--watch-stdin").returncode == 1  # no such flag on mpg proxy
    proc = subprocess.Popen([sandbox_pg.flyctl, "mpg", "proxy", c["id"], "-p", "0"], env=sandbox_pg.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        pat = template(fixture("proxy-ready.txt").strip(), **{"16380": r"(\d+)",
                                                               "fdaa:0:3b99:a7b:2:7258::2": re.escape(c["direct_ip"])})
        m = pat.fullmatch(line.strip())
        assert m, line
        with psycopg.connect(host="127.0.0.1", port=int(m.group(1)), user=url.username, password=url.password,
                             dbname=url.path[1:], connect_timeout=10) as conn:
            assert conn.execute("select current_user, current_database()").fetchone() == ("fly-user", "fly-db")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("args", [("status", "nosuchcluster"), ("databases", "list", "nosuchcluster")])
def test_not_found(sandbox, args):
    r = sandbox.run("mpg", *args)
    assert r.returncode == 1 and r.stderr.strip() == errors()[0]
