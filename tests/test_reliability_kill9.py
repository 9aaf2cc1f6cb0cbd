"""``kill -9`` of ``flytui --demo`` leaves nothing behind (issue 15).

SIGKILL runs no code in flytui, so everything it started must end by itself: the runner's children (``fly logs``,
``fly proxy``) by their parent-death signal (flytui/fly/lifeline.py), the sandbox machines (pump + uvicorn) and
the Flycast forwarder by watching flytui (``FLYTUI_SANDBOX_OWNER``, flytui/sandbox/procs.py), the embedded
Postgres by its watchdog, the demo workspace by the demo's watchdog (flytui/sandbox/watchdog.py).

The run is the real CLI in a pty (tests/helpers/reliability_driver.py, mode ``deployed``): a deployed demo app
with its machines running, a log stream, a tunnel and the database machine started. Survivors are found by
walking /proc for the run's marker (the run directory, ``TMPDIR``, in each command line or environment), as in
tests/test_reliability_orphans.py.
"""
from __future__ import annotations

import os
import pty
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.test_reliability_orphans import ROOT, _read_all, marked_processes

pytestmark = pytest.mark.reliability


def _demo_workspaces(run_dir: str) -> list[str]:
    return [p.name for p in Path(run_dir).glob("flytui-demo-*")]


def test_kill9_of_flytui_demo_leaves_no_process_and_no_workspace(reliability) -> None:
    run_dir = tempfile.mkdtemp(prefix="flytui-k9-", dir="/tmp")
    os.chmod(run_dir, 0o755)  # the embedded Postgres service user must reach its data dir
    env = {**os.environ, "TMPDIR": run_dir, "FLYTUI_RELIABILITY_MARKER": run_dir, "TERM": "xterm-256color"}
    env.pop("FLYTUI_FLYCTL", None)
    pid, fd = pty.fork()
    if pid == 0:  # child: the real CLI through the driver (deploys, opens logs and a tunnel)
        try:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "tests.helpers.reliability_driver", run_dir, "deployed"],
                      env)
        finally:
            os._exit(127)
    out = bytearray()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not os.path.exists(f"{run_dir}/ready"):
            if not _read_all(fd, out) or os.waitpid(pid, os.WNOHANG)[0]:
                break
            time.sleep(0.05)
        tail = bytes(out[-3000:]).decode("utf-8", "replace")
        assert os.path.exists(f"{run_dir}/ready"), f"the app never opened its children:\n{tail}"
        before = marked_processes(run_dir)
        seen = " ".join(before.values())
        # the children really exist: Postgres, the forwarder, a machine (pump + uvicorn), fly logs, fly proxy
        for needle in ("postgres -D", "flycast", "procs pump", "uvicorn", " logs ", " proxy "):
            assert needle in seen, (needle, seen)
        assert _demo_workspaces(run_dir), "no demo workspace"

        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

        end = time.monotonic() + 20  # bounded: watchdogs poll every 0.2-0.25 s, Postgres shuts down fast
        left = marked_processes(run_dir)
        while (left or _demo_workspaces(run_dir)) and time.monotonic() < end:
            _read_all(fd, out)
            time.sleep(0.1)
            left = marked_processes(run_dir)
        reliability.add("cycles run")
        reliability.add("orphans found", len(left))
        for p in left:  # never let a failure pile processes up
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        assert left == {}, f"survivors of kill -9: {left}"
        assert _demo_workspaces(run_dir) == [], "the demo workspace was not removed"
    finally:
        os.close(fd)
        shutil.rmtree(run_dir, ignore_errors=True)
