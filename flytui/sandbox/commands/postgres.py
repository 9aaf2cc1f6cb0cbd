"""``fly postgres create|attach|list`` (alias ``pg``): legacy Fly Postgres apps on the backing server."""
from __future__ import annotations

import re

from flytui.sandbox.commands import Ctx, command, print_json, print_table
from flytui.sandbox.commands.basic import app_json, app_rows
from flytui.sandbox.state import Sandbox, SandboxError, get_app, put_secret, random_password


@command("postgres create")
def pg_create(ctx: Ctx) -> int:
    name = ctx.flag("name")
    org = ctx.flag("org")
    if not name:
        raise SandboxError("prompt: non interactive")
    if not org:
        raise SandboxError("org slug must be specified when not running interactively")
    region = ctx.flag("region") or "iad"
    ctx.out(f"Creating postgres cluster in organization {org}")
    ctx.out("Creating app...")
    ctx.pace(0.5)
    ctx.sb.add_org(org) if org not in {o["slug"] for o in ctx.sb.read()["orgs"]} else None
    app = Sandbox(ctx.sb.dir).create_postgres(name, org, region=region)
    password = random_password(15)
    ctx.out("Setting secrets on app " + name + "...")
    ctx.out("Provisioning 1 of 1 machines with image flyio/postgres-flex:16")
    ctx.out("Waiting for machine to start...")
    ctx.out(f"Machine {app['machines'][0]['id']} is created")
    ctx.out("==> Monitoring health checks")
    ctx.out("  Waiting for " + app["machines"][0]["id"] + " to become healthy (started, 3/3)")
    ctx.out("")
    ctx.out(f"Postgres cluster {name} created")
    ctx.out("  Username:    postgres")
    ctx.out(f"  Password:    {password}")
    ctx.out(f"  Hostname:    {name}.internal")
    ctx.out("  Flycast:     fdaa:0:3b99:0:1::2")
    ctx.out("  Proxy port:  5432")
    ctx.out("  Postgres port:  5433")
    ctx.out(f"  Connection string: postgres://postgres:{password}@{name}.flycast:5432")
    ctx.out("")
    ctx.out("Save your credentials in a secure place -- you won't be able to see them again!")
    return 0


@command("postgres list")
def pg_list(ctx: Ctx) -> int:
    state = ctx.sb.read()
    apps = [a for a in state["apps"].values() if a.get("role") == "postgres_cluster"]
    if not apps:  # before the --json check, so also with --json (internal/command/postgres/list.go @ ad0172f)
        ctx.out("No postgres clusters found")
        return 0
    if ctx.json:
        print_json([app_json(state, a) for a in sorted(apps, key=lambda a: a["name"])])
        return 0
    headers, rows = app_rows(state, apps)
    print_table(headers, rows)
    return 0


def _ident(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


@command("postgres attach")
def pg_attach(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("accepts 1 arg(s), received 0")
    pg_name = ctx.args[0]
    app_name = ctx.app_name()
    state = ctx.sb.read()
    pg = get_app(state, pg_name)
    app = get_app(state, app_name)
    if pg.get("role") != "postgres_cluster":
        raise SandboxError(f"app {pg_name} is not a postgres app")
    var = ctx.flag("variable_name") or "DATABASE_URL"
    if var in app["secrets"]:
        raise SandboxError(f"consumer app {app_name} already contains a secret named {var}")
    server = state.get("postgres_server")
    if not server:
        raise SandboxError("no active leader found: the sandbox has no backing PostgreSQL server "
                           "(Sandbox.set_postgres_server)")
    db = _ident(ctx.flag("database_name") or app_name)
    user = _ident(ctx.flag("database_user") or app_name)
    password = random_password(15)
    ctx.out("Checking for existing attachments")
    ctx.out("Registering attachment")
    ctx.out("Creating database")
    _create_db_and_role(server, db, user, password)
    ctx.out("Creating user")
    url = f"postgres://{user}:{password}@{pg_name}.flycast:5432/{db}?sslmode=disable"
    with ctx.sb.transaction() as st:
        a = get_app(st, app_name)
        put_secret(a, var, url, staged=not a["machines"])
    ctx.out("")
    ctx.out(f"Postgres cluster {pg_name} is now attached to {app_name}")
    ctx.out(f"The following secret was added to {app_name}:")
    ctx.out(f"  {var}={url}")
    return 0


def _create_db_and_role(server: dict, db: str, user: str, password: str) -> None:
    """Create the role (with password) and the database it owns on the backing server."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(host=server["host"], port=server["port"], user=server["user"], dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone()
            if exists:
                raise SandboxError(f"database user {user!r} already exists. Please specify a new database "
                                   "user via --database-user")
            conn.execute(sql.SQL("create role {} login password {}").format(sql.Identifier(user),
                                                                             sql.Literal(password)))
            if not conn.execute("select 1 from pg_database where datname = %s", (db,)).fetchone():
                conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(db), sql.Identifier(user)))
            else:
                conn.execute(sql.SQL("grant all privileges on database {} to {}").format(sql.Identifier(db),
                                                                                         sql.Identifier(user)))
    except psycopg.Error as exc:
        raise SandboxError(f"failed executing database commands: {exc}".strip()) from None
