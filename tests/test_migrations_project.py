"""Real project layouts: discovery from the repository root, per-project settings, the interpreter, history with
``prepend_sys_path``, ``flask db`` argv.

Layouts follow public projects' shapes: FastAPI full-stack template (``backend/alembic.ini``, ``script_location =
app/alembic``), Flask-Migrate (``migrations/alembic.ini`` written by ``flask db init``, no ``script_location``),
a uv workspace (``.venv`` at the repository root, alembic.ini in a member), monorepos with several projects.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from flytui.db.alembic_run import AlembicRunner
from flytui.db.alembic_service import load_history
from flytui.db.discovery import discover_projects, project_at
from flytui.db.interpreter import find_alembic_command, python_entry
from flytui.db.project_settings import SettingsError, load_settings
from tests.helpers.revgen import ALEMBIC_INI, RevSpec, write_project

# Flask-Migrate's templates/flask/alembic.ini (4.0): no script_location, `flask db` passes the folder
FLASK_MIGRATE_INI = """\
# A generic, single database configuration.

[alembic]
# template used to generate migration files
# file_template = %%(rev)s_%%(slug)s

# set to 'true' to run the environment during
# the 'revision' command, regardless of autogenerate
# revision_environment = false

[loggers]
keys = root,sqlalchemy,alembic,flask_migrate

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[logger_flask_migrate]
level = INFO
handlers =
qualname = flask_migrate

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def _exe(path: Path, text: str = "#!/bin/sh\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_discovery_backend_flask_and_monorepo(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    write_project(root / "backend", [RevSpec("b1", None, "one")])
    assert [p.config_file for p in discover_projects(root)] == [root / "backend" / "alembic.ini"]
    # inside a project: that one, whatever else the repository holds
    flask = root / "services" / "legacy"
    (flask / "migrations" / "versions").mkdir(parents=True)
    (flask / "migrations" / "alembic.ini").write_text(FLASK_MIGRATE_INI)
    (flask / "migrations" / "env.py").write_text("# flask-migrate env.py\n")
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "node_modules" / "x" / "alembic.ini").write_text(ALEMBIC_INI)  # skipped
    found = discover_projects(root)
    assert [p.config_file for p in found] == [root / "backend" / "alembic.ini",
                                              flask / "migrations" / "alembic.ini"]
    fm = found[1]
    assert fm.flask_migrate and fm.root == flask.resolve() and fm.script_location == (flask / "migrations").resolve()
    assert [p.config_file for p in discover_projects(root / "backend")] == [root / "backend" / "alembic.ini"]
    assert project_at(root / "backend") == found[0]


def test_flask_db_argv(tmp_path: Path) -> None:
    flask = tmp_path / "app"
    (flask / "migrations" / "versions").mkdir(parents=True)
    (flask / "migrations" / "alembic.ini").write_text(FLASK_MIGRATE_INI)
    (flask / "migrations" / "env.py").write_text("")
    project = project_at(flask / "migrations" / "alembic.ini")
    runner = AlembicRunner(project, ["flask", "db"])
    mig = str((flask / "migrations").resolve())
    assert runner.argv(["upgrade", "head"], ["tenant=a"]) == ["flask", "db", "upgrade", "-d", mig, "-x", "tenant=a",
                                                              "head"]
    assert runner.cwd == flask.resolve()
    # a plain alembic project: -c before, -x before the subcommand
    plain = project_at(write_project(tmp_path / "p", []))
    argv = AlembicRunner(plain, ["alembic"]).argv(["upgrade", "head"], ["k=v"])
    assert argv == ["alembic", "-c", str(plain.config_file), "-x", "k=v", "upgrade", "head"]


