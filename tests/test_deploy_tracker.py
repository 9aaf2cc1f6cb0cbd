"""DeployTracker on the seed transcript and on failure transcripts (tests/fixtures/transcripts/)."""
from __future__ import annotations

from pathlib import Path

import pytest

from flytui.fly.deploy import (
    CANCELLED, FAILED, OK, RUNNING, SKIPPED, DeployOptions, DeployTracker, make_options, options_from_fly_toml,
    parse_build_args,
)

T = Path(__file__).parent / "fixtures" / "transcripts"


def transcript(name: str) -> list[str]:
    lines = (T / name).read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if not ln.startswith("# ") and not ln.startswith("$ ")]


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def run(name: str, rc: int) -> DeployTracker:
    tr = DeployTracker("app", clock=Clock())
    tr.feed(transcript(name))
    tr.finish(rc)
    return tr


def statuses(tr: DeployTracker) -> dict[str, str]:
    return {s.id: s.status for s in tr.stage_list()}


def test_seed_first_deploy_local_only() -> None:
    tr = run("deploy-seed-local-only.txt", 0)
    assert tr.succeeded and tr.failure is None
    st = statuses(tr)
    assert st["config"] == st["build"] == st["push"] == st["machines"] == st["dns"] == st["done"] == OK
    assert st["release"] == SKIPPED
    assert tr.push_progress == (11, 11)
    assert tr.image == "registry.fly.io/fly-demo-test:deployment-01HY09TSQNFP1FB83CXDR9H3SZ"
    assert tr.image_size == "812 MB"
    assert tr.builder == "Docker"
    assert tr.monitor_url == "https://fly.io/apps/fly-demo-test/monitoring"
    assert tr.url == "https://fly-demo-test.fly.dev/"
    assert tr.plan == ['create 1 "app" machine']
    assert any("Building 51.0s" in ln for ln in tr.stages["build"].lines)
    for s in tr.stage_list():
        if s.status == OK:
            assert s.duration is not None and s.duration >= 0


def test_rolling_success_with_release_command_and_machines() -> None:
    tr = DeployTracker("shop-api", clock=Clock())
    lines = transcript("deploy-rolling-success.txt")
    cut = next(i for i, ln in enumerate(lines) if "[1/2] Waiting for 148e2d4f7e5e89 [app] to have state" in ln)
    tr.feed(lines[: cut + 1])
    assert tr.current == "machines" and tr.stages["machines"].status == RUNNING
    assert tr.stages["release"].status == OK
    assert tr.machines["148e2d4f7e5e89"].step.startswith("Waiting for 148e2d4f7e5e89 [app] to have state: started")
    assert tr.machines["148e2d4f7e5e89"].total == 2
    tr.feed(lines[cut + 1:])
    tr.finish(0)
    assert tr.succeeded
    assert tr.release_command == "alembic upgrade head"
    assert any("Running upgrade 3f1a2b4c5d6e" in ln for ln in tr.stages["release"].lines)
    assert tr.strategy == "rolling"
    assert [r.state for r in tr.machines.values()] == ["done", "done"]
    assert tr.stages["health"].status == OK
    assert tr.push_progress == (3, 3)
    assert tr.monitor_url == "https://fly.io/apps/shop-api/monitoring"  # old "Watch your app at"
    assert tr.url == "https://shop-api.fly.dev/"


def test_first_deploy_boxed_banner() -> None:
    tr = run("deploy-first-banner.txt", 0)
    assert tr.succeeded
    assert tr.url == "https://hello.fly.dev/"
    assert tr.stages["build"].status == OK and tr.stages["push"].status == SKIPPED
    assert tr.plan == ['create 2 "app" machines']
    assert "3d8d9e1ef94d89" in tr.machines


def test_payment_required() -> None:
    tr = run("deploy-fail-payment.txt", 1)
    f = tr.failure
    assert f is not None and f.kind == "payment_required" and f.stage == "machines"
    assert f.url == "https://fly.io/dashboard/<account-name>/billing"
    assert f.message.startswith("We need your payment information")
    assert tr.stages["machines"].status == FAILED and tr.stages["push"].status == OK
    assert "payment method" in f.hint
    assert "pushed" in tr.deployed_state() or "Partly" in tr.deployed_state()


