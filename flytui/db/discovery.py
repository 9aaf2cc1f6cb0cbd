"""Finding Alembic projects where real repositories keep them.

The nearest ``alembic.ini``/``[tool.alembic]`` at or above the starting folder wins (the user is inside that
project). Otherwise the starting folder is searched a few levels deep, and the repository from its root when
nothing is below the starting folder: ``alembic.ini`` at the root,
``backend/``, ``server/``, ``src/<pkg>/``, Flask-Migrate's ``migrations/alembic.ini``, monorepos with several.
Several found: the caller offers a choice (or the settings' ``config`` names one).
"""

from __future__ import annotations

import os
from pathlib import Path

from flytui.db.alembic_project import AlembicProject, _project_from_ini, _project_from_pyproject, find_alembic_project
from flytui.db.interpreter import repo_root

__all__ = ["discover_projects", "project_at"]

_SKIP = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages", "build", "dist",
         ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "target"}
_MAX_DEPTH = 4


def project_at(path: Path) -> AlembicProject | None:
    """The project of one config file (alembic.ini / pyproject.toml) or the folder holding it."""
    path = Path(path).resolve()
    if path.is_dir():
        for name in ("alembic.ini", "pyproject.toml"):
            found = project_at(path / name) if (path / name).is_file() else None
            if found:
                return found
        return None
    if path.name == "pyproject.toml":
        return _project_from_pyproject(path)
    return _project_from_ini(path)


def _scan(root: Path) -> list[AlembicProject]:
    found: list[AlembicProject] = []
    base_depth = len(root.parts)
    for directory, dirs, files in os.walk(root):
        depth = len(Path(directory).parts) - base_depth
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith(".")) if depth < _MAX_DEPTH else []
        for name in ("alembic.ini", "pyproject.toml"):
            if name in files:
                project = project_at(Path(directory) / name)
                if project is not None and all(p.config_file != project.config_file for p in found):
                    found.append(project)
    return found


def discover_projects(start: Path) -> list[AlembicProject]:
    """Projects for ``start``: ``[nearest]`` when ``start`` is inside one, else every project found from the
    repository root (shallowest first; empty when there is none)."""
    start = Path(start).resolve()
    nearest = find_alembic_project(start)
    root = repo_root(start)
    if nearest is not None and (nearest.root == start or nearest.root in start.parents
                                or nearest.config_file.parent == start):
        return [nearest]
    # the folder the user started in first (a monorepo's `services/billing/`, a checkout inside another
    # repository): the repository root only when nothing is below it (`frontend/` next to `backend/`)
    found = _scan(start)
    if not found and root != start and root in start.parents:
        found = _scan(root)
    found.sort(key=lambda p: (len(p.config_file.parts), str(p.config_file)))
    return found
