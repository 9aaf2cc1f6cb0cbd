"""Issue 8, properties 2 and 4 (part): secrets never leak; flyctl faults end in guided errors.

Secrets: while secrets are set/unset and DATABASE_URL is fixed through the client paths the UI uses, a
thread samples every /proc/*/cmdline; flytui's logging is captured at DEBUG; the sandbox argv.log, the
snapshot SVGs under tests/ and the messages of injected failures are grepped for the values.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.errors import FlyctlNotFound, FlyError, NotLoggedIn, PaymentRequired, RateLimited
from flytui.fly.runner import FlyctlRunner

pytestmark = pytest.mark.reliability

SECRET = "rel-s3cret-Zq9xKp27"
DB_PASSWORD = "rel-dbpw-M4nX0a81"
DB_URL = f"postgres://app:{DB_PASSWORD}@flytui-demo-db.flycast:5432/app?sslmode=disable"
FIXED_URL = DB_URL.replace("postgres://", "postgresql+psycopg://", 1)
VALUES = (SECRET, DB_PASSWORD)


def _scan(stop: threading.Event, hits: list[str], samples: list[int]) -> None:
    needles = [v.encode() for v in VALUES]
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                data = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            hits.extend(f"{pid}: {data[:120]!r}" for n in needles if n in data)
        samples[0] += 1
        time.sleep(0.002)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_secret_values_never_leak(sandbox, reliability) -> None:
    sandbox.create_app("alpha", deployed=True)
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    capture = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    stop, hits, samples = threading.Event(), [], [0]
    scanner = threading.Thread(target=_scan, args=(stop, hits, samples), daemon=True)
    scanner.start()
    errors: list[str] = []
    try:
        await client.set_secrets("alpha", {"API_KEY": SECRET}, stage=True)
        await client.set_secrets("alpha", {"DATABASE_URL": DB_URL}, stage=True)
        await client.set_secrets("alpha", {"DATABASE_URL": FIXED_URL}, stage=True)  # the DATABASE_URL fix
        assert {s.name for s in await client.secrets("alpha")} >= {"API_KEY", "DATABASE_URL"}
        for fault in ({"fail": f"could not set API_KEY={SECRET}", "exit": 1}, {"rate_limited": True},
                      {"garbage": True}):
            sandbox.inject_fault("secrets import", times=1, **fault)
            try:
                await client.set_secrets("alpha", {"API_KEY": SECRET, "DATABASE_URL": FIXED_URL}, stage=True)
            except FlyError as exc:
                errors.append(f"{exc.message}\n{exc.hint}\n{exc.stderr}\n{exc.stdout}\n{exc}")
        await client.unset_secrets("alpha", ["API_KEY"], stage=True)
    finally:
        stop.set()
        scanner.join()
        root.removeHandler(capture)
        root.setLevel(old_level)
    assert samples[0] > 5  # the scanner really ran during the calls
    assert errors, "the injected failure did not surface"
    places = {
        "/proc/*/cmdline": "\n".join(hits),
        "log (DEBUG)": "\n".join(capture.lines),
        "argv.log": sandbox.argv_log_path.read_text(),
        "error messages": "\n".join(errors),
        "snapshots": "\n".join(p.read_text(errors="replace") for p in Path(__file__).parent.rglob("*.svg")),
    }
    leaks = {where: v for where, text in places.items() for v in VALUES if v in text}
    reliability.add("secrets leaked", len(leaks))
    assert capture.lines, "nothing was logged: the capture is not wired"
    assert leaks == {}, leaks


@pytest.mark.parametrize("fault, error, hint", [
    ({"logged_out": True}, NotLoggedIn, "fly auth login"),
    ({"payment_required": True}, PaymentRequired, "billing"),
    ({"rate_limited": True}, RateLimited, ""),
    ({"fail": "dial tcp: lookup api.fly.io: no such host", "exit": 1}, FlyError, ""),
])
async def test_flyctl_faults_are_guided_errors_and_next_call_works(sandbox, reliability, fault, error, hint) -> None:
    sandbox.create_app("alpha")
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    sandbox.inject_fault("apps list", times=1, **fault)
    with pytest.raises(error) as info:
        await client.apps()
    assert info.value.message.strip()
    assert hint in info.value.hint
    assert [a.name for a in await client.apps()] == ["alpha"]  # the fault is gone: the next call works
    reliability.add("faults survived")


async def test_flyctl_missing_is_a_clear_error(tmp_path: Path, reliability) -> None:
    client = FlyClient(FlyctlRunner(str(tmp_path / "no-such-flyctl")))
    with pytest.raises(FlyctlNotFound) as info:
        await client.apps()
    assert "flyctl not found" in info.value.message and "no-such-flyctl" in info.value.message
    reliability.add("faults survived")
