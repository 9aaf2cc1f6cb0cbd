"""RemoteAlembic: the demo project's alembic run inside a sandbox machine, over SSH with the real exit code.

Everything is real: the sandbox flyctl (`ssh issue`, `proxy L:22` serving asyncssh, `ssh console`), the demo
project's own alembic, and the session's embedded PostgreSQL behind a Fly Postgres app.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest

from flytui.db.alembic_service import LogLine, Progress, RunFinished, RunStarted
from flytui.db.remote import RemoteAlembic, RemoteError, RemoteRunResult, remote_command
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import copy_demo_project


def direct_url(url: str, server: dict) -> str:
    """The same database reached directly on the backing server (for local reference runs and checks)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0]
    host, port = str(server["host"]), int(server["port"])
    if host.startswith("/"):
        return f"{parts.scheme}://{userinfo}@{parts.path}?host={quote(host, safe='/')}&port={port}"
    return f"{parts.scheme}://{userinfo}@{host}:{port}{parts.path}"


class Deployed:
    """A sandbox app whose started machine runs in a copy of the demo project, attached to Postgres."""

    def __init__(self, sb, tmp_path: Path) -> None:
        self.sb = sb
        self.app = f"rem-{secrets.token_hex(4)}"
        self.project = copy_demo_project(tmp_path / "project", self.app)
        sb.create_postgres("remote-db")
        sb.create_app(self.app, source_dir=str(self.project))
        self.machine = sb.add_machine(self.app, state="started")
        r = sb.run("postgres", "attach", "remote-db", "-a", self.app)
        assert r.returncode == 0, r.stderr
        fly_url = sb.read()["apps"][self.app]["secrets"]["DATABASE_URL"]["value"]
        assert fly_url.startswith("postgres://")
        # env.py uses DATABASE_URL as is: the app's secret must be the SQLAlchemy form
        self.url = fly_url.replace("postgres://", "postgresql+psycopg://", 1)
        sb.set_secret(self.app, "DATABASE_URL", self.url)
        self.local_url = direct_url(self.url, sb.read()["postgres_server"])
        self.runner = FlyctlRunner(sb.flyctl, env=sb.env, grace=1.0)
        self.client = FlyClient(self.runner)

    def version(self) -> list[str]:
        with psycopg.connect(self.local_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            rows = conn.execute("select version_num from alembic_version").fetchall()
        return [r[0] for r in rows]

    def local_alembic(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same alembic, run locally on the same database (reference for exit codes)."""
        env = dict(os.environ, DATABASE_URL=self.local_url)
        env.pop("FLYTUI_SANDBOX_DIR", None)
        return subprocess.run([str(Path(sys.executable).parent / "alembic"), *args], cwd=self.project, env=env,
                              capture_output=True, text=True, timeout=60)


@pytest.fixture
def deployed(sandbox_pg, tmp_path) -> Deployed:
    return Deployed(sandbox_pg, tmp_path)


def _leftovers(sb, project: Path) -> list[str]:
    """Processes of this sandbox still alive: flyctl children (proxy, ssh) or anything running in the project."""
    found = []
    marker = f"FLYTUI_SANDBOX_DIR={sb.dir}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if marker in environ or cwd == str(project):
            found.append(f"{entry}: {cmdline}")
    return found


def _issued_key_dirs(sb) -> list[Path]:
    return [Path(argv[3]).parent for argv in sb.argv_log() if argv[:2] == ["ssh", "issue"]]


async def _collect(ra: RemoteAlembic, *args: str) -> tuple[list, RemoteRunResult]:
    events = [e async for e in ra.run(list(args))]
    assert isinstance(events[0], RunStarted)
    assert isinstance(events[-1], RunFinished)
    assert isinstance(events[-1].result, RemoteRunResult)
    return events, events[-1].result


async def test_upgrade_head_over_ssh_with_progress(deployed):
    d = deployed
    ra = RemoteAlembic(d.client, d.app)
    events, result = await _collect(ra, "upgrade", "head")
    assert result.ok and result.returncode == 0
    assert (result.transport, result.exit_code_exact, result.remote_status) == ("ssh", True, 0)
    assert result.machine == d.machine["id"]
    assert result.note == ""
    steps = [e for e in events if isinstance(e, Progress)]
    assert [(s.direction, s.revision, s.index) for s in steps] == [("upgrade", "0001_user", 1),
                                                                 ("upgrade", "0002_todo", 2)]
    assert result.steps == tuple(steps)
    logs = [e.text for e in events if isinstance(e, LogLine)]
    assert any("Running upgrade  -> 0001_user" in t for t in logs), logs
    assert events[0].argv == ["alembic", "upgrade", "head"]
    assert d.version() == ["0002_todo"]  # the real database moved

    # the exact path was used: ssh issue + proxy to the machine's 6PN name, never ssh console
    log = d.sb.argv_log()
    assert ["ssh", "issue", "personal", str(_issued_key_dirs(d.sb)[0] / "id_fly"), "--hours", "1",
            "--overwrite"] in log
    assert ["proxy", "0:22", f"{d.machine['id']}.vm.{d.app}.internal", "-a", d.app, "--watch-stdin"] in log
    assert not any(a[:2] == ["ssh", "console"] for a in log)
    # nothing left behind: key deleted, proxy gone, no child running in the project
    assert all(not p.exists() for p in _issued_key_dirs(d.sb))
    assert d.sb.read()["proxies"] == []
    assert _leftovers(d.sb, d.project) == []


async def test_failing_remote_alembic_exact_then_collapsed_in_fallback(deployed):
    d = deployed
    local = d.local_alembic("upgrade", "no_such_rev")
    assert local.returncode not in (0, 1)  # alembic's CommandError exit (255): distinguishable from flyctl's 1

    # exact path: the real exit code of the remote alembic
    ra = RemoteAlembic(d.client, d.app, machine=d.machine["id"])
    _, result = await _collect(ra, "upgrade", "no_such_rev")
    assert not result.ok
    assert result.returncode == local.returncode
    assert result.exit_code_exact and result.transport == "ssh"
    assert "Can't locate revision identified by 'no_such_rev'" in result.error_output
    assert result.error and "no_such_rev" in result.error
    assert _leftovers(d.sb, d.project) == []

    # fallback (certificate cannot be issued): flyctl's collapsed 1, the real status recovered and stated
    d.sb.inject_fault("ssh issue", fail="failed to issue certificate: unauthorized", times=2)
    ra = RemoteAlembic(d.client, d.app)
    events, result = await _collect(ra, "upgrade", "no_such_rev")
    assert result.transport == "ssh-console"
    assert result.returncode == 1 and not result.exit_code_exact and not result.ok
    assert result.remote_status == local.returncode
    assert "collapses any remote failure to exit code 1" in result.note
    assert f"was {local.returncode}" in result.note
    assert "fly ssh issue failed" in result.note
    assert events[0].argv[1:3] == ["ssh", "console"]
    assert any(a[:2] == ["ssh", "console"] and a[-1] == "alembic upgrade no_such_rev" for a in d.sb.argv_log())

    # a successful fallback run is exact (0 is 0) and really migrates
    events, result = await _collect(ra, "upgrade", "head")
    assert result.ok and result.returncode == 0 and result.exit_code_exact and result.remote_status == 0
    assert [e.revision for e in events if isinstance(e, Progress)] == ["0001_user", "0002_todo"]
    assert d.version() == ["0002_todo"]
    assert _leftovers(d.sb, d.project) == []


async def test_no_started_machine_and_command_building(deployed):
    d = deployed
    r = d.sb.run("machine", "stop", d.machine["id"], "-a", d.app)
    assert r.returncode == 0, r.stderr
    with pytest.raises(RemoteError, match="no started machines"):
        await RemoteAlembic(d.client, d.app).run_to_end(["current"])
    assert remote_command("alembic", ["upgrade", "head"]) == "alembic upgrade head"
    assert remote_command(["python", "-m", "alembic"], ["stamp", "a b"]) == "python -m alembic stamp 'a b'"
    assert remote_command("cd /app && alembic", ["upgrade", "+1"]) == "sh -c 'cd /app && alembic upgrade +1'"


async def test_cancel_mid_run_cleans_up_everything(deployed):
    import asyncio

    d = deployed
    # a remote command that outlives the test unless the session is torn down (shell syntax: sh -c)
    ra = RemoteAlembic(d.client, d.app, alembic="echo started; sleep 60; alembic")
    seen: list = []

    async def consume() -> None:
        async for event in ra.run(["current"]):
            seen.append(event)

    task = asyncio.ensure_future(consume())
    for _ in range(300):
        if any(isinstance(e, LogLine) and e.text == "started" for e in seen):
            break
        await asyncio.sleep(0.05)
    else:
        task.cancel()
        pytest.fail(f"remote command never started: {seen}")
    assert isinstance(seen[0], RunStarted) and seen[0].argv[:2] == ["sh", "-c"]
    assert any("sleep 60" in p for p in _leftovers(d.sb, d.project))  # it really runs in the app dir
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(50):
        if not _leftovers(d.sb, d.project):
            break
        await asyncio.sleep(0.1)
    assert _leftovers(d.sb, d.project) == []
    assert all(not p.exists() for p in _issued_key_dirs(d.sb))
    assert d.sb.read()["proxies"] == []
