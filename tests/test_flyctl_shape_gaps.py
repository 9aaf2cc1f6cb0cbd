"""Small output shapes of real flyctl that flytui (and the sandbox) got wrong; each case names its source."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.models import parse_checks, parse_machines
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.state import Sandbox

FIX = Path(__file__).parent / "fixtures" / "flyctl"
PROJECT = Path(__file__).parent / "fixtures" / "sandbox" / "project"


# ---------------------------------------------------------------- machine checks without name/status
# fly-go MachineCheckStatus (machine_types.go @ 22d6e51; flyctl ad0172f builds with fly-go v0.9.6):
#   Name `json:"name,omitempty"`, Status `json:"status,omitempty"`, Output …omitempty, UpdatedAt …omitempty
# so a check flyd has not named/reported yet is serialized without those keys.
def test_machine_list_keeps_checks_without_name_or_status() -> None:
    data = json.loads((FIX / "recon-machine-list.json").read_text())
    m0 = copy.deepcopy(data[0])
    m0["checks"] = [m0["checks"][0], {"output": "waiting for the first check run"}, {}]
    [m] = parse_machines([m0])
    assert m.checks_total == 3 and m.checks_passing == 1 and m.checks_text == "1/3"
    assert [(c.name, c.status) for c in m.checks[1:]] == [("", ""), ("", "")]
    assert m.checks[1].output == "waiting for the first check run"
    # fly checks list --json: the same type keyed by machine id (internal/command/checks/list.go @ ad0172f)
    assert parse_checks({m.id: [{}]})[m.id][0].status == ""


# ---------------------------------------------------------------- fly postgres list --json, no clusters
# internal/command/postgres/list.go @ ad0172f: `if len(apps) == 0 { fmt.Fprintln(io.Out, "No postgres clusters
# found"); return }` comes BEFORE `if cfg.JSONOutput { … }`, so --json prints that text.
async def test_postgres_list_json_when_empty(sandbox: Any) -> None:
    r = sandbox.run("postgres", "list", "--json")
    assert r.returncode == 0 and r.stdout == "No postgres clusters found\n"
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    assert await client.postgres_list() == []
    sandbox.create_postgres("shop-db")
    assert [c.name for c in await client.postgres_list()] == ["shop-db"]


# ---------------------------------------------------------------- fly ssh console, several machines
# internal/command/ssh/console.go selectMachine @ ad0172f: with more than one started machine and no --machine,
# `fmt.Fprintf(out, "No machine specified, using %s in region %s\n", …)` on stdout before the command's output.
@pytest.fixture
def two_machines(tmp_path: Path, sandbox: Any) -> Any:
    dst = tmp_path / "project"
    shutil.copytree(PROJECT, dst)
    sandbox.create_app("web-app")
    r = sandbox.run("deploy", "--image", "registry.fly.io/web-app:v0", cwd=dst)
    assert r.returncode == 0, r.stderr
    assert [m["state"] for m in sandbox.read()["apps"]["web-app"]["machines"]] == ["started", "started"]
    return sandbox


async def test_ssh_console_notice_is_not_the_output(two_machines: Any) -> None:
    sandbox = two_machines
    first = sandbox.read()["apps"]["web-app"]["machines"][0]
    url = "postgres://u:p@shop-db.flycast:5432/shop?sslmode=disable"
    sandbox.set_secret("web-app", "DATABASE_URL", url)
    r = sandbox.run("ssh", "console", "-a", "web-app", "-C", "printenv DATABASE_URL")
    assert r.stdout.splitlines()[0] == f"No machine specified, using {first['id']} in region {first['region']}"
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    assert await client.read_database_url("web-app") == url
    sandbox.set_secret("web-app", "DATABASE_URL", "")  # set but empty: no URL, not flyctl's notice
    assert await client.read_database_url("web-app") is None
    one = sandbox.run("ssh", "console", "-a", "web-app", "--machine", first["id"], "-C", "true")
    assert "No machine specified" not in one.stdout


# ---------------------------------------------------------------- a fresh `fly auth login` has a personal org
def test_fresh_login_has_a_personal_org(tmp_path: Path, sandbox: Any) -> None:
    directory = tmp_path / "fresh"
    directory.mkdir()  # a sandbox nobody seeded: no state.json yet
    env = dict(sandbox.env, FLYTUI_SANDBOX_DIR=str(directory))
    import subprocess

    def fly(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sandbox.flyctl, *args], env=env, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    assert fly("auth", "login", "--email", "jane@example.com").returncode == 0
    r = fly("orgs", "list", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"personal": "jane@example.com"}
    assert fly("apps", "create", "jane-app", "-o", "personal").returncode == 0
    Sandbox(directory).teardown()
