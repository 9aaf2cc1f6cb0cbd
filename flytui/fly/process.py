"""A running child: :class:`FlyProcess` (streams, long-lived processes) with its bounded line reader."""
from __future__ import annotations

import asyncio
import codecs
import logging
import re
import shlex
import time
from collections import deque
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Sequence

from flytui.fly.child import Child
from flytui.fly.errors import (
    FlyctlError,
    FlyctlTimeout,
    classify,
    error_summary,
)
from flytui.fly.redact import redact_argv, redact_text, secrets_in_argv, secrets_in_env_text

from flytui.fly.groups import (
    _LIVE_GROUPS,
    DEFAULT_GRACE,
    _cleanup_shielded,
    _group_alive,
    _wait_exit,
)
from flytui.fly.run_types import _STOP_CODES, Invocation, StreamChunk, StreamLine, _tail_text

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.runner import FlyctlRunner

log = logging.getLogger("flytui.fly.runner")

_READ_CHUNK = 64 * 1024
#: how long to wait for pipes to reach EOF once the group is gone
_PIPE_EOF_WAIT = 1.0
#: lines kept for ``tail()`` / ``wait_for`` history
_TAIL_LINES = 400
#: chunk mode: characters of stdout kept for ``tail()``
_TAIL_CHARS = 16 * 1024
#: chunk mode: pending characters at which the readers wait for the consumer (backpressure)
_MAX_PENDING_CHARS = 4 * 1024 * 1024


