"""Which database will env.py reach? A static reading of env.py and the ini, and the verdict on a probe.

A real env.py may build its engine from ``sqlalchemy.url`` in alembic.ini and never read ``DATABASE_URL``;
then flytui would lock and show database A while alembic migrates database B. Before a run the project's own
alembic is started with the run's exact command, environment, ``-x`` and working directory and stopped at
env.py's first connection (:meth:`flytui.db.alembic_run.AlembicRunner.probe_target`); :func:`judge` turns the
result into a go, or a refusal that says what env.py reads and which setting to change.
"""

from __future__ import annotations

import ast
import configparser
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.alembic_run import AlembicRunner, RunResult, TargetProbe
    from flytui.db.alembic_service import AlembicProject, History

__all__ = ["EnvPyReading", "TargetMismatch", "read_env_py", "ini_url", "judge", "not_as_planned"]


class TargetMismatch(Exception):
    """The run would not reach the shown database (or flytui could not tell); nothing was run."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class EnvPyReading:
    """What env.py's source shows about where its URL comes from (static: nothing is imported)."""

    env_vars: tuple[str, ...] = ()         # os.environ["X"], os.environ.get("X"), os.getenv("X")
    x_keys: tuple[str, ...] = ()           # context.get_x_argument(as_dictionary=True)["k"] / .get("k")
    reads_ini_url: bool = False            # get_main_option("sqlalchemy.url") / engine_from_config(get_section)
    sets_ini_url: bool = False             # config.set_main_option("sqlalchemy.url", ...)
    error: str | None = None
    settings: tuple[str, ...] = ()         # settings.DATABASE_URL, app.config.SQLALCHEMY_DATABASE_URI ...
    sets_lock_timeout: bool = False        # executes SET [LOCAL] lock_timeout before the migrations (langflow)

    def describe(self) -> str:
        """One sentence: ``env.py reads $DATABASE_URL; sqlalchemy.url from the ini``."""
        parts = []
        if self.env_vars:
            parts.append("the environment variable(s) " + ", ".join(f"${v}" for v in self.env_vars))
        if self.x_keys:
            parts.append("-x " + ", ".join(f"{k}=…" for k in self.x_keys))
        if self.settings:
            parts.append(", ".join(self.settings) + " (the app's settings: usually an environment variable of that "
                                                    "name)")
        if self.sets_ini_url:
            parts.append("a URL it puts into sqlalchemy.url itself")
        elif self.reads_ini_url:
            parts.append("sqlalchemy.url from the ini")
        if not parts:
            return "env.py reads no URL flytui can see (it may come from the app's settings)"
        return "env.py reads " + "; ".join(parts)


