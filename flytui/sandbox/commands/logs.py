"""``fly logs -a APP [--json] [--no-tail] [-i MACHINE] [-r REGION]``.

Entries come from the app's log buffer (``logs/<app>.jsonl``: real machine process output + platform
lines). Tail mode follows the file until killed; ``$FLYTUI_SANDBOX_LOG_RATE`` (lines/s) adds a
synthetic request-log generator for tests and benchmarks. Each tick's entries are rendered and written as one
block (one ``write`` + ``flush``), so the generator sustains 10 000+ entries/s.
"""
from __future__ import annotations

import json
import os
import random
import sys
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
    """One 4-space-indented object (entries are written back to back, not NDJSON).

    Same text as ``dump_json`` of the full object (Go's encoder: HTML-escaped), from a template: only the
    string values are encoded, which keeps the generator above 10 000 entries/s.
    """
    inst, region = _s(e["instance"]), _s(e["region"])
    return _JSON_TEMPLATE.format(level=_s(e["level"]), instance=inst, message=_s(e["message"]), region=region,
                                 timestamp=_s(e["timestamp"]), provider=_s(e["provider"]))


def render_json_slow(e: dict[str, Any]) -> str:
    """The reference rendering (``dump_json`` of the whole object); :func:`render_json` must equal it."""
    return dump_json({
        "level": e["level"], "instance": e["instance"], "message": e["message"], "region": e["region"],
        "timestamp": e["timestamp"],
        "meta": {"Instance": e["instance"], "Region": e["region"], "Event": {"Provider": e["provider"]},
                 "HTTP": {"Request": {"ID": "", "Method": "", "Version": ""}, "Response": {"status_code": 0}},
                 "Error": {"Code": 0, "Message": ""}, "URL": {"Full": ""}},
    })


def _s(value: Any) -> str:
    """One JSON string value, HTML-escaped like Go."""
    text = json.dumps(str(value), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_JSON_TEMPLATE = render_json_slow({k: f"\0{k}\0" for k in ("level", "instance", "message", "region", "timestamp",
                                                              "provider")})
_JSON_TEMPLATE = _JSON_TEMPLATE.replace("{", "{{").replace("}", "}}")
for _k in ("level", "instance", "message", "region", "timestamp", "provider"):
    _JSON_TEMPLATE = _JSON_TEMPLATE.replace(f'"\\u0000{_k}\\u0000"', "{" + _k + "}")


def _keep(ctx: Ctx, e: dict[str, Any]) -> bool:
    inst, region = ctx.flag("instance"), ctx.flag("region")
    return (not inst or e.get("instance") == inst) and (not region or e.get("region") == region)


def _render(ctx: Ctx, e: dict[str, Any]) -> str:
    return render_json(e) if ctx.json else render_plain(e)


def _emit_block(ctx: Ctx, entries: list[dict[str, Any]]) -> None:
    """Write the kept ``entries`` as one block (one write, one flush)."""
    text = "".join(_render(ctx, e) + "\n" for e in entries if _keep(ctx, e))
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def _generate(machines: list[dict[str, Any]], n: int, count: int) -> list[dict[str, Any]]:
    """``count`` synthetic uvicorn access-log entries numbered from ``n + 1`` (same timestamp: one tick)."""
    ts = now_nano()
    out = []
    for i in range(n + 1, n + count + 1):
        m = random.choice(machines) if machines else {"id": "0" * 14, "region": "iad"}
        out.append({"timestamp": ts, "instance": m["id"], "region": m["region"], "level": "info", "provider": "app",
                    "message": f'INFO:     172.16.0.{i % 250}:5{i % 10000:04d} - "GET /items/{i} HTTP/1.1" 200 OK'})
    return out


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
        _emit_block(ctx, entries[-100:])
        if ctx.flag("no_tail"):
            return 0
        rate = float(os.environ.get("FLYTUI_SANDBOX_LOG_RATE", "0") or 0)
        machines = [m for m in app["machines"] if m["state"] == "started"] or app["machines"]
        next_gen = time.monotonic()
        n = 0
        while True:
            entries, buf = _read_new(fh, buf)
            _emit_block(ctx, entries)
            if rate > 0:
                now = time.monotonic()
                due = int((now - next_gen) * rate) + 1 if now >= next_gen else 0
                if due:
                    _emit_block(ctx, _generate(machines, n, due))
                    n += due
                    next_gen += due / rate
                time.sleep(min(0.05, max(0.0, next_gen - time.monotonic())))
            else:
                time.sleep(0.1)
