"""Which alembic (and which Python) belongs to a project: venvs up to the repository root, uv, poetry.

Real layouts put ``alembic.ini`` in ``backend/`` or ``migrations/`` while the virtual environment (a uv
workspace's ``.venv``, poetry's) sits at the repository root; the project's own alembic must run, with
the project's interpreter, or env.py cannot import the app.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AlembicCommand", "detect_alembic_command", "find_alembic_command", "repo_root"]


@dataclass(frozen=True)
class AlembicCommand:
    """argv prefix that runs the project's alembic, and why it was chosen (shown in the header)."""

    argv: tuple[str, ...]
    reason: str


def repo_root(start: Path) -> Path:
    """The nearest parent of ``start`` holding ``.git`` (a folder or a worktree's file); else ``start``."""
    start = Path(start).resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


def _dirs_up_to_root(project_dir: Path) -> list[Path]:
    """``project_dir`` and its parents up to (and including) the repository root."""
    project_dir = Path(project_dir).resolve()
    root = repo_root(project_dir)
    out = [project_dir]
    if root != project_dir and root in project_dir.parents:
        for parent in project_dir.parents:
            out.append(parent)
            if parent == root:
                break
    return out


def _venv_alembic(venv: Path, tool: str = "alembic") -> Path | None:
    for rel in (("bin", tool), ("Scripts", f"{tool}.exe")):
        candidate = venv.joinpath(*rel)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_alembic_command(project_dir: Path, override: Sequence[str] | str | None = None, *,
                         environ: Mapping[str, str] | None = None, flask: bool = False,
                         override_source: str = "the project settings") -> AlembicCommand:
    """The project's alembic (``flask db`` for a Flask-Migrate project): ``override``; a ``.venv``/``venv`` in
    the project folder or a parent up to the repository root; ``$VIRTUAL_ENV``; ``uv run``/``poetry run``
    where a lock file is (same walk); on PATH; else this Python's ``-m alembic``."""
    import shlex

    env = os.environ if environ is None else environ
    if override:
        argv = shlex.split(override) if isinstance(override, str) else list(override)
        return AlembicCommand(tuple(argv), f"from {override_source}")
    tool, tail = ("flask", ("db",)) if flask else ("alembic", ())
    dirs = _dirs_up_to_root(project_dir)
    for directory in dirs:
        for name in (".venv", "venv"):
            found = _venv_alembic(directory / name, tool)
            if found:
                where = "the project folder" if directory == dirs[0] else str(directory)
                return AlembicCommand((str(found), *tail), f"{name} in {where}")
    active = env.get("VIRTUAL_ENV")
    if active:
        found = _venv_alembic(Path(active), tool)
        if found:
            return AlembicCommand((str(found), *tail), "the active virtual environment ($VIRTUAL_ENV)")
    for directory in dirs:
        for lock, runner in (("poetry.lock", "poetry"), ("uv.lock", "uv")):
            exe = shutil.which(runner)
            if (directory / lock).is_file() and exe:
                return AlembicCommand((exe, "run", tool, *tail), f"{lock} in {directory}")
    on_path = shutil.which(tool)
    if on_path:
        return AlembicCommand((on_path, *tail), f"{tool} on PATH (no project virtual environment found)")
    if flask:
        return AlembicCommand(("flask", "db"), "Flask-Migrate layout, but no flask found: install the project")
    return AlembicCommand((sys.executable, "-m", "alembic"),
                          "flytui's own Python (no project virtual environment, no alembic on PATH)")


def detect_alembic_command(project_dir: Path, override: Sequence[str] | str | None = None) -> list[str]:
    """argv prefix of :func:`find_alembic_command` (kept for callers that only need the argv)."""
    return list(find_alembic_command(project_dir, override).argv)


def python_entry(command: Sequence[str]) -> tuple[list[str], tuple[str, str], list[str]] | None:
    """How to run ``command`` as Python code in the project's interpreter (for the target probe and URL
    injection): ``(python argv prefix, (kind, value), remaining args)`` or None when it is not Python.

    ``python -m mod``; a console script whose shebang names a Python; ``uv|poetry|pdm run NAME``.
    """
    command = list(command)
    if not command:
        return None
    exe = command[0]
    base = os.path.basename(exe)
    if base.startswith("python") and len(command) >= 3 and command[1] == "-m":
        return [exe], ("module", command[2]), command[3:]
    if base in ("uv", "poetry", "pdm") and len(command) >= 3 and command[1] == "run":
        return [exe, "run", "python"], ("which", command[2]), command[3:]
    path = exe if os.sep in exe else shutil.which(exe)
    if path and os.path.isfile(path):
        try:
            with open(path, "rb") as fh:
                first = fh.readline(512).decode("utf-8", "replace").strip()
        except OSError:
            return None
        if first.startswith("#!/bin/sh"):  # pip's launcher for long paths: '''exec' "/path/python" "$0" "$@"
            try:
                with open(path, "rb") as fh:
                    fh.readline()
                    second = fh.readline(4096).decode("utf-8", "replace").strip()
            except OSError:
                return None
            import re
            import shlex

            m = re.match(r"""^'''exec' (.+?) "\$0" "\$@"$""", second)
            if m:
                interp = shlex.split(m.group(1))
                if interp and "python" in os.path.basename(interp[0]):
                    return interp, ("path", str(Path(path).resolve())), command[1:]
            return None
        if first.startswith("#!") and "python" in first:
            import shlex

            interp = shlex.split(first[2:].strip())
            if interp:
                return interp, ("path", str(Path(path).resolve())), command[1:]
    return None


def project_driver(command: Sequence[str]) -> tuple[str | None, str]:
    """The PostgreSQL driver the project's environment has, when it is not psycopg 3: (``"psycopg2"`` or None, why).

    flytui hands alembic a ``postgresql+psycopg://`` URL; a project that only installed psycopg2 (Flask-SQLAlchemy
    apps, older templates) needs ``postgresql+psycopg2://``. Read from the site-packages of the venv the command
    runs in; None (keep psycopg) when that venv is not known.
    """
    entry = python_entry(command)
    if entry is None:
        return None, ""
    interp = Path(entry[0][0])
    venv = interp.parent.parent
    if not (venv / "pyvenv.cfg").is_file():
        return None, ""
    sites = list(venv.glob("lib/python*/site-packages")) + list(venv.glob("Lib/site-packages"))
    has = {name: any((site / name).is_dir() for site in sites) for name in ("psycopg", "psycopg2")}
    if has["psycopg2"] and not has["psycopg"]:
        return "psycopg2", f"the project's environment ({venv}) has psycopg2, not psycopg"
    return None, ""


def with_driver(url: str, driver: str | None) -> str:
    """``url`` with its driver set to ``driver`` (``postgresql+DRIVER://``); unchanged when ``driver`` is None."""
    if not driver:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep or not (scheme == "postgres" or scheme.startswith("postgresql")):
        return url
    return f"postgresql+{driver}://{rest}"
