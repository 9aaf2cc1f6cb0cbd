"""Sandbox flyctl fixtures (owned by the sandbox work).

* ``sandbox``    -- a fresh sandbox state per test: logged-in ``demo@example.com``, org ``personal``;
  exposes ``.dir``, ``.env`` (os env + FLYTUI_SANDBOX_DIR + FLYTUI_SANDBOX_SPEED=50), ``.flyctl`` (path
  of the emulator executable) and ``.run(*args, stdin=None, cwd=None, timeout=30)``; teardown always runs.
* ``sandbox_pg`` -- the same, backed by the session's real embedded PostgreSQL (``pg_server``).
* ``flyctl_path`` -- ``sandbox.flyctl``.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from flytui.sandbox.state import Sandbox


def _flyctl_path(tmp: Path) -> str:
    found = shutil.which("flytui-sandbox-flyctl") or str(Path(sys.executable).parent / "flytui-sandbox-flyctl")
    if os.path.exists(found):
        return found
    wrapper = tmp / "flytui-sandbox-flyctl"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m flytui.sandbox.flyctl "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(wrapper)


class SandboxHandle(Sandbox):
    """A :class:`Sandbox` plus what tests need to run the emulator."""

    def __init__(self, directory: Path, flyctl: str) -> None:
        super().__init__(directory)
        self.flyctl = flyctl
        self.env = dict(os.environ)
        self.env.update({"FLYTUI_SANDBOX_DIR": str(directory), "FLYTUI_SANDBOX_SPEED": "50",
                         "FLY_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "CLICOLOR": "0"})
        self.env.pop("FLY_APP", None)

    def run(self, *args: str, stdin: str | bytes | None = None, cwd: str | os.PathLike[str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the emulator with ``args``; returns the completed process (text mode)."""
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run([self.flyctl, *args], input=data, capture_output=True, env=self.env,
                              cwd=cwd, timeout=timeout,
                              stdin=None if data is not None else subprocess.DEVNULL)
        return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                           proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxHandle]:
    directory = tmp_path / "sandbox"
    Sandbox.init(directory, user_email="demo@example.com", org="personal")
    handle = SandboxHandle(directory, _flyctl_path(tmp_path))
    try:
        yield handle
    finally:
        handle.teardown()


@pytest.fixture
def sandbox_pg(sandbox: SandboxHandle, pg_server) -> SandboxHandle:  # type: ignore[no-untyped-def]
    sandbox.set_postgres_server(pg_server.host, pg_server.port, pg_server.user)
    return sandbox


@pytest.fixture
def flyctl_path(sandbox: SandboxHandle) -> str:
    return sandbox.flyctl
