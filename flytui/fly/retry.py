"""Back off when Fly.io rate limits: exponential delays with jitter, capped, shared by every read call.

One :class:`RateGate` per :class:`~flytui.fly.client.FlyClient`. When a read call (``apps list``,
``machine list``…) fails with :class:`~flytui.fly.errors.RateLimited`, the gate closes for
``Backoff.delay(streak)`` seconds; every read call waits for it before starting flyctl, so several panes
polling at once back off together instead of storming the API. A successful call resets the streak.
Mutating calls are never retried automatically (the client does not route them through :meth:`RateGate.call`).

Listeners (``gate.subscribe(cb)``) get a :class:`BackoffNotice` when the gate closes and ``None`` when it
opens again, so a UI can say "rate limited: next try in 4 s" in its status area.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, TypeVar

from .errors import RateLimited

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``n`` (1-based): ``min(cap, base * factor**(n-1))`` minus up to ``jitter`` of it.

    With ``factor >= 2`` and ``jitter <= 0.25`` each delay is still longer than the previous one until the cap.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.25
    retries: int = 2  # extra attempts of one read call before RateLimited reaches the caller

    def delay(self, n: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``n``-th consecutive rate-limited answer."""
        raw = min(self.cap, self.base * self.factor ** max(0, n - 1))
        return raw * (1.0 - self.jitter * rng())


@dataclass(frozen=True)
class BackoffNotice:
    """The gate is closed: ``delay`` seconds from ``until`` - delay (monotonic), after ``streak`` refusals."""

    streak: int
    delay: float
    until: float
    message: str

    def remaining(self) -> float:
        return max(0.0, self.until - time.monotonic())

    def text(self) -> str:
        """One line for a status area."""
        return f"rate limited by Fly.io ({self.streak}×): next try in {self.remaining():.1f}s"


Listener = Callable[[BackoffNotice | None], None]


@dataclass
class RateGate:
    """Shared cool-down for read calls (see the module docstring)."""

    backoff: Backoff = field(default_factory=Backoff)
    streak: int = 0
    notice: BackoffNotice | None = None
    _listeners: list[Listener] = field(default_factory=list)
    _closed_at: float = -1.0

    def subscribe(self, cb: Listener) -> Callable[[], None]:
        """Call ``cb`` on every change; returns the unsubscribe function."""
        self._listeners.append(cb)
        return lambda: self._listeners.remove(cb) if cb in self._listeners else None

    def _emit(self) -> None:
        for cb in list(self._listeners):
            try:
                cb(self.notice)
            except Exception:  # noqa: BLE001 - a broken listener must not break flyctl calls
                pass

    def remaining(self) -> float:
        return self.notice.remaining() if self.notice is not None else 0.0

    async def wait(self) -> None:
        """Sleep while the gate is closed (re-checked: another refusal may extend it)."""
        while (left := self.remaining()) > 0:
            await asyncio.sleep(left)

    def refused(self, exc: RateLimited, started: float) -> BackoffNotice:
        """Record a rate-limited answer of a call started at ``started`` (monotonic); close the gate.

        Calls that were already in flight when the gate last closed do not lengthen the streak again.
        """
        if started >= self._closed_at or self.notice is None:
            self.streak += 1
            delay = self.backoff.delay(self.streak)
            now = time.monotonic()
            self._closed_at = now
            self.notice = BackoffNotice(self.streak, delay, now + delay, exc.message)
            self._emit()
        assert self.notice is not None
        return self.notice

    def succeeded(self) -> None:
        """A call got through: open the gate, reset the streak."""
        if self.streak or self.notice is not None:
            self.streak, self.notice = 0, None
            self._emit()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run a *read* call: wait for the gate, retry on ``RateLimited`` up to ``backoff.retries`` times."""
        attempt = 0
        while True:
            await self.wait()
            started = time.monotonic()
            try:
                result = await fn()
            except RateLimited as exc:
                self.refused(exc, started)
                attempt += 1
                if attempt > self.backoff.retries:
                    raise
                continue
            self.succeeded()
            return result


__all__ = ["Backoff", "BackoffNotice", "RateGate"]
