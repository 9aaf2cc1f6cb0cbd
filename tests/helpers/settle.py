"""Wait for a settled UI instead of pausing for a fixed time.

A screen is *settled* when the caller's condition holds (data loaded, the pane visible ...), no worker is
running, and two renders of the whole screen taken with an idle wait between them are identical (no
pending DataTable update, spinner, timer-driven change or half-applied message). Snapshot tests and Pilot
assertions use this, so a busy CI machine makes them slower, never different.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def _steady_cursors(app: Any) -> None:
    """Stop the text cursors blinking (Input, TextArea: a 0.5 s timer): a screenshot taken in the other half of
    the blink would differ from the stored one. The cursor then stays shown, as when the user types."""
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            if getattr(widget, "cursor_blink", False):
                widget.cursor_blink = False


def _busy_workers(app: Any, live: tuple[str, ...] = ()) -> list[str]:
    return [w.name for w in app.workers if not w.is_finished and w.name not in live]


async def settle(pilot: Any, ready: Callable[[], bool] = lambda: True, *, timeout: float = 30.0,
                 what: str = "the screen", workers_idle: bool = True, live: tuple[str, ...] = ()) -> None:
    """Wait until ``ready()`` holds, no worker runs and the screen renders the same twice in a row.

    ``workers_idle=False``: a dialog's own worker may be running (it awaits the user's answer).
    ``live``: names of workers that run for the screen's whole life (a log tail); the others must be idle.

    Raises AssertionError (naming what was still pending) after ``timeout`` seconds: a snapshot of an
    unsettled screen would differ from run to run.
    """
    app = pilot.app
    end = time.monotonic() + timeout
    last: str | None = None
    pending = "the condition"
    while time.monotonic() < end:
        await pilot.pause()  # wait for the process to be idle (messages handled, workers waiting on I/O)
        try:
            ok = ready()
        except Exception as exc:  # e.g. NoMatches while a pane is still being built
            ok, pending = False, f"the condition ({type(exc).__name__}: {exc})"
        if not ok:
            last, pending = None, pending if pending.startswith("the condition (") else "the condition"
            continue
        busy = _busy_workers(app, live) if workers_idle else []
        if busy:
            last, pending = None, f"workers {busy}"
            continue
        _steady_cursors(app)
        await pilot.wait_for_scheduled_animations()
        shot = app.export_screenshot()
        if shot == last:
            return
        last, pending = shot, "a screen that still changed between two renders"
    raise AssertionError(f"{what} did not settle within {timeout:g} s: waiting for {pending}")