def _const_str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _attr_chain(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def read_env_py(path: Path) -> EnvPyReading:
    """Static reading of env.py (see :class:`EnvPyReading`)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return EnvPyReading(error=f"{type(exc).__name__}: {exc}")
    env_vars: list[str] = []
    x_keys: list[str] = []
    reads_ini = sets_ini = False
    attrs: list[str] = []
    x_dicts: set[str] = set()
    for node in ast.walk(tree):  # names bound to get_x_argument(...)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                _attr_chain(node.value.func).endswith("get_x_argument"):
            x_dicts.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) and _const_str(t.slice) == "sqlalchemy.url"
                                                for t in node.targets):
            sets_ini = True  # configuration["sqlalchemy.url"] = get_url(): the ini's URL is replaced
        if isinstance(node, ast.Attribute) and node.attr.isupper() and any(
                w in node.attr for w in ("DATABASE", "SQLALCHEMY", "DB_URL", "DSN")):
            attrs.append(f"{_attr_chain(node)}")
        if isinstance(node, ast.Subscript):
            chain = _attr_chain(node.value)
            key = _const_str(node.slice)
            if key and (chain.endswith("environ")):
                env_vars.append(key)
            elif key and (chain in x_dicts or (isinstance(node.value, ast.Call)
                                               and _attr_chain(node.value.func).endswith("get_x_argument"))):
                x_keys.append(key)
        elif isinstance(node, ast.Call):
            chain = _attr_chain(node.func)
            first = _const_str(node.args[0]) if node.args else None
            if chain.endswith("environ.get") or chain.endswith("getenv") or chain.endswith("environ.setdefault"):
                if first:
                    env_vars.append(first)
            elif first and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and (
                    _attr_chain(node.func.value) in x_dicts or (isinstance(node.func.value, ast.Call)
                                                                and _attr_chain(node.func.value.func).endswith("get_x_argument"))):
                x_keys.append(first)
            elif chain.endswith("get_main_option") and first == "sqlalchemy.url":
                reads_ini = True
            elif chain.endswith("set_main_option") and first == "sqlalchemy.url":
                sets_ini = True
            elif chain.endswith("engine_from_config") or chain.endswith("async_engine_from_config"):
                reads_ini = True

    def dedup(xs: list[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(xs))

    lock_timeout = any(isinstance(n, ast.Constant) and isinstance(n.value, str) and _LOCK_TIMEOUT.search(n.value)
                       for n in ast.walk(tree))
    return EnvPyReading(dedup(env_vars), dedup(x_keys), reads_ini, sets_ini, settings=dedup(attrs),
                        sets_lock_timeout=lock_timeout)


_LOCK_TIMEOUT = re.compile(r"\bSET\s+(?:LOCAL\s+|SESSION\s+)?lock_timeout\b|set_config\(\s*'lock_timeout'", re.IGNORECASE)


def ini_url(project: "AlembicProject") -> str | None:
    """``sqlalchemy.url`` of the project's ini (masked), if any."""
    if project.uses_pyproject:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(project.config_file, encoding="utf-8")
        value = parser.get("alembic", "sqlalchemy.url", fallback=None)
    except configparser.Error:
        return None
    if not value or not value.strip():
        return None
    value = value.replace("%%", "%")  # the ini escapes % for configparser's interpolation
    from flytui.db.urls import mask_url

    try:
        return mask_url(value.strip())
    except Exception:  # noqa: BLE001 - e.g. a driver://user:pass@localhost/dbname placeholder
        return value.strip()


def _setting_hint(reading: EnvPyReading, runner: "AlembicRunner") -> str:
    """Which ``database_url`` setting would make env.py take the shown URL."""
    where = "in [tool.flytui.migrations] (pyproject.toml) or [migrations] (.flytui.toml)"
    current = f"{runner.url_kind}:{runner.url_name}" if runner.url_kind != "ini" else "ini"
    candidates = [f"env:{v}" for v in reading.env_vars if "URL" in v.upper() or "DSN" in v.upper() or "DATABASE" in v.upper()]
    candidates += [f"x:{k}" for k in reading.x_keys]
    if reading.reads_ini_url and not reading.sets_ini_url:
        candidates.append("ini")
    candidates = [c for c in candidates if c != current]
    if reading.settings and not candidates:
        return (f"env.py takes the URL from the app's settings ({', '.join(reading.settings)}): set the environment "
                f"variables those settings read so they point at the shown database, e.g. in "
                f"[tool.flytui.migrations.env]; or name what env.py reads with database_url {where}")
    if candidates:
        return f"set database_url = \"{candidates[0]}\" {where}"
    return ("make env.py read the URL flytui passes ($DATABASE_URL by default), or name what it reads with "
            f"database_url = \"env:NAME\" / \"x:KEY\" / \"ini\" {where}")


def judge(probe: "TargetProbe", shown_database: str | None, project: "AlembicProject",
          runner: "AlembicRunner") -> str:
    """A log line when env.py reaches the locked (shown) database; TargetMismatch otherwise."""
    reading = read_env_py(project.script_location / "env.py")
    via = runner.describe_url_via()
    if probe.same:
        return (f"[flytui] target checked: env.py connects to database {probe.database!r}, the shown one "
                f"(URL passed as {via})")
    ini = ini_url(project)
    why = reading.describe()
    if ini and reading.reads_ini_url and not reading.sets_ini_url:
        why += f" (sqlalchemy.url = {ini} in {project.config_file.name})"
    if probe.same is None:
        hint = _setting_hint(reading, runner) if probe.database is None else ""
        if "invalid interpolation syntax" in (probe.error or "") and reading.sets_ini_url:
            # ihatemoney's env.py (Flask-Migrate's older template): set_main_option("sqlalchemy.url", uri) without
            # doubling '%', so any %-escape in the URL (a socket folder, a password) breaks configparser
            hint = ("env.py puts the URL into alembic's config without doubling '%' (config.set_main_option needs "
                    "'%%'): escape it there (.replace('%', '%%')), or use a URL without '%' (no %-escaped "
                    "characters in the password or host)")
        raise TargetMismatch(
            f"flytui could not check which database env.py reaches, so nothing was run: {probe.error}. {why}.", hint)
    shown = f"{shown_database!r}" if shown_database else "the shown database"
    raise TargetMismatch(
        f"env.py would migrate database {probe.database!r} (user {probe.user}), not {shown} that flytui shows "
        f"and locked: nothing was run. flytui passed the URL as {via}; {why}.",
        _setting_hint(reading, runner))


def not_as_planned(history: "History | None", result: "RunResult", after: tuple[str, ...] | None) -> str | None:
    """Alembic reported steps but the shown database did not move that way: what is wrong, else None."""
    if not result.ok or after is None or history is None:
        return None
    steps = [s for s in result.steps if s.direction in ("upgrade", "downgrade") and s.revision]
    if not steps:
        return None
    try:
        reached = history.ancestors(after) if after else set()
    except KeyError:
        return None
    missing = [s.revision for s in steps if s.direction == "upgrade" and s.revision not in reached]
    left = [s.revision for s in steps if s.direction == "downgrade" and s.revision in reached]
    if not (missing or left):
        return None
    wrong = ", ".join(str(r) for r in (missing or left))
    return (f"alembic reported {len(steps)} step(s) but the shown database did not move as planned "
            f"({wrong} {'not applied' if missing else 'still applied'}): alembic migrated another database")
