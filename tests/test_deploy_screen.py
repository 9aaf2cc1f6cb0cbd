"""Pilot tests of the deploy screen: real child process (fake flyctl replaying transcripts) via the real runner."""
from __future__ import annotations

import http.server
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.screens.deploy import DeployScreen
from tests.helpers.screen_app import ScreenApp
from tests.helpers.wait import until as wait_until

HERE = Path(__file__).parent / "fixtures" / "transcripts"
FAKE = HERE / "fake_flyctl.py"


def make(tmp_path: Path, transcript: str, text: str | None = None, **env: str) -> tuple[ScreenApp, Path]:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "fly.toml").write_text("app = 'shop-api'\n[deploy]\n  strategy = 'bluegreen'\n")
    src = HERE / transcript
    if text is not None:
        src = tmp_path / "t.txt"
        src.write_text(text)
    wrapper = tmp_path / "flyctl"
    wrapper.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/argv\nexec {sys.executable} {FAKE} \"$@\"\n")
    wrapper.chmod(0o755)
    runner = FlyctlRunner(str(wrapper), env={"FAKE_DIR": str(tmp_path), "FAKE_TRANSCRIPT": str(src), **env})
    return ScreenApp(FlyClient(runner), lambda: DeployScreen("shop-api", project)), project


def result_text(app: App) -> str:
    return str(app.screen.query_one("#deploy-result").render())


@pytest.fixture
def http_app():
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path in ("/", "/docs") else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()


async def test_deploy_success_probe_and_migrations(tmp_path: Path, http_app: str) -> None:
    text = (HERE / "deploy-rolling-success.txt").read_text().replace("https://shop-api.fly.dev/", http_app)
    app, project = make(tmp_path, "", text=text, FAKE_PACE="0.005")
    async with app.run_test(size=(140, 50)) as pilot:
        scr = app.screen
        assert isinstance(scr, DeployScreen)
        await pilot.press("d")  # deploy-start (d again on the deploy form)
        await wait_until(pilot, lambda: scr.probe_results != [], timeout=20)
        tr = scr.tracker
        assert tr is not None and tr.succeeded and tr.url == http_app
        argv = (tmp_path / "argv").read_text().split()
        assert argv[:4] == ["deploy", "-a", "shop-api", "--yes"] and "--strategy" in argv and "bluegreen" in argv
        stages = scr.query_one("#deploy-stages")
        assert stages.get_cell("push", "icon") == "✓" and stages.get_cell("release", "icon") == "✓"
        assert stages.get_cell("machines", "detail") == "2/2 machines updated"
        machines = scr.query_one("#deploy-machines")
        assert machines.row_count == 2 and machines.get_cell("9080524f610e38", "state") == "done"
        res = result_text(app)
        assert f"GET {http_app} → 200" in res and f"GET {http_app}docs → 200" in res
        await pilot.press("t")
        assert scr.query_one("#deploy-transcript").display
        assert scr.query_one("#deploy-transcript").line_count > 40
        await pilot.press("m")
        assert app.commands == ["migrations"]


@pytest.mark.parametrize("name,kind,stage,needle", [
    ("deploy-fail-release-command.txt", "release_command", "release", "NotNullViolation"),
    ("deploy-fail-payment.txt", "payment_required", "machines", "https://fly.io/dashboard/<account-name>/billing"),
    ("deploy-fail-smoke-checks.txt", "smoke_checks", "health", "fly logs -i 148e2d4f7e5e89"),
    ("deploy-fail-health-timeout.txt", "health_checks", "health", "--wait-timeout"),
    ("deploy-fail-build.txt", "build", "build", "fastapi==9.9.9"),
    ("deploy-fail-unknown-app.txt", "app_not_found", "config", "could not be found"),
])
async def test_deploy_failures(tmp_path: Path, name: str, kind: str, stage: str, needle: str) -> None:
    app, _ = make(tmp_path, name, FAKE_RC="1")
    async with app.run_test(size=(140, 50)) as pilot:
        scr = app.screen
        await pilot.press("d")
        await wait_until(pilot, lambda: scr.tracker is not None and scr.tracker.finished and not scr.running)
        f = scr.tracker.failure
        assert f is not None and f.kind == kind and f.stage == stage
        assert scr.query_one("#deploy-stages").get_cell(stage, "icon") == "✗"
        res = result_text(app)
        assert "failed:" in res and needle in res and "Hint:" in res


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_cancel_kills_flyctl_and_states_what_is_deployed(tmp_path: Path) -> None:
    app, _ = make(tmp_path, "deploy-rolling-success.txt", FAKE_HANG="1")
    # stop after "[2/2] Updating" by hanging at the end of a cut transcript
    lines = (HERE / "deploy-rolling-success.txt").read_text().splitlines()
    cut = next(i for i, ln in enumerate(lines) if "[2/2] Updating" in ln)
    (tmp_path / "cut.txt").write_text("\n".join(lines[:cut + 1]) + "\n")
    app.client.runner.env["FAKE_TRANSCRIPT"] = str(tmp_path / "cut.txt")
    async with app.run_test(size=(140, 50)) as pilot:
        scr = app.screen
        await pilot.press("d")
        await wait_until(pilot, lambda: scr.tracker is not None and "9080524f610e38" in scr.tracker.machines)
        pid = int((tmp_path / "deploy.pid").read_text())
        assert alive(pid)
        await pilot.press("x")
        await wait_until(pilot, lambda: not scr.running)
        assert app.confirms and app.confirms[0].argvs[0][:3] == ["fly", "deploy", "-a"]
        assert not alive(pid)
        # no orphan flyctl anywhere: walk /proc for our fake
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                assert not (str(FAKE).encode() in cmd and b"deploy" in cmd and alive(int(p.name))), cmd
        res = result_text(app)
        assert "cancelled" in res and "1 of 2 machines" in res
        assert scr.query_one("#deploy-stages").get_cell("machines", "icon") == "■"

