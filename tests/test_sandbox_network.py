"""The sandbox's private network (Flycast forwarders per Fly Postgres app) and crashed machines.

Real embedded PostgreSQL behind the forwarders; the demo app (FastAPI + SQLAlchemy + psycopg) really runs.
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from flytui.sandbox.demo import copy_demo_project
from flytui.sandbox.state import pid_alive

PROJECT = Path(__file__).parent / "fixtures" / "sandbox" / "project"


def attach(sb, pg: str, app: str) -> str:
    """``fly pg attach`` -> the DATABASE_URL it printed."""
    r = sb.run("pg", "attach", pg, "-a", app)
    assert r.returncode == 0, r.stderr
    m = re.search(r"^  DATABASE_URL=(\S+)$", r.stdout, re.M)
    assert m, r.stdout
    return m.group(1)


def pg_machine(sb, pg: str) -> dict[str, Any]:
    (m,) = sb.read()["apps"][pg]["machines"]
    return m


def pg_addr(sb, pg: str) -> str:
    return sb.read()["apps"][pg]["sandbox"]["addr"]


def refused(addr: str, port: int = 5432) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((addr, port)) != 0


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture
def web(sandbox_pg):
    """A consumer app with one started (state-only) machine and DATABASE_URL attached from ``app-db``."""
    name = f"web-{secrets.token_hex(3)}"
    sandbox_pg.create_postgres("app-db")
    sandbox_pg.create_app(name)
    sandbox_pg.add_machine(name, state="started")
    url = attach(sandbox_pg, "app-db", name)
    return name, url


def test_ssh_console_sees_the_attach_url_unchanged(sandbox_pg, web):
    sb = sandbox_pg
    name, url = web
    assert re.fullmatch(rf"postgres://{name.replace('-', '_')}:[A-Za-z0-9]{{15}}@app-db\.flycast:5432/"
                        rf"{name.replace('-', '_')}\?sslmode=disable", url)
    r = sb.run("ssh", "console", "-a", name, "-C", "printenv DATABASE_URL")
    assert r.returncode == 0, r.stderr
    assert r.stdout == url + "\n"
    addr = pg_addr(sb, "app-db")
    assert re.fullmatch(r"127\.0\.0\.(\d+)", addr) and 2 <= int(addr.rsplit(".", 1)[1]) <= 254
    r = sb.run("ssh", "console", "-a", name, "-C", "printenv PGHOSTADDR")
    assert r.stdout == addr + "\n"
    assert "/tmp" not in sb.run("ssh", "console", "-a", name, "-C", "printenv").stdout.split("DATABASE_URL=")[1]


def test_both_url_forms_connect_through_the_forwarder(sandbox_pg, web):
    sb = sandbox_pg
    name, url = web
    fixed = url.replace("postgres://", "postgresql+psycopg://", 1)
    script = ("import os, psycopg, sqlalchemy as sa; "
              "c = psycopg.connect(os.environ['DATABASE_URL']); "
              "print(c.execute('select current_database(), inet_server_addr() is null').fetchone()); "
              "e = sa.create_engine(os.environ['FIXED']); "
              "print(e.connect().execute(sa.text('select current_user')).scalar())")
    sb.set_secret(name, "FIXED", fixed)
    r = sb.run("ssh", "console", "-a", name, "-C", f"{sys.executable} -c \"{script}\"")
    assert r.returncode == 0, r.stderr
    db = name.replace("-", "_")
    assert r.stdout.splitlines() == [f"('{db}', True)", db]  # unix socket server behind the forwarder


def test_stopping_the_pg_machine_makes_the_database_unreachable(sandbox_pg, web):
    sb = sandbox_pg
    name, _ = web
    m = pg_machine(sb, "app-db")
    addr = pg_addr(sb, "app-db")
    pid = m["sandbox"]["pid"]
    assert pid_alive(pid) and not refused(addr)
    assert sb.run("machine", "stop", m["id"], "-a", "app-db").returncode == 0
    assert not pid_alive(pid) and refused(addr)
    script = "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL'], connect_timeout=5)"
    r = sb.run("ssh", "console", "-a", name, "-C", f"{sys.executable} -c \"{script}\"")
    assert r.returncode == 1
    assert f'connection to server at "{addr}", port 5432 failed: Connection refused' in r.stdout + r.stderr
    assert sb.run("machine", "start", m["id"], "-a", "app-db").returncode == 0
    assert pid_alive(pg_machine(sb, "app-db")["sandbox"]["pid"]) and not refused(pg_addr(sb, "app-db"))


def test_unknown_pg_app_fails_like_dns(sandbox_pg, web):
    sb = sandbox_pg
    name, url = web
    sb.set_secret(name, "DATABASE_URL", url.replace("app-db.flycast", "ghost-db.flycast"))
    r = sb.run("ssh", "console", "-a", name, "-C", "printenv PGHOSTADDR")
    assert r.returncode == 1 and r.stdout == ""
    script = "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL'], connect_timeout=5)"
    r = sb.run("ssh", "console", "-a", name, "-C", f"{sys.executable} -c \"{script}\"")
    assert r.returncode == 1
    # psycopg resolves names itself (libpq would say: could not translate host name ...)
    assert "failed to resolve host 'ghost-db.flycast'" in r.stdout + r.stderr


def test_internal_hostnames_and_top2_resolve_to_the_same_address():
    from flytui.sandbox.procs import private_app_name

    assert private_app_name("app-db.flycast") == "app-db"
    assert private_app_name("app-db.internal") == "app-db"
    assert private_app_name("top2.nearest.of.app-db.internal") == "app-db"
    assert private_app_name("iad.app-db.internal") == "app-db"
    assert private_app_name("db.example.com") is None
    assert private_app_name(None) is None


def test_forwarder_started_lazily_when_server_set_later(sandbox, pg_server):
    sb = sandbox
    name = f"web-{secrets.token_hex(3)}"
    sb.create_postgres("late-db")
    assert "pid" not in pg_machine(sb, "late-db")["sandbox"]  # no backing server yet: state only
    addr = pg_addr(sb, "late-db")
    sb.set_postgres_server(pg_server.host, pg_server.port, pg_server.user)
    sb.create_app(name)
    sb.add_machine(name, state="started")
    attach(sb, "late-db", name)
    assert refused(addr)
    r = sb.run("ssh", "console", "-a", name, "-C", "printenv PGHOSTADDR")  # needs the database: starts it
    assert r.stdout == addr + "\n"
    pid = pg_machine(sb, "late-db")["sandbox"]["pid"]
    assert pid_alive(pid) and not refused(addr)
    sb.teardown()
    assert not pid_alive(pid) and refused(addr)


def test_two_pg_apps_get_distinct_addresses_and_teardown_kills_forwarders(sandbox_pg):
    sb = sandbox_pg
    sb.create_postgres("one-db")
    sb.create_postgres("two-db")
    a1, a2 = pg_addr(sb, "one-db"), pg_addr(sb, "two-db")
    assert a1 != a2
    pids = [pg_machine(sb, n)["sandbox"]["pid"] for n in ("one-db", "two-db")]
    assert all(pid_alive(p) for p in pids) and not refused(a1) and not refused(a2)
    sb.teardown()
    assert not any(pid_alive(p) for p in pids)
    assert refused(a1) and refused(a2)


# ---- the demo app end to end -----------------------------------------------------------------

@pytest.fixture
def demo(sandbox_pg, tmp_path):
    """The demo project deployed-to-be: app ``demo-web`` attached to ``demo-db``; returns (dir, url)."""
    sb = sandbox_pg
    app = f"demo-{secrets.token_hex(3)}"
    project = copy_demo_project(tmp_path / "demo", app)
    sb.create_postgres("demo-db")
    sb.create_app(app)
    url = attach(sb, "demo-db", app)
    return app, project, url


def test_demo_app_with_fixed_url_reaches_the_database_until_pg_stops(sandbox_pg, demo):
    sb = sandbox_pg
    app, project, url = demo
    fixed = url.replace("postgres://", "postgresql+psycopg://", 1)
    assert sb.run("secrets", "import", "-a", app, stdin=f"DATABASE_URL={fixed}\n").returncode == 0
    r = sb.run("deploy", "--ha=false", cwd=project)
    assert r.returncode == 0, r.stderr
    visit = re.search(r"^Visit your newly deployed app at (http://127\.0\.0\.1:\d+/)$", r.stdout, re.M)
    assert visit, r.stdout
    body = get_json(visit.group(1))
    assert body["database"] == "ok" and body["app"] == app
    out = sb.run("ssh", "console", "-a", app, "-C", "printenv DATABASE_URL").stdout
    assert out == fixed + "\n"  # what flytui reads back is the user's URL, no sandbox detail

    m = pg_machine(sb, "demo-db")
    assert sb.run("machine", "stop", m["id"], "-a", "demo-db").returncode == 0
    body = get_json(visit.group(1))
    assert body["database"].startswith("error: ") and "Connection refused" in body["database"]
    assert sb.run("machine", "start", m["id"], "-a", "demo-db").returncode == 0
    assert get_json(visit.group(1))["database"] == "ok"


def test_demo_app_crash_stops_machine_with_exit_event(sandbox_pg, demo):
    sb = sandbox_pg
    sb.env["FLYTUI_SANDBOX_MAX_RESTARTS"] = "0"
    app, project, _url = demo  # DATABASE_URL=postgres://... -> NoSuchModuleError at import
    r = sb.run("deploy", "--ha=false", cwd=project)
    assert r.returncode == 1
    assert "the app appears to be crashing" in r.stderr
    assert "Visit your newly deployed app" not in r.stdout
    (m,) = sb.read()["apps"][app]["machines"]
    deadline = time.monotonic() + 20
    while pid_alive(m["sandbox"].get("pid")) and time.monotonic() < deadline:
        time.sleep(0.1)

    status = sb.run("status", "-a", app)
    assert status.returncode == 0, status.stderr
    row = next(ln for ln in status.stdout.splitlines() if m["id"] in ln)
    assert re.search(r"\bstopped\b", row) and "1 total, 1 critical" in row and "passing" not in row

    (lm,) = json.loads(sb.run("machine", "list", "-a", app, "--json").stdout)
    assert lm["state"] == "stopped"
    ev = lm["events"][0]
    assert ev["type"] == "exit" and ev["status"] == "stopped" and ev["source"] == "flyd"
    assert isinstance(ev["timestamp"], int)
    exit_event = ev["request"]["exit_event"]
    assert exit_event["exit_code"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", exit_event["exited_at"])
    assert "sandbox" not in lm

    checks = json.loads(sb.run("checks", "list", "-a", app, "--json").stdout)
    assert [(c["status"], c["output"]) for c in checks[m["id"]]] == [("critical", "connect: connection refused")]

    from flytui.fly.models import Machine

    parsed = Machine.from_json(lm)
    assert parsed.state == "stopped" and parsed.events[0].exit_code == 1

    # problem 3: the release is failed, the logs carry the traceback
    rels = json.loads(sb.run("releases", "-a", app, "--json").stdout)
    assert rels[0]["Status"] == "failed" and rels[0]["Stable"] is False
    assert re.search(r"^v1\s+\tfailed", sb.run("releases", "-a", app).stdout, re.M)
    logs = sb.run("logs", "-a", app, "--no-tail").stdout
    assert "Traceback (most recent call last):" in logs
    assert "sqlalchemy.exc.NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres" in logs
    assert f"runner[{m['id']}] nrt [info]Main child exited normally with code: 1" in logs


# ---- restart policy and HTTP checks on the tiny fixture project --------------------------------

@pytest.fixture
def project(tmp_path, sandbox):
    dst = tmp_path / "project"
    shutil.copytree(PROJECT, dst)
    sandbox.create_app("web-app")
    return dst


def test_crash_restarts_per_policy_then_stops(sandbox, project):
    sb = sandbox
    sb.env["FLYTUI_SANDBOX_MAX_RESTARTS"] = "2"
    (project / "Dockerfile").write_text(
        'FROM python:3.12-slim\nCMD ["python", "-c", "import sys; print(\'boom\'); sys.exit(4)"]\n')
    (project / "fly.toml").write_text((project / "fly.toml").read_text().replace("release_command", "#"))
    r = sb.run("deploy", "--ha=false", cwd=project)
    assert r.returncode == 1 and "the app appears to be crashing" in r.stderr
    (m,) = sb.read()["apps"]["web-app"]["machines"]
    deadline = time.monotonic() + 20
    while pid_alive(m["sandbox"].get("pid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    (lm,) = json.loads(sb.run("machine", "list", "-a", "web-app", "--json").stdout)
    assert lm["state"] == "stopped"
    assert lm["events"][0]["request"]["exit_event"]["exit_code"] == 4
    assert lm["events"][0]["request"]["restart_count"] == 2
    logs = sb.run("logs", "-a", "web-app", "--no-tail").stdout
    assert logs.count("[info]boom") == 3
    assert "machine has reached its max restart count of 2" in logs
    text = sb.run("machine", "status", m["id"], "-a", "web-app").stdout
    assert "State: stopped" in text and re.search(r"^stopped\s*\texit\s*\tflyd", text, re.M)
    assert sb.read()["apps"]["web-app"]["releases"][-1]["status"] == "failed"


def test_live_process_failing_its_check_path_is_critical(sandbox, project):
    sb = sandbox
    assert sb.run("deploy", "--ha=false", cwd=project).returncode == 0
    (m,) = sb.read()["apps"]["web-app"]["machines"]
    checks = json.loads(sb.run("checks", "list", "-a", "web-app", "--json").stdout)
    assert checks[m["id"]][0]["status"] == "passing"
    with sb.transaction() as st:
        st["apps"]["web-app"]["config"]["check_path"] = "/nope"  # the app answers 404 there
    checks = json.loads(sb.run("checks", "list", "-a", "web-app", "--json").stdout)
    assert checks[m["id"]][0]["status"] == "critical"
    row = next(ln for ln in sb.run("status", "-a", "web-app").stdout.splitlines() if m["id"] in ln)
    assert "started" in row and "1 total, 1 critical" in row
    assert pid_alive(sb.read()["apps"]["web-app"]["machines"][0]["sandbox"]["pid"])  # alive, only unhealthy


def test_private_target_follows_the_pg_machine(sandbox_pg):
    """The helper net.py's proxy can use: the forwarder while started, nothing once stopped."""
    from flytui.sandbox.procs import private_target

    sb = sandbox_pg
    sb.create_postgres("tgt-db")
    st = sb.read()
    assert private_target(st, st["apps"]["tgt-db"]) == ("tcp", (pg_addr(sb, "tgt-db"), 5432))
    m = pg_machine(sb, "tgt-db")
    assert sb.run("machine", "stop", m["id"], "-a", "tgt-db").returncode == 0
    st = sb.read()
    assert private_target(st, st["apps"]["tgt-db"]) is None


def test_fly_proxy_follows_the_pg_machine(sandbox_pg, web):
    """`fly proxy` to a stopped database app accepts the TCP connection but cannot reach Postgres."""
    import subprocess

    import psycopg

    sb = sandbox_pg
    m = pg_machine(sb, "app-db")
    server = sb.read()["postgres_server"]
    proc = subprocess.Popen([sb.flyctl, "proxy", "0:5432", "-a", "app-db", "--watch-stdin"], env=sb.env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"localhost:(\d+)", line).group(1))
        dsn = f"host=127.0.0.1 port={port} user={server['user']} dbname=postgres connect_timeout=5"
        with psycopg.connect(dsn) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        assert sb.run("machine", "stop", m["id"], "-a", "app-db").returncode == 0
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn)
        assert sb.run("machine", "start", m["id"], "-a", "app-db").returncode == 0
        with psycopg.connect(dsn) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
