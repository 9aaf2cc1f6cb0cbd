"""Process-wide shutdown: however flytui ends, no flyctl/proxy/ssh/machine/Postgres child is left behind.

flytui starts every flyctl in its own process group (``flytui/fly/runner.py``), so a child does *not* die
with its parent: without this module, a SIGTERM or a closed terminal (SIGHUP) would kill flytui at once
and leave every ``fly proxy``, ``fly logs`` and (in ``--demo``) the sandbox machines and Postgres running.

:func:`install` (called by ``flytui/cli.py`` before anything is started):

* SIGTERM, SIGINT and SIGHUP ask the running app to exit cleanly (its ``on_unmount`` closes tunnels and
  kills child groups; the CLI's ``finally`` runs the demo cleanup). A watchdog makes sure the process
  still ends within ``grace`` seconds: it runs :func:`run_cleanups` and exits with ``128 + signal``.
  A second signal skips the grace period. Without a running app the cleanups run at once.
* ``sys.excepthook`` runs the cleanups before the traceback is printed (an exception that escapes the
  app, e.g. a worker started with ``exit_on_error=True``, ends the app and then ``main``).
* ``atexit`` runs the cleanups too (normal exit, ``SystemExit``).

:func:`register_cleanup` adds a synchronous, idempotent callable (the demo's ``close``, a tunnel
manager's sync close). Cleanups run newest first, each at most once, errors are swallowed: a failing
cleanup must never stop the next one. ``kill_all_children()`` runs before and after them.

This module imports nothing heavy and nothing from the UI (the app is duck-typed: ``.exit(return_code=)``).
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, Callable

log = logging.getLogger("flytui.lifecycle")

#: signals that end flytui cleanly
HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: seconds the app gets to exit on its own after a signal before the watchdog forces it
DEFAULT_GRACE = 5.0

Cleanup = Callable[[], Any]

_lock = threading.RLock()
_cleanups: list[Cleanup] = []
_app: Any = None
_installed = False
_grace = DEFAULT_GRACE
_signal_received: int | None = None
_previous_handlers: dict[int, Any] = {}
_previous_excepthook: Callable[..., Any] | None = None
_timer: threading.Timer | None = None


def _kill_children() -> int:
    """``kill_all_children()`` of the runner (SIGKILL every live flyctl group); errors swallowed."""
    try:
        from flytui.fly.runner import kill_all_children
    except ImportError:  # pragma: no cover - the runner is part of the product
        return 0
    try:
        return kill_all_children()
    except Exception:  # noqa: BLE001 - shutting down: never raise
        return 0


def register_cleanup(fn: Cleanup) -> Callable[[], None]:
    """Run ``fn()`` on every way out (signal, exception, exit). Returns a function that unregisters it."""
    with _lock:
        _cleanups.append(fn)

    def unregister() -> None:
        with _lock:
            if fn in _cleanups:
                _cleanups.remove(fn)

    return unregister


def set_app(app: Any) -> None:
    """The app a signal should ask to exit; ``None`` once it stopped (this also stops the watchdog:
    the app did exit, the remaining cleanups run in the caller's ``finally``)."""
    global _app, _timer
    _app = app
    if app is None and _timer is not None:
        _timer.cancel()
        _timer = None


def signal_received() -> int | None:
    """The first shutdown signal received since :func:`install`, or None."""
    return _signal_received


def exit_code(default: int = 0) -> int:
    """``128 + signal`` after a shutdown signal (shell convention), else ``default``."""
    return 128 + _signal_received if _signal_received is not None else default


def run_cleanups() -> int:
    """Kill every child group and run each registered cleanup once (newest first); how many ran.

    Safe to call several times and from a signal handler or a watchdog thread.
    """
    _kill_children()
    ran = 0
    while True:
        with _lock:
            if not _cleanups:
                break
            fn = _cleanups.pop()
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - one broken cleanup must not skip the next
            log.debug("cleanup %r failed: %r", fn, exc)
        ran += 1
    _kill_children()
    return ran


def _request_app_exit(app: Any, code: int) -> bool:
    """Ask a running app to exit from its own event loop; False when no loop is running here."""
    loop = asyncio._get_running_loop()  # the loop running in this (main) thread, if any
    if loop is None or loop.is_closed():
        return False
    try:
        loop.call_soon_threadsafe(lambda: app.exit(return_code=code))
    except RuntimeError:  # loop closing
        return False
    return True


def _force_exit(code: int) -> None:
    """Last resort: clean up and end the process now (no further Python cleanup)."""
    run_cleanups()
    try:
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr gone or closed: exiting anyway
        pass
    os._exit(code)


def _watchdog(code: int, grace: float) -> None:
    """Started on the first signal: if the process is still alive after ``grace`` s, force the exit."""
    global _timer
    _timer = threading.Timer(grace, _force_exit, args=(code,))
    _timer.daemon = True
    _timer.start()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGINT/SIGHUP: graceful app exit + watchdog; second signal or no app: clean up now."""
    global _signal_received
    code = 128 + signum
    if _signal_received is not None:  # second signal: the user means it
        _force_exit(code)
        return
    _signal_received = signum
    app = _app
    if app is not None and _request_app_exit(app, code):
        _watchdog(code, _grace)
        return
    run_cleanups()
    raise SystemExit(code)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """An exception escaped to the top: clean up first, then let the previous hook print it."""
    run_cleanups()
    hook = _previous_excepthook or sys.__excepthook__
    hook(exc_type, exc, tb)


def install(app: Any = None, *, grace: float = DEFAULT_GRACE) -> None:
    """Install the signal handlers, excepthook and atexit hook (idempotent; main thread only)."""
    global _installed, _grace, _previous_excepthook
    _grace = grace
    if app is not None:
        set_app(app)
    with _lock:
        if _installed:
            return
        _installed = True
    for sig in HANDLED_SIGNALS:
        _previous_handlers[sig] = signal.signal(sig, _on_signal)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    atexit.register(run_cleanups)


def uninstall() -> None:
    """Restore the previous handlers (tests); registered cleanups are kept."""
    global _installed, _signal_received
    with _lock:
        if not _installed:
            return
        _installed = False
    for sig, handler in _previous_handlers.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    _previous_handlers.clear()
    if sys.excepthook is _excepthook:
        sys.excepthook = _previous_excepthook or sys.__excepthook__
    atexit.unregister(run_cleanups)
    _signal_received = None
    set_app(None)


__all__ = [
    "DEFAULT_GRACE",
    "HANDLED_SIGNALS",
    "exit_code",
    "install",
    "register_cleanup",
    "run_cleanups",
    "set_app",
    "signal_received",
    "uninstall",
]
