"""Start a child process whose pipes the runner owns (plain asyncio, no UI imports).

``asyncio.create_subprocess_exec(stdout=PIPE, ...)`` connects the pipes in a task of its own *after* the
fork, and if connecting one of them fails or is cancelled, CPython 3.11's transport waits forever for the
pipe that never connected (``BaseSubprocessTransport._wait``): the child is killed by pid only (its group
survives) and the caller never returns. That hung the test suite at loop shutdown.

Here the pipes are made with :func:`os.pipe` before the fork and handed to the child as plain file
descriptors, so ``create_subprocess_exec`` has no pipe to connect and returns as soon as the child exists;
``on_started(pid)`` registers the new process group before anything can be awaited. The parent's ends are
then wrapped as :class:`asyncio.StreamReader` / :class:`asyncio.StreamWriter`; if that fails the whole group
is killed at once and the error is raised. Exit status comes from the asyncio ``Process`` (child watcher).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Child", "start_child"]

_READ_LIMIT = 64 * 1024


class _StdinProtocol(asyncio.streams.FlowControlMixin):
    """Flow control for the child's stdin, with the close waiter :class:`asyncio.StreamWriter` expects."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self._closed: asyncio.Future[None] = loop.create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._closed.done():
            self._closed.set_result(None)

    def _get_close_waiter(self, stream: Any) -> asyncio.Future[None]:
        return self._closed


class Child:
    """A started child: pid and exit status (asyncio ``Process``) plus the streams of its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid: int = process.pid
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._transports: list[asyncio.BaseTransport] = []

    @property
    def returncode(self) -> int | None:
        """Exit status once the child was reaped (negative: killed by that signal), else None."""
        return self._process.returncode

    def close_pipes(self) -> None:
        """Close the parent's ends of every pipe (idempotent; readers see EOF or an error)."""
        for transport in self._transports:
            if not transport.is_closing():
                transport.close()


async def start_child(argv: Sequence[str], *, stdin_pipe: bool, env: Mapping[str, str], cwd: str | None,
                      on_started: Callable[[int], None],
                      preexec_fn: Callable[[], None] | None = None) -> Child:
    """Start ``argv`` in a new session (its own process group); see the module docstring.

    ``on_started(pid)`` runs as soon as the child exists; ``preexec_fn`` runs in the child before exec
    (flytui.fly.lifeline.die_with_parent). Raises what ``create_subprocess_exec`` raises
    (e.g. FileNotFoundError) with every descriptor closed.
    """
    loop = asyncio.get_running_loop()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe() if stdin_pipe else (None, None)
    ours = [out_r, err_r] + ([in_w] if in_w is not None else [])
    try:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=in_r if in_r is not None else asyncio.subprocess.DEVNULL, stdout=out_w,
                stderr=err_w, env=dict(env), cwd=cwd, start_new_session=True, preexec_fn=preexec_fn,
            )
        finally:  # the child's ends: it has its own copies now (or it never started)
            for fd in (out_w, err_w, in_r):
                if fd is not None:
                    os.close(fd)
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    on_started(process.pid)
    child = Child(process)
    try:
        child.stdout = await _reader(loop, ours.pop(0), child)
        child.stderr = await _reader(loop, ours.pop(0), child)
        if in_w is not None:
            child.stdin = await _writer(loop, ours.pop(0), child)
    except BaseException:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)  # never leave a child we cannot talk to
        child.close_pipes()
        for fd in ours:
            with contextlib.suppress(OSError):
                os.close(fd)
        raise
    return child


async def _reader(loop: asyncio.AbstractEventLoop, fd: int, child: Child) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_READ_LIMIT, loop=loop)
    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    except BaseException:
        pipe.close()
        raise
    child._transports.append(transport)
    return reader


async def _writer(loop: asyncio.AbstractEventLoop, fd: int, child: Child) -> asyncio.StreamWriter:
    pipe = os.fdopen(fd, "wb", buffering=0)
    try:
        transport, protocol = await loop.connect_write_pipe(lambda: _StdinProtocol(loop), pipe)
    except BaseException:
        pipe.close()
        raise
    child._transports.append(transport)
    return asyncio.StreamWriter(transport, protocol, None, loop)
