"""History through the project's own Python, when the revision modules do not import in flytui's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from flytui.db.interpreter import python_entry

if TYPE_CHECKING:  # pragma: no cover
    from flytui.db.alembic_run import AlembicRunner
    from flytui.db.alembic_service import History

DUMP = Path(__file__).with_name("history_dump.py")
MARK = "FLYTUI-HISTORY "


async def history_via_project(alembic: "AlembicRunner", env_extra: Mapping[str, str] | None,
                              static: "History") -> "History":
    """Read the history with Alembic in the project's interpreter (found from its alembic command); ``static`` (with
    ``how`` saying why each way failed) when that is not possible."""
    from dataclasses import replace

    from flytui.db.alembic_service import history_from_dump, sys_path_entries
    from flytui.fly.errors import FlyctlError

    in_flytui = static.import_error or "?"
    entry = python_entry(alembic.command)
    if entry is None:
        return replace(static, how=f"{static.how}; the project's alembic ({' '.join(alembic.command)}) is not a "
                                   "Python script flytui can run to read it there")
    prefix = entry[0]
    project = alembic.project
    env = alembic._env_without_url(env_extra)
    env["FLYTUI_HISTORY"] = json.dumps({
        "script_location": str(project.script_location),
        "version_locations": [str(p) for p in project.version_locations],
        "prepend_sys_path": sys_path_entries(project, alembic.cwd),
    })
    try:
        done = await alembic.processes.run_program([*prefix, str(DUMP)], env=env, cwd=str(alembic.cwd),
                                                   timeout=alembic.preview_timeout, kind="alembic",
                                                   secrets=alembic.secrets(None, env_extra))
    except FlyctlError as exc:
        return replace(static, how=f"{static.how}; reading it with the project's Python failed too: {exc.message}")
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            try:
                items = json.loads(line[len(MARK):])
                return history_from_dump(items, f"read with Alembic in the project's Python ({' '.join(prefix)}) "
                                                f"because importing in flytui's failed: {in_flytui}")
            except (ValueError, KeyError, TypeError) as exc:
                return replace(static, how=f"{static.how}; the project's Python printed an unreadable history: {exc}")
    lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
    err = lines[-1].strip() if lines else f"exit code {done.returncode}"
    return replace(static, how=f"{static.how}; with the project's Python ({' '.join(prefix)}) too: {err}")
