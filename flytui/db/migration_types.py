"""Value types of the migrations session: actions, previews, snapshots, run summaries, errors, URL-host helpers.

Split out of :mod:`flytui.db.migrations` (which re-exports every name here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from flytui.db.alembic_service import (
    DowngradeWarning,
    History,
    LogLine,
    Progress,
    Revision,
    RunFinished,
    RunResult,
    RunStarted,
    SqlPreview,
)

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.sqllint import Finding

ActionKind = Literal["upgrade", "downgrade", "stamp"]
UrlSource = Literal["prompt", "env", "app"]

STAMP_WARNING = ("stamp changes no schema: it only rewrites the alembic_version table, so the database must "
                 "already match the target revision")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class MigrationSessionError(Exception):
    """A problem the user can fix (no URL yet, unknown env var, unknown database app ...)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class DatabaseAppUnknown(MigrationSessionError):
    """The URL's host names no Fly app (not ``X.flycast`` / ``X.internal``): the user must say which Postgres app
    to ``fly proxy`` to."""


class RemoteUnavailable(MigrationSessionError):
    """Remote mode was asked for but ``flytui.db.remote`` is not installed/built."""


# --------------------------------------------------------------------------- URL helpers


def db_app_from_host(host: str | None) -> str | None:
    """The Fly app that serves ``host``: ``X.flycast``, ``X.internal``, ``<region|topN.nearest.of>.X.internal``.

    None for anything else (the user must say which app to proxy to).
    """
    if not host:
        return None
    host = host.strip().lower().rstrip(".")
    m = re.fullmatch(r"([a-z0-9][a-z0-9-]*)\.flycast", host)
    if m:
        return m.group(1)
    m = re.fullmatch(r"top\d+\.nearest\.of\.([a-z0-9][a-z0-9-]*)\.internal", host)
    if m:
        return m.group(1)
    m = re.fullmatch(r"(?:[a-z0-9-]+\.)?([a-z0-9][a-z0-9-]*)\.internal", host)
    if m:
        return m.group(1)
    return None


def is_local_host(host: str | None) -> bool:
    """True for localhost / loopback / a Unix socket directory (no tunnel needed)."""
    return not host or host in _LOCAL_HOSTS or host.startswith("/")


def _url_host(url: str) -> tuple[str | None, int]:
    """(host, port) of a database URL (``?host=`` socket directories count as the host)."""
    from flytui.db.urls import parse_url

    parsed = parse_url(url)
    socket_dir = parsed.query.get("host")
    host = parsed.host or (socket_dir if isinstance(socket_dir, str) else None)
    return host, int(parsed.port or 5432)


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class MigrationAction:
    """One alembic command: ``upgrade +1``, ``downgrade <rev>``, ``stamp head`` ..."""

    kind: ActionKind
    target: str

    @property
    def args(self) -> list[str]:
        """The alembic arguments (no URL)."""
        return [self.kind, self.target]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.target}"

    @property
    def needs_confirmation(self) -> bool:
        """Downgrade and stamp always need a confirmation."""
        return self.kind in ("downgrade", "stamp")


@dataclass(frozen=True)
class Snapshot:
    """What the status table shows: history + the database's current heads."""

    history: History
    current: tuple[str, ...] | None          # None: not connected (history only)
    states: dict[str, str]                   # id -> applied | pending | current | head
    pending: tuple[Revision, ...]
    graph: dict[str, str]

    @property
    def multiple_heads(self) -> bool:
        return len(self.history.heads) > 1


@dataclass(frozen=True)
class ActionPreview:
    """Everything shown before an action runs."""

    action: MigrationAction
    revisions: tuple[Revision, ...]          # in run order
    sql: SqlPreview | None
    findings: tuple["Finding", ...]
    downgrade_warnings: tuple[DowngradeWarning, ...]
    warnings: tuple[str, ...]                # e.g. the stamp warning
    error: str | None                        # plan error (multiple heads, ambiguous walk, nothing to do)
    current: tuple[str, ...]
    unrendered: tuple[Any, ...] = ()         # previews.Unrendered: revisions whose SQL is unknown (lint: not checked)
    checked: tuple[str, ...] = ()            # after a failed range: the revisions rendered (and linted) one by one

    @property
    def lint_checked(self) -> bool:
        """True when every revision's SQL was linted (a green "no findings" is only allowed then)."""
        return self.sql is not None and (self.sql.ok or not self.unrendered and bool(self.checked))

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RevisionPreview:
    """SQL of one revision in both directions (explicit ``parent:rev`` / ``rev:parent`` ranges)."""

    revision: Revision
    upgrade: SqlPreview
    downgrade: SqlPreview
    upgrade_findings: tuple["Finding", ...]
    downgrade_warnings: tuple[DowngradeWarning, ...]


@dataclass(frozen=True)
class RunSummary:
    """Last event of :meth:`MigrationSession.run`: the real exit code decides ``ok``."""

    action: MigrationAction
    result: RunResult
    heads_before: tuple[str, ...]
    heads_after: tuple[str, ...] | None      # None: could not be read (tunnel down)
    tunnel_dropped: bool
    remote: bool
    exit_code_exact: bool
    note: str                                # one sentence for the user
    mismatch: str | None = None              # alembic said it ran steps, the shown database did not move

    @property
    def ok(self) -> bool:
        return self.result.ok and self.mismatch is None


SessionEvent = RunStarted | LogLine | Progress | RunFinished | RunSummary
