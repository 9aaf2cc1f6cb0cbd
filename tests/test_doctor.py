"""Doctor checks, each failing and passing, against the sandbox flyctl and a real demo project."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flytui import doctor as d
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import copy_demo_project

APP = "doctor-demo"
ATTACH_URL = "postgres://doctor_demo:cQv0vvfasf7FM@doctor-demo-db.flycast:5432/doctor_demo?sslmode=disable"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo_project(tmp_path / "proj", APP)


@pytest.fixture
def client(sandbox) -> FlyClient:  # type: ignore[no-untyped-def]
    return FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))


async def _report(client: FlyClient, project: Path | None, **kw) -> d.DoctorReport:  # type: ignore[no-untyped-def]
    return await d.run_doctor(client, project, **kw)


async def test_all_green_except_advice(sandbox, client: FlyClient, project: Path) -> None:
    sandbox.create_app(APP)
    rep = await _report(client, project)
    st = {c.id: c.status for c in rep.checks}
    assert st["flyctl"] == d.OK and st["auth"] == d.OK and st["billing"] == d.OK
    assert st["fly_toml"] == d.OK and st["dockerfile"] == d.OK and st["app"] == d.OK
    assert st["alembic"] == d.OK
    assert rep.ok
    assert "demo@example.com" in rep.by_id("auth").detail


async def test_flyctl_missing(tmp_path: Path, project: Path) -> None:
    client = FlyClient(FlyctlRunner(str(tmp_path / "no-such-flyctl")))
    rep = await _report(client, project)
    c = rep.by_id("flyctl")
    assert c.status == d.FAIL and "install" in c.fix.lower()
    assert rep.by_id("auth").status == d.SKIP
    assert not rep.ok


async def test_not_logged_in(sandbox, client: FlyClient, project: Path) -> None:
    sandbox.logout()
    rep = await _report(client, project)
    c = rep.by_id("auth")
    assert c.status == d.FAIL and c.fix_action == d.FIX_LOGIN
    assert "no access token available" in c.detail


async def test_payment_required(sandbox, client: FlyClient, project: Path) -> None:
    sandbox.create_app(APP)
    sandbox.inject_fault("apps list", payment_required=True)
    rep = await _report(client, project)
    c = rep.by_id("billing")
    assert c.status == d.FAIL and c.fix_action == d.FIX_BILLING
    assert "payment information" in c.detail and "billing" in c.fix


async def test_app_missing(sandbox, client: FlyClient, project: Path) -> None:
    rep = await _report(client, project)
    c = rep.by_id("app")
    assert c.status == d.FAIL and c.fix_action == d.FIX_CREATE_APP and APP in c.fix


async def test_no_fly_toml_and_no_dockerfile(sandbox, client: FlyClient, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    rep = await _report(client, empty)
    assert rep.by_id("fly_toml").status == d.FAIL
    assert "fly launch" in rep.by_id("fly_toml").fix
    assert rep.by_id("dockerfile").status == d.FAIL
    assert rep.by_id("alembic").status == d.WARN


async def test_port_mismatch_offers_fix(sandbox, client: FlyClient, project: Path) -> None:
    toml = project / "fly.toml"
    toml.write_text(toml.read_text().replace("internal_port = 8080", "internal_port = 8000"))
    rep = await _report(client, project)
    c = rep.by_id("dockerfile")
    assert c.status == d.FAIL and c.fix_action == d.FIX_INTERNAL_PORT and c.data["port"] == 8080


async def test_invalid_fly_toml(sandbox, client: FlyClient, project: Path) -> None:
    (project / "fly.toml").write_text("app = 'Bad Name'\n")
    rep = await _report(client, project)
    assert rep.by_id("fly_toml").status == d.FAIL


async def test_release_command_advice(sandbox, client: FlyClient, project: Path) -> None:
    rep = await _report(client, project)
    rc = rep.by_id("release_command")
    if "release_command" in (project / "fly.toml").read_text():
        assert rc.status == d.OK
    else:
        assert rc.status == d.WARN and rc.fix_action == d.FIX_RELEASE_COMMAND
    (project / "fly.toml").write_text((project / "fly.toml").read_text() + '\n[deploy]\n  release_command = "alembic upgrade head"\n'
                                      if "[deploy]" not in (project / "fly.toml").read_text() else (project / "fly.toml").read_text())
    rep = await _report(client, project)
    assert rep.by_id("release_command").status == d.OK


async def test_database_url_value_flagged_and_fixed(sandbox, client: FlyClient, project: Path) -> None:
    sandbox.create_app(APP)
    rep = await _report(client, project, database_url=ATTACH_URL)
    c = rep.by_id("database_url")
    assert c.status == d.FAIL and c.fix_action == d.FIX_DATABASE_URL
    assert "cQv0vvfasf7FM" not in c.detail  # password masked
    fixed = ATTACH_URL.replace("postgres://", "postgresql+psycopg://")
    rep = await _report(client, project, database_url=fixed)
    assert rep.by_id("database_url").status == d.OK


async def test_database_url_secret_present_needs_reading(sandbox, client: FlyClient, project: Path) -> None:
    sandbox.create_app(APP)
    sandbox.set_secret(APP, "DATABASE_URL", ATTACH_URL)
    rep = await _report(client, project)
    c = rep.by_id("database_url")
    assert c.status == d.WARN and c.fix_action == d.FIX_READ_DATABASE_URL


def test_doctor_cli_exit_codes(sandbox, project: Path) -> None:
    env = dict(sandbox.env, FLYTUI_FLYCTL=sandbox.flyctl)
    bad = subprocess.run([sys.executable, "-m", "flytui.cli", "doctor"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "App exists on Fly.io" in bad.stdout and "✗" in bad.stdout
    sandbox.create_app(APP)
    good = subprocess.run([sys.executable, "-m", "flytui.cli", "doctor"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "0 failed" in good.stdout


async def test_database_url_ok_when_code_rewrites_scheme(sandbox, client: FlyClient, project: Path) -> None:
    sandbox.create_app(APP)
    sandbox.set_secret(APP, "DATABASE_URL", ATTACH_URL)
    db = project / "app" / "db.py"
    db.write_text(db.read_text().replace(
        'DATABASE_URL = os.environ["DATABASE_URL"]',
        'DATABASE_URL = os.environ["DATABASE_URL"].replace("postgres://", "postgresql+psycopg://", 1)'))
    rep = await _report(client, project)
    assert rep.by_id("database_url").status == d.OK
