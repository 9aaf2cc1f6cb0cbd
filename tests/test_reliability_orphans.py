"""Issue 8, property 1: no orphans. However flytui ends, no flyctl/proxy/ssh/machine/Postgres process is left.

Two kinds of cycles, each followed by a /proc walk for processes carrying the cycle's unique marker
(in their command line or environment; zombies waiting for init do not count):

* full runs: the real ``flytui --demo`` (``flytui.cli.main``) in a pty with a log stream, a tunnel and a
  started machine open (tests/helpers/reliability_driver.py), ended by the quit key, SIGTERM, SIGINT,
  closing the terminal (SIGHUP) and an unhandled exception in a worker; the marker is the run directory
  (``TMPDIR``), under which the demo's sandbox and embedded Postgres live;
* cheap in-process cycles: the real runner/``FlyProcess`` streams (with grandchildren, like proxy/ssh),
  a real ``Tunnel`` every few cycles, and a detached "machine" registered as a lifecycle cleanup, ended
  like the app ends: normal close, worker cancellation, an exception, and SIGTERM through the installed
  :mod:`flytui.lifecycle` handler.
"""
from __future__ import annotations

import asyncio
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from flytui import lifecycle
from flytui.fly.runner import FlyctlRunner, live_groups

pytestmark = pytest.mark.reliability

HELPERS = Path(__file__).parent / "helpers"
ROOT = Path(__file__).resolve().parents[1]
FULL_RUN_ENDINGS = ("quit", "sigterm", "sigint", "sighup", "worker-exception")
CHEAP_CYCLES = 100
CHEAP_ENDINGS = ("close", "cancel", "exception", "sigterm")


# ---------------------------------------------------------------------------------- /proc walk
def _state(pid: str) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return "gone"
    return stat[stat.rfind(b")") + 2:].split()[0].decode()


def marked_processes(marker: str) -> dict[int, str]:
    """Live (non-zombie) processes other than us whose cmdline or environ contains ``marker``."""
    needle, found = marker.encode(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        hit = b""
        for part in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{entry}/{part}").read_bytes()
            except OSError:
                continue
            if needle in data:
                hit = Path(f"/proc/{entry}/cmdline").read_bytes() if part == "environ" else data
                break
        if hit and _state(entry) not in ("Z", "gone"):
            found[int(entry)] = hit.replace(b"\0", b" ").decode("utf-8", "replace")[:200]
    return found


def orphans_after(marker: str, settle: float = 3.0) -> dict[int, str]:
    """Processes still carrying ``marker`` after ``settle`` s (killed afterwards so failures don't pile up)."""
    end = time.monotonic() + settle
    left = marked_processes(marker)
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = marked_processes(marker)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


# ---------------------------------------------------------------------------------- full runs
def _read_all(fd: int, sink: bytearray) -> bool:
    """Drain the pty master (the app must never block on its terminal); False at EOF/EIO."""
    while True:
        ready, _, _ = select.select([fd], [], [], 0)
        if not ready:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        sink.extend(data)


def full_run(ending: str, timeout: float = 90.0) -> dict[str, Any]:
    """One real ``flytui --demo`` run in a pty ended by ``ending``; returns what happened."""
    run_dir = tempfile.mkdtemp(prefix="flytui-rel-", dir="/tmp")
    os.chmod(run_dir, 0o755)  # the embedded Postgres service user must reach its data dir
    env = {**os.environ, "TMPDIR": run_dir, "FLYTUI_RELIABILITY_MARKER": run_dir, "TERM": "xterm-256color"}
    env.pop("FLYTUI_FLYCTL", None)
    mode = "worker-exception" if ending == "worker-exception" else "idle"
    pid, fd = pty.fork()
    if pid == 0:  # child: the real CLI (through the driver that opens children once it is up)
        try:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "tests.helpers.reliability_driver", run_dir, mode], env)
        finally:
            os._exit(127)
    out = bytearray()
    result: dict[str, Any] = {"ending": ending, "ready": False, "exit": None}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not os.path.exists(f"{run_dir}/ready"):
            if not _read_all(fd, out) or os.waitpid(pid, os.WNOHANG)[0]:
                break
            time.sleep(0.05)
        result["ready"] = os.path.exists(f"{run_dir}/ready")
        result["children_seen"] = marked_processes(run_dir)  # `ready` waits until the UI settled (the driver)
        if ending == "quit":
            os.write(fd, b"q")
        elif ending == "sigterm":
            os.kill(pid, signal.SIGTERM)
        elif ending == "sigint":
            os.kill(pid, signal.SIGINT)
        elif ending == "sighup":
            os.close(fd)  # the terminal goes away: the kernel sends SIGHUP to the session leader
            fd = -1
        status = None
        while time.monotonic() < deadline:
            if fd >= 0:
                _read_all(fd, out)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        result["exit"] = os.waitstatus_to_exitcode(status) if status is not None else None
    finally:
        if fd >= 0:
            os.close(fd)
    result["orphans"] = orphans_after(run_dir)
    result["output"] = bytes(out[-3000:]).decode("utf-8", "replace")
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


