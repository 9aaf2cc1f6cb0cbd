"""Logs pipeline benchmark: prints ratios.

1. throughput: the decoder ``LogTail`` uses (``RecordStreamDecoder``: msgspec when installed) + LogBuffer over
   a ``fly logs --json``-shaped stream (4-space indented objects, fed as raw text in 32 KiB slices like
   ``LogTail`` does with ``FlyProcess.chunks()``) as a ratio to a bare ``json.loads`` loop over the same objects
   (target ≥ 1.0x). Best of 3 runs (the machine is shared). The generic path (``JsonStreamDecoder`` +
   ``records_from_objects``, the fallback) and the old line path (500-line batches) are printed too.
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
from flytui.fly.logs_fast import RecordStreamDecoder  # noqa: E402


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


def throughput(n: int) -> tuple[float, float, float, float, float, bool]:
    """(bare json.loads s, generic chunk pipeline s, its ratio, line-path ratio, LogTail's decoder ratio,
    msgspec used) over the same n entries."""
    texts = [json.dumps(entry(i), indent=4) for i in range(n)]
    stream = "".join(t + "\n" for t in texts)
    lines = stream.split("\n")
    step = 32 * 1024
    best_base = best_pipe = best_lines = best_fast = float("inf")
    fast_used = RecordStreamDecoder().fast
    for _ in range(3):
        t = time.perf_counter()
        rdec, buf = RecordStreamDecoder(), LogBuffer(100_000)
        for i in range(0, len(stream), step):
            buf.extend(rdec.feed(stream[i:i + step]))
        best_fast = min(best_fast, time.perf_counter() - t)
        assert rdec.objects == n and rdec.garbage == 0 and len(buf) == min(n, 100_000)
        t = time.perf_counter()
        for s in texts:
            json.loads(s)
        best_base = min(best_base, time.perf_counter() - t)
        t = time.perf_counter()
        dec, buf = JsonStreamDecoder(), LogBuffer(100_000)
        for i in range(0, len(stream), step):
            buf.extend(records_from_objects(dec.feed(stream[i:i + step])))
        best_pipe = min(best_pipe, time.perf_counter() - t)
        assert dec.objects == n and dec.garbage == 0
        t = time.perf_counter()
        dec, buf = JsonStreamDecoder(), LogBuffer(100_000)
        for i in range(0, len(lines), 500):
            buf.extend(records_from_objects(dec.feed_lines(lines[i:i + 500])))
        best_lines = min(best_lines, time.perf_counter() - t)
    return best_base, best_pipe, best_base / best_pipe, best_base / best_lines, best_base / best_fast, fast_used


def memory(total: int, chunk: int = 20_000) -> tuple[int, int]:
    block = "".join(json.dumps(entry(i), indent=4) + "\n" for i in range(chunk))
    dec, buf = JsonStreamDecoder(), LogBuffer(100_000)
    gc.collect()
    start = rss_kb()
    at_full = 0
    done = 0
    while done < total:
        for i in range(0, len(block), 32 * 1024):
            buf.extend(records_from_objects(dec.feed(block[i:i + 32 * 1024])))
        done += chunk
        if at_full == 0 and len(buf) == buf.maxlen:
            gc.collect()
            at_full = rss_kb()
    gc.collect()
    return at_full - start, rss_kb() - at_full


async def key_latency() -> tuple[float, float, float, float, float]:
    """(entries/s, flood median, flood p95, idle median, idle p95) from the Pilot test's own helpers."""
    import tempfile

    from tests.test_logs_screen import LogsApp, make_client, measure_keys, screen_of, wait_until

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "rate").write_text("0")
        app = LogsApp(make_client(Path(d), FAKE_LOGS="flood"))
        async with app.run_test(size=(120, 30)) as pilot:
            scr = screen_of(app)
            await wait_until(pilot, lambda: scr.tail_status.state == "connected")
            idle = await measure_keys(app, scr)
            (Path(d) / "rate").write_text("15000")
            await wait_until(pilot, lambda: len(scr.buffer) > 5000)
            n0, t0 = scr.buffer.last_seq, time.monotonic()
            lat = await measure_keys(app, scr)
            rate = (scr.buffer.last_seq - n0) / (time.monotonic() - t0)
            await scr.stop_tail()
    p95 = lambda xs: statistics.quantiles(xs, n=20)[-1]  # noqa: E731
    return rate, statistics.median(lat), p95(lat), statistics.median(idle), p95(idle)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--no-ui", action="store_true")
    a = ap.parse_args()
    base, pipe, ratio, line_ratio, fast_ratio, fast_used = throughput(50_000)
    print(f"throughput: bare json.loads {50_000 / base:,.0f}/s; LogTail's decoder "
          f"({'msgspec' if fast_used else 'json fallback: msgspec not installed'}) {fast_ratio:.2f}x "
          f"(target >= 1.0x); generic json path {ratio:.2f}x ({50_000 / pipe:,.0f}/s); old line path {line_ratio:.2f}x")
    grow_fill, grow_after = memory(a.lines)
    print(f"memory: +{grow_fill / 1024:.1f} MB to fill 100k-line ring, +{grow_after / 1024:.1f} MB more after "
          f"{a.lines:,} lines (ratio growth/fill {grow_after / max(grow_fill, 1):.2f})")
    if not a.no_ui:
        rate, med, p95, med0, p950 = asyncio.run(key_latency())
        print(f"flood: {rate:,.0f} entries/s ingested (~{rate * 31:,.0f} text lines/s), key latency median "
              f"{med * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (idle in the same run: median {med0 * 1000:.0f} ms, "
              f"p95 {p950 * 1000:.0f} ms; target < 100 ms)")

if __name__ == "__main__":
    main()
