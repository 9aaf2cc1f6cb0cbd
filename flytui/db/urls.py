"""Database URLs: diagnose, fix, point at a tunnel, mask, diff.

Every function parses with :func:`sqlalchemy.engine.make_url` and edits the parsed URL (``URL.set``,
``update_query_dict``, ...) — never string surgery — so user, password (also with ``@ % / :`` percent-encoded),
host, port, database and every query parameter survive untouched. SQLAlchemy is imported lazily.

Fly's ``fly postgres attach`` writes ``postgres://user:pw@<pg-app>.flycast:5432/<db>?sslmode=disable``; SQLAlchemy
>= 1.4 rejects ``postgres://`` (``NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres``), and plain
``postgresql://`` means psycopg2 in SQLAlchemy 2.x while the project uses psycopg 3: the fix is
``postgresql+psycopg://`` (see /work/shared/fly-apis.md section 6.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import URL

__all__ = [
    "UrlProblem", "UrlDiagnosis", "diagnose_url", "fix_url", "tunnel_url", "mask_url", "url_diff",
    "configparser_escape", "psycopg_conninfo", "TARGET_DRIVER",
]

TARGET_DRIVER = "postgresql+psycopg"
"""The scheme flytui's projects use: SQLAlchemy 2 + psycopg 3."""

MASK = "***"
_UNPARSABLE = "<unparsable URL>"
# query keys that choose the server and therefore must follow the tunnel
_SERVER_QUERY_KEYS = ("host", "hostaddr", "port")


class UrlError(ValueError):
    """The text is not a database URL SQLAlchemy can parse."""


@dataclass(frozen=True)
class UrlProblem:
    """One finding about a URL. ``code`` is stable (tests, UI icons); ``message``/``hint`` are for people."""

    code: str          # postgres-scheme | psycopg2-default | psycopg2-driver | asyncpg-sslmode | missing-database
    #                    | missing-host | unencoded-at | not-postgres | unparsable | empty
    severity: str      # "error" (will not connect) | "warning" (may surprise)
    message: str
    hint: str
    fixable: bool = False


@dataclass(frozen=True)
class UrlDiagnosis:
    """Result of :func:`diagnose_url`. Holds only masked text: safe to show and log."""

    masked: str
    problems: tuple[UrlProblem, ...] = ()
    fixed_masked: str | None = None     # masked :func:`fix_url` result when it differs from the input
    drivername: str | None = None
    username: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[UrlProblem]:
        """Problems that stop SQLAlchemy + psycopg from connecting."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[UrlProblem]:
        """Problems that may surprise but still connect."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def codes(self) -> list[str]:
        """The problem codes, in order."""
        return [p.code for p in self.problems]


