"""The demo's watchdog: when ``flytui --demo`` dies without cleaning up (``kill -9``), end what it left.

``python -m flytui.sandbox.watchdog PARENT_PID SANDBOX_DIR WORKSPACE`` is started by :class:`flytui.sandbox.demo.Demo`
as a detached direct child of flytui (like the embedded Postgres's watchdog, flytui/sandbox/postgres.py). It
polls ``getppid()``; once flytui is gone (we were re-parented) it stops every machine process and proxy the
sandbox recorded (:meth:`Sandbox.teardown`) and removes the demo workspace. The machine processes also watch
flytui themselves (``FLYTUI_SANDBOX_OWNER``, flytui/sandbox/procs.py), so a machine started at the last moment
ends too. A normal exit of flytui stops this watchdog first (SIGTERM) and cleans up itself.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path


def _remove(workspace: Path, tries: int = 20) -> None:
    """Remove the workspace; retried while dying machines may still append to their logs."""
    for _ in range(tries):
        shutil.rmtree(workspace, ignore_errors=True)
        if not workspace.exists():
            return
        time.sleep(0.1)


def cleanup(sandbox_dir: Path, workspace: Path) -> None:
    from flytui.sandbox.state import Sandbox

    try:
        Sandbox(sandbox_dir).teardown()
    except Exception:  # noqa: BLE001 - best effort: the files go anyway
        pass
    _remove(workspace)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: python -m flytui.sandbox.watchdog PARENT_PID SANDBOX_DIR WORKSPACE", file=sys.stderr)
        return 2
    parent, sandbox_dir, workspace = int(args[0]), Path(args[1]), Path(args[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # flytui ends normally: it cleans up itself
    while os.getppid() == parent:
        time.sleep(0.2)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleaning up now: finish it
    cleanup(sandbox_dir, workspace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
