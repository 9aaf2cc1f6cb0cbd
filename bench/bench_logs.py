"""Logs pipeline benchmark: prints ratios.

1. throughput: JsonStreamDecoder + LogRecord + LogBuffer over a ``fly logs --json``-shaped stream (4-space
   indented objects, fed in 500-line batches like the runner's) as a ratio to a bare ``json.loads`` loop
   over the same objects (target ≥ 0.5x). Best of 3 runs (the machine is shared).
2. memory: RSS growth after 1 000 000 lines through a 100 000-line ring buffer.
3. key latency during a flood: LogsScreen headless with a fake flyctl writing ~20 000 entries/s through the
   real runner; time from posting a key to its effect.

Run: python bench/bench_logs.py [--lines N] [--no-ui]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flytui.fly.logs import JsonStreamDecoder, LogBuffer, records_from_objects  # noqa: E402


def entry(i: int) -> dict:
    return {"level": ("info", "warn", "error")[i % 3], "instance": "e286065f969386",
            "message": f"GET /items/{i} 200 in {i % 97} ms", "region": ("iad", "cdg")[i % 2],
            "timestamp": f"2024-05-22T11:04:{i % 60:02d}.123456789Z",
            "meta": {"Instance": "", "Region": "", "Event": {"Provider": "app"},
                     "HTTP": {"Request": {"ID": "", "Method": "", "Version": ""}, "Response": {"status_code": 0}},
                     "Error": {"Code": 0, "Message": ""}, "URL": {"Full": ""}}}


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def throughput(n: int) -> tuple[float, float, float]:
    texts = [json.dumps(entry(i), indent=4) for i in range(n)]
    lines = "\n".join(texts).split("\n")
    best_base = best_pipe = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for s in texts:
            json.loads(s)
        best_base = min(best_base, time.perf_counter() - t)
        t = time.perf_counter()
        dec, buf = JsonStreamDecoder(), LogBuffer(100_000)
        for i in range(0, len(lines), 500):
            buf.extend(records_from_objects(dec.feed_lines(lines[i:i + 500])))
        best_pipe = min(best_pipe, time.perf_counter() - t)
        assert dec.objects == n and dec.garbage == 0
    return best_base, best_pipe, best_base / best_pipe


def memory(total: int, chunk: int = 20_000) -> tuple[int, int]:
    block = "\n".join(json.dumps(entry(i), indent=4) for i in range(chunk)).split("\n")
    dec, buf = JsonStreamDecoder(), LogBuffer(100_000)
    gc.collect()
    start = rss_kb()
    at_full = 0
    done = 0
    while done < total:
        for i in range(0, len(block), 500):
            buf.extend(records_from_objects(dec.feed_lines(block[i:i + 500])))
        done += chunk
        if at_full == 0 and len(buf) == buf.maxlen:
            gc.collect()
            at_full = rss_kb()
    gc.collect()
    return at_full - start, rss_kb() - at_full


async def key_latency() -> tuple[float, float, float]:
    import tempfile

    from textual import events

    from tests.test_logs_screen import LogsApp, make_client, screen_of

    with tempfile.TemporaryDirectory() as d:
        app = LogsApp(make_client(Path(d), FAKE_LOGS="flood"))
        async with app.run_test(size=(120, 30)) as pilot:
            scr = screen_of(app)
            while scr.buffer is None or len(scr.buffer) < 2000:
                await pilot.pause(0.05)
            n0, t0 = scr.buffer.last_seq, time.monotonic()
            lat = []
            for key in ["1", "w", "t", "3"] * 6:
                before = (scr.filter.levels, scr.view.wrap, scr.view.timestamps)
                t = time.perf_counter()
                app.post_message(events.Key(key, key))
                while (scr.filter.levels, scr.view.wrap, scr.view.timestamps) == before:
                    await asyncio.sleep(0.001)
                lat.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)
            rate = (scr.buffer.last_seq - n0) / (time.monotonic() - t0)
            await scr.stop_tail()
    return rate, statistics.median(lat), max(lat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--no-ui", action="store_true")
    a = ap.parse_args()
    base, pipe, ratio = throughput(50_000)
    print(f"throughput: bare json.loads {50_000 / base:,.0f}/s, pipeline {50_000 / pipe:,.0f}/s, "
          f"ratio {ratio:.2f}x (target >= 0.5x)")
    grow_fill, grow_after = memory(a.lines)
    print(f"memory: +{grow_fill / 1024:.1f} MB to fill 100k-line ring, +{grow_after / 1024:.1f} MB more after "
          f"{a.lines:,} lines (ratio growth/fill {grow_after / max(grow_fill, 1):.2f})")
    if not a.no_ui:
        rate, med, worst = asyncio.run(key_latency())
        print(f"flood: {rate:,.0f} entries/s ingested (~{rate * 31:,.0f} text lines/s), key latency median "
              f"{med * 1000:.0f} ms, max {worst * 1000:.0f} ms (target < 100 ms)")


if __name__ == "__main__":
    main()
