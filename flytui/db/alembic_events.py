"""What an alembic run reports: the events a run yields (started, log lines, progress, finished), its result, the
SQL preview and target probe results, and the readers of alembic's output (progress lines, the error line)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


class AlembicSetupError(Exception):
    """The run cannot be set up as configured (the user can fix it); nothing was started."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# --------------------------------------------------------------------------- runner events


@dataclass(frozen=True)
class RunStarted:
    """The subprocess started (the migration lock is held by ``lock_pid``'s backend)."""

    argv: list[str]
    pid: int
    lock_pid: int | None


@dataclass(frozen=True)
class LogLine:
    """One line of alembic's output (``stream`` is ``out`` or ``err``)."""

    stream: str
    text: str


@dataclass(frozen=True)
class Progress:
    """``Running upgrade A -> B, message``: step ``index`` (1-based) of ``total`` (None if unknown)."""

    direction: str       # upgrade | downgrade | stamp
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    message: str
    index: int
    total: int | None

    @property
    def revision(self) -> str | None:
        """The revision this step applies (upgrade) or removes (downgrade)."""
        revs = self.to_revisions if self.direction != "downgrade" else self.from_revisions
        return revs[0] if revs else None


@dataclass(frozen=True)
class RunResult:
    """Outcome of one alembic run; ``returncode`` (the real exit code) decides ``ok``."""

    argv: list[str]
    returncode: int
    ok: bool
    steps: tuple[Progress, ...]
    failed_revision: str | None
    error: str | None            # last meaningful error line (e.g. ``sqlalchemy.exc.ProgrammingError: ...``)
    error_output: str            # tail of the output on failure
    output: str                  # whole output (merged)
    duration: float
    cancelled: bool = False


@dataclass(frozen=True)
class RunFinished:
    """Last event of a run."""

    result: RunResult


AlembicEvent = RunStarted | LogLine | Progress | RunFinished

_PROGRESS_RE = re.compile(r"Running (\w+) (.*?) -> ([^,]*)(?:, (.*))?$")
_STEP_NAMES = {"upgrade": "upgrade", "downgrade": "downgrade", "stamp_revision": "stamp"}


def parse_progress(line: str, index: int = 1, total: int | None = None,
                   direction: str | None = None) -> Progress | None:
    """Parse alembic's ``Running upgrade A -> B, message`` log line (None if it is not one).

    Alembic names the step after the migration function (``migration_fn.__name__``): a revision whose
    ``upgrade()`` is wrapped by a decorator without ``functools.wraps`` logs ``Running wrapper A -> B`` (ihatemoney's
    ``@skip_if_sqlite``). Such a line counts as a step of ``direction`` (the command being run) when it is given."""
    m = _PROGRESS_RE.search(line)
    if not m:
        return None
    name, src, dst, message = m.groups()
    kind = _STEP_NAMES.get(name) or (direction if direction in ("upgrade", "downgrade") else None)
    if kind is None:
        return None

    def split(s: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in s.split(",") if p.strip())

    return Progress(direction=kind, from_revisions=split(src),
                    to_revisions=split(dst), message=(message or "").strip(), index=index, total=total)


def redact(text: str, url: str) -> str:
    """Mask the URL's password wherever it appears in ``text``."""
    m = re.match(r"^[^:]+://[^:/@]+:([^@]+)@", url)
    if m and m.group(1):
        from urllib.parse import unquote

        for secret in {m.group(1), unquote(m.group(1))}:
            text = text.replace(secret, "***")
    return text


def _error_line(lines: Sequence[str]) -> str | None:
    """The most telling error line of a failed run (the exception line of the traceback)."""
    for text in reversed(lines):
        stripped = text.strip()
        if re.match(r"^[\w.]+(Error|Exception|Exit|Warning)\b.*?:", stripped) or stripped.startswith("FAILED:"):
            return stripped
    for text in reversed(lines):
        if text.strip():
            return text.strip()
    return None


def _error_block(lines: Sequence[str], limit: int = 8) -> str | None:
    """The exception line and the few lines after it (pydantic lists the missing settings there)."""
    first = _error_line(lines)
    if first is None:
        return None
    stripped = [ln.strip() for ln in lines]
    at = len(stripped) - 1 - stripped[::-1].index(first) if first in stripped else len(stripped)
    tail = [ln for ln in stripped[at + 1: at + limit] if ln and not ln.startswith("For further information")]
    return "; ".join([first, *tail])


# --------------------------------------------------------------------------- runner


@dataclass(frozen=True)
class SqlPreview:
    """Offline ``--sql`` output for a range, or the error text when alembic could not render it."""

    ok: bool
    sql: str
    error: str | None
    argv: list[str]
    range: str


@dataclass(frozen=True)
class TargetProbe:
    """What env.py reached in a dry ``current`` run (it exits at its first connection, before any query of
    its own). ``same``: that connection is to the database where flytui holds the migration lock."""

    same: bool | None            # None: no connection was seen (see error)
    database: str | None
    user: str | None
    error: str | None
    argv: list[str]
    output: str


class EventCollector:
    """The one event pipeline of local and remote runs: output lines become :class:`LogLine` and :class:`Progress`
    events; the lines (all, and stderr's) and the steps stay for the run's result. ``direction``: ``upgrade`` or
    ``downgrade`` (a step logged under a decorated function's name still counts, see :func:`parse_progress`)."""

    def __init__(self, total: int | None, direction: str | None) -> None:
        self.total = total
        self.direction = direction
        self.lines: list[str] = []
        self.err_lines: list[str] = []
        self.steps: list[Progress] = []

    def feed(self, stream: str, text: str) -> list[AlembicEvent]:
        self.lines.append(text)
        if stream == "err":
            self.err_lines.append(text)
        events: list[AlembicEvent] = [LogLine(stream, text)]
        progress = parse_progress(text, len(self.steps) + 1, self.total, direction=self.direction)
        if progress is not None:
            self.steps.append(progress)
            events.append(progress)
        return events
