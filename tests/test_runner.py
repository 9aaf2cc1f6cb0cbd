"""Tests for flytui.fly.runner and flytui.fly.redact against tests/helpers/fake_flyctl.py.

Acceptance criterion checked throughout: after a timeout, a cancellation, a SIGTERM-ignoring child,
an orphaned grandchild or kill_all_children(), **no process survives** (walking /proc for the child's
process group / session id and for a unique marker passed on the command line).
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from flytui.fly import errors
from flytui.fly.redact import MASK, redact_argv, redact_text, secrets_in_argv
from flytui.fly.runner import (
    CHILD_ENV,
    FlyctlRunner,
    Invocation,
    kill_all_children,
    live_groups,
    parse_json_values,
    resolve_flyctl,
)
from tests.helpers.wait import eventually

HELPER = Path(__file__).parent / "helpers" / "fake_flyctl.py"

# Real flyctl error texts, copied verbatim from /work/shared/flyctl/samples/errors.txt (FROM SOURCE lines with
# placeholders filled, VERBATIM lines as pasted) and seed-payment-error.txt (verbatim, flyctl v0.2.50).
ERROR_TEXTS: list[tuple[str, int, type[errors.FlyctlError], str]] = [
    ("Error: no access token available. Please login with 'flyctl auth login'\n", 1, errors.NotLoggedIn,
     "no access token available. Please login with 'flyctl auth login'"),
    ("Error: the app name hello-fastapi could not be found, did you create the app or misspell it in the fly.toml "
     "file or via -a?\n", 1, errors.AppNotFound, "the app name hello-fastapi could not be found"),
    ("Error: machine 148ed599c93d89 currently started, either stop first or use --force flag\n", 1,
     errors.MachineNeedsForce, "machine 148ed599c93d89 currently started, either stop first or use --force flag"),
    ("Error error creating a new machine: failed to launch VM: To create more than 1 machine per app please add a "
     "payment method.\nPlease note that release commands run in their own ephemeral machine, and therefore count "
     "towards the machine limit.\n", 1, errors.PaymentRequired, "error creating a new machine"),
    ("Error: We need your payment information to continue! Add a credit card or buy credit: "
     "https://fly.io/dashboard/<account-name>/billing\n", 1, errors.PaymentRequired,
     "We need your payment information to continue!"),
    ("deploy updated application\nUsage:\nError: unknown flag: --restart\n", 1, errors.FlyctlError,
     "unknown flag: --restart"),
    ("Error: failed to fetch an image or build from source: error building: exit code 1\n", 1, errors.FlyctlError,
     "failed to fetch an image or build from source"),
    ("Error: app hello-fastapi has no started VMs.\nIt may be unhealthy or not have been deployed yet.\n"
     "Try the following command to verify:\n\nfly status\n", 1, errors.FlyctlError,
     "app hello-fastapi has no started VMs."),
    ("Error: prompt: non interactive\n", 1, errors.FlyctlError, "prompt: non interactive"),
    ("Error 1 error occurred:\n\t* No deployment available\n", 1, errors.FlyctlError, "1 error occurred:"),
    # not verbatim (no real 429 sample exists): flaps error shape with a Request ID
    ("Error: failed to list machines: rate limit exceeded (Request ID: 01J0ABCDEF-iad)\n", 1, errors.RateLimited,
     "rate limit exceeded"),
    ("Error: context deadline exceeded\n", 126, errors.FlyctlTimeout, "context deadline exceeded"),
]


# ------------------------------------------------------------------------------------------ helpers


@pytest.fixture
def fake(tmp_path: Path) -> str:
    """An executable `fly` that runs the fake with the venv's Python."""
    exe = tmp_path / "bin" / "fly"
    exe.parent.mkdir()
    exe.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(HELPER)!r}, run_name='__main__')\n"
    )
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture
def runner(fake: str) -> FlyctlRunner:
    return FlyctlRunner(fake, default_timeout=20.0, grace=0.5)


def marker() -> str:
    return f"flytui-test-{uuid.uuid4().hex}"