def test_release_command_failed() -> None:
    tr = run("deploy-fail-release-command.txt", 1)
    f = tr.failure
    assert f is not None and f.kind == "release_command" and f.stage == "release"
    assert tr.stages["release"].status == FAILED
    assert tr.stages["machines"].status == SKIPPED
    assert any("NotNullViolation" in ln for ln in f.lines)
    assert f.message.startswith("release command failed - aborting deployment")
    assert f.machine == "2876e9d1c34618"
    assert "migrations may have run" in tr.deployed_state()


def test_smoke_checks_failed() -> None:
    tr = run("deploy-fail-smoke-checks.txt", 1)
    f = tr.failure
    assert f is not None and f.kind == "smoke_checks" and f.stage == "health"
    assert f.machine == "148e2d4f7e5e89"
    assert "fly logs -i 148e2d4f7e5e89" in f.hint
    assert any("KeyError: 'DATABASE_URL'" in ln for ln in f.lines)
    assert tr.machines["148e2d4f7e5e89"].state == "failed"
    # the machine update did not finish, so that stage is not shown as a success either
    assert statuses(tr)["machines"] == FAILED and statuses(tr)["push"] == OK


def test_health_timeout() -> None:
    tr = run("deploy-fail-health-timeout.txt", 1)
    f = tr.failure
    assert f is not None and f.kind == "health_checks" and f.stage == "health"
    assert tr.strategy == "immediate"
    assert "--wait-timeout" in f.hint and "148e2d4f7e5e89" in f.hint


def test_build_failed() -> None:
    tr = run("deploy-fail-build.txt", 1)
    f = tr.failure
    assert f is not None and f.kind == "build" and f.stage == "build"
    assert tr.stages["build"].status == FAILED and tr.stages["push"].status == SKIPPED
    assert any("fastapi==9.9.9" in ln for ln in f.lines)
    assert tr.deployed_state().startswith("Nothing was deployed")


def test_unknown_app() -> None:
    tr = run("deploy-fail-unknown-app.txt", 1)
    f = tr.failure
    assert f is not None and f.kind == "app_not_found" and f.stage == "config"
    assert "shop-apj could not be found" in f.message


def test_unknown_lines_and_garbage_never_break() -> None:
    tr = DeployTracker()
    tr.feed(["\x1b[31m==> Verifying app config\x1b[0m", "", "???", "\udcff odd", "[9/x] nonsense", "  [1/1] no id here"])
    assert tr.stages["config"].status == RUNNING
    tr.finish(1)
    assert tr.failure is not None and tr.failure.kind == "unknown" and tr.failure.stage == "config"


def test_cancel_states_what_is_deployed() -> None:
    tr = DeployTracker(clock=Clock())
    lines = transcript("deploy-rolling-success.txt")
    cut = next(i for i, ln in enumerate(lines) if "[2/2] Updating" in ln)
    tr.feed(lines[:cut + 1])
    tr.cancel()
    assert tr.stages["machines"].status == CANCELLED
    assert tr.stages["dns"].status == SKIPPED
    assert "1 of 2 machines" in tr.deployed_state()


def test_payment_pr2060_text() -> None:
    tr = DeployTracker()
    tr.feed(["No machines in group app, launching a new machine",
             "Error error creating a new machine: failed to launch VM: To create more than 1 machine per app please add a payment method."])
    tr.finish(1)
    assert tr.failure is not None and tr.failure.kind == "payment_required"
    assert tr.failure.url == "https://fly.io/dashboard/personal/billing"


def test_options_argv_and_fly_toml(tmp_path: Path) -> None:
    opts = make_options("local-only", ha=False, strategy="bluegreen", build_args=parse_build_args("A=1, B=two"))
    assert opts.argv("shop") == ["deploy", "-a", "shop", "--yes", "--local-only", "--ha=false", "--strategy",
                                 "bluegreen", "--build-arg", "A=1", "--build-arg", "B=two"]
    with pytest.raises(ValueError):
        parse_build_args("NOPE")
    with pytest.raises(ValueError):
        make_options(strategy="yolo")
    with pytest.raises(ValueError):
        make_options("cloud")
    (tmp_path / "fly.toml").write_text(
        "app = 'shop'\n[build]\n  image = 'registry.fly.io/shop:v1'\n[build.args]\n  PY = '3.12'\n"
        "[deploy]\n  strategy = 'canary'\n  release_command = 'alembic upgrade head'\n")
    d = options_from_fly_toml(tmp_path)
    assert d.strategy == "canary" and d.image == "registry.fly.io/shop:v1" and d.build_args == {"PY": "3.12"}
    assert d.cwd == str(tmp_path)
    assert options_from_fly_toml(None) == DeployOptions()
