"""What the runner returns and reports: finished runs, command-log entries, output lines and chunks."""
from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from flytui.fly.errors import (
    FlyctlOutputError,
)

# ------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class CompletedRun:
    """A finished flyctl call. ``argv`` is redacted."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float


#: exit codes of a process ended by our SIGTERM/SIGKILL (negative from asyncio, 128+N from a shell wrapper)
_STOP_CODES = frozenset({-signal.SIGTERM, -signal.SIGKILL, 128 + signal.SIGTERM, 128 + signal.SIGKILL})

@dataclass(frozen=True)
class Invocation:
    """One entry of the command log, emitted at start (duration/returncode None) and at end."""

    argv: list[str]  # REDACTED
    started: float  # time.time()
    duration: float | None
    returncode: int | None
    stderr_tail: str  # redacted
    kind: str  # run | json | stream | long
    stopped: bool = False  # flytui ended it (closed a stream, cancelled): its signal exit code is no failure


@dataclass(frozen=True)
class StreamLine:
    """One line read from a streaming flyctl process."""

    stream: str  # "out" | "err"
    text: str  # decoded with errors="replace", at most max_line chars (suffix "…" when cut)
    t: float  # time.monotonic() when read


@dataclass(frozen=True)
class StreamChunk:
    """A piece of raw decoded text from a streaming flyctl process (:meth:`FlyProcess.chunks`).

    Not split into lines: ``text`` may start or end in the middle of a line (the next chunk of the same
    stream continues it). UTF-8 sequences are never split (incremental decoder, ``errors="replace"``).
    """

    stream: str  # "out" | "err"
    text: str
    t: float  # time.monotonic() of the newest read merged into it


Listener = Callable[[Invocation], None]


def _tail_text(text: str, n: int = 12) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def parse_json_values(text: str) -> list[Any]:
    """Every top-level JSON value in flyctl's stdout, in order.

    flyctl's encoder starts each top-level value at column 0, so candidates are lines starting
    with ``{`` or ``[``; other lines (warnings, "Run 'fly --help'") are skipped. Back-to-back pretty
    objects (``fly logs --json``) are decoded with ``raw_decode`` in a loop. A whole-text scalar
    (``null``) is accepted too. Raises :class:`FlyctlOutputError` on empty/undecodable output or a
    truncated value after good ones.
    """
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise FlyctlOutputError("flyctl printed no output where JSON was expected")
    try:
        return [json.loads(stripped)]
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos, end = 0, len(text)
    while pos < end:
        nl = text.find("\n", pos)
        line_end = end if nl < 0 else nl
        if text[pos:pos + 1] in ("{", "["):
            try:
                value, stop = decoder.raw_decode(text, pos)
            except ValueError:
                if values:
                    raise FlyctlOutputError(
                        f"flyctl printed truncated JSON: {_excerpt(text[pos:])}"
                    ) from None
            else:
                values.append(value)
                pos = stop
                continue
        pos = line_end + 1
    if not values:
        raise FlyctlOutputError(f"flyctl printed something that is not JSON: {_excerpt(text)}")
    return values


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.command import FlyCommand
    from flytui.fly.process import FlyProcess


class RunnerLike(Protocol):
    """The part of ``flytui.fly.runner.FlyctlRunner`` the client uses (see docs/ARCHITECTURE.md)."""

    @property
    def path(self) -> str: ...

    async def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
        cwd: str | None = None,
    ) -> "CompletedRun": ...

    async def run_json(self, *args: str, timeout: float | None = None, stdin: bytes | None = None) -> Any: ...

    def spawn(
        self,
        *args: str,
        stdin: bytes | None = None,
        keep_stdin_open: bool = False,
        max_line: int = 4096,
        cwd: str | None = None,
    ) -> "FlyProcess": ...

    async def execute(self, command: "FlyCommand") -> "CompletedRun": ...
