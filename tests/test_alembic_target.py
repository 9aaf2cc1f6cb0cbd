"""The target is verified: flytui refuses to run when env.py would migrate another database than the shown one.

Two databases on the same real PostgreSQL server (``pg_server``). The env.py shapes come from Alembic's own
templates (alembic 1.13 ``templates/generic/env.py``: ``engine_from_config(config.get_section(...))`` and
``config.get_main_option("sqlalchemy.url")``), and the common variations seen in public projects (an
environment variable of another name, ``context.get_x_argument``).
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from flytui.db.alembic_service import current_heads, find_alembic_project
from flytui.db.migrations import MigrationAction, MigrationSession, RunSummary
from flytui.db.target import TargetMismatch, read_env_py
from tests.helpers.revgen import ALEMBIC_INI, ENV_PY, table_chain, write_project

ALEMBIC = [sys.executable, "-m", "alembic"]
_n = itertools.count()

# alembic's templates/generic/env.py (1.13), trimmed: the URL comes from alembic.ini only
INI_ENV_PY = '''\
from logging.config import fileConfig

from sqlalchemy import engine_from_config, pool

from alembic import context

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)
target_metadata = None


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

X_ENV_PY = ENV_PY.replace('os.environ["DATABASE_URL"]', 'context.get_x_argument(as_dictionary=True).get("dburl")')
OTHER_VAR_ENV_PY = ENV_PY.replace('os.environ["DATABASE_URL"]', 'os.environ["APP_DB_URL"]')


@pytest.fixture
def two_dbs(pg_server: Any) -> Any:
    names = [f"tgt_a_{os.getpid()}_{next(_n)}", f"tgt_b_{os.getpid()}_{next(_n)}"]
    for name in names:
        pg_server.create_database(name)
    yield tuple(pg_server.url(n) for n in names) + tuple(names)
    for name in names:
        pg_server.drop_database(name)


def _project(tmp_path: Path, env_py: str, ini_url: str | None = None) -> Any:
    dest = write_project(tmp_path / "proj", table_chain(["t1", "t2"]), env_py=env_py)
    if ini_url:
        (dest / "alembic.ini").write_text(ALEMBIC_INI.replace(
            "[alembic]\n", f"[alembic]\nsqlalchemy.url = {ini_url.replace('%', '%%')}\n", 1))
    project = find_alembic_project(dest)
    assert project is not None
    return project


async def _run(session: MigrationSession, action: MigrationAction) -> list[Any]:
    session.set_url(session._shown)  # type: ignore[attr-defined]
    await session.connect()
    await session.load_history()
    return [e async for e in session.run(action)]


def _session(project: Any, url: str, **kw: Any) -> MigrationSession:
    s = MigrationSession(project, alembic_command=ALEMBIC, **kw)
    s._shown = url  # type: ignore[attr-defined]
    return s


async def test_ini_url_pointing_elsewhere_is_refused_then_runs_with_the_setting(tmp_path: Path, two_dbs: Any) -> None:
    url_a, url_b, name_a, name_b = two_dbs
    project = _project(tmp_path, INI_ENV_PY, ini_url=url_b)
    with pytest.raises(TargetMismatch) as info:
        await _run(_session(project, url_a), MigrationAction("upgrade", "head"))
    msg = info.value.message
    assert f"env.py would migrate database {name_b!r}" in msg and f"not {name_a!r}" in msg
    assert "nothing was run" in msg and "sqlalchemy.url from the ini" in msg
    assert 'database_url = "ini"' in info.value.hint
    assert current_heads(url_a) == () and current_heads(url_b) == ()

    events = await _run(_session(project, url_a, url_via="ini"), MigrationAction("upgrade", "head"))
    summary = events[-1]
    assert isinstance(summary, RunSummary) and summary.ok, summary.result.output
    assert any("target checked" in getattr(e, "text", "") for e in events)
    assert current_heads(url_a) == ("t2",) and current_heads(url_b) == ()


async def test_without_the_check_a_run_that_moved_another_database_is_a_failure(tmp_path: Path,
                                                                                two_dbs: Any) -> None:
    url_a, url_b, _, _ = two_dbs
    project = _project(tmp_path, INI_ENV_PY, ini_url=url_b)
    events = await _run(_session(project, url_a, verify_target=False), MigrationAction("upgrade", "head"))
    summary = events[-1]
    assert summary.result.ok  # alembic itself exited 0 ...
    assert not summary.ok     # ... but the shown database did not move: never reported as a success
    assert "FAILED" in summary.note and "did not move as planned" in summary.note and "at base" in summary.note
    assert current_heads(url_a) == () and current_heads(url_b) == ("t2",)


async def test_other_env_var_is_named_and_the_setting_fixes_it(tmp_path: Path, two_dbs: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url_a, url_b, _, name_b = two_dbs
    monkeypatch.setenv("APP_DB_URL", url_b)  # the user's shell points the app at B
    project = _project(tmp_path, OTHER_VAR_ENV_PY)
    with pytest.raises(TargetMismatch) as info:
        await _run(_session(project, url_a), MigrationAction("upgrade", "head"))
    assert f"database {name_b!r}" in info.value.message and "$APP_DB_URL" in info.value.message
    assert 'database_url = "env:APP_DB_URL"' in info.value.hint
    events = await _run(_session(project, url_a, url_via="env:APP_DB_URL"), MigrationAction("upgrade", "+1"))
    assert events[-1].ok and current_heads(url_a) == ("t1",) and current_heads(url_b) == ()


async def test_x_argument_url_is_passed_in_process(tmp_path: Path, two_dbs: Any) -> None:
    url_a, url_b, _, _ = two_dbs
    project = _project(tmp_path, X_ENV_PY)
    with pytest.raises(TargetMismatch) as info:  # no -x: env.py gets None and cannot connect
        await _run(_session(project, url_a), MigrationAction("upgrade", "head"))
    assert "could not check" in info.value.message and 'database_url = "x:dburl"' in info.value.hint
    events = await _run(_session(project, url_a, url_via="x:dburl"), MigrationAction("upgrade", "head"))
    assert events[-1].ok, events[-1].result.output
    started = [e for e in events if type(e).__name__ == "RunStarted"][0]
    assert url_a not in " ".join(started.argv)
    assert current_heads(url_a) == ("t2",)


def test_static_reading_of_env_py(tmp_path: Path) -> None:
    def read(src: str) -> Any:
        path = tmp_path / "env.py"
        path.write_text(src)
        return read_env_py(path)

    r = read(INI_ENV_PY)
    assert r.reads_ini_url and not r.env_vars and not r.x_keys
    assert read(OTHER_VAR_ENV_PY).env_vars == ("APP_DB_URL",)
    assert read(X_ENV_PY).x_keys == ("dburl",)
    r = read('import os\nfrom alembic import context\nconfig = context.config\n'
             'xa = context.get_x_argument(as_dictionary=True)\n'
             'config.set_main_option("sqlalchemy.url", xa.get("db") or os.getenv("SQLALCHEMY_DATABASE_URI"))\n')
    assert r.sets_ini_url and r.x_keys == ("db",) and r.env_vars == ("SQLALCHEMY_DATABASE_URI",)
    assert "puts into sqlalchemy.url itself" in r.describe()
    # the FastAPI full-stack template's shape (backend/app/alembic/env.py): the ini's URL is replaced by the settings'
    r = read('from sqlalchemy import engine_from_config\nfrom app.core.config import settings\n'
             'def get_url():\n    return str(settings.DATABASE_URL)\n'
             'configuration = config.get_section(config.config_ini_section)\n'
             'configuration["sqlalchemy.url"] = get_url()\n'
             'connectable = engine_from_config(configuration, prefix="sqlalchemy.")\n')
    assert r.sets_ini_url and r.settings == ("settings.DATABASE_URL",)
    assert "settings.DATABASE_URL (the app's settings" in r.describe()

