"""Database URL rules, checked on the seed's real URLs and against the real embedded server."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchModuleError

from flytui.db.urls import (
    UrlError, configparser_escape, diagnose_url, fix_url, mask_url, psycopg_conninfo, tunnel_url, url_diff,
)
from flytui.sandbox.postgres import EmbeddedPostgres

# verbatim from the seed article (fly postgres attach output)
SEED = ("postgres://fly_demo_test:cQv0vvfasf7FM@fly-demo-test-postgres.flycast:5432/fly_demo_test"
        "?sslmode=disable")
SEED_NO_DB = "postgres://postgres:YIaPPtXCRrRe2b@fly-demo-test-postgres.flycast:5432"
HARD_PASSWORD = "p@ss/wo:rd%41x"
HARD = f"postgres://app:{quote(HARD_PASSWORD, safe='')}@db.flycast:5432/app?sslmode=disable"


# ---------------------------------------------------------------- fix_url
def test_fix_seed_url_keeps_everything() -> None:
    fixed = fix_url(SEED)
    assert fixed == ("postgresql+psycopg://fly_demo_test:cQv0vvfasf7FM@fly-demo-test-postgres.flycast:5432/"
                     "fly_demo_test?sslmode=disable")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_fix_keeps_encoded_password_and_params(scheme: str) -> None:
    src = HARD.replace("postgres://", f"{scheme}://") + "&application_name=flytui&connect_timeout=5"
    u = make_url(fix_url(src))
    assert u.drivername == "postgresql+psycopg"
    assert (u.username, u.password, u.host, u.port, u.database) == ("app", HARD_PASSWORD, "db.flycast", 5432, "app")
    assert dict(u.query) == {"sslmode": "disable", "application_name": "flytui", "connect_timeout": "5"}


def test_fix_leaves_good_urls_and_fixes_asyncpg_sslmode() -> None:
    good = "postgresql+psycopg://u:pw@h:5432/d?sslmode=require"
    assert fix_url(good) == good
    assert fix_url("postgres+asyncpg://u:pw@h/d?sslmode=disable") == "postgresql+asyncpg://u:pw@h/d?ssl=disable"
    assert fix_url("postgresql+asyncpg://u:pw@h/d?sslmode=disable") == "postgresql+asyncpg://u:pw@h/d?ssl=disable"
    with pytest.raises(UrlError):
        fix_url("not a url")


# ---------------------------------------------------------------- diagnose_url
def test_diagnose_seed_url() -> None:
    d = diagnose_url(SEED)
    assert not d.ok and d.codes == ["postgres-scheme"]
    assert "Can't load plugin: sqlalchemy.dialects:postgres" in d.errors[0].message
    assert d.errors[0].fixable
    assert d.fixed_masked == ("postgresql+psycopg://fly_demo_test:***@fly-demo-test-postgres.flycast:5432/"
                              "fly_demo_test?sslmode=disable")
    assert "cQv0vvfasf7FM" not in repr(d)
    assert (d.host, d.port, d.database, d.query) == ("fly-demo-test-postgres.flycast", 5432, "fly_demo_test",
                                                     {"sslmode": "disable"})


@pytest.mark.parametrize(("url", "codes", "ok"), [
    ("postgresql+psycopg://u:p@h:5432/d?sslmode=disable", [], True),
    ("postgresql://u:p@h:5432/d", ["psycopg2-default"], False),
    ("postgresql+psycopg2://u:p@h:5432/d", ["psycopg2-driver"], True),
    ("postgresql+asyncpg://u:p@h/d?sslmode=disable", ["asyncpg-sslmode"], False),
    ("postgresql+asyncpg://u:p@h/d?ssl=disable", [], True),
    (SEED_NO_DB, ["postgres-scheme", "missing-database"], False),
    ("postgresql+psycopg://u:p@h:5432/", ["missing-database"], True),
    ("postgresql+psycopg://u:p@ss@h:5432/d", ["unencoded-at"], False),
    ("postgresql+psycopg://u@/d", ["missing-host"], True),
    ("postgresql+psycopg://u@/d?host=/run/pg", [], True),
    ("sqlite:///x.db", ["not-postgres"], True),
    ("not a url", ["unparsable"], False),
    ("postgres://u:secretpw@h:port/d", ["unparsable"], False),
    ("", ["empty"], False),
])
def test_diagnose_rules(url: str, codes: list[str], ok: bool) -> None:
    d = diagnose_url(url)
    assert d.codes == codes
    assert d.ok is ok
    assert "secretpw" not in d.masked and all("secretpw" not in p.message for p in d.problems)


def test_diagnose_missing_database_names_the_user() -> None:
    d = diagnose_url(SEED_NO_DB)
    assert "(postgres)" in d.warnings[0].message
    assert "YIaPPtXCRrRe2b" not in repr(d)


# ---------------------------------------------------------------- tunnel_url
def test_tunnel_url_points_at_local_end_and_keeps_the_rest() -> None:
    t = make_url(tunnel_url(HARD, 15432))
    assert (t.drivername, t.username, t.password, t.host, t.port, t.database) == (
        "postgres", "app", HARD_PASSWORD, "127.0.0.1", 15432, "app")
    assert dict(t.query) == {"sslmode": "disable"}
    sock = "postgresql+psycopg://u:p@/d?host=/tmp/s&port=5432&sslmode=disable"
    assert tunnel_url(sock, 1234, host="localhost") == "postgresql+psycopg://u:p@localhost:1234/d?sslmode=disable"


# ---------------------------------------------------------------- mask / diff / escape
def test_mask_url() -> None:
    assert mask_url(SEED) == SEED.replace("cQv0vvfasf7FM", "***")
    assert HARD_PASSWORD not in mask_url(HARD) and quote(HARD_PASSWORD, safe="") not in mask_url(HARD)
    assert mask_url("postgres://u:secretpw@h:port/d") == "postgres://u:***@h:port/d"
    assert mask_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_url_diff_masks_passwords() -> None:
    rows = url_diff(SEED, fix_url(SEED))
    assert rows == [("scheme", "postgres", "postgresql+psycopg")]
    new = "postgresql+psycopg://other:NEWPASS@127.0.0.1:15432/fly_demo_test?sslmode=disable&connect_timeout=3"
    rows = url_diff(SEED, new)
    assert ("password", "***", "*** (changed)") in rows
    assert ("host", "fly-demo-test-postgres.flycast", "127.0.0.1") in rows
    assert ("port", "5432", "15432") in rows and ("user", "fly_demo_test", "other") in rows
    assert ("?connect_timeout", "", "3") in rows
    assert all("NEWPASS" not in v and "cQv0" not in v for row in rows for v in row)
    assert url_diff(SEED, SEED) == []


def test_configparser_escape_roundtrips_through_alembic_config() -> None:
    from alembic.config import Config

    fixed = fix_url(HARD)
    assert "%" in fixed
    cfg = Config()
    cfg.set_main_option("sqlalchemy.url", configparser_escape(fixed))
    assert cfg.get_main_option("sqlalchemy.url") == fixed


# ---------------------------------------------------------------- against the real server
def test_fixed_url_connects_and_unfixed_fails(pg_server: EmbeddedPostgres) -> None:
    password = "c@Q/v:0%v"
    pg_server.create_role("fly_url_test", password)
    pg_server.create_database("fly_url_test", owner="fly_url_test")
    try:
        flyish = (f"postgres://fly_url_test:{quote(password, safe='')}@127.0.0.1:{pg_server.port}/fly_url_test"
                  "?sslmode=disable")
        with pytest.raises(NoSuchModuleError, match="sqlalchemy.dialects:postgres"):
            sa.create_engine(flyish)
        engine = sa.create_engine(fix_url(flyish))
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_user, current_database()")).one() == (
                "fly_url_test", "fly_url_test")
        engine.dispose()
        with psycopg.connect(psycopg_conninfo(fix_url(flyish))) as conn:
            assert conn.execute("select current_user").fetchone() == ("fly_url_test",)
    finally:
        pg_server.drop_database("fly_url_test")
        pg_server.execute('DROP ROLE "fly_url_test"')


def test_psycopg_conninfo_of_socket_url(pg_database: str) -> None:
    info = psycopg_conninfo(pg_database)
    assert info.startswith("postgresql://")
    with psycopg.connect(info) as conn:
        assert conn.execute("select current_database()").fetchone() == (make_url(pg_database).database,)
    with pytest.raises(UrlError):
        psycopg_conninfo("sqlite:///x.db")