# ---------------------------------------------------------------------------------------------------- parsing
def parse_url(url: str) -> "URL":
    """Parse ``url`` with SQLAlchemy; :class:`UrlError` (never the password) when it cannot."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url or not url.strip():
        raise UrlError("empty database URL")
    try:
        return make_url(url.strip())
    except (ArgumentError, ValueError) as exc:
        detail = "invalid port" if isinstance(exc, ValueError) else "not of the form scheme://user:password@host:port/db"
        raise UrlError(f"cannot parse database URL ({detail})") from None


def _render(url: "URL", *, hide_password: bool) -> str:
    """Render a parsed URL, password shown or replaced by ``***``."""
    return url.render_as_string(hide_password=hide_password)


def _dialect(url: "URL") -> str:
    """``postgresql`` of ``postgresql+psycopg``."""
    return url.drivername.split("+", 1)[0]


def _driver(url: "URL") -> str | None:
    """``psycopg`` of ``postgresql+psycopg``; None when no driver is named."""
    parts = url.drivername.split("+", 1)
    return parts[1] if len(parts) == 2 else None


def _is_postgres(url: "URL") -> bool:
    return _dialect(url) in ("postgres", "postgresql")


# ---------------------------------------------------------------------------------------------------- fix
def _fixed(url: "URL") -> "URL":
    """The fix of a parsed URL (see :func:`fix_url`)."""
    if _dialect(url) == "postgres" and _driver(url) is None:
        url = url.set(drivername=TARGET_DRIVER)
    elif _dialect(url) == "postgres":
        url = url.set(drivername=f"postgresql+{_driver(url)}")
    elif url.drivername == "postgresql":
        url = url.set(drivername=TARGET_DRIVER)
    if _driver(url) == "asyncpg" and "sslmode" in url.query:
        sslmode = url.query["sslmode"]
        url = url.difference_update_query(["sslmode"]).update_query_dict({"ssl": sslmode})
    return url


def fix_url(url: str) -> str:
    """``postgres://`` / ``postgresql://`` -> ``postgresql+psycopg://``, keeping user, password, host, port, database
    and every query parameter (e.g. ``sslmode=disable``). ``postgres+DRIVER`` -> ``postgresql+DRIVER``; an asyncpg
    URL's ``sslmode=X`` becomes ``ssl=X``. Other URLs come back unchanged (re-rendered). :class:`UrlError` if unparsable.
    """
    return _render(_fixed(parse_url(url)), hide_password=False)


# ---------------------------------------------------------------------------------------------------- diagnose
def _scheme_problems(url: "URL") -> list[UrlProblem]:
    """Problems with the scheme/driver part."""
    dialect, driver = _dialect(url), _driver(url)
    if dialect == "postgres":
        return [UrlProblem(
            "postgres-scheme", "error",
            "NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres — SQLAlchemy >= 1.4 removed the "
            "'postgres://' alias that Fly writes into DATABASE_URL",
            f"use '{TARGET_DRIVER}://' (same user, password, host, database and parameters)", fixable=True)]
    if dialect != "postgresql":
        return [UrlProblem("not-postgres", "warning", f"'{url.drivername}://' is not a PostgreSQL URL",
                           "Fly Postgres URLs start with postgres:// or postgresql://")]
    if driver is None:
        return [UrlProblem(
            "psycopg2-default", "error",
            "'postgresql://' makes SQLAlchemy 2 load psycopg2 (ModuleNotFoundError: No module named 'psycopg2'), "
            "but the project uses psycopg 3",
            f"use '{TARGET_DRIVER}://'", fixable=True)]
    if driver == "psycopg2":
        return [UrlProblem("psycopg2-driver", "warning",
                           "'postgresql+psycopg2://' needs psycopg2; the project installs psycopg 3",
                           f"use '{TARGET_DRIVER}://' unless psycopg2 is installed")]
    if driver == "asyncpg" and "sslmode" in url.query:
        return [UrlProblem(
            "asyncpg-sslmode", "error",
            "asyncpg gets the query string as connect() arguments and has no 'sslmode' "
            "(TypeError: connect() got an unexpected keyword argument 'sslmode')",
            f"rename it: ssl={url.query['sslmode']}", fixable=True)]
    return []


def _location_problems(url: "URL") -> list[UrlProblem]:
    """Problems with host and database."""
    problems: list[UrlProblem] = []
    if url.host and "@" in url.host:
        problems.append(UrlProblem(
            "unencoded-at", "error",
            f"the host parses as '{url.host.split('@')[-1]}' after an '@': the password probably contains a raw '@'",
            "percent-encode special characters in the password (@ -> %40, / -> %2F, : -> %3A, % -> %25)"))
    if not url.host and "host" not in url.query and "hostaddr" not in url.query:
        problems.append(UrlProblem("missing-host", "warning", "no host: libpq connects to the local Unix socket",
                                   "Fly Postgres hosts look like <pg-app>.flycast or <pg-app>.internal"))
    if not url.database:
        who = url.username or "the login user"
        problems.append(UrlProblem(
            "missing-database", "warning",
            f"no database name: PostgreSQL connects to the database named like the user ({who})",
            "append /<database> — fly postgres attach creates one named after the app"))
    return problems


def diagnose_url(url: str) -> UrlDiagnosis:
    """Everything wrong with ``url`` for SQLAlchemy 2 + psycopg 3, with the masked fix. Never raises."""
    try:
        parsed = parse_url(url)
    except UrlError as exc:
        code = "empty" if not (url or "").strip() else "unparsable"
        hint = "expected postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE"
        return UrlDiagnosis(masked=mask_url(url or ""), problems=(UrlProblem(code, "error", str(exc), hint),))
    problems = _scheme_problems(parsed)
    if _is_postgres(parsed):
        problems += _location_problems(parsed)
    fixed = _fixed(parsed)
    fixed_masked = _render(fixed, hide_password=True) if fixed != parsed else None
    return UrlDiagnosis(
        masked=_render(parsed, hide_password=True), problems=tuple(problems), fixed_masked=fixed_masked,
        drivername=parsed.drivername, username=parsed.username, host=parsed.host, port=parsed.port,
        database=parsed.database, query={k: _query_text(v) for k, v in parsed.query.items()},
    )


def _query_text(value: str | tuple[str, ...]) -> str:
    """A query value as one string (repeated keys joined with ',')."""
    return value if isinstance(value, str) else ",".join(value)


# ---------------------------------------------------------------------------------------------------- tunnel
def tunnel_url(url: str, local_port: int, host: str = "127.0.0.1") -> str:
    """``url`` with host/port replaced by the tunnel's local end; user, password, database, scheme and the other
    query parameters (``sslmode=disable``...) kept. ``host``/``hostaddr``/``port`` query params are dropped since
    they would override the tunnel."""
    parsed = parse_url(url)
    parsed = parsed.difference_update_query([k for k in _SERVER_QUERY_KEYS if k in parsed.query])
    return _render(parsed.set(host=host, port=int(local_port)), hide_password=False)


# ---------------------------------------------------------------------------------------------------- display
def mask_url(url: str) -> str:
    """``url`` with the password replaced by ``***``: safe to show and log. Unparsable text is masked as well."""
    try:
        return _render(parse_url(url), hide_password=True)
    except UrlError:
        return _mask_unparsable(url)


def _mask_unparsable(text: str) -> str:
    """Mask anything between ``scheme://user:`` and the last ``@`` of text SQLAlchemy cannot parse."""
    import re

    if not text.strip():
        return text
    masked = re.sub(r"(://[^:/@\s]*:)[^\s]*@", lambda m: f"{m.group(1)}{MASK}@", text)
    return masked if masked != text or "@" not in text else _UNPARSABLE


