"""Per-project migration settings: ``[tool.flytui]`` in pyproject.toml, or a ``.flytui.toml`` beside it.

```toml
[tool.flytui]                       # .flytui.toml: the same keys at the top level
app = "my-web"                      # the Fly app (remote mode, reading its DATABASE_URL)
database_app = "my-db"              # the Postgres app to `fly proxy` to when the URL's host names none

[tool.flytui.migrations]            # .flytui.toml: [migrations]
config = "backend/alembic.ini"      # the ini (or the folder holding it); relative to this file
command = "flask db"                # the project's alembic: a string or a list; default: detected
pass_config = false                 # add `-c <ini>`; default: yes, except for `flask db`
cwd = "backend"                     # where alembic runs; default: the ini's folder
x = ["tenant=acme"]                 # `-x` arguments
database_url = "env:DATABASE_URL"   # how env.py takes the URL: "env:NAME", "x:KEY" or "ini"
verify_target = true                # check which database env.py reaches before a run

[tool.flytui.migrations.env]        # extra environment for alembic
FLASK_APP = "app:create_app"
SECRET_KEY = "env:SECRET_KEY"       # "env:NAME": taken from your environment, so no secret is written here
```
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MigrationSettings", "SettingsError", "load_settings", "parse_settings"]

_TOP_KEYS = {"app", "database_app", "migrations"}
_MIG_KEYS = {"config", "command", "pass_config", "cwd", "x", "database_url", "verify_target", "env"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SettingsError(Exception):
    """The settings file is wrong; ``message`` names the file and the key."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class MigrationSettings:
    """Validated settings (paths absolute). ``source`` is None when there is no settings file."""

    source: str | None = None              # "pyproject.toml [tool.flytui]" / ".flytui.toml"
    base: Path | None = None               # the settings file's folder
    app: str | None = None
    database_app: str | None = None
    config: Path | None = None
    command: tuple[str, ...] | None = None
    pass_config: bool | None = None
    cwd: Path | None = None
    x_args: tuple[str, ...] = ()
    database_url: str = "env:DATABASE_URL"
    verify_target: bool = True
    env: dict[str, str] = field(default_factory=dict)          # resolved values (never shown)
    env_shown: dict[str, str] = field(default_factory=dict)    # "env:NAME" or "set" (values are not shown)

    def describe(self) -> str:
        """One line for the view's header (no values of env vars)."""
        if self.source is None:
            return "no project settings"
        parts = [f"settings: {self.source}"]
        if self.command:
            parts.append(f"command {shlex.join(self.command)}")
        if self.cwd and self.base:
            parts.append(f"cwd {os.path.relpath(self.cwd, self.base)}")
        parts.append(f"URL via {self.database_url}")
        if self.x_args:
            parts.append("-x " + " ".join(self.x_args))
        if self.env_shown:
            parts.append("env " + ", ".join(f"{k}={v}" for k, v in self.env_shown.items()))
        return " · ".join(parts)


def _err(where: str, key: str, problem: str, hint: str = "") -> SettingsError:
    return SettingsError(f"{where}: {key}: {problem}", hint or "see README, \"Per-project settings\"")