def _procs() -> list[tuple[int, str, int, int, str]]:
    """(pid, state, pgrp, session, cmdline) for every process visible in /proc.

    Zombies are dead processes; they count only when they are *our* unreaped children
    (orphaned grandchildren are init's to reap).
    """
    rows = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) != os.getpid():
            continue
        rows.append((int(entry), fields[0], int(fields[2]), int(fields[3]), cmd))
    return rows


def survivors(group: int | None, mark: str | None) -> list[str]:
    return [
        f"pid={pid} state={state} pgrp={pgrp} sid={sid} cmd={cmd!r}"
        for pid, state, pgrp, sid, cmd in _procs()
        if pid != os.getpid()
        and ((group is not None and (pgrp == group or sid == group)) or (mark is not None and mark in cmd))
    ]


async def assert_no_survivors(group: int | None, mark: str | None, within: float = 2.0) -> None:
    """Nothing of the child's group/session and nothing carrying the marker (zombies included)."""
    deadline = time.monotonic() + within
    while True:
        left = survivors(group, mark)
        if not left:
            return
        if time.monotonic() > deadline:
            pytest.fail("processes survived: " + "; ".join(left))
        await asyncio.sleep(0.05)


async def wait_until_marker(mark: str, count: int = 1, within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pids = [pid for pid, _s, _g, _sid, cmd in _procs() if mark in cmd and pid != os.getpid()]
        if len(pids) >= count:
            return pids
        await asyncio.sleep(0.02)
    pytest.fail(f"no process with marker {mark}")


# ------------------------------------------------------------------------------------------ run


async def test_run_success(runner: FlyctlRunner, fake: str) -> None:
    done = await runner.run("print", "hello", "world")
    assert done.returncode == 0
    assert done.stdout == "hello\nworld\n"
    assert done.stderr == ""
    assert done.argv == [fake, "print", "hello", "world"]
    assert done.duration > 0
    assert live_groups() == {}


async def test_child_env_and_stdin_never_the_terminal(fake: str) -> None:
    runner = FlyctlRunner(fake, env={"FLY_APP": "hello-fastapi", "NO_COLOR": "1"})
    names = ["FLY_NO_UPDATE_CHECK", "NO_COLOR", "CLICOLOR", "FLY_APP", "PATH"]
    got = await runner.run_json("env", *names)
    assert got["env"] == {**CHILD_ENV, "FLY_APP": "hello-fastapi", "PATH": os.environ["PATH"]}
    assert got["stdin_isatty"] is False
    assert got["stdin_readable"] == "devnull"
    piped = await runner.run_json("env", "NO_COLOR", stdin=b"")
    assert piped["stdin_readable"] == "pipe" and piped["stdin_isatty"] is False


async def test_stdin_bytes_reach_the_child(runner: FlyctlRunner) -> None:
    payload = b"DATABASE_URL=postgres://app:s3cret@db.internal:5432/app\n" * 5000  # > pipe buffer
    done = await runner.run("stdin", stdin=payload)
    assert done.stdout.encode() == payload


@pytest.mark.parametrize(("stderr", "code", "cls", "message"), ERROR_TEXTS, ids=[t[2].__name__ + str(i) for i, t in enumerate(ERROR_TEXTS)])
async def test_nonzero_exit_is_classified(
    runner: FlyctlRunner, tmp_path: Path, stderr: str, code: int, cls: type, message: str
) -> None:
    text = tmp_path / "stderr.txt"
    text.write_text(stderr)
    with pytest.raises(errors.FlyctlError) as info:
        await runner.run("fail", str(code), str(text))
    err = info.value
    assert type(err) is cls
    assert err.returncode == code
    assert message in err.message
    assert err.stderr == stderr
    assert err.argv[1:] == ["fail", str(code), str(text)]
    assert err.hint
    if cls is errors.PaymentRequired:
        assert err.billing_url and err.billing_url.startswith("https://fly.io/dashboard/")


async def test_check_false_returns_the_failure(runner: FlyctlRunner, tmp_path: Path) -> None:
    text = tmp_path / "e.txt"
    text.write_text("Error: prompt: non interactive\n")
    done = await runner.run("fail", "3", str(text), check=False)
    assert done.returncode == 3
    assert done.stderr == "Error: prompt: non interactive\n"


# ------------------------------------------------------------------------------------------ killing


async def test_timeout_kills_the_whole_group(runner: FlyctlRunner) -> None:
    mark = marker()
    t0 = time.monotonic()
    with pytest.raises(errors.FlyctlTimeout) as info:
        await runner.run("grandchild", mark, timeout=1.0)
    assert time.monotonic() - t0 < 4
    assert "grandchild" in info.value.message and "1 s" in info.value.message
    assert "ready" in info.value.stdout  # partial output kept
    await assert_no_survivors(None, mark)
    assert live_groups() == {}


async def test_cancellation_kills_the_group_and_reraises(runner: FlyctlRunner) -> None:
    mark = marker()
    task = asyncio.ensure_future(runner.run("grandchild", mark, timeout=30))
    pids = await wait_until_marker(mark)  # the grandchild (its argv carries the marker) is up
    group = os.getpgid(pids[0])
    assert group in live_groups()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_survivors(group, mark)
    assert live_groups() == {}


async def test_sigterm_ignored_gets_sigkill(fake: str) -> None:
    runner = FlyctlRunner(fake, grace=0.5)
    mark = marker()
    t0 = time.monotonic()
    with pytest.raises(errors.FlyctlTimeout) as info:
        await runner.run("ignore-term", mark, timeout=0.5)
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 3.5, elapsed  # timeout + grace, then SIGKILL
    assert info.value.returncode == -9
    await assert_no_survivors(None, mark)


async def test_orphaned_grandchild_is_killed_after_normal_exit(runner: FlyctlRunner) -> None:
    """The child exits 0 but leaves a SIGTERM-ignoring grandchild holding its pipes."""
    mark = marker()
    t0 = time.monotonic()
    done = await runner.run("grandchild-exit", mark, timeout=10)
    assert done.returncode == 0 and done.stdout.startswith("ready ")
    assert time.monotonic() - t0 < 4
    await assert_no_survivors(None, mark)


async def test_flyprocess_exit_kills_group(runner: FlyctlRunner) -> None:
    mark = marker()
    async with runner.spawn("grandchild", mark) as proc:
        m = await proc.wait_for(r"ready (\d+)", timeout=5)
        grandchild = int(m.group(1))
        assert os.getpgid(grandchild) == proc.pid
        assert proc.returncode is None
    assert proc.returncode == -15
    await assert_no_survivors(proc.pid, mark)
    assert live_groups() == {}


async def test_kill_all_children(runner: FlyctlRunner) -> None:
    mark = marker()
    proc = await runner.spawn("grandchild", mark).start()
    await proc.wait_for("ready", timeout=5)
    assert proc.pid in live_groups()
    assert kill_all_children() >= 1
    assert await asyncio.wait_for(proc.wait(), 5) == -9
    await proc.close()
    await assert_no_survivors(proc.pid, mark)


# ------------------------------------------------------------------------------------------ run_json


async def test_run_json_tolerates_warnings_and_decodes_back_to_back_objects(runner: FlyctlRunner) -> None:
    many = await runner.run_json("json-stream", "3")
    assert [entry["message"] for entry in many] == ["line 0", "line 1", "line 2"]
    one = await runner.run_json("json-stream", "1")
    assert one["meta"]["Event"]["Provider"] == "app"


async def test_run_json_adds_json_flag_once(runner: FlyctlRunner) -> None:
    assert (await runner.run_json("env"))["argv"] == ["env", "--json"]
    assert (await runner.run_json("env", "-j"))["argv"] == ["env", "-j"]
    assert (await runner.run_json("env", "--json"))["argv"] == ["env", "--json"]


async def test_run_json_garbage_and_empty(runner: FlyctlRunner, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("NAME   OWNER   STATUS\nhello  personal deployed\n")
    with pytest.raises(errors.FlyctlOutputError) as info:
        await runner.run_json("stdout-file", str(garbage))
    assert "hello  personal deployed"[:5] in info.value.message and "--json" in info.value.message
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(errors.FlyctlOutputError, match="no output"):
        await runner.run_json("stdout-file", str(empty))


def test_parse_json_values_shapes() -> None:
    logs = '{\n    "a": 1,\n    "n": {\n        "b": [\n            {\n                "c": 2\n            }\n        ]\n    }\n}\n{\n    "a": 2\n}\n'
    assert parse_json_values(logs) == [{"a": 1, "n": {"b": [{"c": 2}]}}, {"a": 2}]
    assert parse_json_values("null\n") == [None]
    assert parse_json_values("[]\n") == [[]]
    assert parse_json_values('{"Name":"fly","Version":"0.2.50"}\n') == [{"Name": "fly", "Version": "0.2.50"}]
    assert parse_json_values("[remote] builder ready\n[\n    1\n]\n") == [[1]]
    with pytest.raises(errors.FlyctlOutputError, match="truncated"):
        parse_json_values('{\n    "a": 1\n}\n{\n    "a": ')


# ------------------------------------------------------------------------------------------ streaming


async def test_batches_under_flood_lose_nothing(runner: FlyctlRunner) -> None:
    n = 200_000
    out: list[str] = []
    err: list[str] = []
    batch_count = 0
    async with runner.spawn("flood", str(n)) as proc:
        async for batch in proc.batches(max_batch=500):
            assert 0 < len(batch) <= 500
            batch_count += 1
            for line in batch:
                (out if line.stream == "out" else err).append(line.text)
        assert await proc.wait() == 0
    assert out == [f"out {i}" for i in range(n)]
    assert err == [f"err {i}" for i in range(n // 10)]
    assert batch_count < (n + n // 10) / 100


async def test_slow_consumer_with_small_buffer_loses_nothing(runner: FlyctlRunner) -> None:
    n = 20_000
    seen = 0
    async with runner.spawn("flood", str(n), max_buffer=200) as proc:
        async for batch in proc.batches(max_batch=100, interval=0.01):
            seen += len(batch)
            assert len(proc._pending) <= 200 + 20_000  # bounded by cap + one read chunk
            await asyncio.sleep(0.001)
    assert seen == n + n // 10


async def test_huge_line_without_newline_is_capped(runner: FlyctlRunner) -> None:
    async with runner.spawn("huge", str(5_000_000), max_line=1000) as proc:
        lines = [line async for batch in proc.batches() for line in batch]
    assert [len(line.text) for line in lines] == [1000, 3]
    assert lines[0].text == "x" * 999 + "…"
    assert lines[1].text == "end"


async def test_invalid_utf8_is_replaced(runner: FlyctlRunner) -> None:
    async with runner.spawn("invalid-utf8") as proc:
        texts = [line.text async for batch in proc.batches() for line in batch]
    assert texts == ["caf\ufffd \ufffd\ufffd ok", "windows line"]
    done = await runner.run("invalid-utf8")
    assert "caf\ufffd" in done.stdout


async def test_wait_for_readiness_line(runner: FlyctlRunner) -> None:
    ready = "Proxying localhost:15432 to remote [db.internal]:5432"
    async with runner.spawn("late-ready", "0.3", ready, kind="long") as proc:
        m = await proc.wait_for(r"Proxying localhost:(\d+) to remote \[(.+)\]:(\d+)", timeout=5)
        assert m.groups() == ("15432", "db.internal", "5432")
        assert "Starting agent..." in proc.tail()
        with pytest.raises(errors.FlyctlTimeout, match="never"):
            await proc.wait_for("never", timeout=0.2)
        assert proc.returncode is None  # a wait_for timeout leaves the process to its owner


async def test_wait_for_raises_classified_error_when_process_exits_first(runner: FlyctlRunner, tmp_path: Path) -> None:
    text = tmp_path / "e.txt"
    text.write_text("Error: listen tcp 127.0.0.1:15432: bind: address already in use\n")
    async with runner.spawn("fail", "1", str(text)) as proc:
        with pytest.raises(errors.FlyctlError) as info:
            await proc.wait_for("Proxying", timeout=5)
    assert "address already in use" in info.value.message
    assert info.value.returncode == 1
    text.write_text("Error: no access token available. Please login with 'flyctl auth login'\n")
    async with runner.spawn("fail", "1", str(text)) as proc:
        with pytest.raises(errors.NotLoggedIn):
            await proc.wait_for("Proxying", timeout=5)


# ------------------------------------------------------------------------------------------ flyctl lookup


def test_flyctl_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: str) -> None:
    monkeypatch.delenv("FLYTUI_FLYCTL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(errors.FlyctlNotFound) as info:
        resolve_flyctl()
    assert "`fly`" in info.value.message and "`flyctl`" in info.value.message
    assert info.value.hint
    with pytest.raises(errors.FlyctlNotFound, match="--flyctl"):
        resolve_flyctl(str(tmp_path / "nope"))
    plain = tmp_path / "not-executable"
    plain.write_text("")
    monkeypatch.setenv("FLYTUI_FLYCTL", str(plain))
    with pytest.raises(errors.FlyctlNotFound, match="FLYTUI_FLYCTL"):
        resolve_flyctl()
    monkeypatch.setenv("FLYTUI_FLYCTL", fake)
    assert resolve_flyctl() == fake
    assert resolve_flyctl(fake) == fake
    monkeypatch.delenv("FLYTUI_FLYCTL")
    monkeypatch.setenv("PATH", str(Path(fake).parent))
    assert resolve_flyctl() == fake


async def test_runner_raises_not_found_lazily(tmp_path: Path) -> None:
    runner = FlyctlRunner(str(tmp_path / "missing-fly"))  # constructing never fails
    with pytest.raises(errors.FlyctlNotFound):
        await runner.run("version")


# ------------------------------------------------------------------------------------------ redaction


def test_redact_argv() -> None:
    argv = [
        "fly", "secrets", "set", "DATABASE_URL=postgres://app:pw1@db.internal:5432/app", "API_KEY=abc123",
        "-a", "hello", "--access-token", "tok-1", "-t", "tok-2", "--access-token=tok-3", "--env=SECRET=x9",
        "postgres://u:hunter2@h:5432/db", "-C", "env TOKEN=zzz alembic upgrade head", "--app=hello",
        "FlyV1 fm2_lJPECAAAAAAAAAAAAAAAAAAA",
    ]
    shown = redact_argv(argv)
    assert shown == [
        "fly", "secrets", "set", f"DATABASE_URL={MASK}", f"API_KEY={MASK}", "-a", "hello", "--access-token",
        MASK, "-t", MASK, f"--access-token={MASK}", f"--env=SECRET={MASK}", f"postgres://u:{MASK}@h:5432/db",
        "-C", f"env TOKEN={MASK} alembic upgrade head", "--app=hello", MASK,
    ]
    for secret in ("pw1", "abc123", "tok-1", "tok-2", "tok-3", "x9", "hunter2", "zzz", "fm2_lJPE"):
        assert secret not in " ".join(shown)
    assert set(secrets_in_argv(argv)) >= {"abc123", "tok-1", "tok-2", "tok-3", "x9", "hunter2"}


def test_redact_keeps_the_stdin_marker_of_secrets_set() -> None:
    """`fly secrets set NAME=- --stage` (value on stdin, secrets/set.go): the dash is shown, and is not a
    'secret' that would mask every dash of flyctl's stderr."""
    argv = ["fly", "secrets", "set", "API_KEY=-", "--stage", "-a", "hello"]
    assert redact_argv(argv) == argv
    assert secrets_in_argv(argv) == []


def test_redact_text() -> None:
    text = "connecting to postgresql+psycopg://app:pa55@127.0.0.1:15432/app with key abc123 and abc1234"
    out = redact_text(text, ["abc123", "abc1234", ""])
    assert out == f"connecting to postgresql+psycopg://app:{MASK}@127.0.0.1:15432/app with key {MASK} and {MASK}"


async def test_listeners_and_logs_never_see_secrets(
    runner: FlyctlRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Invocation] = []
    runner.add_listener(seen.append)
    runner.add_listener(lambda inv: 1 / 0)  # a broken listener does not break the call
    stderr = tmp_path / "e.txt"
    stderr.write_text("Error: could not set DATABASE_URL=postgres://app:pw-42@db:5432/x (value s3cr3t-value)\n")
    caplog.set_level(logging.DEBUG, logger="flytui.fly.runner")
    with pytest.raises(errors.FlyctlError) as info:
        await runner.run("fail", "1", str(stderr), "API_KEY=s3cr3t-value", "-t", "tok-xyz",
                         stdin=b"OTHER=stdin-only-secret\n")
    await runner.run("stdin", stdin=b"OTHER=stdin-only-secret\n")
    assert [inv.returncode for inv in seen] == [None, 1, None, 0]
    assert seen[0].duration is None and seen[1].duration is not None and seen[0].kind == "run"
    assert f"API_KEY={MASK}" in seen[0].argv
    assert "could not set" in seen[1].stderr_tail
    dumped = repr(seen) + caplog.text + repr(info.value.argv) + info.value.stderr + info.value.message
    for secret in ("s3cr3t-value", "tok-xyz", "pw-42", "stdin-only-secret"):
        assert secret not in dumped
    assert "API_KEY=" + MASK in caplog.text


async def test_stream_invocations_are_logged(runner: FlyctlRunner) -> None:
    seen: list[Invocation] = []
    runner.add_listener(seen.append)
    async with runner.spawn("print", "x", "TOKEN=abc", kind="stream") as proc:
        [line async for batch in proc.batches() for line in batch]
        await proc.wait()
    await eventually(lambda: len(seen) >= 2, 10, "the end of the stream logged")
    assert [(inv.kind, inv.returncode) for inv in seen] == [("stream", None), ("stream", 0)]
    assert seen[0].argv[-1] == f"TOKEN={MASK}" and proc.argv[-1] == f"TOKEN={MASK}"


async def test_flyprocess_terminate_escalates_to_sigkill(runner: FlyctlRunner) -> None:
    mark = marker()
    async with runner.spawn("ignore-term", mark) as proc:
        await proc.wait_for("ready", timeout=5)
        t0 = time.monotonic()
        await proc.terminate(grace=0.3)
        assert 0.25 <= time.monotonic() - t0 < 2.5
        assert proc.returncode == -9
        assert "ready" in proc.tail()
    await assert_no_survivors(proc.pid, mark)


async def test_cancelling_a_streaming_consumer_kills_the_group(runner: FlyctlRunner) -> None:
    mark = marker()
    started = asyncio.Event()
    pid = 0

    async def consume() -> None:
        nonlocal pid
        async with runner.spawn("grandchild", mark) as proc:
            pid = proc.pid
            async for _batch in proc.batches():
                started.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(started.wait(), 5)
    await wait_until_marker(mark)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_survivors(pid, mark)
    assert live_groups() == {}


@pytest.mark.parametrize("ticks", [0, 1, 2, 3, 5, 8])
async def test_cancel_while_starting_leaves_nothing(runner: FlyctlRunner, ticks: int) -> None:
    """Cancelled at any point of the start-up (the child may exist before exec returns)."""
    mark = marker()
    task = asyncio.ensure_future(runner.run("grandchild", mark, timeout=30))
    for _ in range(ticks):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_survivors(None, mark)
    assert live_groups() == {}


# ------------------------------------------------------------------------------------ interactive


def test_run_interactive_returns_the_exit_code_and_is_logged_redacted(runner: FlyctlRunner, tmp_path: Path) -> None:
    """`fly auth login` / `fly ssh console` run on the terminal; listeners see them like any call, redacted."""
    seen: list = []
    runner.add_listener(seen.append)
    err = tmp_path / "err.txt"
    err.write_text("Error: boom\n")
    assert runner.run_interactive("fail", "3", str(err), "API_KEY=s3cr3t-value") == 3
    assert [inv.returncode for inv in seen] == [None, 3]
    assert all(inv.kind == "interactive" for inv in seen)
    assert not any("s3cr3t-value" in " ".join(inv.argv) for inv in seen)
    assert runner.run_interactive("print", "hello") == 0
    with pytest.raises(errors.FlyctlNotFound):
        FlyctlRunner(str(tmp_path / "missing-flyctl")).run_interactive("version")