def test_interpreter_uv_workspace_venv_at_the_repo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    root = _repo(tmp_path)
    member = root / "packages" / "api"
    write_project(member, [])
    py = _exe(root / ".venv" / "bin" / "python", "")
    alembic = _exe(root / ".venv" / "bin" / "alembic", f"#!{py}\nimport sys\n")
    found = find_alembic_command(member)
    assert found.argv == (str(alembic),) and found.reason == f".venv in {root.resolve()}"
    assert python_entry(list(found.argv)) == ([str(py)], ("path", str(alembic.resolve())), [])
    # a venv in the member wins over the root's
    own = _exe(member / ".venv" / "bin" / "alembic")
    assert find_alembic_command(member).argv == (str(own),)
    # $VIRTUAL_ENV when nothing is in the tree
    other = tmp_path / "elsewhere"
    write_project(other, [])
    active = _exe(tmp_path / "active" / "bin" / "alembic")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "active"))
    assert find_alembic_command(other).argv == (str(active),)
    assert "VIRTUAL_ENV" in find_alembic_command(other).reason
    # Flask-Migrate: the venv's flask, with `db`
    flask = _exe(root / ".venv" / "bin" / "flask")
    assert find_alembic_command(root / "packages", flask=True).argv == (str(flask), "db")


def test_history_honours_prepend_sys_path(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", [RevSpec("p1", None, "uses the app", upgrade="pass",
                                                  extra_imports=["import myapp_models_xyz"])])
    (root / "src").mkdir()
    (root / "src" / "myapp_models_xyz.py").write_text("VALUE = 1\n")
    (root / "alembic.ini").write_text(ALEMBIC_INI.replace("prepend_sys_path = .", "prepend_sys_path = src"))
    project = project_at(root)
    assert project.prepend_sys_path == ("src",)
    before = list(sys.path)
    history = load_history(project)
    assert history.source == "alembic", history.import_error
    assert sys.path == before  # restored
    sys.modules.pop("myapp_models_xyz", None)


def test_settings_pyproject_and_dotfile(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    write_project(root / "backend", [])
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.flytui]\napp = "web"\ndatabase_app = "web-db"\n\n'
        '[tool.flytui.migrations]\nconfig = "backend/alembic.ini"\ncommand = "uv run alembic"\ncwd = "backend"\n'
        'x = ["tenant=acme"]\ndatabase_url = "env:SQLALCHEMY_DATABASE_URI"\n\n'
        '[tool.flytui.migrations.env]\nSECRET_KEY = "env:MY_SECRET"\nFLASK_APP = "app:create_app"\n')
    s = load_settings(root / "backend", environ={"MY_SECRET": "s3cr3t"})
    assert s.app == "web" and s.database_app == "web-db"
    assert s.config == (root / "backend" / "alembic.ini").resolve() and s.cwd == (root / "backend").resolve()
    assert s.command == ("uv", "run", "alembic") and s.x_args == ("tenant=acme",)
    assert s.env == {"SECRET_KEY": "s3cr3t", "FLASK_APP": "app:create_app"}
    shown = s.describe()
    assert "s3cr3t" not in shown and "SECRET_KEY=env:MY_SECRET" in shown and "URL via env:SQLALCHEMY_DATABASE_URI" in shown
    with pytest.raises(SettingsError, match=r"migrations.env.SECRET_KEY: refers to \$MY_SECRET, which is not set"):
        load_settings(root, environ={})
    # .flytui.toml beside it wins, same keys at the top level
    (root / ".flytui.toml").write_text('[migrations]\ndatabase_url = "x:db"\n')
    assert load_settings(root).database_url == "x:db" and load_settings(root).source.endswith(".flytui.toml")
    for bad, match in (('[migrations]\ndatabase_url = "url"\n', "expected \"env:NAME\""),
                       ('[migrations]\ncomand = "alembic"\n', "unknown key"),
                       ('[migrations]\nconfig = "nowhere/alembic.ini"\n', "does not exist"),
                       ('[migrations]\nx = ["novalue"]\n', "KEY=VALUE"),
                       ("[migrations\n", "not valid TOML")):
        (root / ".flytui.toml").write_text(bad)
        with pytest.raises(SettingsError, match=match):
            load_settings(root)
    os.remove(root / ".flytui.toml")
    assert load_settings(tmp_path).source is None  # outside the repository: none


