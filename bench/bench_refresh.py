"""Refresh the status of 50 apps through the sandbox flyctl with 200 ms injected latency per call:
concurrent (flytui's bounded semaphore) vs serial. Prints both times and the ratio (goal <= 0.2x).

Usage: python bench/bench_refresh.py [n_apps] [concurrency]

This is the flyctl path only (the fallback). With the Machines API fast path the apps pane asks one
``GET /v1/apps?org_slug=`` per organization instead: bench/bench_api.py measures that against this serial path.

Each sandbox flyctl call is a fresh Python process: its start-up is CPU work that concurrency cannot hide on a
small machine. The bench therefore also prints the wall time of one call without latency, for context.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _flyctl() -> str:
    return shutil.which("flytui-sandbox-flyctl") or str(Path(sys.executable).parent / "flytui-sandbox-flyctl")


async def run(n_apps: int, limit: int) -> float:
    from flytui.fly.client import FlyClient
    from flytui.fly.runner import FlyctlRunner
    from flytui.sandbox.state import Sandbox
    from flytui.fly.statuses import gather_statuses

    tmp = Path(tempfile.mkdtemp(prefix="flytui-bench-"))
    try:
        sb = Sandbox.init(tmp / "sb", user_email="demo@example.com", org="personal")
        sb = Sandbox(tmp / "sb")
        names = [f"app-{i:02d}" for i in range(n_apps)]
        for n in names:
            sb.create_app(n, deployed=True)
        sb.inject_fault("status", latency=0.2)
        env = {**os.environ, "FLYTUI_SANDBOX_DIR": str(tmp / "sb")}
        client = FlyClient(FlyctlRunner(_flyctl(), env=env))
        t0 = time.monotonic()
        got = await gather_statuses(client, names, limit=limit)
        dt = time.monotonic() - t0
        errors = [v for v in got.values() if isinstance(v, BaseException)]
        assert not errors, errors[:3]
        return dt
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def process_cost(samples: int = 5) -> float:
    """Median wall time of one sandbox ``fly status`` call without injected latency (process start-up)."""
    import statistics
    import subprocess

    tmp = Path(tempfile.mkdtemp(prefix="flytui-bench-"))
    try:
        from flytui.sandbox.state import Sandbox

        Sandbox.init(tmp / "sb").create_app("probe", deployed=True)
        env = {**os.environ, "FLYTUI_SANDBOX_DIR": str(tmp / "sb")}
        times = []
        for _ in range(samples):
            t0 = time.monotonic()
            subprocess.run([_flyctl(), "status", "-a", "probe", "--json"], env=env, capture_output=True, check=True)
            times.append(time.monotonic() - t0)
        return statistics.median(times)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(n_apps: int = 50, concurrency: int = 8) -> float:
    cost = process_cost()
    conc = asyncio.run(run(n_apps, concurrency))
    serial = asyncio.run(run(n_apps, 1))
    cores = os.cpu_count() or 1
    print(f"one sandbox flyctl call (process start, no latency): {cost * 1000:.0f} ms; {cores} cores")
    print(f"{n_apps} apps, 200 ms latency: concurrent({concurrency}) {conc:.2f}s, serial {serial:.2f}s")
    print(f"ratio: {conc / serial:.2f}x (goal <= 0.2x)")
    return conc / serial


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]) if a else 50, int(a[1]) if len(a) > 1 else 8)