async def _drain(stream: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await stream.read(_READ_CHUNK):
        into += chunk


async def _feed(writer: asyncio.StreamWriter | None, data: bytes | None, *, close: bool) -> None:
    """Write ``data`` to the child's stdin (ignoring a child that exits without reading it)."""
    if writer is None:
        return
    try:
        if data:
            writer.write(data)
            await writer.drain()
        if close:
            writer.close()
    except (BrokenPipeError, ConnectionResetError):
        pass


# ------------------------------------------------------------------------------------------
# streaming


class _LineSplitter:
    """Bytes -> lines; bounded memory for huge lines (keeps only what ``max_line`` can show)."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max(2, max_line)
        self._max_bytes = self.max_line * 4 + 4  # enough bytes for max_line UTF-8 chars
        self._buf = bytearray()
        self._over = False

    def _append(self, piece: bytes) -> None:
        room = self._max_bytes - len(self._buf)
        if len(piece) > room:
            if room > 0:
                self._buf += piece[:room]
            self._over = True
        else:
            self._buf += piece

    def _finish(self) -> str:
        raw = bytes(self._buf)
        over = self._over
        self._buf.clear()
        self._over = False
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        text = raw.decode("utf-8", errors="replace")
        if over or len(text) > self.max_line:
            text = text[: self.max_line - 1] + "…"
        return text

    def feed(self, chunk: bytes) -> list[str]:
        parts = chunk.split(b"\n")
        lines: list[str] = []
        for part in parts[:-1]:
            self._append(part)
            lines.append(self._finish())
        self._append(parts[-1])
        return lines

    def flush(self) -> list[str]:
        return [self._finish()] if self._buf or self._over else []

    def take(self) -> bytes:
        """The bytes of the unfinished line (for a switch to chunk mode); the splitter is emptied."""
        raw = bytes(self._buf)
        self._buf.clear()
        self._over = False
        return raw


class FlyProcess:
    """A running flyctl (deploy, logs, proxy). Use as ``async with runner.spawn(...) as proc``.

    Both pipes are read concurrently into a bounded buffer (the readers wait, and so does flyctl,
    when ``max_buffer`` lines are pending: no line is ever dropped). Leaving the block terminates
    the whole process group and reaps it.

    Two ways to consume the output (pick one per process): :meth:`batches` (lists of
    :class:`StreamLine`) or :meth:`chunks` (lists of raw :class:`StreamChunk` text, no per-line
    work: the fast path for ``fly logs --json``). The kill/reap guarantees are the same.
    """

    def __init__(
        self, runner: FlyctlRunner, argv: list[str], *, stdin: bytes | None, keep_stdin_open: bool,
        max_line: int, cwd: str | None, kind: str, max_buffer: int, env: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self._runner = runner
        self._env = env
        self._argv_real = argv
        self.argv = redact_argv(argv)
        self._secrets = secrets_in_argv(argv) + (
            secrets_in_env_text(stdin.decode("utf-8", "replace")) if stdin else []
        ) + list(secrets)
        self._stdin = stdin
        self._keep_stdin_open = keep_stdin_open
        self._max_line = max_line
        self._cwd = cwd
        self._kind = kind
        self._max_buffer = max(1, max_buffer)
        self.pid: int = 0
        self._proc: Child | None = None
        self._pending: deque[StreamLine] = deque()
        self._tail: deque[StreamLine] = deque(maxlen=_TAIL_LINES)
        self._eofs = 0
        self._closing = False
        self._exited = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._watcher: asyncio.Task[Any] | None = None
        self._waiters: list[tuple[re.Pattern[str], asyncio.Future[re.Match[str]]]] = []
        self._data = asyncio.Event()
        self._space = asyncio.Event()
        self._started_wall = 0.0
        self._t0 = 0.0
        # chunk mode (:meth:`chunks`): raw text instead of lines
        self._raw = False
        self._chunks: deque[StreamChunk] = deque()
        self._chunk_chars = 0
        self._out_tail: deque[str] = deque()  # recent stdout text (chunk mode), about _TAIL_CHARS
        self._out_tail_chars = 0

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    async def start(self) -> FlyProcess:
        """Start flyctl (``__aenter__`` does this)."""
        if self._proc is not None:
            return self
        self._started_wall, self._t0 = time.time(), time.monotonic()
        self._runner._emit(Invocation(self.argv, self._started_wall, None, None, "", self._kind))
        log.debug("spawn [%s] %s", self._kind, shlex.join(self.argv))
        pipe = self._stdin is not None or self._keep_stdin_open
        try:
            self._proc = await self._runner._exec(self._argv_real, stdin_pipe=pipe, cwd=self._cwd, env=self._env)
        except FlyctlError:
            duration = time.monotonic() - self._t0
            self._runner._emit(Invocation(self.argv, self._started_wall, duration, None, "", self._kind))
            raise
        self.pid = self._proc.pid
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._tasks = [
            asyncio.ensure_future(self._read(self._proc.stdout, "out")),
            asyncio.ensure_future(self._read(self._proc.stderr, "err")),
        ]
        if pipe and (self._stdin or not self._keep_stdin_open):
            self._tasks.append(
                asyncio.ensure_future(_feed(self._proc.stdin, self._stdin, close=not self._keep_stdin_open))
            )
        self._watcher = asyncio.ensure_future(self._watch())
        return self

    async def __aenter__(self) -> FlyProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        """Terminate the group (if anything is left), reap it, stop the readers."""
        if self._proc is None:
            return
        await self.terminate(self._runner.grace if grace is None else grace)
        readers = [t for t in self._tasks if not t.done()]
        if readers:
            await asyncio.wait(readers, timeout=_PIPE_EOF_WAIT)
        for task in self._tasks:
            if not task.done():
                task.cancel()
        self._proc.close_pipes()
        if self._watcher is not None:
            await asyncio.wait([self._watcher], timeout=_PIPE_EOF_WAIT)
            if not self._watcher.done():
                self._watcher.cancel()

    async def terminate(self, grace: float = DEFAULT_GRACE) -> None:
        """SIGTERM the whole process group, SIGKILL after ``grace`` s, reap. Idempotent."""
        if self._proc is None:
            return
        self._closing = True
        self._space.set()  # release readers waiting for buffer room: nothing is dropped, the cap is lifted
        await _cleanup_shielded(self._proc, grace)

    async def wait(self) -> int:
        """Wait for flyctl to exit; its exit code. (Consume ``batches()`` meanwhile for chatty commands.)"""
        if self._proc is None:
            await self.start()
        assert self._proc is not None
        return await _wait_exit(self._proc)

    def tail(self, n: int = 40) -> str:
        """The last ``n`` lines seen on stdout and stderr (redacted).

        In chunk mode the recent stdout lines come after the stderr lines (their interleaving is not kept).
        """
        texts = [line.text for line in self._tail] + self._out_tail_lines()
        return redact_text("\n".join(texts[-n:]), self._secrets)

    def _out_tail_lines(self) -> list[str]:
        """Chunk mode: the recent stdout lines (about ``_TAIL_CHARS`` characters; [] in line mode)."""
        if not self._out_tail:
            return []
        text = "".join(self._out_tail)
        if len(text) <= _TAIL_CHARS:
            return text.splitlines()
        return text[-_TAIL_CHARS:].splitlines()[1:]  # the first one is cut

    # -- stdin ------------------------------------------------------------------------------

    async def write_stdin(self, data: bytes) -> None:
        """Write to flyctl's stdin (spawned with ``keep_stdin_open=True``)."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("stdin is not open (spawn with keep_stdin_open=True)")
        await _feed(self._proc.stdin, data, close=False)

    def close_stdin(self) -> None:
        """Close flyctl's stdin (e.g. ``fly proxy --watch-stdin`` then exits)."""
        if self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.close()

    # -- reading ----------------------------------------------------------------------------

    async def _read(self, stream: asyncio.StreamReader, name: str) -> None:
        splitter = _LineSplitter(self._max_line)
        decoder: codecs.IncrementalDecoder | None = None
        try:
            while chunk := await stream.read(_READ_CHUNK):
                if self._raw:
                    if decoder is None:  # switched to chunk mode: keep the unfinished line
                        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                        chunk = splitter.take() + chunk
                    await self._push_chunk(name, decoder.decode(chunk))
                    continue
                lines = splitter.feed(chunk)
                if lines:
                    await self._push(name, lines)
            if decoder is not None:
                await self._push_chunk(name, decoder.decode(b"", final=True))
            else:
                rest = splitter.flush()
                if rest:
                    await self._push(name, rest)
        finally:
            self._eofs += 1
            self._data.set()

    async def _push_chunk(self, name: str, text: str) -> None:
        """Chunk mode: queue raw text (bounded: wait while too much is pending); keep tails for errors."""
        if not text:
            return
        while self._chunk_chars >= _MAX_PENDING_CHARS and not self._closing:
            self._space.clear()
            await self._space.wait()
        now = time.monotonic()
        self._chunks.append(StreamChunk(name, text, now))
        self._chunk_chars += len(text)
        if name == "err":  # rare and small: keep lines for tail() / wait_for / error messages
            for line in text.splitlines():
                entry = StreamLine(name, line[: self._max_line], now)
                self._tail.append(entry)
                if self._waiters:
                    self._match_waiters(entry.text)
        else:
            self._out_tail.append(text)
            self._out_tail_chars += len(text)
            while self._out_tail_chars - len(self._out_tail[0]) >= _TAIL_CHARS:
                self._out_tail_chars -= len(self._out_tail.popleft())
            if self._waiters:
                for line in text.splitlines():
                    self._match_waiters(line)
        self._data.set()

    async def _push(self, name: str, texts: list[str]) -> None:
        while len(self._pending) >= self._max_buffer and not self._closing:
            self._space.clear()
            await self._space.wait()
        now = time.monotonic()
        for text in texts:
            line = StreamLine(name, text, now)
            self._pending.append(line)
            self._tail.append(line)
            if self._waiters:
                self._match_waiters(text)
        self._data.set()

    def _match_waiters(self, text: str) -> None:
        for rx, fut in list(self._waiters):
            if not fut.done():
                m = rx.search(text)
                if m:
                    fut.set_result(m)

    async def _watch(self) -> None:
        """When flyctl exits: let the pipes drain, fail pending ``wait_for``s, log the end."""
        assert self._proc is not None
        rc = await _wait_exit(self._proc)
        readers = [t for t in self._tasks[:2] if not t.done()]
        if readers:
            await asyncio.wait(readers, timeout=_PIPE_EOF_WAIT)
        self._exited = True
        if not _group_alive(self._proc.pid):
            _LIVE_GROUPS.pop(self._proc.pid, None)
        for rx, fut in list(self._waiters):
            if not fut.done():
                fut.set_exception(self._exit_error(rx, rc))
        err_tail = redact_text(_tail_text("\n".join(ln.text for ln in self._tail if ln.stream == "err")), self._secrets)
        duration = time.monotonic() - self._t0
        stopped = self._closing and rc in _STOP_CODES
        self._runner._emit(Invocation(self.argv, self._started_wall, duration, rc, err_tail, self._kind, stopped))
        log.debug("end [%s] %s -> %s in %.2fs", self._kind, shlex.join(self.argv), rc, duration)

    def _exit_error(self, rx: re.Pattern[str], rc: int | None) -> FlyctlError:
        stderr = redact_text("\n".join(ln.text for ln in self._tail if ln.stream == "err"), self._secrets)
        stdout = redact_text("\n".join([ln.text for ln in self._tail if ln.stream == "out"] + self._out_tail_lines()),
                             self._secrets)
        error = classify(self.argv, rc, stderr, stdout)
        if type(error) is FlyctlError and not error_summary(stderr, stdout):
            error.message = f"`{shlex.join(self.argv)}` exited with code {rc} before printing {rx.pattern!r}"
        elif type(error) is FlyctlError:
            error.message = f"{error.message} (flyctl exited with code {rc} before it was ready)"
        return error

    async def batches(self, max_batch: int = 500, interval: float = 0.05) -> AsyncIterator[list[StreamLine]]:
        """Lists of lines: up to ``max_batch`` at once, or whatever arrived within ``interval`` s.

        Ends once both stdout and stderr reached EOF and every line was yielded.
        """
        if self._proc is None:
            await self.start()
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._eofs >= 2:
                    return
                self._data.clear()
                await self._data.wait()
                continue
            await self._fill(lambda: len(self._pending) >= max_batch, loop.time() + interval)
            count = min(max_batch, len(self._pending))
            batch = [self._pending.popleft() for _ in range(count)]
            self._space.set()
            yield batch

    async def chunks(self, max_chars: int = 1 << 20, interval: float = 0.05) -> AsyncIterator[list[StreamChunk]]:
        """Raw decoded text, batched: lists of :class:`StreamChunk` (consecutive pieces of one stream merged).

        No per-line work at all (the fast path for ``fly logs --json``). A batch holds what arrived within
        ``interval`` s, or about ``max_chars`` characters. Call it instead of :meth:`batches`; lines split
        before the first call come first (as text). Ends once both pipes reached EOF and everything was
        yielded. In this mode ``wait_for`` matches stdout per chunk (a line cut across two chunks can be
        missed) and ``tail()`` lists stderr lines before the recent stdout lines.
        """
        self._raw = True
        if self._proc is None:
            await self.start()
        self._adopt_pending_lines()
        loop = asyncio.get_running_loop()
        while True:
            if not self._chunks:
                if self._eofs >= 2:
                    return
                self._data.clear()
                await self._data.wait()
                continue
            await self._fill(lambda: self._chunk_chars >= max_chars, loop.time() + interval)
            yield self._take_chunks(max_chars)

    async def _fill(self, full: Callable[[], bool], deadline: float) -> None:
        """Let more output arrive until the batch is ``full``, both pipes hit EOF, or ``deadline`` passes."""
        loop = asyncio.get_running_loop()
        while not full() and self._eofs < 2:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._data.clear()
            try:
                await asyncio.wait_for(self._data.wait(), remaining)
            except TimeoutError:
                return

    def _adopt_pending_lines(self) -> None:
        """Lines split before the switch to chunk mode become chunks (in front of newer chunks)."""
        if not self._pending:
            return
        lines, self._pending = list(self._pending), deque()
        adopted: list[StreamChunk] = []
        for line in lines:
            if adopted and adopted[-1].stream == line.stream:
                last = adopted[-1]
                adopted[-1] = StreamChunk(last.stream, last.text + line.text + "\n", line.t)
            else:
                adopted.append(StreamChunk(line.stream, line.text + "\n", line.t))
        self._chunks.extendleft(reversed(adopted))
        self._chunk_chars += sum(len(c.text) for c in adopted)

    def _take_chunks(self, max_chars: int) -> list[StreamChunk]:
        """Pop about ``max_chars`` characters of queued chunks, merging neighbours of the same stream."""
        groups: list[tuple[str, list[str], float]] = []
        taken = 0
        chunks = self._chunks
        while chunks and (taken < max_chars or not groups):
            c = chunks.popleft()
            taken += len(c.text)
            if groups and groups[-1][0] == c.stream:
                groups[-1][1].append(c.text)
                groups[-1] = (c.stream, groups[-1][1], c.t)
            else:
                groups.append((c.stream, [c.text], c.t))
        self._chunk_chars -= taken
        self._space.set()
        return [StreamChunk(stream, "".join(texts), t) for stream, texts, t in groups]

    async def wait_for(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait for a line (stdout or stderr) matching ``pattern``; lines already seen count.

        Raises the classified :class:`FlyctlError` (with the output tail) if flyctl exits first,
        :class:`FlyctlTimeout` after ``timeout`` seconds (the process is left running).
        """
        if self._proc is None:
            await self.start()
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        seen = [line.text for line in self._tail] + self._out_tail_lines()
        for text in seen:
            m = rx.search(text)
            if m:
                return m
        if self._exited:
            raise self._exit_error(rx, self.returncode)
        fut: asyncio.Future[re.Match[str]] = asyncio.get_running_loop().create_future()
        entry = (rx, fut)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise FlyctlTimeout(
                f"`{shlex.join(self.argv)}` did not print {rx.pattern!r} within {timeout:g} s",
                argv=self.argv, returncode=self.returncode, stderr=self.tail(), stdout="",
            ) from None
        finally:
            self._waiters.remove(entry)