def url_diff(old: str, new: str) -> list[tuple[str, str, str]]:
    """Fields that differ between two URLs as ``(field, old, new)``; passwords never shown (``***``).

    Fields: ``scheme``, ``user``, ``password``, ``host``, ``port``, ``database`` and ``?<param>`` per query key.
    """
    a, b = _fields(old), _fields(new)
    rows: list[tuple[str, str, str]] = []
    for key in [*a, *[k for k in b if k not in a]]:
        va, vb = a.get(key, ""), b.get(key, "")
        if va != vb:
            if key == "password":
                va, vb = (MASK if va else ""), (f"{MASK} (changed)" if vb else "")
            rows.append((key, va, vb))
    return rows


def _fields(url: str) -> dict[str, str]:
    """Flat field map of a URL for :func:`url_diff` (an unparsable URL is one masked 'url' field)."""
    try:
        p = parse_url(url)
    except UrlError:
        return {"url": mask_url(url)}
    fields = {"scheme": p.drivername, "user": p.username or "", "password": p.password or "",
              "host": p.host or "", "port": "" if p.port is None else str(p.port), "database": p.database or ""}
    fields.update({f"?{k}": _query_text(v) for k, v in p.query.items()})
    return fields


# ---------------------------------------------------------------------------------------------------- other forms
def configparser_escape(url: str) -> str:
    """Escape ``%`` as ``%%`` for configparser interpolation (alembic ``Config.set_main_option``)."""
    return url.replace("%", "%%")


def psycopg_conninfo(url: str) -> str:
    """A libpq URI for ``psycopg.connect``: the SQLAlchemy driver suffix removed (``postgresql+psycopg://`` ->
    ``postgresql://``, ``postgres://`` kept meaningfully as ``postgresql://``), everything else kept."""
    parsed = parse_url(url)
    if not _is_postgres(parsed):
        raise UrlError(f"not a PostgreSQL URL: {_render(parsed, hide_password=True)}")
    return _render(parsed.set(drivername="postgresql"), hide_password=False)
