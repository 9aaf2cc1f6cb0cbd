"""Issue 8, property 3: bad flyctl output never crashes flytui.

A seeded fuzzer derives >= 1000 cases from the real flyctl outputs in tests/fixtures/flyctl/ (truncated
JSON, garbage, wrong types, missing/unknown fields, huge lines, invalid UTF-8, no output, exit codes
without text, hangs) and replays each through the real ``FlyctlRunner`` + ``FlyClient`` with a /bin/sh
'flyctl' that prints the case. Every case must end in a parsed result or a ``FlyError`` with a message;
any other exception is a crash. A sample of cases also goes through the running Textual app (Pilot):
the failure is a notification and the next refresh works.
"""
from __future__ import annotations

import asyncio
import copy
import json
import random
import re
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.errors import FlyError
from flytui.fly.runner import FlyctlRunner
from tests.helpers.wait import until as wait_until

pytestmark = pytest.mark.reliability

FIXTURES = Path(__file__).parent / "fixtures" / "flyctl"
SEED = 20240522
CASES = 1000
HANGS = 4  # each costs the timeout, keep few
CONCURRENCY = 8

FAKE = """#!/bin/sh
c="$FUZZ_CASE"
[ -f "$c.hang" ] && exec sleep 600
[ -f "$c.out" ] && cat "$c.out"
[ -f "$c.err" ] && cat "$c.err" >&2
exit "$(cat "$c.code")"
"""

#: client call -> the real flyctl output it parses
CALLS: dict[str, tuple[Callable[[FlyClient], Any], str]] = {
    "apps": (lambda c: c.apps(), "recon-apps-list.json"),
    "machines": (lambda c: c.machines("recon-app"), "recon-machine-list.json"),
    "secrets": (lambda c: c.secrets("recon-app"), "recon-secrets-list.json"),
    "status": (lambda c: c.status("recon-app"), "recon-status.json"),
    "version": (lambda c: c.version(), "recon-version.json"),
    "checks": (lambda c: c.checks("recon-app"), "recon-checks-list.json"),
}


# ---------------------------------------------------------------------------------- generator
def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += _paths(v, prefix + (i,))
    return out


def _set(value: Any, path: tuple, new: Any, delete: bool = False) -> Any:
    if not path:
        return new
    root = copy.deepcopy(value)
    node = root
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = new
    return root


WRONG = [None, 0, -1, 3.5, True, "", "x" * 50, [], {}, [1, "a"], {"a": None}, "2024-13-45T99:99:99Z", 10**30]


def make_case(rng: random.Random, good: Any, good_text: str) -> dict[str, Any]:
    """One case: stdout bytes, stderr bytes, exit code, hang flag, and its kind."""
    kind = rng.choice(["truncated", "garbage", "wrong_type", "missing", "unknown", "huge", "utf8", "empty",
                       "exit_no_text", "exit_with_json", "mixed", "scalar"])
    out, err, code = good_text.encode(), b"", 0
    if kind == "truncated":
        out = out[: rng.randrange(1, max(2, len(out)))]
    elif kind == "garbage":
        out = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    elif kind == "wrong_type":
        path = rng.choice(_paths(good))
        out = json.dumps(_set(good, path, rng.choice(WRONG))).encode()
    elif kind == "missing":
        path = rng.choice(_paths(good)[1:] or [()])
        out = json.dumps(_set(good, path, None, delete=True)).encode()
    elif kind == "unknown":
        path = rng.choice([p for p in _paths(good) if p] or [()])
        parent = path[:-1]
        node = good
        for key in parent:
            node = node[key]
        if isinstance(node, dict):
            out = json.dumps(_set(good, parent + (f"Unknown{rng.randrange(99)}",), rng.choice(WRONG))).encode()
    elif kind == "huge":
        out = b"x" * rng.choice([70_000, 300_000, 1_200_000]) + (b"\n" + out if rng.random() < 0.5 else b"")
    elif kind == "utf8":
        pos = rng.randrange(len(out) + 1)
        out = out[:pos] + rng.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]) + out[pos:]
    elif kind == "empty":
        out = b""
    elif kind == "exit_no_text":
        out, code = b"", rng.choice([1, 2, 126, 127, 130, 137, 255])
    elif kind == "exit_with_json":
        code = rng.choice([1, 2])
        err = rng.choice([b"", b"Error: something failed\n", b"\xff\xfe garbage\n"])
    elif kind == "mixed":
        out = b"Warning: flyctl update available\n" + out[: rng.randrange(1, max(2, len(out)))] + b"\n{\"a\":"
        err = b"\x1b[33mWARN\x1b[0m noisy\n"
    elif kind == "scalar":
        out = rng.choice([b"null", b"42", b"\"text\"", b"true", b"[]", b"{}", b"[null]", b"[[]]"])
    return {"kind": kind, "out": out, "err": err, "code": code, "hang": False}