async def test_history_through_the_projects_python(tmp_path: Path) -> None:
    """The revisions import a module only the project's environment has: flytui's Python cannot import them,
    the project's can (a wrapper interpreter that adds the project's site folder, like a venv would)."""
    from flytui.db.migrations import MigrationSession

    root = write_project(tmp_path / "p", [RevSpec("q1", None, "needs the app", extra_imports=["import projonly_xyz"])])
    site = tmp_path / "site"
    site.mkdir()
    (site / "projonly_xyz.py").write_text("X = 1\n")
    py = _exe(tmp_path / "venv" / "bin" / "python", f'#!/bin/sh\nPYTHONPATH="{site}" exec {sys.executable} "$@"\n')
    alembic = _exe(tmp_path / "venv" / "bin" / "alembic", f"#!{py}\nimport sys\nfrom alembic.config import main\n"
                                                          "sys.exit(main())\n")
    session = MigrationSession(project_at(root), alembic_command=[str(alembic)])
    history = await session.load_history()
    assert history.source == "alembic" and [r.id for r in history.revisions] == ["q1"]
    assert f"in the project's Python ({py})" in history.how and "projonly_xyz" in history.how
    # without it: static, and the reason names both attempts
    session = MigrationSession(project_at(root), alembic_command=[sys.executable, "-m", "alembic"])
    history = await session.load_history()
    assert history.source == "static" and "with the project's Python" in history.how
    assert "No module named 'projonly_xyz'" in history.how


def test_driver_follows_the_projects_environment(tmp_path: Path) -> None:
    """A psycopg2-only project (Flask-SQLAlchemy apps such as miguelgrinberg/microblog pin psycopg2-binary) gets a
    ``postgresql+psycopg2://`` URL; one with psycopg 3 keeps ``postgresql+psycopg://``."""
    from flytui.db.interpreter import project_driver, with_driver

    venv = tmp_path / "venv"
    (venv / "pyvenv.cfg").parent.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    py = _exe(venv / "bin" / "python", "")
    flask = _exe(venv / "bin" / "flask", f"#!{py}\n")
    site = venv / "lib" / "python3.11" / "site-packages"
    (site / "psycopg2").mkdir(parents=True)
    driver, why = project_driver([str(flask), "db"])
    assert driver == "psycopg2" and "has psycopg2, not psycopg" in why
    (site / "psycopg").mkdir()
    assert project_driver([str(flask), "db"]) == (None, "")
    assert with_driver("postgresql+psycopg://u:p@127.0.0.1:5/db?sslmode=disable", "psycopg2") == \
        "postgresql+psycopg2://u:p@127.0.0.1:5/db?sslmode=disable"
    assert with_driver("sqlite:///x.db", "psycopg2") == "sqlite:///x.db"


async def test_a_command_that_is_not_python_cannot_be_checked_and_says_so(tmp_path: Path, pg_database: str) -> None:
    from flytui.db.alembic_run import AlembicSetupError
    from flytui.db.alembic_service import current_heads
    from flytui.db.migrations import MigrationAction, MigrationSession

    root = write_project(tmp_path / "p", [RevSpec("n1", None, "one")])
    wrapper = _exe(tmp_path / "alembic.sh", f'#!/bin/sh\nexec {sys.executable} -m alembic "$@"\n')
    s = MigrationSession(project_at(root), alembic_command=[str(wrapper)])
    s.set_url(pg_database)
    await s.connect()
    await s.load_history()
    with pytest.raises(AlembicSetupError) as info:
        [e async for e in s.run(MigrationAction("upgrade", "head"))]
    assert "cannot run" in info.value.message and "check which database env.py reaches" in info.value.message
    assert "verify_target = false" in info.value.hint
    assert current_heads(pg_database) == ()
    s = MigrationSession(project_at(root), alembic_command=[str(wrapper)], verify_target=False)
    s.set_url(pg_database)
    await s.connect()
    await s.load_history()
    events = [e async for e in s.run(MigrationAction("upgrade", "head"))]
    assert events[-1].ok and current_heads(pg_database) == ("n1",)
