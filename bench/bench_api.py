"""Machines API fast path vs flyctl, on the sandbox. Prints ratios measured in this one run.

1. machines poll CPU: one ``client.machines(app)`` poll through the API (flytui/fly/machines_api.py) vs through
   the sandbox flyctl, as CPU on this machine: flytui's process + its children (the flyctl processes). The API
   server runs in its own process (it stands in for api.machines.dev), so its CPU is not counted, just as
   Fly's servers are not. Goal <= 0.1x.
2. 50 apps' status with 200 ms simulated latency per network round trip, as the apps pane refreshes them
   (``gather_statuses``, flytui/fly/statuses.py; the apps list that precedes it is the same on both paths and not
   counted): through the API it is ONE ``GET /v1/apps?org_slug=personal`` (fly-go flaps ``ListApps``: the 50 apps
   with their ``status``, so STATUS and DEPLOYED; no release number or machines, which flaps ``App`` has not),
   200 ms; vs the flyctl path one app after the other (serial), ``fly status`` per app. ``fly status`` makes at
   least 2 round trips (GraphQL GetAppCompact + flaps ListActive: flyctl internal/command/status @ ad0172f), so
   its sandbox call gets 400 ms; the ratio with 200 ms per flyctl call is printed too, and for context the API
   read per app (GetApp + List, 8 in flight: the path when ListApps gives no status) and flyctl 8 at a time.
   Goal <= 0.1x.

Usage: python bench/bench_api.py [polls] [apps]
"""
from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _flyctl() -> str:
    return shutil.which("flytui-sandbox-flyctl") or str(Path(sys.executable).parent / "flytui-sandbox-flyctl")


def cpu() -> float:
    """CPU seconds of this process and its reaped children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Setup:
    """A sandbox with ``apps`` deployed apps (2 machines each), its API server in a separate process."""

    def __init__(self, apps: int) -> None:
        from flytui.sandbox.state import Sandbox

        self.tmp = Path(tempfile.mkdtemp(prefix="flytui-bench-api-"))
        self.dir = self.tmp / "sb"
        self.sb = Sandbox.init(self.dir, user_email="demo@example.com", org="personal")
        self.names = [f"app-{i:02d}" for i in range(apps)]
        for n in self.names:
            self.sb.create_app(n, deployed=True)
            self.sb.add_machine(n, state="started")
            self.sb.add_machine(n, state="stopped")
        self.server = subprocess.Popen([sys.executable, "-m", "flytui.sandbox.api_server", str(self.dir)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        assert self.server.stdout is not None
        self.url = self.server.stdout.readline().strip()
        self.env = {k: v for k, v in os.environ.items() if k not in ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")}
        self.env.update(FLYTUI_SANDBOX_DIR=str(self.dir), FLY_CONFIG_DIR=str(self.dir))

    def client(self, api: bool) -> object:
        from flytui.fly.client import FlyClient
        from flytui.fly.machines_api import MachinesAPI
        from flytui.fly.runner import FlyctlRunner

        runner = FlyctlRunner(_flyctl(), env=self.env)
        return FlyClient(runner, api=MachinesAPI(self.url, runner=runner, environ=self.env) if api else None)

    def close(self) -> None:
        if self.server.stdin:
            self.server.stdin.close()
        self.server.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)


async def poll_cpu(setup: Setup, polls: int) -> tuple[float, float, float, float]:
    """(API cpu/poll, flyctl cpu/poll, API wall/poll, flyctl wall/poll)."""
    api_client, fly_client = setup.client(True), setup.client(False)
    assert await api_client.warm_api()  # type: ignore[attr-defined]
    app = setup.names[0]
    results = []
    for client in (api_client, fly_client):
        await client.machines(app)  # type: ignore[attr-defined] # connection / caches warm
        c0, w0 = cpu(), time.perf_counter()
        for _ in range(polls):
            got = await client.machines(app)  # type: ignore[attr-defined]
            assert len(got) == 2
        results.append(((cpu() - c0) / polls, (time.perf_counter() - w0) / polls))
    assert api_client.api.last_fallback is None  # type: ignore[attr-defined] # every API poll was served by it
    await api_client.api.aclose()  # type: ignore[attr-defined]
    (ac, aw), (fc, fw) = results
    return ac, fc, aw, fw


async def statuses(setup: Setup, latency: float) -> dict[str, float]:
    """Wall seconds for every app's status: ``list`` (API, one ListApps), ``per_app`` (API, GetApp + List per
    app, 8 in flight), ``serial`` (flyctl, 2 round trips per call), ``serial1`` (flyctl, 1), ``conc`` (flyctl 8 at
    a time, 2)."""
    from flytui.fly.statuses import gather_statuses

    out: dict[str, float] = {}
    orgs = {n: "personal" for n in setup.names}
    for label, by_org in (("list", orgs), ("per_app", None)):
        api_client = setup.client(True)
        assert await api_client.warm_api()  # type: ignore[attr-defined]
        sent: list[str] = []  # requests answered (the command log's feed: end entries carry a duration)
        api_client.api.add_listener(  # type: ignore[attr-defined]
            lambda inv, sent=sent: inv.duration is not None and sent.append(inv.argv[1]))
        setup.sb.inject_fault("api", latency=latency)  # no `times`: taking it writes nothing
        t = time.perf_counter()
        got = await gather_statuses(api_client, setup.names, orgs=by_org)
        out[label] = time.perf_counter() - t
        out[label + "_requests"] = len(sent)
        assert not [v for v in got.values() if isinstance(v, BaseException)]
        assert all(v.status == "deployed" for v in got.values())
        assert api_client.api.last_fallback is None, api_client.api.last_fallback  # type: ignore[attr-defined]
        await api_client.api.aclose()  # type: ignore[attr-defined]
        setup.sb.clear_faults()
    fly_client = setup.client(False)
    for label, per_call, limit in (("serial", 2 * latency, 1), ("serial1", latency, 1), ("conc", 2 * latency, 8)):
        setup.sb.clear_faults()
        setup.sb.inject_fault("status", latency=per_call)
        t = time.perf_counter()
        got = await gather_statuses(fly_client, setup.names, limit=limit)
        out[label] = time.perf_counter() - t
        assert not [v for v in got.values() if isinstance(v, BaseException)]
    setup.sb.clear_faults()
    return out


def main(polls: int = 20, apps: int = 50) -> None:
    setup = Setup(apps)
    try:
        ac, fc, aw, fw = asyncio.run(poll_cpu(setup, polls))
        print(f"machines poll ({polls} polls, 2 machines): CPU via API {ac * 1000:.1f} ms, via flyctl "
              f"{fc * 1000:.1f} ms (flytui + flyctl processes) -> ratio {ac / fc:.3f}x (goal <= 0.1x); "
              f"wall {aw * 1000:.1f} ms vs {fw * 1000:.1f} ms")
        r = asyncio.run(statuses(setup, 0.2))
        print(f"{apps} apps' status, 200 ms per round trip: API ListApps {r['list']:.2f} s "
              f"({r['list_requests']:.0f} request), flyctl serial {r['serial']:.2f} s (fly status per app) -> ratio "
              f"{r['list'] / r['serial']:.3f}x (goal <= 0.1x); with 200 ms per flyctl call {r['serial1']:.2f} s -> "
              f"{r['list'] / r['serial1']:.3f}x")
        print(f"  for context: API per app (GetApp + List, 8 in flight, {r['per_app_requests']:.0f} requests) "
              f"{r['per_app']:.2f} s -> {r['per_app'] / r['serial']:.3f}x; flyctl 8 at a time {r['conc']:.2f} s")
    finally:
        setup.close()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
