"""Repeated failures of the same poll: one notification, then a counted status line.

A pane polls every few seconds; while flyctl keeps failing with the same error, a new toast every poll would
bury the screen. ``FailureLog.record(key, ...)`` says whether this failure is new (notify) or a repeat (count);
``line(key)`` is the status text (``apps: same error 3× — last at 14:02:05 — …``); a success ``clear``s it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable


@dataclass
class Failure:
    key: str
    action: str
    signature: str  # what makes two failures "the same error"
    message: str    # first line of the error, as shown
    count: int
    first_at: datetime
    last_at: datetime

    @property
    def repeated(self) -> bool:
        return self.count > 1


def error_signature(exc: BaseException) -> tuple[str, str]:
    """``(signature, message)`` of an error: its type and flyctl's message (``FlyError.message``)."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    first = (message.splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {message}", first


class FailureLog:
    """Failures per key (a pane's group); ``now`` is injectable for tests."""

    def __init__(self, now: Callable[[], datetime] = datetime.now) -> None:
        self._now = now
        self.failures: dict[str, Failure] = {}

    def record(self, key: str, exc: BaseException, action: str) -> Failure:
        """Count ``exc`` under ``key``: a different error (or the first) starts again at 1."""
        signature, message = error_signature(exc)
        now = self._now()
        prev = self.failures.get(key)
        if prev is not None and prev.signature == signature:
            prev.count += 1
            prev.last_at = now
            prev.action = action
            return prev
        failure = Failure(key, action, signature, message, 1, now, now)
        self.failures[key] = failure
        return failure

    def clear(self, key: str) -> bool:
        """A success: forget the failure (True when there was one)."""
        return self.failures.pop(key, None) is not None

    def line(self, key: str) -> str:
        """The status line for ``key`` ("" when it last succeeded)."""
        f = self.failures.get(key)
        if f is None:
            return ""
        at = f.last_at.strftime("%H:%M:%S")
        head = (f"{f.key}: same error {f.count}× — last at {at}" if f.repeated
                else f"{f.key}: failed at {at}")
        return f"✗ {head} — {f.message}  (r: retry now · @: command log)"