def test_full_flytui_runs_leave_no_orphans(reliability) -> None:
    """The real CLI + demo, ended five ways (run concurrently: each spends most of its time starting Postgres)."""
    results: dict[str, dict[str, Any]] = {}

    def one(ending: str) -> None:
        results[ending] = full_run(ending)

    threads = [threading.Thread(target=one, args=(e,)) for e in FULL_RUN_ENDINGS]
    for t in threads:
        t.start()
        time.sleep(0.5)
    for t in threads:
        t.join()
    for ending in FULL_RUN_ENDINGS:
        res = results[ending]
        reliability.add("cycles run")
        reliability.add("orphans found", len(res["orphans"]))
        assert res["ready"], f"{ending}: the app never opened its children:\n{res['output']}"
        # the children really existed: flyctl logs/proxy (env marker), Postgres and a machine (cmdline)
        seen = " ".join(res["children_seen"].values())
        assert "postgres -D" in seen and "flycast" in seen and len(res["children_seen"]) >= 5, seen
        assert res["orphans"] == {}, f"{ending}: processes left behind: {res['orphans']}"
        assert res["exit"] is not None, f"{ending}: flytui did not exit"
    assert results["sigterm"]["exit"] == 128 + signal.SIGTERM
    assert results["sigint"]["exit"] == 128 + signal.SIGINT
    assert results["quit"]["exit"] == 0
    assert results["worker-exception"]["exit"] != 0
    assert "reliability driver: unhandled exception" in results["worker-exception"]["output"]


# ---------------------------------------------------------------------------------- cheap cycles
@pytest.fixture
def fake_fly(tmp_path: Path) -> str:
    """A /bin/sh 'flyctl' (fast to start): ``grandchild`` streams with a child of its own, ``sleep`` hangs."""
    exe = tmp_path / "fake-flyctl"
    exe.write_text('#!/bin/sh\n'
                   'case "$1" in\n'
                   '  grandchild) sleep 600 & echo "ready $!"; wait ;;\n'
                   '  sleep) echo ready; exec sleep "$2" ;;\n'
                   '  *) echo "Error: unknown command" >&2; exit 1 ;;\n'
                   'esac\n')
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture
def fake_proxy(tmp_path: Path) -> str:
    """tests/helpers/fake_proxy.py as an executable 'flyctl' that only knows ``proxy``."""
    exe = tmp_path / "fake-proxy"
    exe.write_text(f"#!{sys.executable}\nimport runpy\n"
                   f"runpy.run_path({str(HELPERS / 'fake_proxy.py')!r}, run_name='__main__')\n")
    exe.chmod(0o755)
    return str(exe)


class _FakeApp:
    """What the lifecycle handler needs from the app: ``exit(return_code=)``."""

    def __init__(self) -> None:
        self.exited = asyncio.Event()
        self.return_code: int | None = None

    def exit(self, return_code: int = 0) -> None:
        self.return_code = return_code
        self.exited.set()