def generate(n: int, seed: int = SEED) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    goods = {name: (json.loads((FIXTURES / f).read_text()), (FIXTURES / f).read_text()) for name, (_, f) in CALLS.items()}
    cases = []
    for _ in range(n):
        name = rng.choice(sorted(CALLS))
        cases.append((name, make_case(rng, *goods[name])))
    for i in range(HANGS):
        cases.append((sorted(CALLS)[i % len(CALLS)], {"kind": "hang", "out": b"", "err": b"", "code": 0, "hang": True}))
    return cases


# ---------------------------------------------------------------------------------- replay
@pytest.fixture
def fuzz_flyctl(tmp_path: Path) -> str:
    exe = tmp_path / "fuzz-flyctl"
    exe.write_text(FAKE)
    exe.chmod(0o755)
    return str(exe)


def write_case(base: Path, case: dict[str, Any]) -> None:
    base.with_suffix(".out").write_bytes(case["out"])
    base.with_suffix(".err").write_bytes(case["err"])
    base.with_suffix(".code").write_text(str(case["code"]))
    if case["hang"]:
        base.with_suffix(".hang").write_text("")


async def replay(flyctl: str, base: Path, name: str, case: dict[str, Any]) -> str:
    """'ok', 'error' (FlyError with a message) or 'crash: ...'."""
    write_case(base, case)
    runner = FlyctlRunner(flyctl, env={"FUZZ_CASE": str(base)}, default_timeout=0.5 if case["hang"] else 20,
                          grace=0.2)
    try:
        await CALLS[name][0](FlyClient(runner))
    except FlyError as exc:
        if not (exc.message and exc.message.strip()):
            return f"crash: {type(exc).__name__} without a message"
        return "error"
    except Exception as exc:  # noqa: BLE001 - exactly what this test hunts
        return f"crash: {type(exc).__name__}: {exc}"
    return "ok"


async def test_thousand_generated_outputs_end_in_a_result_or_a_clear_error(reliability, fuzz_flyctl: str,
                                                                           tmp_path: Path) -> None:
    cases = generate(CASES)
    sem = asyncio.Semaphore(CONCURRENCY)
    outcomes: list[tuple[str, str, str]] = []

    async def one(i: int, name: str, case: dict[str, Any]) -> None:
        async with sem:
            outcome = await replay(fuzz_flyctl, tmp_path / f"case{i}", name, case)
            outcomes.append((name, case["kind"], outcome))

    t0 = time.monotonic()
    await asyncio.gather(*(one(i, n, c) for i, (n, c) in enumerate(cases)))
    crashes = [o for o in outcomes if o[2].startswith("crash")]
    reliability.add("fuzz cases run", len(outcomes))
    reliability.add("crashes", len(crashes))
    assert len(outcomes) >= 1000
    assert crashes == [], crashes[:20]
    kinds = {k for _, k, o in outcomes if o == "error"}
    # every kind of bad output was exercised and produced clear errors (hangs -> FlyctlTimeout)
    assert {"truncated", "garbage", "empty", "exit_no_text", "hang", "huge", "wrong_type"} <= kinds, kinds
    assert time.monotonic() - t0 < 120


