"""``fly logs -a APP [--json] [--no-tail] [-i MACHINE] [-r REGION]``.

Entries come from the app's log buffer (``logs/<app>.jsonl``: real machine process output + platform
lines). Tail mode follows the file until killed; ``$FLYTUI_SANDBOX_LOG_RATE`` (lines/s) adds a
synthetic request-log generator for tests and benchmarks.
"""
from __future__ import annotations

import json
import os
import random
import time
from typing import Any

from flytui.sandbox.commands import Ctx, command, dump_json
from flytui.sandbox.procs import now_nano
from flytui.sandbox.state import get_app


def render_plain(e: dict[str, Any]) -> str:
    """``<ts> <provider>[<instance>] <region> [<level>]<message>`` (no space after ``]``)."""
    ts = e["timestamp"]
    ts = ts[:19] + "Z" if len(ts) > 20 else ts
    return f"{ts} {e['provider']}[{e['instance']}] {e['region']} [{e['level']}]{e['message']}"


def render_json(e: dict[str, Any]) -> str:
    """One 4-space-indented object (entries are written back to back, not NDJSON)."""
    return dump_json({
        "level": e["level"], "instance": e["instance"], "message": e["message"], "region": e["region"],
        "timestamp": e["timestamp"],
        "meta": {"Instance": e["instance"], "Region": e["region"], "Event": {"Provider": e["provider"]},
                 "HTTP": {"Request": {"ID": "", "Method": "", "Version": ""}, "Response": {"status_code": 0}},
                 "Error": {"Code": 0, "Message": ""}, "URL": {"Full": ""}},
    })


def _keep(ctx: Ctx, e: dict[str, Any]) -> bool:
    inst, region = ctx.flag("instance"), ctx.flag("region")
    return (not inst or e.get("instance") == inst) and (not region or e.get("region") == region)


def _emit(ctx: Ctx, e: dict[str, Any]) -> None:
    ctx.out(render_json(e) if ctx.json else render_plain(e))


def _read_new(fh: Any, buf: str) -> tuple[list[dict[str, Any]], str]:
    data = buf + fh.read()
    lines = data.split("\n")
    entries = []
    for ln in lines[:-1]:
        try:
            entries.append(json.loads(ln))
        except ValueError:
            continue
    return entries, lines[-1]


@command("logs")
def logs(ctx: Ctx) -> int:
    app = get_app(ctx.sb.read(), ctx.app_name())
    path = ctx.sb.log_path(app["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    with open(path, encoding="utf-8") as fh:
        entries, buf = _read_new(fh, "")
        for e in entries[-100:]:
            if _keep(ctx, e):
                _emit(ctx, e)
        if ctx.flag("no_tail"):
            return 0
        rate = float(os.environ.get("FLYTUI_SANDBOX_LOG_RATE", "0") or 0)
        machines = [m for m in app["machines"] if m["state"] == "started"] or app["machines"]
        next_gen = time.monotonic()
        n = 0
        while True:
            entries, buf = _read_new(fh, buf)
            for e in entries:
                if _keep(ctx, e):
                    _emit(ctx, e)
            if rate > 0:
                now = time.monotonic()
                while next_gen <= now:
                    n += 1
                    m = random.choice(machines) if machines else {"id": "0" * 14, "region": "iad"}
                    e = {"timestamp": now_nano(), "instance": m["id"], "region": m["region"], "level": "info",
                         "provider": "app",
                         "message": f'INFO:     172.16.0.{n % 250}:5{n % 10000:04d} - "GET /items/{n} HTTP/1.1" 200 OK'}
                    if _keep(ctx, e):
                        _emit(ctx, e)
                    next_gen += 1.0 / rate
                time.sleep(min(0.05, max(0.0, next_gen - time.monotonic())))
            else:
                time.sleep(0.1)
