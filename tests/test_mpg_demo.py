"""``flytui --demo --mpg``: the demo app is attached to a Fly Managed Postgres cluster; its machines reach the
cluster's URL (pgbouncer.<id>.flympg.net) on the sandbox's private network; everything stops on close."""
from __future__ import annotations

import os

import psycopg

from flytui.cli import build_parser, main
from flytui.db.mpg_urls import database_target
from flytui.sandbox import procs
from flytui.sandbox.demo import Demo


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_mpg_attaches_a_cluster_and_machines_reach_it(tmp_path):
    demo = Demo(tmp_path / "ws", speed=50, mpg=True).start()
    try:
        t = database_target(demo.database_url or "")
        assert t.kind == "mpg" and t.name == demo.cluster_id
        state = demo.sandbox.read()
        assert "postgres_cluster" not in {a.get("role") for a in state["apps"].values()}
        cluster = state["mpg_clusters"][demo.cluster_id]
        assert cluster["attached_apps"] == [demo.app] and cluster["status"] == "ready"
        assert state["apps"][demo.app]["secrets"]["DATABASE_URL"]["value"] == demo.database_url
        with demo.sandbox.transaction() as st:
            env = procs.app_env(st["apps"][demo.app], state=st, deployed_only=False)
        assert env["DATABASE_URL"] == demo.database_url and env.get("PGHOSTADDR", "").startswith("127.0.0.")
        with psycopg.connect(demo.database_url, hostaddr=env["PGHOSTADDR"], connect_timeout=10) as conn:
            assert conn.execute("select current_user, current_database()").fetchone() == ("fly-user", "fly-db")
        pid = demo.sandbox.read()["mpg_clusters"][demo.cluster_id]["sandbox"]["pid"]
        assert _alive(pid)
    finally:
        demo.close()
    assert not _alive(pid)


def test_cli_mpg_flag_needs_demo(capsys):
    assert build_parser().parse_args(["--demo", "--mpg"]).mpg
    assert main(["--mpg"]) == 2
    assert "--mpg only applies to --demo" in capsys.readouterr().err
