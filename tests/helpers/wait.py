"""Wait for a condition in a Pilot test: poll, never a fixed pause, and say what was awaited on failure."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def until(pilot: Any, cond: Callable[[], Any], *spec: float | str | Callable[[], str],
                timeout: float = 20.0, what: str | Callable[[], str] = "") -> bool:
    """Poll ``cond()`` (letting the app run 50 ms between polls) until it is true; returns True.

    After ``timeout`` seconds it raises AssertionError naming ``what`` (a text, or a function that builds one at
    failure time), the current screen and the notifications shown. ``spec`` takes the old call forms of the
    per-file copies this replaces: a number is the timeout, a text the description.
    """
    for item in spec:
        if isinstance(item, (int, float)):
            timeout = float(item)
        else:
            what = item
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            app = pilot.app
            label = what() if callable(what) else (what or "the condition")
            notes = [str(n.message) for n in getattr(app, "_notifications", [])]
            raise AssertionError(f"not reached within {timeout:g} s: {label}; screen={app.screen!r}; "
                                 f"notifications={notes}")
        await pilot.pause(0.05)
    return True


async def eventually(cond: Callable[[], Any], timeout: float = 20.0, what: str = "the condition",
                     interval: float = 0.02) -> Any:
    """Outside a Pilot test: poll ``cond()`` on the event loop until it is true (returns its value); after
    ``timeout`` seconds raise AssertionError naming ``what``. Never a fixed sleep to wait for a state."""
    import asyncio

    end = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > end:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        await asyncio.sleep(interval)
    return value
