"""Real public Alembic projects (``tests/fixtures/alembic_corpus/``, each with its licence and a README naming the
PyPI release it was taken from and what was trimmed) through flytui's own services, against real PostgreSQL.

Each project goes the way the migrations screen takes it (``flytui/db/migration_setup.py``: ``prepare`` =
settings + discovery, ``make_session``; then the session's history, preview, lint, run): discovery → history →
preview (SQL) + lint → upgrade head → downgrade → the database's real heads. Each project has its own settings file
(``.flytui.toml``) and the test sets no environment variable and no PYTHONPATH: the project's alembic (or
``flask db``) is the one flytui finds (the repository's ``.venv``), its URL goes in the way its settings say.

- ``mlflow_auth`` (mlflow-skinny 3.17.2): env.py builds its engine from ``sqlalchemy.url`` of alembic.ini; two
  databases on one server: without the setting flytui refuses and neither moves, with it only the shown one does.
- ``langflow`` (langflow-base 1.13.0): 162 revisions with 30 merges, async env.py (also the ini's URL).
- ``ihatemoney`` (ihatemoney 7.2.1): Flask-Migrate ``ihatemoney/migrations/alembic.ini`` found from the repository
  root, ``flask db``, env.py with ``current_app``; revisions that need a live connection offline.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from flytui.db.alembic_service import current_heads
from flytui.db.migrations import MigrationAction, MigrationSession, RunSummary
from flytui.db.target import TargetMismatch
from flytui.fly.runner import FlyctlRunner
from flytui.db.migration_setup import Setup, make_session, prepare

CORPUS = Path(__file__).parent / "fixtures" / "alembic_corpus"
REPO_VENV = Path(__file__).resolve().parents[1] / ".venv"
_n = itertools.count()


@pytest.fixture
def two_dbs(pg_server: Any) -> Any:
    """Two empty databases on the same server: (url_a, url_b, name_a, name_b)."""
    names = [f"corpus_a_{os.getpid()}_{next(_n)}", f"corpus_b_{os.getpid()}_{next(_n)}"]
    for name in names:
        pg_server.create_database(name)
    yield tuple(pg_server.url(n) for n in names) + tuple(names)
    for name in names:
        pg_server.drop_database(name)


def _session(start: Path) -> tuple[Setup, MigrationSession]:
    """What the migrations screen does on open: settings + discovery, then the session with the settings."""
    setup = prepare(start)
    assert setup.error is None, setup.error
    assert len(setup.projects) == 1, [str(p.config_file) for p in setup.projects]
    return setup, make_session(FlyctlRunner(), None, None, setup, setup.projects[0], None)


async def _run(session: MigrationSession, action: MigrationAction) -> RunSummary:
    events = [e async for e in session.run(action)]
    summary = events[-1]
    assert isinstance(summary, RunSummary)
    return summary


def _tables(pg_server: Any, database: str) -> set[str]:
    import psycopg

    from flytui.db.lock import libpq_url

    with psycopg.connect(libpq_url(pg_server.url(database)), autocommit=True) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


# --------------------------------------------------------------------------- mlflow auth: env.py reads the ini URL

MLFLOW = CORPUS / "mlflow_auth"
MLFLOW_HEAD = "f1a2b3c4d5e6"


async def test_mlflow_auth_whole_sequence_on_the_shown_database_only(pg_server: Any, two_dbs: Any) -> None:
    url_a, _url_b, name_a, name_b = two_dbs
    setup, session = _session(MLFLOW)
    project = session.project
    # discovery: the settings' `config` names the ini; mlflow keeps its own version table (env.py's literal)
    assert project.config_file == MLFLOW / "mlflow/server/auth/db/migrations/alembic.ini"
    assert project.version_table == "alembic_version_auth"
    assert session.alembic.command[0] == str(REPO_VENV / "bin" / "alembic"), session.command_reason
    assert session.alembic.url_kind == "ini"
    session.set_url(url_a)
    await session.connect()
    # history: in flytui's Python, with the ini's prepend_sys_path (the trimmed `mlflow` package)
    history = await session.load_history()
    assert history.source == "alembic", history.how
    assert len(history.revisions) == 7 and history.heads == (MLFLOW_HEAD,) and history.bases == ("8606fa83a998",)
    snap = await session.snapshot(reload_history=False)
    assert snap.current == () and len(snap.pending) == 7

    # preview: three of mlflow's revisions read the live schema (sa.inspect(op.get_bind())) or move rows, so the
    # range cannot be rendered offline; each is named with the reason, the other four are rendered and linted
    preview = await session.preview(MigrationAction("upgrade", "head"))
    assert preview.ok and preview.sql is not None and not preview.sql.ok
    assert [r.id for r in preview.revisions][-1] == MLFLOW_HEAD and len(preview.revisions) == 7
    unrendered = {u.revision: u.reason for u in preview.unrendered}
    assert set(unrendered) == {"2ed73881770d", "e5f6a7b8c9d0", MLFLOW_HEAD}, unrendered
    assert all("op.get_bind() needs a live connection" in why for why in unrendered.values()), unrendered
    assert "inspect() reads the live schema" in unrendered["2ed73881770d"]
    assert set(preview.checked) == {"8606fa83a998", "0965eb92f5f0", "a1b2c3d4e5f6", "c3d4e5f6a7b8"}
    assert not preview.lint_checked  # never a green "no findings" while three revisions were not checked
    assert preview.findings == ()    # the four rendered ones only create tables (new tables: no lock rules)
    one = await session.preview_revision("8606fa83a998")
    assert one.upgrade.ok and "CREATE TABLE users" in one.upgrade.sql and "alembic_version_auth" in one.upgrade.sql
    assert one.downgrade.ok and "DROP TABLE users" in one.downgrade.sql

    summary = await _run(session, MigrationAction("upgrade", "head"))
    assert summary.ok, summary.result.output
    assert summary.heads_after == (MLFLOW_HEAD,)
    assert current_heads(url_a, "alembic_version_auth") == (MLFLOW_HEAD,)
    assert {"users", "roles", "role_permissions", "user_role_assignments"} <= _tables(pg_server, name_a)
    assert _tables(pg_server, name_b) == set()  # the other database on the same server never moved

    down = await session.preview(MigrationAction("downgrade", "base"))
    assert down.ok and [r.id for r in down.revisions][0] == MLFLOW_HEAD
    assert {u.revision for u in down.unrendered} == {"e5f6a7b8c9d0", "2ed73881770d"} and not down.lint_checked
    summary = await _run(session, MigrationAction("downgrade", "base"))
    assert summary.ok, summary.result.output
    assert summary.heads_after == () and current_heads(url_a, "alembic_version_auth") == ()
    assert _tables(pg_server, name_a) == {"alembic_version_auth"}
    await session.close()


async def test_mlflow_auth_ini_url_elsewhere_is_refused_without_the_setting(tmp_path: Path, pg_server: Any,
                                                                          two_dbs: Any) -> None:
    """The user's alembic.ini points at another database (B) on the same server: without `database_url = "ini"`
    flytui refuses and neither database moves; with it, only the shown one (A) is migrated."""
    url_a, url_b, name_a, name_b = two_dbs
    copy = tmp_path / "mlflow_auth"
    shutil.copytree(MLFLOW, copy)
    ini = copy / "mlflow/server/auth/db/migrations/alembic.ini"
    ini.write_text(ini.read_text().replace("sqlalchemy.url =", f"sqlalchemy.url = {url_b.replace('%', '%%')}", 1))
    settings = copy / ".flytui.toml"
    settings.write_text(settings.read_text().replace('database_url = "ini"\n', ""))

    _, session = _session(copy)
    session.set_url(url_a)
    await session.connect()
    await session.load_history()
    with pytest.raises(TargetMismatch) as info:
        await _run(session, MigrationAction("upgrade", "head"))
    assert f"env.py would migrate database {name_b!r}" in info.value.message, info.value.message
    assert "sqlalchemy.url from the ini" in info.value.message and 'database_url = "ini"' in info.value.hint
    assert current_heads(url_a, "alembic_version_auth") == () and current_heads(url_b, "alembic_version_auth") == ()

    settings.write_text(settings.read_text() + 'database_url = "ini"\n')
    _, session = _session(copy)
    session.set_url(url_a)
    await session.connect()
    await session.load_history()
    summary = await _run(session, MigrationAction("upgrade", "head"))
    assert summary.ok, summary.result.output
    assert current_heads(url_a, "alembic_version_auth") == (MLFLOW_HEAD,)
    assert current_heads(url_b, "alembic_version_auth") == () and _tables(pg_server, name_b) == set()


# --------------------------------------------------------------------------- langflow: 162 revisions, 30 merges

LANGFLOW = CORPUS / "langflow"
LF_HEAD = "e5a7c9b1d3f2"
LF_BELOW = "b8e1f3a5c709"          # a branch point 9 revisions below the head, under 2 merges
LF_SIDE = "27727fccba3e"           # the audit-events branch: merged above LF_BELOW, not a descendant of it


async def test_langflow_large_history_with_merges(pg_server: Any, pg_database: str) -> None:
    setup, session = _session(LANGFLOW)
    # discovery: no `config` in the settings; the project's langflow/alembic.ini is found below the start folder
    assert setup.settings.config is None
    assert session.project.config_file == LANGFLOW / "langflow" / "alembic.ini"
    assert session.project.prepend_sys_path == (".", "..")
    assert session.alembic.command[0] == str(REPO_VENV / "bin" / "alembic"), session.command_reason
    session.set_url(pg_database)
    await session.connect()
    history = await session.load_history()
    assert history.source == "alembic", history.how
    assert len(history.revisions) == 162 and history.heads == (LF_HEAD,)
    assert sum(r.is_merge for r in history.revisions) == 30
    rows = history.graph_rows()
    assert any(r.revision is None and "|\\" in r.text for r in rows)  # the graph keeps its merge connectors

    # upgrade head: all 162 revisions, in one run (about 10 s here)
    summary = await _run(session, MigrationAction("upgrade", "head"))
    assert summary.ok, summary.result.output
    assert len(summary.result.steps) == 162 and summary.heads_after == (LF_HEAD,)

    # downgrade below two merges: the preview lists exactly what alembic then runs (not the later-merged branch)
    down = await session.preview(MigrationAction("downgrade", LF_BELOW))
    assert down.ok and down.sql is not None
    planned = [r.id for r in down.revisions]
    assert len(planned) == 9 and LF_SIDE not in planned and "b4e8d2f1c9a3" in planned
    unrendered = {u.revision: u.reason for u in down.unrendered}
    assert "merge revision" in unrendered["b4e8d2f1c9a3"] and not down.lint_checked
    summary = await _run(session, MigrationAction("downgrade", LF_BELOW))
    assert summary.ok, summary.result.output
    assert sorted(s.revision or "" for s in summary.result.steps) == sorted(planned)
    assert sorted(summary.heads_after or ()) == sorted((LF_SIDE, LF_BELOW))
    assert set(current_heads(pg_database)) == {LF_SIDE, LF_BELOW}

    # one revision's SQL and its lint: env.py sets `SET LOCAL lock_timeout = '180s'` before the migrations run,
    # so the ALTER on an existing table is not reported as lacking a lock timeout
    assert session.env_sets_lock_timeout
    one = await session.preview_revision("f5ee9749d1a6")
    assert one.upgrade.ok and "ALTER TABLE flow ALTER COLUMN user_id DROP NOT NULL" in one.upgrade.sql
    assert "require-timeout-settings" not in {f.rule for f in one.upgrade_findings}
    await session.close()


# --------------------------------------------------------------------------- ihatemoney: Flask-Migrate, `flask db`

IHM = CORPUS / "ihatemoney"
IHM_HEAD = "c941aaca38c2"


@pytest.fixture
def tcp_db(pg_server: Any) -> Any:
    name = f"corpus_ihm_{os.getpid()}_{next(_n)}"
    pg_server.create_database(name)
    yield name
    pg_server.drop_database(name)


async def test_ihatemoney_flask_migrate_from_the_repository_root(pg_server: Any, tcp_db: str) -> None:
    setup, session = _session(IHM)
    project = session.project
    # discovery from the repository root: ihatemoney/migrations/alembic.ini, Flask-Migrate's env.py although the
    # ini has a script_location of its own; run as `flask db -d <migrations>` from the settings' cwd
    assert setup.settings.config is None and project.flask_migrate
    assert project.config_file == IHM / "ihatemoney" / "migrations" / "alembic.ini"
    assert session.alembic.command == [str(REPO_VENV / "bin" / "flask"), "db"], session.command_reason
    assert session.alembic.argv(["upgrade", "head"]) == [str(REPO_VENV / "bin" / "flask"), "db", "upgrade", "-d",
                                                         str(project.script_location), "head"]
    assert session.alembic.cwd == IHM

    # ihatemoney's env.py copies the app's URI into alembic's config without doubling '%': a socket URL
    # (host=%2Ftmp%2F...) breaks it; flytui refuses, says why and what to do, and nothing runs
    session.set_url(pg_server.url(tcp_db))
    await session.connect()
    history = await session.load_history()
    with pytest.raises(TargetMismatch) as info:
        await _run(session, MigrationAction("upgrade", "head"))
    assert "invalid interpolation syntax" in info.value.message and "without doubling '%'" in info.value.hint
    assert current_heads(pg_server.url(tcp_db)) == ()

    # over TCP (as through a `fly proxy` tunnel) the URL has no '%': the whole sequence
    url = pg_server.url(tcp_db, tcp=True)
    session.set_url(url)
    await session.connect()
    # history: ihatemoney is not importable in flytui's Python; read with Alembic in the project's Python
    history = await session.load_history()
    assert history.source == "alembic" and "project's Python" in history.how, history.how
    assert len(history.revisions) == 13 and history.heads == (IHM_HEAD,)

    preview = await session.preview(MigrationAction("upgrade", "head"))
    assert preview.ok and preview.sql is not None and not preview.sql.ok
    assert [u.revision for u in preview.unrendered] == ["b78f8a8bdb16"]  # re-hashes passwords row by row
    assert "op.get_bind() needs a live connection" in preview.unrendered[0].reason
    assert len(preview.checked) == 12 and not preview.lint_checked
    rules = {f.rule for f in preview.findings}
    assert {"ban-drop-column", "changing-column-type", "require-timeout-settings"} <= rules, rules

    summary = await _run(session, MigrationAction("upgrade", "head"))
    assert summary.ok, summary.result.output
    assert len(summary.result.steps) == 13 and summary.heads_after == (IHM_HEAD,)
    assert {"project", "person", "bill", "billowers"} <= _tables(pg_server, tcp_db)

    down = await session.preview(MigrationAction("downgrade", "base"))
    assert down.ok and down.sql is not None and down.sql.ok and "DROP TABLE project" in down.sql.sql
    summary = await _run(session, MigrationAction("downgrade", "base"))
    assert summary.ok, summary.result.output
    assert summary.heads_after == () and _tables(pg_server, tcp_db) == {"alembic_version"}
    await session.close()


# --------------------------------------------------------------------------- what the corpus revealed, pinned fast


def test_discovery_searches_the_start_folder_before_the_repository_root() -> None:
    from flytui.db.discovery import discover_projects

    # the corpus sits inside flytui's repository, whose root holds another project (the demo's), deeper down
    assert [p.config_file for p in discover_projects(LANGFLOW)] == [LANGFLOW / "langflow" / "alembic.ini"]
    assert [p.config_file for p in discover_projects(IHM)] == [IHM / "ihatemoney" / "migrations" / "alembic.ini"]


def test_flask_migrate_env_py_decides_even_with_a_script_location() -> None:
    from flytui.db.discovery import project_at

    project = project_at(IHM / "ihatemoney" / "migrations" / "alembic.ini")
    assert project is not None and project.flask_migrate and project.root == IHM / "ihatemoney"
    mlflow = project_at(MLFLOW / "mlflow/server/auth/db/migrations/alembic.ini")
    assert mlflow is not None and not mlflow.flask_migrate


def test_prepend_sys_path_is_split_as_alembic_splits_it(tmp_path: Path) -> None:
    from flytui.db.discovery import project_at

    (tmp_path / "migrations").mkdir()
    ini = tmp_path / "alembic.ini"
    # mlflow's and langflow's ini: only the deprecated version_path_separator, with an inline comment
    ini.write_text("[alembic]\nscript_location = migrations\nprepend_sys_path = . ../src\n"
                   "version_path_separator = os  # Use os.pathsep.\n")
    assert project_at(ini).prepend_sys_path == (".", "../src")  # type: ignore[union-attr]
    ini.write_text("[alembic]\nscript_location = migrations\nprepend_sys_path = .:lib\npath_separator = os\n")
    assert project_at(ini).prepend_sys_path == (".", "lib")  # type: ignore[union-attr]


def test_a_decorated_step_is_still_a_step() -> None:
    from flytui.db.alembic_run import parse_progress

    line = "INFO  [alembic.runtime.migration] Running wrapper 7a9b38559992 -> 06884b17c50f, fix password hash length"
    up = parse_progress(line, direction="upgrade")
    assert up is not None and up.direction == "upgrade" and up.revision == "06884b17c50f"
    down = parse_progress("Running wrapper 06884b17c50f -> 7a9b38559992, fix", direction="downgrade")
    assert down is not None and down.revision == "06884b17c50f"
    assert parse_progress(line) is None  # an unknown step name without the command being run: not guessed
    from flytui.db.remote import _Collector  # the same inside a machine (remote mode)

    collector = _Collector(None, "flask db upgrade -d migrations head")
    collector.feed("err", line)
    assert [s.revision for s in collector.steps] == ["06884b17c50f"]


def test_downgrade_plan_is_what_alembic_removes() -> None:
    from flytui.db.alembic_service import find_alembic_project, load_history, plan

    project = find_alembic_project(LANGFLOW / "langflow")
    assert project is not None
    history = load_history(project, prefer_static=True)
    ids = [r.id for r in plan(history, [LF_HEAD], LF_BELOW, "downgrade")]
    assert len(ids) == 9 and LF_SIDE not in ids and "df1410b1eefa" not in ids and "c91d2e3f4a50" in ids


def test_lint_knows_the_lock_timeout_env_py_sets() -> None:
    from flytui.db.sqllint import lint_sql
    from flytui.db.target import read_env_py

    assert read_env_py(LANGFLOW / "langflow" / "alembic" / "env.py").sets_lock_timeout
    assert not read_env_py(MLFLOW / "mlflow/server/auth/db/migrations/env.py").sets_lock_timeout
    sql = "ALTER TABLE flow ALTER COLUMN user_id DROP NOT NULL;"
    assert "require-timeout-settings" in {f.rule for f in lint_sql(sql)}
    assert "require-timeout-settings" not in {f.rule for f in lint_sql(sql, lock_timeout_set=True)}