async def test_bad_output_in_the_running_app_is_a_notification_and_refresh_recovers(reliability, fuzz_flyctl: str,
                                                                                   tmp_path: Path) -> None:
    """A sample of cases through the Textual app: a clear notification each time, then a good refresh works."""
    from flytui.ui.app import FlytuiApp
    from flytui.ui.config import Config

    base = tmp_path / "live"
    good = {"kind": "good", "out": (FIXTURES / "recon-apps-list.json").read_bytes(), "err": b"", "code": 0,
            "hang": False}
    write_case(base, good)
    runner = FlyctlRunner(fuzz_flyctl, env={"FUZZ_CASE": str(base)}, default_timeout=1.0, grace=0.2)
    class RecordingApp(FlytuiApp):
        notes: list[tuple[str, str]] = []

        def notify(self, message, *, severity="information", **kw):  # type: ignore[no-untyped-def, override]
            self.notes.append((str(severity), str(message)))
            return super().notify(message, severity=severity, **kw)

    app = RecordingApp(Config(refresh_interval=600), FlyClient(runner))
    rng = random.Random(SEED + 1)
    goods = json.loads(good["out"]), good["out"].decode()
    def case(kind: str, data: Any) -> dict[str, Any]:
        return {"kind": kind, "out": json.dumps(data).encode(), "err": b"", "code": 0, "hang": False}

    sample = [make_case(rng, *goods) for _ in range(4)] + [
        case("missing", _set(goods[0], (0, "Name"), None, delete=True)),  # a required field
        case("wrong_type", _set(goods[0], (0, "Name"), 42)),
        {"kind": "hang", "out": b"", "err": b"", "code": 0, "hang": True},
        {"kind": "exit_no_text", "out": b"", "err": b"", "code": 2, "hang": False},
        {"kind": "garbage", "out": b"\xff\xfe\x00 <html>502</html>", "err": b"", "code": 0, "hang": False},
    ]
    async with app.run_test(size=(140, 40)) as pilot:
        apps = app.main.query_one("#apps")

        async def until(cond, timeout: float = 10.0) -> bool:
            """True once ``cond()`` holds, False after ``timeout`` (a case may also parse: no error to wait for)."""
            try:
                return await wait_until(pilot, cond, timeout=timeout)
            except AssertionError:
                return bool(cond())

        assert await until(lambda: len(apps.table.rows_data) > 0)
        expected = set(apps.table.rows_data)
        failures = 0
        for case in sample:
            for suffix in (".hang",):
                base.with_suffix(suffix).unlink(missing_ok=True)
            write_case(base, case)
            errors_before = [m for sev, m in app.notes if sev == "error"]
            await pilot.press("r")
            got_error = await until(lambda: len([m for sev, m in app.notes if sev == "error"])
                                    > len(errors_before), 8.0)
            reliability.add("fuzz cases run")
            # a good-enough case may parse (unknown fields...); otherwise the user is told clearly
            if got_error:
                message = [m for sev, m in app.notes if sev == "error"][-1]
                assert message.strip() and "Traceback" not in message
                # a FlyError's own sentence + hint, not a Python exception name (report_error's fallback)
                assert not re.match(r"\w+(Error|Exception)\b:?", message), message
                failures += 1
            assert app.is_running
            # the next refresh with good output works
            base.with_suffix(".hang").unlink(missing_ok=True)
            write_case(base, good)
            await pilot.press("r")
            assert await until(lambda: set(apps.table.rows_data) == expected), case["kind"]
        assert app.is_running
        assert failures >= 3  # at least the hang, the bare exit code and the garbage were reported