def parse_settings(data: Mapping[str, Any], base: Path, source: str,
                   environ: Mapping[str, str] | None = None) -> MigrationSettings:
    """Validate one settings table (``[tool.flytui]`` or the top of .flytui.toml)."""
    from flytui.db.alembic_run import _url_via

    environ = os.environ if environ is None else environ
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _err(source, ", ".join(sorted(unknown)), "unknown key", f"known keys: {', '.join(sorted(_TOP_KEYS))}")
    mig = data.get("migrations", {})
    if not isinstance(mig, Mapping):
        raise _err(source, "migrations", "must be a table")
    unknown = set(mig) - _MIG_KEYS
    if unknown:
        raise _err(source, "migrations." + ", ".join(sorted(unknown)), "unknown key",
                   f"known keys: {', '.join(sorted(_MIG_KEYS))}")

    def text(table: Mapping[str, Any], key: str, prefix: str = "") -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise _err(source, prefix + key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def path(key: str) -> Path | None:
        value = text(mig, key, "migrations.")
        if value is None:
            return None
        p = Path(os.path.expanduser(value))
        p = (p if p.is_absolute() else base / p).resolve()
        if not p.exists():
            raise _err(source, f"migrations.{key}", f"{value!r} does not exist (looked at {p})")
        return p

    command_raw = mig.get("command")
    if command_raw is None:
        command = None
    elif isinstance(command_raw, str) and command_raw.strip():
        command = tuple(shlex.split(command_raw))
    elif isinstance(command_raw, list) and command_raw and all(isinstance(c, str) and c for c in command_raw):
        command = tuple(command_raw)
    else:
        raise _err(source, "migrations.command", f"expected a string or a list of strings, got {command_raw!r}")
    if command and (os.sep in command[0] or command[0].startswith(".")):  # a path, not a name on PATH
        first = Path(command[0])
        command = (str((first if first.is_absolute() else base / first).resolve()), *command[1:])

    for key in ("pass_config", "verify_target"):
        if key in mig and not isinstance(mig[key], bool):
            raise _err(source, f"migrations.{key}", f"expected true or false, got {mig[key]!r}")
    x_raw = mig.get("x", [])
    if isinstance(x_raw, str):
        x_raw = [x_raw]
    if not isinstance(x_raw, list) or not all(isinstance(x, str) and "=" in x for x in x_raw):
        raise _err(source, "migrations.x", f"expected a list of \"KEY=VALUE\" strings, got {x_raw!r}")
    database_url = text(mig, "database_url", "migrations.") or "env:DATABASE_URL"
    try:
        _url_via(database_url)
    except ValueError as exc:
        raise _err(source, "migrations.database_url", str(exc)) from None

    env_raw = mig.get("env", {})
    if not isinstance(env_raw, Mapping):
        raise _err(source, "migrations.env", "must be a table of NAME = \"value\" or \"env:NAME\"")
    env: dict[str, str] = {}
    shown: dict[str, str] = {}
    for name, value in env_raw.items():
        if not _ENV_NAME.fullmatch(name):
            raise _err(source, f"migrations.env.{name}", "not a valid environment variable name")
        if not isinstance(value, str):
            raise _err(source, f"migrations.env.{name}", f"expected a string, got {value!r}")
        if value.startswith("env:"):
            ref = value[4:]
            if not _ENV_NAME.fullmatch(ref):
                raise _err(source, f"migrations.env.{name}", f"{value!r}: expected env:NAME")
            if ref not in environ:
                raise _err(source, f"migrations.env.{name}", f"refers to ${ref}, which is not set in your environment",
                           f"export {ref}=… before starting flytui")
            env[name], shown[name] = environ[ref], value
        else:
            env[name], shown[name] = value, "set"
    app = text(data, "app")
    database_app = text(data, "database_app")
    return MigrationSettings(
        source=source, base=base, app=app, database_app=database_app, config=path("config"), command=command,
        pass_config=mig.get("pass_config"), cwd=path("cwd"), x_args=tuple(x_raw), database_url=database_url,
        verify_target=mig.get("verify_target", True), env=env, env_shown=shown)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}", "fix the file") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def load_settings(start: Path, environ: Mapping[str, str] | None = None) -> MigrationSettings:
    """Settings for the project at ``start``: the nearest ``.flytui.toml``, or pyproject.toml with ``[tool.flytui]``,
    in ``start`` or a parent up to the repository root. Empty settings when there is none; SettingsError when
    the file is wrong."""
    from flytui.db.interpreter import repo_root

    start = Path(start).resolve()
    if start.is_file():
        start = start.parent
    root = repo_root(start)
    for directory in (start, *start.parents):
        dot = directory / ".flytui.toml"
        if dot.is_file():
            return parse_settings(_read_toml(dot), directory, str(dot), environ)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get("flytui")
            if table is not None:
                if not isinstance(table, Mapping):
                    raise SettingsError(f"{pyproject}: [tool.flytui] must be a table")
                return parse_settings(table, directory, f"{pyproject} [tool.flytui]", environ)
        if directory == root:
            break
    return MigrationSettings()
