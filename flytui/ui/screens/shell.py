"""Shell: ``fly ssh console -a APP [--machine ID]`` in the real terminal.

The app is suspended (``App.suspend``), flyctl runs with the terminal's stdin/stdout/stderr, and when it
exits the app resumes and refreshes the current view. The call is recorded in the command log.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Sequence

Runner = Callable[[Sequence[str], dict[str, str]], int]


def ssh_console_args(app: str, machine: str | None = None) -> list[str]:
    """flyctl arguments for an interactive console on ``machine`` (or any started machine)."""
    args = ["ssh", "console", "-a", app]
    if machine:
        args += ["--machine", machine]
    return args


def run_blocking(argv: Sequence[str], env: dict[str, str]) -> int:
    """Run ``argv`` with the terminal's stdio (no shell, no pipes) and return its exit code."""
    import subprocess

    return subprocess.run(list(argv), env=env, check=False).returncode


def _child_env(runner: Any) -> dict[str, str]:
    make = getattr(runner, "child_env", None)
    if callable(make):
        return dict(make())
    env = dict(os.environ)
    env.update(getattr(runner, "env", {}) or {})
    return env


def open_shell(app: Any, machine: str | None, *, run: Runner | None = None) -> int | None:
    """Suspend ``app`` (a FlytuiApp), run the console, resume, refresh. Returns the exit code (None when the
    terminal cannot be suspended: the command line is shown instead)."""
    from textual.app import SuspendNotSupported

    name = app.current_app
    if not name:
        app.notify("Select an app first (A or :machines APP)", severity="warning")
        return None
    runner = app.runner
    try:
        path = runner.path
    except Exception as exc:  # noqa: BLE001 - FlyctlNotFound
        app.report_error(exc, "ssh console")
        return None
    args = ssh_console_args(name, machine)
    argv = [path, *args]
    shown = " ".join(app.flyctl_argv(*args))
    started, t0 = time.time(), time.monotonic()
    log = getattr(app, "command_log", None)
    if log is not None:
        log.record(argv, kind="interactive", started=started)
    code: int | None = None
    try:
        with app.suspend():
            code = (run or run_blocking)(argv, _child_env(runner))
    except SuspendNotSupported:
        app.notify(f"This terminal cannot hand over to a shell. Run it yourself:\n{shown}",
                   title="ssh console", severity="warning", timeout=15)
    except OSError as exc:
        app.report_error(exc, "ssh console")
    finally:
        if log is not None:
            log.record(argv, kind="interactive", started=started, duration=time.monotonic() - t0, returncode=code)
    if code is not None:
        app.notify(f"{shown} exited with code {code}", title="ssh console",
                   severity="information" if code == 0 else "warning")
        app.action_refresh_view()
    return code
