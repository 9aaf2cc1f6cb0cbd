"""Injected faults and the argv log of the sandbox flyctl."""
from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.helpers.procinfo import describe


def test_fail_fault_with_exit_and_times(sandbox):
    sandbox.inject_fault("apps list", fail="boom", exit=3, times=1)
    r = sandbox.run("apps", "list")
    assert (r.returncode, r.stderr) == (3, "Error: boom\n")
    assert sandbox.run("apps", "list").returncode == 0, "times=1 clears the fault"


def test_star_fault_and_clear(sandbox):
    sandbox.inject_fault("*", payment_required=True)
    r = sandbox.run("orgs", "list")
    assert r.stderr == ("Error: We need your payment information to continue! Add a credit card or buy credit: "
                        "https://fly.io/dashboard/personal/billing\n")
    sandbox.clear_faults()
    assert sandbox.run("orgs", "list").returncode == 0


def test_rate_limited_and_logged_out(sandbox):
    sandbox.create_app("a1")
    sandbox.inject_fault("machine list", rate_limited=True)
    r = sandbox.run("m", "ls", "-a", "a1")
    assert r.returncode == 1
    assert r.stderr.startswith("Error: failed to list machines: rate limit exceeded (Request ID: 01")
    sandbox.inject_fault("auth whoami", logged_out=True)
    r = sandbox.run("auth", "whoami")
    assert r.stderr == "Error: no access token available. Please login with 'flyctl auth login'\n"


def test_garbage_is_not_json(sandbox):
    sandbox.inject_fault("apps list", garbage=True)
    r = sandbox.run("apps", "list", "--json")
    try:
        json.loads(r.stdout)
    except ValueError:
        pass
    else:  # pragma: no cover
        raise AssertionError("garbage fault produced JSON")


def test_latency(sandbox):
    sandbox.inject_fault("version", latency=0.6)
    t = time.monotonic()
    assert sandbox.run("version").returncode == 0
    assert time.monotonic() - t >= 0.6


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_hang_until_killed_and_sigint_127(sandbox, inherited):
    """SIGINT stops flyctl with 127 even when it was started with SIGINT ignored (a background job of a
    non-interactive shell, as CI runs): flyctl's signal.NotifyContext takes the signal regardless."""
    sandbox.inject_fault("apps list", hang=True)
    proc = subprocess.Popen([sandbox.flyctl, "apps", "list"], env=sandbox.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            preexec_fn=_ignore_sigint if inherited == "ignored" else None)
    end = time.monotonic() + 30
    while sandbox.argv_log() != [["apps", "list"]]:  # logged just before the fault is applied
        assert proc.poll() is None and time.monotonic() < end, (proc.poll(), describe(proc.pid))
        time.sleep(0.02)
    assert proc.poll() is None, "hang fault keeps running"
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=10) == 127
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the hanging flyctl ignored SIGINT for 10 s: {describe(proc.pid)}") from None
    finally:
        if proc.poll() is None:  # never leave the hanging flyctl behind
            proc.kill()
            proc.wait()


def test_argv_log_records_every_invocation(sandbox):
    sandbox.run("version")
    sandbox.run("apps", "list", "--json")
    sandbox.run("nonsense")
    assert sandbox.argv_log() == [["version"], ["apps", "list", "--json"], ["nonsense"]]


def test_missing_state_dir_env(sandbox):
    env = dict(sandbox.env)
    env.pop("FLYTUI_SANDBOX_DIR")
    r = subprocess.run([sandbox.flyctl, "version"], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "FLYTUI_SANDBOX_DIR is not set" in r.stderr


def test_log_rate_generator(sandbox):
    sandbox.create_app("busy")
    sandbox.add_machine("busy", state="started")
    env = dict(sandbox.env, FLYTUI_SANDBOX_LOG_RATE="200")
    proc = subprocess.Popen([sandbox.flyctl, "logs", "-a", "busy"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(50)]
    finally:
        proc.kill()
        proc.wait()
    assert all(" app[" in ln and '"GET /items/' in ln for ln in lines)
