"""The command log (issue 9): a bounded, in-memory record of every flyctl invocation flytui made.

Fed by :meth:`flytui.fly.runner.FlyctlRunner.add_listener`. The runner calls the listener once when a call
starts (``duration``/``returncode`` None) and once when it ends; both carry the same ``started`` time and the
same (already redacted) argv, so the end event completes the entry the start event created. Entries are kept
newest first; the oldest are dropped past ``maxlen``. Subscribers (the command log pane) are told about every
change and refresh themselves at their own pace.

Pure stdlib: no textual, no heavy imports.
"""
from __future__ import annotations

import itertools
import logging
import os
import shlex
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.runner import Invocation

__all__ = ["CommandLog", "LoggedCommand", "display_argv"]

log = logging.getLogger(__name__)

Subscriber = Callable[["LoggedCommand"], None]


def display_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the executable shortened to its basename (``/usr/local/bin/fly`` -> ``fly``)."""
    if not argv:
        return []
    return [os.path.basename(argv[0]) or argv[0], *argv[1:]]


@dataclass(frozen=True)
class LoggedCommand:
    """One flyctl invocation as the command log shows it. ``argv`` is redacted (by the runner)."""

    id: int
    argv: tuple[str, ...]
    kind: str                       # run | json | stream | long | interactive
    started: float                  # time.time()
    duration: float | None = None   # None while running
    returncode: int | None = None   # None while running, or when the process never started / was killed
    stderr_tail: str = ""           # last stderr lines (redacted), kept only when the call failed
    stopped: bool = False           # flytui ended it (a stream closed, a call cancelled): not a failure

    @property
    def running(self) -> bool:
        return self.duration is None

    @property
    def failed(self) -> bool:
        """Finished with a non-zero exit code, or ended without one (could not start, killed by someone else);
        a stream flytui stopped itself is not a failure.

        A Machines API request (``kind == "api"``, ``returncode`` = HTTP status) failed without a response or
        with a status >= 400."""
        if self.kind == "api":
            return not self.running and (self.returncode is None or self.returncode >= 400)
        return not self.running and not self.stopped and self.returncode != 0

    @property
    def status(self) -> str:
        """``running``, ``ok``, ``stopped`` (by flytui), ``exit N`` (negative: killed by signal N) or ``not started``;
        an API request: its HTTP status (``200``) or ``no response``."""
        if self.running:
            return "running"
        if self.kind == "api":
            return "no response" if self.returncode is None else str(self.returncode)
        if self.stopped:
            return "stopped"
        if self.returncode is None:
            return "not started"
        return "ok" if self.returncode == 0 else f"exit {self.returncode}"

    @property
    def command_line(self) -> str:
        """Shell-quoted command line with the executable's basename: what the user can paste. A Machines API
        request reads ``GET /v1/apps?org_slug=x`` (its path is URL-quoted already: no shell quoting)."""
        if self.kind == "api":
            return " ".join(self.argv)
        return shlex.join(display_argv(self.argv))


class CommandLog:
    """Bounded log of flyctl invocations, newest first. Attach it to a runner with :meth:`attach`."""

    def __init__(self, maxlen: int = 1000) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._entries: "OrderedDict[int, LoggedCommand]" = OrderedDict()  # oldest first internally
        self._open: dict[tuple[float, tuple[str, ...], str], int] = {}
        self._ids = itertools.count(1)
        self._subscribers: list[Subscriber] = []
        self.version = 0  # bumped on every change (cheap "did anything change" check for the UI)

    # --- wiring ---------------------------------------------------------------------------------
    def attach(self, runner: Any) -> bool:
        """Listen to ``runner`` (anything with ``add_listener``); False when it has none (fake runners)."""
        add = getattr(runner, "add_listener", None)
        if add is None:
            return False
        add(self.on_invocation)
        return True

    def subscribe(self, cb: Subscriber) -> Callable[[], None]:
        """Call ``cb(entry)`` after every added or completed entry; returns an unsubscribe function."""
        self._subscribers.append(cb)
        return lambda: self._subscribers.remove(cb) if cb in self._subscribers else None

    # --- recording ------------------------------------------------------------------------------
    def on_invocation(self, inv: "Invocation") -> None:
        """Runner listener: a start event creates an entry, the matching end event completes it."""
        self.record(inv.argv, kind=inv.kind, started=inv.started, duration=inv.duration,
                    returncode=inv.returncode, stderr_tail=inv.stderr_tail, stopped=getattr(inv, "stopped", False))

    def record(self, argv: Sequence[str], *, kind: str, started: float, duration: float | None = None,
               returncode: int | None = None, stderr_tail: str = "", stopped: bool = False) -> LoggedCommand:
        """Add or complete one entry (also used for calls made outside the runner, e.g. ``ssh console``).

        ``argv`` must already be redacted.
        """
        key = (started, tuple(argv), kind)
        tail = stderr_tail if (duration is not None and returncode != 0 and not stopped) else ""
        entry_id = self._open.get(key)
        if entry_id is not None and entry_id in self._entries:
            entry = replace(self._entries[entry_id], duration=duration, returncode=returncode, stderr_tail=tail,
                            stopped=stopped)
            self._entries[entry_id] = entry
        else:
            entry = LoggedCommand(next(self._ids), tuple(argv), kind, started, duration, returncode, tail, stopped)
            self._entries[entry.id] = entry
            while len(self._entries) > self.maxlen:
                old_id, old = self._entries.popitem(last=False)
                self._open.pop((old.started, old.argv, old.kind), None)
        if duration is None:
            self._open[key] = entry.id
        else:
            self._open.pop(key, None)
        self.version += 1
        for cb in list(self._subscribers):
            try:
                cb(entry)
            except Exception:  # a broken subscriber must not break flyctl calls
                log.exception("command log subscriber failed")
        return entry

    def clear(self) -> None:
        """Forget every finished entry (running ones stay, so their end still lands)."""
        for entry_id in [i for i, e in self._entries.items() if not e.running]:
            del self._entries[entry_id]
        self.version += 1

    # --- reading --------------------------------------------------------------------------------
    def entries(self) -> list[LoggedCommand]:
        """Every entry, newest first."""
        return list(reversed(self._entries.values()))

    def get(self, entry_id: int) -> LoggedCommand | None:
        return self._entries.get(entry_id)

    def failures(self) -> list[LoggedCommand]:
        """Finished entries that failed, newest first."""
        return [e for e in self.entries() if e.failed]

    def __len__(self) -> int:
        return len(self._entries)
