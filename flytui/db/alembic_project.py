"""An Alembic project on disk: where its alembic.ini (or pyproject ``[tool.alembic]``) is, its script location,
version locations, ``prepend_sys_path`` and version table, and whether env.py is Flask-Migrate's
(:func:`find_alembic_project`)."""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path


# --------------------------------------------------------------------------- project


@dataclass(frozen=True)
class AlembicProject:
    """An Alembic project on disk."""

    root: Path                       # directory alembic runs in (cwd of the subprocess)
    config_file: Path                # alembic.ini or pyproject.toml
    script_location: Path            # absolute path of the migrations directory
    version_locations: tuple[Path, ...]  # where revision files live (default: script_location/versions)
    version_table: str = "alembic_version"
    version_table_schema: str | None = None
    flask_migrate: bool = False          # Flask-Migrate layout: migrations/alembic.ini without script_location
    prepend_sys_path: tuple[str, ...] = ()   # as written in the config (relative to where alembic runs)

    @property
    def uses_pyproject(self) -> bool:
        """True when the configuration is ``[tool.alembic]`` in pyproject.toml."""
        return self.config_file.name == "pyproject.toml"


def _resolve_location(value: str, here: Path) -> Path:
    """A script/version location from the config: ``%(here)s``, relative paths, or ``package:dir``."""
    value = value.replace("%(here)s", str(here)).strip()
    if ":" in value and not Path(value).is_absolute() and not re.match(r"^[A-Za-z]:[\\/]", value):
        pkg, _, sub = value.partition(":")
        candidate = here.joinpath(*pkg.split("."), sub)
        return candidate.resolve()
    path = Path(value)
    return (path if path.is_absolute() else here / path).resolve()


def _split_locations(value: str, separator: str | None) -> list[str]:
    """Split ``version_locations`` like Alembic does for the common separators."""
    if separator in (None, "space"):
        return [v for v in re.split(r"[,\s]+", value) if v]
    sep = {"os": os.pathsep, "newline": "\n", "colon": ":", "semicolon": ";", "comma": ","}.get(separator, separator)
    return [v.strip() for v in value.split(sep) if v.strip()]


def _prepend_entries(value: str, path_separator: str | None) -> list[str]:
    """``prepend_sys_path`` split as Alembic splits it (alembic/config.py ``get_prepend_sys_paths_list``, 1.16+): by
    ``path_separator`` only (``version_path_separator`` is not consulted for it); without one, on spaces, commas and
    colons (its legacy rule; mlflow's and langflow's alembic.ini have ``version_path_separator = os`` only)."""
    if not value.strip():
        return []
    if path_separator is None:
        return [v for v in re.split(r", *|(?: +)|:", value.strip()) if v]
    sep = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}.get(path_separator.strip(), os.pathsep)
    return [v.strip() for v in value.split(sep) if v.strip()]


def _version_table_from_env(script_location: Path) -> tuple[str, str | None]:
    """``version_table``/``version_table_schema`` literals passed to context.configure in env.py, if any."""
    env_py = script_location / "env.py"
    try:
        src = env_py.read_text(encoding="utf-8")
    except OSError:
        return "alembic_version", None
    table = re.search(r"version_table\s*=\s*['\"]([^'\"]+)['\"]", src)
    schema = re.search(r"version_table_schema\s*=\s*['\"]([^'\"]+)['\"]", src)
    return (table.group(1) if table else "alembic_version"), (schema.group(1) if schema else None)


def _project_from_ini(ini: Path) -> AlembicProject | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error:
        return None
    here = ini.parent.resolve()
    if not parser.has_section("alembic"):
        return None
    section = parser["alembic"]
    separator = section.get("path_separator", section.get("version_path_separator"))
    prepend = tuple(_prepend_entries(section.get("prepend_sys_path", "").replace("%(here)s", str(here)),
                                     section.get("path_separator")))
    if not parser.has_option("alembic", "script_location"):
        if (here / "env.py").is_file():  # Flask-Migrate: `flask db` passes the folder as script_location
            project = _make_project(here.parent, ini, str(here), section.get("version_locations"), separator)
            return replace(project, flask_migrate=True, prepend_sys_path=prepend)
        return None
    project = _make_project(here, ini, section["script_location"], section.get("version_locations"), separator)
    if _flask_migrate_env(project.script_location / "env.py"):
        # Flask-Migrate's env.py with a script_location of its own (ihatemoney: `script_location = .`): only
        # `flask db` gives env.py its app; it runs from the folder holding migrations/
        return replace(project, root=project.script_location.parent, flask_migrate=True, prepend_sys_path=prepend)
    return replace(project, prepend_sys_path=prepend)


def _flask_migrate_env(env_py: Path) -> bool:
    """env.py is Flask-Migrate's (it takes the app's database from ``current_app.extensions["migrate"]``)."""
    try:
        src = env_py.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return "current_app" in src and re.search(r"""extensions\[\s*['"]migrate['"]\s*\]""", src) is not None


def _project_from_pyproject(pyproject: Path) -> AlembicProject | None:
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    conf = data.get("tool", {}).get("alembic")
    if not isinstance(conf, dict) or "script_location" not in conf:
        return None
    here = pyproject.parent.resolve()
    locations = conf.get("version_locations")
    if isinstance(locations, list):
        locations = " ".join(str(v) for v in locations)
    prepend = conf.get("prepend_sys_path", ())
    prepend = tuple(str(p) for p in prepend) if isinstance(prepend, list) else tuple(_split_locations(str(prepend), None))
    return replace(_make_project(here, pyproject, str(conf["script_location"]), locations, None),
                   prepend_sys_path=prepend)


def _make_project(here: Path, config_file: Path, script_location: str, version_locations: str | None,
                  separator: str | None) -> AlembicProject:
    script = _resolve_location(script_location, here)
    if version_locations:
        versions = tuple(_resolve_location(v, here) for v in _split_locations(version_locations, separator))
    else:
        versions = (script / "versions",)
    table, schema = _version_table_from_env(script)
    return AlembicProject(root=here, config_file=config_file.resolve(), script_location=script,
                          version_locations=versions, version_table=table, version_table_schema=schema)


def find_alembic_project(start: Path) -> AlembicProject | None:
    """The Alembic project at ``start`` or its nearest parent: ``alembic.ini`` with ``script_location``,
    else ``pyproject.toml`` with ``[tool.alembic]``. None when there is none."""
    start = Path(start).resolve()
    if start.is_file():
        start = start.parent
    for directory in (start, *start.parents):
        ini = directory / "alembic.ini"
        if ini.is_file():
            project = _project_from_ini(ini)
            if project:
                return project
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            project = _project_from_pyproject(pyproject)
            if project:
                return project
    return None
