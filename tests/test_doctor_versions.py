"""The doctor's supported-flyctl-version policy, on `fly version --json` of the sandbox playing each version.

`fly version --json` is ``json.NewEncoder(out).Encode(buildinfo.Info())`` (internal/command/version/version.go
@ ad0172f): ``{"Name": "flyctl", "Version": "0.3.164", …}``; ``Version`` marshals as its string
(internal/version/version.go ``MarshalJSON``). The minimum comes from ``fly proxy --watch-stdin`` (v0.2.77,
3501aeb46), which every flytui tunnel passes.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flytui import doctor as d
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import copy_demo_project

APP = "doctor-demo"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo_project(tmp_path / "proj", APP)


def _client(sandbox: Any, version: str | None) -> FlyClient:
    env = dict(sandbox.env)
    if version:
        env["FLYTUI_SANDBOX_FLYCTL_VERSION"] = version
    return FlyClient(FlyctlRunner(sandbox.flyctl, env=env))


async def test_today_is_supported_and_states_the_minimum(sandbox: Any, project: Path) -> None:
    c = (await d.run_doctor(_client(sandbox, None), project)).by_id("flyctl")
    assert c.status == d.OK
    assert c.detail.startswith("flyctl v0.3.164 · flytui supports flyctl v0.2.77 or newer (")
    assert c.data["minimum"] == "0.2.77" and c.data["broken"] == []


async def test_between_minimum_and_v0_3_154_is_supported_with_a_note(sandbox: Any, project: Path) -> None:
    c = (await d.run_doctor(_client(sandbox, "0.3.150"), project)).by_id("flyctl")
    assert c.status == d.OK and "Proxying local port N" in c.detail
    c = (await d.run_doctor(_client(sandbox, "0.2.77"), project)).by_id("flyctl")
    assert c.status == d.OK


@pytest.mark.parametrize("version", ["0.2.76", "0.1.90"])
async def test_below_minimum_fails_and_says_what_breaks(sandbox: Any, project: Path, version: str) -> None:
    sandbox.create_app(APP)
    rep = await d.run_doctor(_client(sandbox, version), project)
    c = rep.by_id("flyctl")
    assert c.status == d.FAIL and not rep.ok
    assert c.detail.startswith(f"flyctl v{version} is older than v0.2.77: flytui supports flyctl v0.2.77 or newer")
    assert len(c.data["broken"]) == 1
    assert "unknown flag: --watch-stdin" in c.why and "`fly version upgrade`" in c.fix
    assert rep.by_id("auth").status == d.OK  # an old flyctl still runs: the other checks go on


def test_policy_edges() -> None:
    assert d.parse_version("2026.8.21-pr5113.1") == (2026, 8, 21)  # calver PR builds are newer than any 0.x
    assert d.version_policy("2026.8.21-pr5113.1")[0] == d.OK
    assert d.version_policy("0.0.0-dev")[0] == d.WARN  # a development build: generation unknown
    assert d.version_policy("garbage")[0] == d.WARN


def test_cli_doctor_prints_the_policy(sandbox: Any, project: Path) -> None:
    sandbox.create_app(APP)
    env = dict(sandbox.env, FLYTUI_FLYCTL=sandbox.flyctl, FLYTUI_SANDBOX_FLYCTL_VERSION="0.2.50")
    r = subprocess.run([sys.executable, "-m", "flytui.cli", "doctor"], cwd=project, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "✗ flyctl installed: flyctl v0.2.50 is older than v0.2.77" in r.stdout
    assert "why: Below the minimum these do not work: database tunnels" in r.stdout
