"""Runs the project's alembic (or ``flask db``) in the project's own Python, with two additions.

A standalone script: the project's interpreter runs it by path, so it imports nothing from flytui.
``python alembic_shim.py KIND VALUE [ARGS...]`` where KIND is ``module`` (``python -m VALUE``), ``path``
(a console script file) or ``which`` (a console script looked up on PATH inside ``uv run``/``poetry run``).
Control comes from the environment (never argv, so no secret ever appears in a process list):

* ``FLYTUI_SHIM``: JSON ``{"probe": {"lock_pid": N, "classid": N, "objid": N} | null,
  "url_via": "ini" | "x" | null, "x_key": "db_url", "x_at": N}``;
* ``FLYTUI_TARGET_URL``: the database URL for ``url_via``.

``probe``: on the first connection SQLAlchemy opens (env.py's engine), print one ``FLYTUI-PROBE {json}``
line on stderr: the database it reached and whether that is the database where flytui holds its
advisory lock (same server and same database), then exit at once: nothing is read or written.
``url_via = "ini"``: ``sqlalchemy.url`` of every alembic ``Config`` is set to the URL (like editing
alembic.ini, without writing it). ``url_via = "x"``: ``-x KEY=URL`` is added to the arguments in-process.
"""

import json
import os
import runpy
import shutil
import sys
from typing import Any, Dict, NoReturn  # the project's Python may predate PEP 585

MARK = "FLYTUI-PROBE "


def _report(data: Dict[str, Any]) -> NoReturn:
    sys.stderr.write(MARK + json.dumps(data) + "\n")
    sys.stderr.flush()
    os._exit(0)


def _install_probe(spec: Dict[str, Any]) -> None:
    try:
        from sqlalchemy import event
        from sqlalchemy.pool import Pool
    except ImportError as exc:
        _report({"error": "SQLAlchemy is not importable in the project's Python: %s" % exc})
        return

    query = (
        "SELECT current_database(), current_user, EXISTS (SELECT 1 FROM pg_locks l "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.pid = %d AND l.classid = %d AND l.objid = %d "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
        % (int(spec["lock_pid"]), int(spec["classid"]), int(spec["objid"]))
    )

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(query)
            row = cursor.fetchone()
            data = {"database": row[0], "user": row[1], "same": bool(row[2])}
        except Exception as exc:  # noqa: BLE001 - any DB-API driver's error: reported, the run stops either way
            data = {"error": "%s: %s" % (type(exc).__name__, exc)}
        _report(data)

    event.listen(Pool, "connect", on_connect)


def _inject_ini_url(url: str) -> None:
    from alembic.config import Config

    original = Config.__init__
    escaped = url.replace("%", "%%")

    def __init__(self: Config, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            self.set_main_option("sqlalchemy.url", escaped)
        except Exception:  # noqa: BLE001 - configparser/alembic errors vary by version; env.py must get the URL otherwise
            pass

    Config.__init__ = __init__  # type: ignore[method-assign]  # the point of the shim: every Config gets the URL


def main() -> None:
    control = json.loads(os.environ.pop("FLYTUI_SHIM", "{}") or "{}")
    url = os.environ.pop("FLYTUI_TARGET_URL", "")
    kind, value, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    path = value if kind == "path" else shutil.which(value) if kind == "which" else None
    # this script's folder is sys.path[0] now: put back what ``python -m``/the console script would have, before
    # anything is imported (run from langflow/, whose `alembic/` folder is a package, the working directory on
    # sys.path made `import alembic.config` find that folder instead of Alembic)
    sys.path[0] = os.getcwd() if kind == "module" else os.path.dirname(path) if path else ""
    if control.get("probe"):
        _install_probe(control["probe"])
    via = control.get("url_via")
    if via == "ini" and url:
        _inject_ini_url(url)
    elif via == "x" and url:
        at = int(control.get("x_at", 0))
        args[at:at] = ["-x", "%s=%s" % (control["x_key"], url)]
    if kind == "module":
        sys.argv = [value, *args]
        runpy.run_module(value, run_name="__main__", alter_sys=True)
        return
    if not path:
        sys.stderr.write("flytui: %s is not on PATH in the project's environment\n" % value)
        sys.exit(127)
    sys.argv = [path, *args]
    sys.path[0] = os.path.dirname(path)
    runpy.run_path(path, run_name="__main__")


if __name__ == "__main__":
    main()