def _start_machine(marker: str) -> subprocess.Popen[bytes]:
    """A detached process standing for a sandbox machine (own session, like the emulator starts them)."""
    return subprocess.Popen(["sleep", "600"], start_new_session=True, env={**os.environ, "FLYTUI_RELIABILITY_MARKER": marker},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_machine(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


async def _cycle(i: int, ending: str, fake_fly: str, fake_proxy: str, echo_port: int) -> dict[str, Any]:
    marker = f"flytui-rel-cycle-{uuid.uuid4().hex}"
    runner = FlyctlRunner(fake_fly, env={"FLYTUI_RELIABILITY_MARKER": marker}, grace=0.5)
    machine = _start_machine(marker)
    lifecycle.register_cleanup(lambda: _stop_machine(machine))
    app = _FakeApp()
    tunnel_pid = None
    up = asyncio.Event()

    async def session() -> None:
        nonlocal tunnel_pid
        async with runner.spawn("grandchild", marker) as logs:  # a stream whose child has a child
            await logs.wait_for("ready", 10)
            async with runner.spawn("sleep", "60", marker) as ssh:
                await ssh.wait_for("ready", 10)
                tunnel = None
                if i % 10 == 0:  # a real Tunnel (fake proxy to an echo server) every tenth cycle
                    from flytui.db.tunnel import Tunnel

                    prunner = FlyctlRunner(fake_proxy, grace=0.5, env={
                        "FAKE_PROXY_TARGET": f"127.0.0.1:{echo_port}", "FLYTUI_RELIABILITY_MARKER": marker})
                    tunnel = await Tunnel(prunner, "db", 5432).open()
                    tunnel_pid = tunnel.pid
                up.set()
                try:
                    if ending == "exception":
                        raise RuntimeError("worker failed")
                    if ending == "cancel":
                        await asyncio.sleep(60)
                    if ending == "sigterm":
                        os.kill(os.getpid(), signal.SIGTERM)  # the installed handler asks the app to exit
                        await asyncio.wait_for(app.exited.wait(), 5)
                finally:
                    if tunnel is not None:
                        await tunnel.close()

    lifecycle.install(app, grace=10.0)
    try:
        task = asyncio.ensure_future(session())
        if ending == "cancel":  # the worker is cancelled (view closed) while everything is open
            await asyncio.wait([task, asyncio.ensure_future(up.wait())], timeout=10,
                               return_when=asyncio.FIRST_COMPLETED)
            task.cancel()
        try:
            await task
        except (RuntimeError, asyncio.CancelledError):
            pass
        code = lifecycle.exit_code()
    finally:
        lifecycle.set_app(None)  # what cli.main's finally does: stop the watchdog, then clean up
        lifecycle.run_cleanups()
        lifecycle.uninstall()
    return {"marker": marker, "exit": code, "machine": machine.pid, "tunnel": tunnel_pid,
            "ending": ending, "app_exit": app.return_code, "up": up.is_set()}


async def test_hundred_cheap_cycles_leave_no_orphans(reliability, fake_fly: str, fake_proxy: str) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    echo_port = server.sockets[0].getsockname()[1]
    orphans: dict[int, str] = {}
    try:
        for i in range(CHEAP_CYCLES):
            ending = CHEAP_ENDINGS[i % len(CHEAP_ENDINGS)]
            res = await _cycle(i, ending, fake_fly, fake_proxy, echo_port)
            left = await asyncio.to_thread(orphans_after, res["marker"])
            reliability.add("cycles run")
            reliability.add("orphans found", len(left))
            orphans.update(left)
            if ending == "sigterm":
                assert res["exit"] == 128 + signal.SIGTERM and res["app_exit"] == 128 + signal.SIGTERM
            assert res["up"], f"cycle {i}: the children never came up"
            if i % 10 == 0:
                assert res["tunnel"], "the tunnel of this cycle never came up"
    finally:
        server.close()
    assert orphans == {}, f"processes left behind: {orphans}"
    assert live_groups() == {}, f"the runner still tracks groups: {live_groups()}"


def test_signal_without_app_cleans_up_and_exits(tmp_path: Path) -> None:
    """A signal before the app is up (e.g. while the demo starts): cleanups run, exit code 128+signal."""
    marker = f"flytui-rel-early-{uuid.uuid4().hex}"
    code = (
        "import os, signal, subprocess, sys, time\n"
        "from flytui import lifecycle\n"
        "lifecycle.install()\n"
        f"m = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}],"
        " start_new_session=True)\n"
        "lifecycle.register_cleanup(lambda: (os.killpg(m.pid, signal.SIGKILL), m.wait()))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    assert marked_processes(marker), "the machine stand-in never started"
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(10) == 128 + signal.SIGHUP
    assert orphans_after(marker) == {}
