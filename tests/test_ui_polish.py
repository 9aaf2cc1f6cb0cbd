"""Small things a person noticed (issue 15): ``--version``, one notification when flyctl is missing, saved
logs (grammar, a sensible folder, the full path), a stream flytui closed shows as ``stopped``."""
from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from flytui import cli
from flytui.fly.client import FlyClient
from flytui.fly.commandlog import CommandLog
from flytui.fly.runner import FlyctlRunner
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.screens.logs import LogsScreen, logs_dir, saved_message
from tests.helpers.wait import until


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("flytui ") and out.split()[1][0].isdigit(), out


async def test_missing_flyctl_is_one_notification(tmp_path: Path) -> None:
    client = FlyClient(FlyctlRunner(str(tmp_path / "no-such-fly")))
    app = FlytuiApp(Config(refresh_interval=60), client)
    reported: list[str] = []
    orig = app.report_error

    def report_error(exc: Any, action: str, **kw: Any) -> bool:
        reported.append(action)
        return orig(exc, action, **kw)

    app.report_error = report_error  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        # version, whoami and the apps view all fail on the missing executable at start
        await until(pilot, lambda: len(reported) >= 3, "three failures reported")
        shown = [n for n in app._notifications if "flyctl not found" in str(n.message)]
        assert len(shown) == 1, [n.title for n in shown]
        assert shown[0].title == "flyctl not found"


def test_saved_logs_message_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert saved_message(1, tmp_path / "a.log") == f"Saved 1 line to {tmp_path / 'a.log'}"
    assert saved_message(3, Path("rel.log")).startswith("Saved 3 lines to /")  # the full path
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert logs_dir() == tmp_path / "state" / "flytui" / "logs" and logs_dir().is_dir()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "ro" / "x"))
    if os.geteuid() != 0:  # root writes anywhere
        assert logs_dir() == Path(tempfile.gettempdir())
    assert LogsScreen("app").default_save_path().parent == logs_dir()


async def test_a_stream_flytui_closes_is_stopped_not_exit_143(tmp_path: Path) -> None:
    fake = tmp_path / "fake-fly"
    fake.write_text("#!/bin/sh\necho ready\nexec sleep 600\n")  # like `fly logs`: runs until stopped
    fake.chmod(0o755)
    runner = FlyctlRunner(str(fake), grace=1.0)
    log = CommandLog()
    log.attach(runner)
    async with runner.spawn("logs", "-a", "x") as proc:
        await proc.wait_for("ready", timeout=10)
    end = time.monotonic() + 5
    while log.entries()[0].running and time.monotonic() < end:
        await asyncio.sleep(0.02)
    entry = log.entries()[0]  # newest first
    assert entry.status == "stopped" and not entry.failed, (entry.status, entry.returncode)
    # a stream that ends on its own with an error still shows its exit code
    bad = tmp_path / "bad-fly"
    bad.write_text("#!/bin/sh\necho 'Error: no' >&2\nexit 3\n")
    bad.chmod(0o755)
    runner2 = FlyctlRunner(str(bad))
    log.attach(runner2)
    async with runner2.spawn("logs") as proc:
        assert await proc.wait() == 3
    end = time.monotonic() + 5
    while log.entries()[0].running and time.monotonic() < end:
        await asyncio.sleep(0.02)
    assert log.entries()[0].status == "exit 3" and log.entries()[0].failed
