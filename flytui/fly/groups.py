"""The registry of live child process groups, and how a group is signalled, waited for and terminated.

Every child flytui starts (flyctl, the project's alembic, its Python) runs in its own process group; the group
is registered while it lives, so :func:`kill_all_children` (sync, signal/atexit safe) can end them all.
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
from typing import Any

from flytui.fly.child import Child
from flytui.fly.lifeline import die_with_parent

log = logging.getLogger("flytui.fly.runner")

#: seconds between SIGTERM and SIGKILL
DEFAULT_GRACE = 3.0

# ------------------------------------------------------------------------------------------
# registry of live process groups


_LIVE_GROUPS: dict[int, str] = {}  # pgid -> redacted command line
_BACKGROUND: set[asyncio.Task[Any]] = set()  # cleanup tasks that must outlive a cancelled caller


def live_groups() -> dict[int, str]:
    """The process groups started by this module that still have a running (non-zombie) member.

    Groups whose members are all gone (or only zombies left for the event loop's child watcher,
    e.g. after :func:`kill_all_children` at an app's exit) are dropped from the registry.
    """
    for pgid in list(_LIVE_GROUPS):
        if not _group_alive(pgid):
            _LIVE_GROUPS.pop(pgid, None)
    return dict(_LIVE_GROUPS)


def kill_all_children(sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` (default SIGKILL) to every live flyctl process group; return how many were signalled.

    Synchronous and allocation-light: safe to call from a signal handler or ``atexit``. Reaping is
    left to the event loop's child watcher (or to init once this process exits).
    """
    count = 0
    for pgid in list(_LIVE_GROUPS):
        if _signal_group(pgid, sig):
            count += 1
        else:
            _LIVE_GROUPS.pop(pgid, None)
    return count


atexit.register(kill_all_children)


def _run_attached(argv: list[str], env: dict[str, str], cwd: str | None) -> int:
    """Run ``argv`` on the terminal's own stdio and wait: the only child that is not put in its own group."""
    import subprocess

    return subprocess.run(argv, env=env, cwd=cwd, check=False, preexec_fn=die_with_parent()).returncode


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _group_alive(pgid: int) -> bool:
    """True while a member of the group is still running.

    ``killpg(pgid, 0)`` also succeeds for zombies waiting for init to reap them (which can take
    a second in containers); where ``/proc`` exists, zombies are not counted.
    """
    if not _signal_group(pgid, 0):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


async def _wait_exit(proc: Child) -> int:
    """Wait until the child itself exited (and was reaped by the loop's child watcher).

    ``Process.wait()`` also waits for the pipes to close, which never happens while an orphan
    holds them; ``returncode`` is set as soon as the child is reaped, so poll it (5 ms .. 50 ms).
    """
    delay = 0.005
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return proc.returncode


async def _terminate_group(proc: Child, grace: float = DEFAULT_GRACE) -> None:
    """SIGTERM the child's whole group, SIGKILL it after ``grace`` seconds, reap the leader.

    Also waits (briefly) until no member of the group is left, so no orphan survives.
    """
    loop = asyncio.get_running_loop()
    pgid = proc.pid
    if proc.returncode is None or _group_alive(pgid):
        _signal_group(pgid, signal.SIGTERM)
        deadline = loop.time() + grace
        while loop.time() < deadline:
            if proc.returncode is not None and not _group_alive(pgid):
                break
            await asyncio.sleep(0.02)
        else:
            log.debug("process group %d ignored SIGTERM for %.1f s: SIGKILL", pgid, grace)
        if proc.returncode is None or _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
    await _wait_exit(proc)
    end = loop.time() + 2.0
    while _group_alive(pgid) and loop.time() < end:  # members killed, waiting for init to reap
        _signal_group(pgid, signal.SIGKILL)
        await asyncio.sleep(0.01)
    _LIVE_GROUPS.pop(pgid, None)


async def _cleanup_shielded(proc: Child, grace: float) -> None:
    """Terminate the group even if the calling task is cancelled (again) meanwhile."""
    task = asyncio.ensure_future(_terminate_group(proc, grace))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    await asyncio.shield(task)


def _kill_if_started(start: asyncio.Future[Child]) -> None:
    """Done-callback: a child whose starter was abandoned is killed with its group."""
    if start.cancelled() or start.exception() is not None:
        return
    task = asyncio.ensure_future(_terminate_group(start.result(), 0.0))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


