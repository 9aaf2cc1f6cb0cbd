"""Children die with flytui, however flytui dies (``kill -9`` included).

flytui's own exits kill every child group (:func:`flytui.fly.runner.kill_all_children`), but a ``SIGKILL`` runs
no code. On Linux the kernel can signal a child when its parent dies: ``prctl(PR_SET_PDEATHSIG, sig)`` set in
the child between fork and exec (:func:`die_with_parent` returns that ``preexec_fn``). The signal comes when
the *thread* that forked exits, so spawn from the event-loop thread (asyncio subprocesses do).

Processes whose parent is not flytui (a sandbox machine is started by a short-lived flyctl process) watch
flytui itself instead: :func:`owner_token` names a process by pid *and* start time (a reused pid is not the
owner), :func:`owner_alive` checks it, :func:`watch_owner` runs a callback in a daemon thread once it is gone.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Callable

PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):
    try:  # loaded once here: the child after fork must not import or allocate much
        _libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no libc symbol table
        _libc = None


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process dies (None off Linux)."""
    if _libc is None:
        return None
    parent = os.getpid()
    prctl = _libc.prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody will signal us
            os.kill(os.getpid(), sig)

    return preexec


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22); None when gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def owner_token(pid: int | None = None) -> str:
    """``PID:STARTTIME`` of ``pid`` (default: this process), for :func:`owner_alive` in another process."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid) or ''}"


def owner_alive(token: str) -> bool:
    """True while the process named by ``token`` runs (a zombie, or another process on its pid, is gone)."""
    pid_text, _, start = token.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return True  # not a token: never kill on a misunderstanding
    if not os.path.exists("/proc/self/stat"):  # pragma: no cover - no procfs: signal 0 is all we have
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    now = _start_time(pid)
    return now is not None and (not start or now == start)


def watch_owner(token: str | None, on_gone: Callable[[], None], interval: float = 0.25) -> threading.Thread | None:
    """Call ``on_gone`` (in a daemon thread) once the owner named by ``token`` is gone; None without a token."""
    if not token:
        return None

    def loop() -> None:
        while owner_alive(token):
            time.sleep(interval)
        on_gone()

    thread = threading.Thread(target=loop, name="flytui-owner-watch", daemon=True)
    thread.start()
    return thread
