"""Supervise ``fly logs``: :class:`LogTail` runs ``client.logs(...)``, decodes batches and reconnects with
backoff (1, 2, 4 … 30 s); :class:`TailStatus` is what the status bar shows."""
from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from .errors import AppNotFound, FlyctlError, FlyctlNotFound, NotLoggedIn, classify
from .logs import LogRecord

@dataclass(frozen=True)
class TailStatus:
    """Connection state of a :class:`LogTail`.

    ``state``: ``connecting`` | ``connected`` | ``reconnecting`` | ``error`` (final) | ``stopped``.
    ``retry_in``: seconds left before the next attempt (reconnecting only). ``message``: flyctl's error text.
    """

    state: str
    message: str = ""
    retry_in: int = 0
    hint: str = ""
    attempt: int = 0

    def text(self) -> str:
        """One line for the status bar."""
        if self.state == "connected":
            return "● connected"
        if self.state == "connecting":
            return "○ connecting…"
        if self.state == "reconnecting":
            why = f" ({self.message})" if self.message else ""
            return f"◌ reconnecting in {self.retry_in} s{why}"
        if self.state == "error":
            return f"✗ error: {self.message}" + (f" — {self.hint}" if self.hint else "")
        return "■ stopped"


#: Errors after which retrying is pointless: the tail stops and shows them.
FATAL_ERRORS: tuple[type[FlyctlError], ...] = (AppNotFound, NotLoggedIn, FlyctlNotFound)

BACKOFF: tuple[int, ...] = (1, 2, 4, 8, 16, 30)


class LogTail:
    """Supervise ``client.logs(app, machine=…, region=…, follow=True)`` forever.

    flyctl's stdout is read as raw text chunks (``FlyProcess.chunks``), decoded slice by slice into
    :class:`LogRecord` s and handed to ``on_records`` (one call per slice); the loop is yielded every ``budget``
    seconds of decoding. Status changes go to ``on_status``. When flyctl exits or the stream drops the tail waits
    1, 2, 4 … 30 s (``retry_in`` counted down once per second) and starts again; the delay resets after a
    connection delivered data. Fatal errors (unknown app, not logged in, no flyctl) stop it.
    """

    def __init__(
        self,
        client: Any,
        app: str,
        *,
        machine: str | None = None,
        region: str | None = None,
        on_records: Callable[[list[LogRecord]], Any],
        on_status: Callable[[TailStatus], Any] = lambda s: None,
        backoff: Sequence[int] = BACKOFF,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.app = app
        self.machine = machine
        self.region = region
        self.on_records = on_records
        self.on_status = on_status
        self.backoff = tuple(backoff) or (1,)
        self._sleep = sleep
        from .logs_fast import RecordStreamDecoder  # (imports this module)

        self.decoder = RecordStreamDecoder()  # msgspec fast path, JsonStreamDecoder fallback (logs_fast.py)
        self.attempts = 0
        self.connections = 0
        self.status = TailStatus("stopped")
        self.process: Any = None
        #: characters per runner batch (``FlyProcess.chunks``) and per decode slice
        self.max_chars = 1 << 20
        self.slice_chars = 32 * 1024
        #: seconds of decoding after which the tail yields the event loop (keys, rendering)
        self.budget = 0.008

    def _emit(self, status: TailStatus) -> None:
        self.status = status
        self.on_status(status)

    async def _open(self) -> Any:
        proc = self.client.logs(self.app, machine=self.machine, region=self.region, follow=True)
        if inspect.isawaitable(proc):
            proc = await proc
        return proc

    async def run_once(self) -> tuple[int | None, list[str], bool]:
        """One connection: returns (returncode, stderr lines, got_data)."""
        errs: deque[str] = deque(maxlen=40)
        got = False
        self.decoder = type(self.decoder)()
        proc = await self._open()
        async with proc:
            self.process = proc
            self.connections += 1
            self._emit(TailStatus("connected", attempt=self.attempts))
            async for batch in proc.chunks(max_chars=self.max_chars, interval=0.05):
                for chunk in batch:
                    if chunk.stream == "out":
                        if await self._ingest(chunk.text):
                            got = True
                    else:
                        errs.extend(ln for ln in chunk.text.splitlines() if ln.strip())
            rc = proc.returncode
            if rc is None:
                try:
                    rc = await asyncio.wait_for(proc.wait(), 5)
                except asyncio.TimeoutError:
                    rc = None
        self.process = None
        return rc, list(errs), got

    async def _ingest(self, text: str) -> bool:
        """Decode raw stdout text slice by slice; hand records over per slice; yield the loop every ``budget`` s.

        Returns True when at least one object was decoded. (The runner keeps reading meanwhile; its bounded
        queue slows flyctl down when the UI cannot keep up: nothing is dropped.)
        """
        got = False
        feed, on_records, budget = self.decoder.feed, self.on_records, self.budget
        step = self.slice_chars
        t0 = time.perf_counter()
        for i in range(0, len(text), step):
            records = feed(text[i:i + step])
            if records:
                got = True
                on_records(records)
            if time.perf_counter() - t0 > budget:
                await asyncio.sleep(0)
                t0 = time.perf_counter()
        return got

    async def run(self) -> None:
        """Run until cancelled or a fatal error. Never raises except ``CancelledError``."""
        delay_idx = 0
        self._emit(TailStatus("connecting"))
        while True:
            self.attempts += 1
            message, hint = "stream ended", ""
            try:
                rc, errs, got = await self.run_once()
                if got:
                    delay_idx = 0
                if rc not in (0, None) or errs:
                    err = classify(["logs", "-a", self.app], rc, "\n".join(errs))
                    if rc not in (0, None) and isinstance(err, FATAL_ERRORS):
                        self._emit(TailStatus("error", err.message, hint=err.hint, attempt=self.attempts))
                        return
                    message = err.message if rc not in (0, None) else f"flyctl exited ({rc})"
                    hint = err.hint
                else:
                    message = "flyctl exited" if rc == 0 else "stream dropped"
            except asyncio.CancelledError:
                self._emit(TailStatus("stopped"))
                raise
            except FATAL_ERRORS as exc:
                self._emit(TailStatus("error", exc.message, hint=exc.hint, attempt=self.attempts))
                return
            except FlyctlError as exc:
                message, hint = exc.message, exc.hint
            except OSError as exc:
                message = f"could not run flyctl: {exc}"
            delay = self.backoff[min(delay_idx, len(self.backoff) - 1)]
            delay_idx += 1
            for left in range(delay, 0, -1):
                self._emit(TailStatus("reconnecting", message, retry_in=left, hint=hint, attempt=self.attempts))
                await self._sleep(1)
            self._emit(TailStatus("connecting", attempt=self.attempts))


def now_stamp() -> str:
    """Local timestamp for file names: ``20240522-110444``."""
    return time.strftime("%Y%m%d-%H%M%S")
