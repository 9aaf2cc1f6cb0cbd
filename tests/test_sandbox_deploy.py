"""Deploy transcripts and machines as real local processes."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from flytui.sandbox.state import pid_alive

PROJECT = Path(__file__).parent / "fixtures" / "sandbox" / "project"


@pytest.fixture
def project(tmp_path, sandbox):
    dst = tmp_path / "project"
    shutil.copytree(PROJECT, dst)
    sandbox.create_app("web-app")
    return dst


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def machines(sandbox, app="web-app"):
    return sandbox.read()["apps"][app]["machines"]


FIRST_DEPLOY_ORDER = [
    ("err", "==> Verifying app config"),
    ("err", "Validating "),
    ("err", "✓ Configuration is valid"),
    ("err", "--> Verified app config"),
    ("err", "==> Building image"),
    ("err", "==> Building image with Docker"),
    ("err", "#3 [1/5] FROM python:3.12-slim"),
    ("err", "#6 [4/5] RUN pip install"),
    ("err", "--> Building image done"),
    ("err", "==> Pushing image to fly"),
    ("err", "The push refers to repository [registry.fly.io/web-app]"),
    ("err", "deployment-01H"),
    ("err", "--> Pushing image done"),
    ("err", "image: registry.fly.io/web-app:deployment-01H"),
    ("err", "image size: "),
    ("err", "Running web-app release_command: python release.py"),
    ("err", "  running migrations for web-app"),
    ("err", "This deployment will:"),
    ("err", ' * create 1 "app" machine'),
    ("err", "No machines in group app, launching a new machine"),
    ("err", "Finished launching new machines"),
    ("err", "Checking DNS configuration for web-app.fly.dev"),
    ("err", "✓ DNS configuration verified"),
]


def assert_in_order(lines: list[str], prefixes: list[str]) -> None:
    i = 0
    for want in prefixes:
        while i < len(lines) and not lines[i].startswith(want):
            i += 1
        assert i < len(lines), f"missing (in order): {want!r}\n" + "\n".join(lines)
        i += 1


def test_first_deploy_transcript_and_running_machine(sandbox, project):
    r = sandbox.run("deploy", "--ha=false", "--local-only", cwd=project)
    assert r.returncode == 0, r.stderr
    assert_in_order(r.stderr.splitlines(), [p for _, p in FIRST_DEPLOY_ORDER])
    assert re.search(r"^#\d+ \[\d/\d\] COPY requirements.txt \.$", r.stderr, re.M)
    assert re.search(r"^[0-9a-f]{12}: Pushed $", r.stderr, re.M)
    assert re.search(r"digest: sha256:[0-9a-f]{64} size: 2633$", r.stderr, re.M)
    out = r.stdout.splitlines()
    assert "Watch your deployment at https://fly.io/apps/web-app/monitoring" in out
    visit = [ln for ln in out if ln.startswith("Visit your newly deployed app at ")]
    url = visit[0].rsplit(" ", 1)[1]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    (m,) = machines(sandbox)
    assert m["state"] == "started" and m["config"]["guest"]["memory_mb"] == 1024
    assert get(url) == f"hello from {m['id']} secret=hi"
    app = sandbox.read()["apps"]["web-app"]
    assert app["deployed"] and app["status"] == "deployed"
    assert [(r["version"], r["status"], r["user_email"]) for r in app["releases"]] == [(1, "complete", "demo@example.com")]
    rel = json.loads(sandbox.run("releases", "-a", "web-app", "--json").stdout)
    assert rel[0]["ImageRef"] == m["config"]["image"]
    logs = sandbox.run("logs", "-a", "web-app", "--no-tail").stdout
    assert "[info]Starting init" in logs and 'GET /healthz HTTP/1.1" 200' in logs

    # stop kills the process, start brings it back, teardown kills it (no orphan)
    pid = m["sandbox"]["pid"]
    assert sandbox.run("machine", "stop", m["id"], "-a", "web-app").returncode == 0
    assert not pid_alive(pid)
    assert sandbox.run("machine", "start", m["id"], "-a", "web-app").returncode == 0
    pid2 = machines(sandbox)[0]["sandbox"]["pid"]
    assert pid2 != pid and pid_alive(pid2)
    sandbox.teardown()
    assert not pid_alive(pid2)
    sandbox.teardown()  # idempotent


def test_redeploy_rolling_and_secrets_restart(sandbox, project):
    # the 2023 rolling-update lines (flyctl before v0.1.104, machines_deploymachinesapp.go @ v0.1.103); today's
    # status-logger lines are covered in tests/test_flyctl_generations.py
    sandbox.env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = "0.1.90"
    assert sandbox.run("deploy", "--ha=false", cwd=project).returncode == 0
    mid = machines(sandbox)[0]["id"]
    r = sandbox.run("deploy", "--strategy", "rolling", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "Waiting for remote builder fly-builder-" in r.stderr
    assert_in_order(r.stderr.splitlines(), [
        "Updating existing machines in 'web-app' with rolling strategy",
        f"  [1/1] Updating {mid} [app]",
        f"  [1/1] Waiting for {mid} [app] to have state: started",
        f"  [1/1] Checking that {mid} [app] is up and running",
        f"  [1/1] Machine {mid} [app] update finished: success",
        "  Finished deploying",
    ])
    assert [r["version"] for r in sandbox.read()["apps"]["web-app"]["releases"]] == [1, 2]
    assert machines(sandbox)[0]["config"]["metadata"]["fly_release_version"] == "2"
    old_pid = machines(sandbox)[0]["sandbox"]["pid"]
    (project / "fly.toml").write_text((project / "fly.toml").read_text().replace("GREETING = 'hi'", ""))
    r = sandbox.run("secrets", "set", "GREETING=from-secret", "-a", "web-app")
    assert r.returncode == 0 and "Updating existing machines in 'web-app'" in r.stderr
    m = machines(sandbox)[0]
    assert not pid_alive(old_pid) and pid_alive(m["sandbox"]["pid"])
    assert get(f"http://127.0.0.1:{m['sandbox']['port']}/").endswith("secret=from-secret")


def test_release_command_failure(sandbox, project):
    sandbox.set_secret("web-app", "RELEASE_EXIT", "5")
    r = sandbox.run("deploy", cwd=project)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert any(re.fullmatch(r"Error release_command failed running on machine [0-9a-f]{14} with exit code 5\.", ln)
               for ln in lines)
    assert "Checking logs: fetching the last 100 lines below:" in lines
    assert lines[-1].startswith("Error: release command failed - aborting deployment. ")
    assert machines(sandbox) == []
    assert sandbox.read()["apps"]["web-app"]["releases"][-1]["status"] == "failed"


@pytest.mark.parametrize("stage,needle", [
    ("build", "Error: failed to fetch an image or build from source: error building"),
    ("push", "Error: failed to fetch an image or build from source: failed to push image"),
    ("payment", "Error: We need your payment information to continue!"),
])
def test_fail_stages(sandbox, project, stage, needle):
    sandbox.inject_fault("deploy", fail_stage=stage)
    r = sandbox.run("deploy", cwd=project)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith(needle)
    assert "Visit your newly deployed app" not in r.stdout


def test_health_failure_shows_logs(sandbox, project):
    sandbox.inject_fault("deploy", fail_stage="health")
    r = sandbox.run("deploy", "--ha=false", cwd=project)
    assert r.returncode == 1
    assert re.search(r"^Smoke checks for [0-9a-f]{14} failed: the app appears to be crashing$", r.stderr, re.M)
    assert "Check its logs: here's the last lines below, or run 'fly logs -i " in r.stderr
    assert "Starting init" in r.stderr
    assert r.stderr.splitlines()[-1].startswith("Error: smoke checks for ")


def test_crashing_app_detected_for_real(sandbox, project):
    (project / "Dockerfile").write_text('FROM python:3.12-slim\nCMD ["python", "-c", "import sys; print(\'boom\'); sys.exit(2)"]\n')
    r = sandbox.run("deploy", "--ha=false", cwd=project)
    assert r.returncode == 1
    assert "the app appears to be crashing" in r.stderr and "boom" in r.stderr


def test_unknown_app(sandbox, project):
    r = sandbox.run("deploy", "-a", "ghost", cwd=project)
    assert r.stderr.splitlines()[-1] == ("Error: the app name ghost could not be found, did you create the app or "
                                         "misspell it in the fly.toml file or via -a?")


def test_ssh_console_exit_code_collapse(sandbox, project):
    assert sandbox.run("deploy", "--ha=false", cwd=project).returncode == 0
    r = sandbox.run("ssh", "console", "-a", "web-app", "-C", "python -c 'import os; print(os.getcwd())'")
    assert r.returncode == 0 and r.stdout.strip() == str(project)
    assert r.stderr.startswith("Connecting to fdaa:")
    r = sandbox.run("ssh", "console", "-a", "web-app", "-C", "python -c 'import sys; sys.exit(7)'")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "Error: ssh shell: Process exited with status 7"


def test_destroy_app_kills_processes(sandbox, project):
    assert sandbox.run("deploy", "--ha=false", cwd=project).returncode == 0
    pid = machines(sandbox)[0]["sandbox"]["pid"]
    assert sandbox.run("apps", "destroy", "web-app", "--yes").returncode == 0
    assert not pid_alive(pid)


def _read_to_end(pid: int, path: Path) -> bool:
    """True when process ``pid`` (or a child of it) holds ``path`` open at its end (/proc/PID/fdinfo ``pos``)."""
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    size = path.stat().st_size if path.exists() else -1
    for p in pids:
        try:
            fds = list(Path(f"/proc/{p}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if Path(os.readlink(fd)) == path.resolve():
                    pos = int(Path(f"/proc/{p}/fdinfo/{fd.name}").read_text().split()[1])
                    return pos == size
            except (OSError, ValueError, IndexError):
                continue
    return False


def test_logs_tail_follows_new_lines(sandbox, project):
    import subprocess

    from flytui.sandbox.procs import append_log

    proc = subprocess.Popen([sandbox.flyctl, "logs", "-a", "web-app"], env=sandbox.env, stdout=subprocess.PIPE,
                            text=True)
    path = sandbox.log_path("web-app")
    try:
        # the line is appended only once `fly logs` read the file to its end: what it prints then is followed
        end = time.monotonic() + 30
        while not _read_to_end(proc.pid, path):
            assert proc.poll() is None and time.monotonic() < end, "fly logs never reached the end of the log"
            time.sleep(0.02)
        append_log(path, "e286065f969386", "iad", "fresh line")
        line = proc.stdout.readline()
        assert line.rstrip().endswith("app[e286065f969386] iad [info]fresh line")
    finally:
        proc.kill()
        proc.wait()


def test_redeploy_an_image_without_a_local_fly_toml(sandbox, project, tmp_path):
    """Rollback from anywhere: `fly deploy -a APP --image IMG` uses the app's stored config, like flyctl."""
    assert sandbox.run("deploy", "--ha=false", cwd=project).returncode == 0
    first = sandbox.read()["apps"]["web-app"]["releases"][0]["image_ref"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = sandbox.run("deploy", "-a", "web-app", "--image", first, "--yes", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    releases = sandbox.read()["apps"]["web-app"]["releases"]
    assert [x["version"] for x in releases] == [1, 2] and releases[-1]["image_ref"] == first
    assert machines(sandbox)[0]["state"] == "started"
    no_app = sandbox.run("deploy", "--image", first, "--yes", cwd=elsewhere)  # no -a, no fly.toml: flyctl's error
    assert no_app.returncode == 1 and "missing an app name" in no_app.stderr
