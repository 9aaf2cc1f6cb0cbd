"""JsonStreamDecoder, LogRecord, LogBuffer, LogFilter, search (flytui.fly.logs)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from flytui.fly.logs import JsonStreamDecoder, LogBuffer, LogFilter, LogRecord, records_from_objects, search

SAMPLE = (Path(__file__).parent / "fixtures" / "transcripts" / "recon-logs-json.txt").read_text()


def entry(i: int, level: str = "info", region: str = "iad", inst: str = "e286065f969386", msg: str | None = None) -> dict:
    return {"level": level, "instance": inst, "message": msg if msg is not None else f"GET /items/{i} 200",
            "region": region, "timestamp": f"2024-05-22T11:04:{i % 60:02d}.123456789Z",
            "meta": {"Instance": "", "Region": "", "Event": {"Provider": "app"}, "Error": {"Code": 0, "Message": ""}}}


def test_decoder_real_shape_line_by_line() -> None:
    d = JsonStreamDecoder()
    got = []
    for ln in SAMPLE.splitlines():
        got += d.feed_lines([ln])
    assert [o["message"] for o in got] == ["Listening on 0.0.0.0:8080", "GET / 200"]
    assert d.garbage == 0 and not d.in_object


def test_decoder_chunks_split_anywhere() -> None:
    text = SAMPLE * 3
    for size in (1, 7, 64, 1000):
        d = JsonStreamDecoder()
        got = []
        for i in range(0, len(text), size):
            got += d.feed(text[i:i + size])
        got += d.flush()
        assert len(got) == 6, size
        assert d.garbage == 0


def test_decoder_ndjson_and_garbage_counted() -> None:
    d = JsonStreamDecoder()
    lines = ["Update available 0.2.1 -> 0.3.0.", json.dumps(entry(1)), "{ broken json", json.dumps(entry(2)),
             "noise {\"x\": 1}", *json.dumps(entry(3), indent=4).splitlines(), "}", ""]
    got = d.feed_lines(lines)
    assert [o["message"] for o in got] == ["GET /items/1 200", "GET /items/2 200", "GET /items/3 200"]
    assert d.garbage == 4  # banner, broken object, line with a mid-line "{", stray "}"


def test_decoder_truncated_object_then_recovers() -> None:
    d = JsonStreamDecoder()
    half = json.dumps(entry(1), indent=4).splitlines()[:4]
    whole = json.dumps(entry(2), indent=4).splitlines()
    got = d.feed_lines(half)
    assert got == [] and d.in_object
    got = d.feed_lines(whole)
    assert [o["message"] for o in got] == ["GET /items/2 200"]
    assert d.garbage == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=30), st.lists(st.text(max_size=30), max_size=5))
def test_decoder_any_split_any_garbage_never_raises(splits: list[int], junk: list[str]) -> None:
    text = "".join(json.dumps(entry(i), indent=4) + "\n" for i in range(5))
    text = "".join(j.replace("{", "(").replace("}", ")") + "\n" for j in junk) + text
    d = JsonStreamDecoder()
    got, pos, k = [], 0, 0
    while pos < len(text):
        n = splits[k % len(splits)]
        got += d.feed(text[pos:pos + n])
        pos += n
        k += 1
    got += d.flush()
    assert [o["message"] for o in got] == [f"GET /items/{i} 200" for i in range(5)]


def test_record_from_dict_and_error_meta() -> None:
    r = LogRecord.from_dict(entry(4, level="WARNING", msg="line1\nline2"))
    assert (r.level, r.region, r.instance, r.provider) == ("warn", "iad", "e286065f969386", "app")
    assert r.message == "line1 ⏎ line2"
    assert r.time_text == "11:04:04.123"
    assert r.ts == pytest.approx(1716375844.123456)
    e = entry(5)
    e["meta"]["Error"]["Message"] = "upstream timeout"
    assert LogRecord.from_dict(e).message.startswith('error.message="upstream timeout" ')
    long = LogRecord.from_dict(entry(6, msg="x" * 10_000))
    assert len(long.message) == 2000 and long.message.endswith("…")
    odd = LogRecord.from_dict({"level": 3, "message": None})
    assert odd.level == "info" and odd.message == "" and odd.ts == 0.0


def test_buffer_ring_seq_counts() -> None:
    b = LogBuffer(maxlen=5)
    b.extend(records_from_objects([entry(i, level="error" if i % 2 else "info", region="iad" if i < 4 else "cdg")
                                   for i in range(8)]))
    assert len(b) == 5 and b.first_seq == 3 and b.last_seq == 7 and b.dropped == 3
    assert b.levels["error"] == 3 and b.levels["info"] == 2
    assert b.regions["iad"] == 1 and b.regions["cdg"] == 4
    assert [r.seq for r in b.since(5)] == [6, 7]
    assert [r.seq for r in b.since(-1)] == [3, 4, 5, 6, 7]
    b.clear()
    assert len(b) == 0 and b.known(b.levels) == []
    b.append(LogRecord.from_dict(entry(9)))
    assert b.last_seq == 8  # seq keeps increasing after clear


def test_filter_levels_region_machine_text_invert() -> None:
    recs = records_from_objects([
        entry(1, level="error", region="iad", inst="m1", msg="db timeout"),
        entry(2, level="info", region="cdg", inst="m2", msg="GET / 200"),
        entry(3, level="warn", region="iad", inst="m2", msg="slow query TIMEOUT soon"),
    ])
    assert [r.message for r in LogFilter(levels=frozenset({"error", "warn"})).apply(recs)] == ["db timeout", "slow query TIMEOUT soon"]
    assert [r.instance for r in LogFilter(region="iad", machine="m2").apply(recs)] == ["m2"]
    assert len(LogFilter(text="time.?out").apply(recs)) == 2
    assert [r.message for r in LogFilter(text="timeout", invert=True).apply(recs)] == ["GET / 200"]
    assert LogFilter(text="a.b", regex=False).apply(recs) == []
    with pytest.raises(ValueError, match="invalid regular expression"):
        LogFilter(text="([").compile()
    assert LogFilter(levels=frozenset({"error"}), text="x", invert=True).describe() == "level=error !/x/"


def test_search_wraps_both_ways() -> None:
    recs = records_from_objects([entry(i, msg=m) for i, m in enumerate(["a", "hit 1", "b", "hit 2", "c"])])
    assert search(recs, "hit", 0) == 1
    assert search(recs, "hit", 1) == 3
    assert search(recs, "hit", 3) == 1
    assert search(recs, "hit", 1, backward=True) == 3
    assert search(recs, "nope", 0) is None
    assert search([], "x", 0) is None


def test_records_fast_path_matches_from_dict() -> None:
    """records_from_objects (inlined hot path) == LogRecord.from_dict for plain and odd entries alike."""
    objs = [
        {"level": "info", "instance": "m1", "region": "iad", "message": "plain", "timestamp": "2024-05-22T11:04:44Z",
         "meta": {"Event": {"Provider": "app"}, "Error": {"Code": 0, "Message": ""}}},
        {"level": "WARNING", "message": "odd level", "timestamp": "2024-05-22T11:04:44Z", "meta": {}},
        {"level": "error", "message": "boom", "timestamp": "t", "meta": {"Error": {"Message": "db down"}}},
        {"level": "info", "message": "two\nlines", "timestamp": "t", "meta": {"Event": {"Provider": "proxy"}}},
        {"level": "info", "message": 42, "timestamp": 7},
        {"level": "debug", "message": "x" * 5000, "timestamp": "t", "meta": None},
        ["not", "a", "dict"],
    ]
    fast = records_from_objects(objs)
    assert fast == [LogRecord.from_dict(o) for o in objs if isinstance(o, dict)]
    assert [r.level for r in fast] == ["info", "warn", "error", "info", "info", "debug"]
    assert fast[2].message == 'error.message="db down" boom' and fast[3].provider == "proxy"
    assert fast[3].message == "two ⏎ lines" and len(fast[5].message) == 2000
