"""``FlyProcess.chunks()``: raw decoded text, batched, with the same kill/reap guarantees as ``batches()``.

Uses the runner tests' fake (tests/helpers/fake_flyctl.py) and their /proc survivor checks.
"""
from __future__ import annotations

import asyncio
import json
from itertools import pairwise
import os

import pytest

from flytui.fly.runner import FlyctlRunner, StreamChunk, live_groups
from tests.test_runner import assert_no_survivors, fake, marker, runner, wait_until_marker  # noqa: F401
from tests.helpers.wait import eventually


async def collect(proc, **kw) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    out, err, batches = [], [], 0
    async for batch in proc.chunks(**kw):
        batches += 1
        assert batch and all(isinstance(c, StreamChunk) for c in batch)
        # neighbours of one stream are merged: streams alternate inside a batch
        assert all(a.stream != b.stream for a, b in pairwise(batch))
        for c in batch:
            (out if c.stream == "out" else err).append(c.text)
    return "".join(out), "".join(err), batches


async def test_chunks_flood_loses_nothing_and_is_batched(runner: FlyctlRunner) -> None:
    async with runner.spawn("flood", "200000") as proc:
        out, err, batches = await collect(proc)
        assert await proc.wait() == 0
    assert out == "".join(f"out {i}\n" for i in range(200_000))
    assert err == "".join(f"err {i}\n" for i in range(20_000))
    assert batches < 200  # ~2.7 MB: batched, never a message per line or per read
    assert "out 199999" in proc.tail(3) and "err 19999" in proc.tail(5000)


async def test_chunks_small_max_chars_still_complete(runner: FlyctlRunner) -> None:
    async with runner.spawn("flood", "5000") as proc:
        out, _err, batches = await collect(proc, max_chars=1000, interval=0.01)
    assert out.splitlines() == [f"out {i}" for i in range(5000)] and batches >= 1


async def test_chunks_decode_invalid_utf8_and_keep_crlf(runner: FlyctlRunner) -> None:
    async with runner.spawn("invalid-utf8") as proc:
        out, _err, _ = await collect(proc)
    assert out == "caf\ufffd \ufffd\ufffd ok\nwindows line\r\n"


async def test_chunks_after_lines_were_split_keep_order(runner: FlyctlRunner) -> None:
    """Lines read before the first ``chunks()`` call come first, as text; nothing is lost or duplicated."""
    async with runner.spawn("json-stream", "300") as proc:
        await eventually(lambda: len(proc._pending) > 0, 10, "the readers split some lines already")
        out, err, _ = await collect(proc)
    assert out.startswith("Update available 0.2.50 -> 0.3.0.\n{")
    assert [json.loads("{" + part)["message"] for part in out.split("\n{")[1:]] == [f"line {i}" for i in range(300)]
    assert err.startswith("WARN The running flyctl agent")


async def test_cancelling_a_chunk_consumer_kills_the_group(runner: FlyctlRunner) -> None:
    mark = marker()
    started = asyncio.Event()
    pid = 0

    async def consume() -> None:
        nonlocal pid
        async with runner.spawn("grandchild", mark) as proc:
            pid = proc.pid
            async for _batch in proc.chunks():
                started.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(started.wait(), 5)
    await wait_until_marker(mark, count=2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_survivors(pid, mark)
    assert live_groups() == {}


async def test_leaving_the_block_mid_stream_reaps_everything(runner: FlyctlRunner) -> None:
    mark = marker()
    async with runner.spawn("grandchild", mark) as proc:
        async for batch in proc.chunks():
            assert batch[0].text.startswith("ready ")
            break
        await proc.wait_for("ready", timeout=5)  # matched on the chunk text
    assert proc.returncode is not None and proc.returncode < 0
    await assert_no_survivors(proc.pid, mark)
    assert os.getpid() not in live_groups()
