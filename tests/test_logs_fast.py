"""RecordStreamDecoder (flytui/fly/logs_fast.py): msgspec fast path == the generic json path, any split, any junk.

Stream shape: ``fly logs --json`` prints 4-space-indented objects back to back (verbatim sample
tests/fixtures/flyctl/recon-logs-json.txt; flyctl internal/command/logs @ ad0172f).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flytui.fly.logs import JsonStreamDecoder, records_from_objects
from flytui.fly.logs_fast import RecordStreamDecoder

SAMPLE = (Path(__file__).parent / "fixtures" / "flyctl" / "recon-logs-json.txt").read_text()


def entry(i: int, **over: object) -> dict:
    e: dict = {"level": ("info", "warn", "error", "WARNING", "notice")[i % 5], "instance": "e286065f969386",
               "message": f"GET /items/{i} 200", "region": ("iad", "cdg")[i % 2],
               "timestamp": f"2024-05-22T11:04:{i % 60:02d}.123456789Z",
               "meta": {"Instance": "", "Region": "", "Event": {"Provider": ("app", "proxy")[i % 2]},
                        "Error": {"Code": 0, "Message": "boom" if i % 4 == 3 else ""}, "URL": {"Full": ""}}}
    e.update(over)
    return e


def generic(pieces: list[str]) -> tuple[list, int]:
    d = JsonStreamDecoder()
    out: list = []
    for p in pieces:
        out += records_from_objects(d.feed(p))
    return out + records_from_objects(d.flush()), d.garbage


def fast(pieces: list[str], **kw: bool) -> tuple[list, int, RecordStreamDecoder]:
    d = RecordStreamDecoder(**kw)
    out: list = []
    for p in pieces:
        out += d.feed(p)
    return out + d.flush(), d.garbage, d


def split(text: str, sizes: list[int]) -> list[str]:
    out, pos, k = [], 0, 0
    while pos < len(text):
        n = sizes[k % len(sizes)]
        out.append(text[pos:pos + n])
        pos, k = pos + n, k + 1
    return out


def test_flyctl_sample_decoded_by_msgspec_like_the_generic_path() -> None:
    pytest.importorskip("msgspec")
    pieces = split(SAMPLE, [32 * 1024])
    want, _ = generic(pieces)
    got, garbage, d = fast(pieces)
    assert d.fast and got == want and garbage == 0 and len(got) >= 2
    assert d._fast_objects == len(got)  # the fast path did the work


def test_without_msgspec_the_json_path_answers(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "msgspec", None)  # import msgspec -> ImportError
    text = "".join(json.dumps(entry(i), indent=4) + "\n" for i in range(20))
    got, garbage, d = fast(split(text, [333]))
    assert not d.fast and got == generic([text])[0] and garbage == 0


def test_odd_values_take_the_generic_rules() -> None:
    odd = [entry(0, message="a\nb"), entry(1, message=None), entry(2, level=7), entry(3, meta="x"),
           entry(4, message="m" * 5000), entry(5, meta={"Event": "x", "Error": {"Message": "e"}}), {"level": "info"}]
    text = "".join(json.dumps(e, indent=4) + "\n" for e in odd)
    assert fast([text])[0] == generic([text])[0]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=20),
       st.lists(st.sampled_from(["Warning: flyctl is old", "{broken", "", "x {", "}", "  ", "{\"level\": 1}"]),
                max_size=6),
       st.booleans())
def test_same_records_and_garbage_as_generic_path(sizes: list[int], junk: list[str], ndjson: bool) -> None:
    parts = []
    for i in range(12):
        parts.append(json.dumps(entry(i)) if ndjson and i % 3 == 0 else json.dumps(entry(i), indent=4))
        if junk and i % 2 == 0:
            parts.append(junk[i % len(junk)])
    text = "\n".join(parts) + "\n"
    pieces = split(text, sizes)
    want, want_garbage = generic(pieces)
    got, garbage, _ = fast(pieces)
    assert got == want and garbage == want_garbage
