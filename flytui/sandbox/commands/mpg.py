"""``fly mpg``: Fly Managed Postgres clusters (v2), backed by roles and databases on the sandbox's server.

Shapes and texts from flyctl @ ad0172f: ``internal/command/mpg/{mpg,list,status,create,attach,detach,destroy,
databases,users,proxy}.go``, ``internal/command/mpg/v2/run_*.go``, the uiex types in
``internal/uiex/mpg/{types.go,v1/client.go,v2/client.go}``, ``internal/mpgutil/mpgutil.go`` (default user
``fly-user``, database ``fly-db``) and ``proxy/connect.go`` (the ready line). The pooled connection URL's host
``pgbouncer.<cluster id>.flympg.net`` is what the API returns (fly.io/docs/mpg/client-configuration).

State: ``state["mpg_clusters"][id]``. A cluster is ``initializing`` until ``ready_at`` (seconds since the epoch),
then ``ready`` (computed on read). Every cluster's users and databases are real roles and databases on the
sandbox's backing server (created when the server is known); names are the cluster's own (``fly-user``,
``fly-db``), so the clusters of one sandbox share them on the one server.
"""
from __future__ import annotations

import os
from typing import Any

from flytui.sandbox.commands import Ctx, command, print_json, print_table
from flytui.sandbox.commands.basic import org_json
from flytui.sandbox.mpg_state import (  # noqa: F401 - add_cluster/connection_uri re-exported for tests and the demo
    DEFAULT_DB, DEFAULT_USER, add_cluster, clusters, connection_uri, drop_backing, ensure_backing, find_cluster,
    new_cluster, refresh, stop_forwarder, app_numeric_id)
from flytui.sandbox.state import SandboxError, get_app, get_org, put_secret

PROXY_DEFAULT_PORT = "16380"  # internal/command/mpg/proxy.go
# internal/command/mpg/plans.go (the "Performance" key is capitalised there; normalizePlan lowercases input)
PLANS = {
    "basic": ("Basic", "Shared x 2", "1 GB", 38),
    "starter": ("Starter", "Shared x 2", "2 GB", 72),
    "launch": ("Launch", "Performance x 2", "8 GB", 282),
    "scale": ("Scale", "Performance x 4", "33 GB", 962),
    "Performance": ("Performance", "Performance x 8", "64 GB", 1922),
}
# The API's list of MPG regions (ListRegions); the sandbox offers these.
MPG_REGIONS = ["ams", "fra", "iad", "lax", "lhr", "nrt", "ord", "sjc", "syd", "yyz"]
ORG_REQUIRED = "org slug must be specified when not running interactively"       # internal/prompt/prompt.go
SLUG_REQUIRED = "slug argument must be specified when not running interactively"  # internal/command/orgs/orgs.go


# ---- JSON shapes ---------------------------------------------------------------------------------

def _org(state: dict[str, Any], slug: str) -> dict[str, Any]:
    # fly.Organization has no json tags: the API's keys decode case-insensitively and re-encode PascalCase.
    return org_json(get_org(state, slug))


def _attached(c: dict[str, Any]) -> list[dict[str, Any]] | None:
    return [{"name": a, "id": app_numeric_id(a)} for a in c["attached_apps"]] or None


def list_json(state: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    """uiex/mpg/v1 ``ManagedCluster`` (what ``mpg list --json`` prints; ``version`` 2 for v2 clusters)."""
    return {"id": c["id"], "mpgd_cluster_id": c["mpgd_cluster_id"], "version": 2, "name": c["name"],
            "region": c["region"], "status": c["status"], "plan": c["plan"], "disk": c["disk"],
            "replicas": c["replicas"], "organization": _org(state, c["org"]),
            "ip_assignments": {"direct": c["direct_ip"]}, "attached_apps": _attached(c)}


def status_json(state: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    """uiex/mpg/v2 ``GetClusterResponse``: ``data`` + ``credentials`` (flyctl prints the password too)."""
    ready = c["status"] == "ready"
    return {
        "data": {"id": c["id"], "name": c["name"], "status": c["status"], "engine": "postgres", "plan": c["plan"],
                 "region": c["region"], "organization": _org(state, c["org"]),
                 "mpgd_cluster_id": c["mpgd_cluster_id"], "disk": c["disk"], "replicas": c["replicas"],
                 "ip_assignments": {"direct": c["direct_ip"]}, "attached_apps": _attached(c)},
        "credentials": {"status": c["status"], "user": DEFAULT_USER,
                        "password": c["passwords"][DEFAULT_USER] if ready else "",
                        "dbname": DEFAULT_DB, "pgbouncer_uri": connection_uri(c) if ready else ""},
    }


# ---- commands ------------------------------------------------------------------------------------

def _org_for_list(ctx: Ctx, state: dict[str, Any]) -> str:
    """orgs.OrgFromFlagOrSelect: --org, else the first positional, else the non-interactive error."""
    slug = ctx.flag("org") or (ctx.args[0] if ctx.args else None)
    if not slug:
        raise SandboxError(SLUG_REQUIRED)
    if slug not in {o["slug"] for o in state["orgs"]}:
        raise SandboxError(f"failed retrieving organization with slug {slug}: Could not find Organization")
    return slug


@command("mpg list")
def mpg_list(ctx: Ctx) -> int:
    with ctx.sb.transaction() as st:
        slug = _org_for_list(ctx, st)
        found = [refresh(c) for c in clusters(st).values()
                 if c["org"] == slug and bool(ctx.flag("deleted")) == bool(c.get("deleted"))]
        rows = [list_json(st, c) for c in found]
    if not rows:
        word = "deleted managed" if ctx.flag("deleted") else "managed"
        ctx.out(f"No {word} postgres clusters found in organization {slug}")
        return 0
    if ctx.json:
        print_json(rows)
        return 0
    print_table(["ID", "Name", "Org", "Region", "Status", "Plan", "Attached Apps"],
                [[r["id"], r["name"], r["organization"]["Slug"], r["region"], r["status"], r["plan"],
                  ", ".join(a["name"] for a in r["attached_apps"] or []) or "<no attached apps>"] for r in rows])
    return 0


def _cluster_arg(ctx: Ctx) -> str:
    """The CLUSTER_ID positional; without it flyctl prompts for an org (non-interactive error)."""
    if not ctx.args:
        raise SandboxError(ORG_REQUIRED)
    return ctx.args[0]


def _live(state: dict[str, Any], ident: str) -> dict[str, Any]:
    c = find_cluster(state, ident)
    if c.get("deleted"):
        raise SandboxError(f'managed postgres cluster "{ident}" not found')
    return c


@command("mpg status")
def mpg_status(ctx: Ctx) -> int:
    with ctx.sb.transaction() as st:
        c = _live(st, _cluster_arg(ctx))
        data = status_json(st, c)
    if ctx.json:
        print_json(data)
        return 0
    d = data["data"]
    print_table(["Field", "Value"], [["ID", d["id"]], ["Name", d["name"]],
                                     ["Organization", d["organization"]["Slug"]], ["Region", d["region"]],
                                     ["Status", d["status"]], ["Allocated Disk (GB)", d["disk"]],
                                     ["Replicas", d["replicas"]], ["Direct IP", d["ip_assignments"]["direct"]]],
                title="Cluster Status")
    return 0


def _create_org(ctx: Ctx, state: dict[str, Any]) -> str:
    """prompt.Org: --org, else the only PERSONAL org, else the non-interactive error."""
    slug = ctx.flag("org")
    if slug:
        if slug not in {o["slug"] for o in state["orgs"]}:
            raise SandboxError(f"organization {slug} not found")
        return slug
    orgs = state["orgs"]
    if len(orgs) == 1 and orgs[0].get("type", "").upper() == "PERSONAL":
        ctx.err(f"automatically selected personal organization: {orgs[0]['name']}")
        return orgs[0]["slug"]
    raise SandboxError(ORG_REQUIRED)


@command("mpg create")
def mpg_create(ctx: Ctx) -> int:
    name = ctx.flag("name") or ((ctx.app_name(required=False) or "") + "-db" if ctx.app_name(required=False)
                                else None)
    if not name:
        raise SandboxError("prompt: non interactive")
    try:
        major = int(ctx.flag("pg_major_version") or 16)
    except ValueError:
        raise SandboxError(f'invalid argument "{ctx.flag("pg_major_version")}" for "--pg-major-version" flag: '
                           f'strconv.ParseInt: parsing "{ctx.flag("pg_major_version")}": invalid syntax') from None
    with ctx.sb.transaction() as st:
        org = _create_org(ctx, st)
    if major not in (16, 17):
        raise SandboxError(f"invalid Postgres major version: {major}. Supported versions are 16 and 17")
    plan = str(ctx.flag("plan") or "").strip().lower()
    if plan not in PLANS:
        plan = "basic"  # not interactive: create.go defaults to basic
    region = ctx.flag("region")
    if not region:
        raise SandboxError("prompt: non interactive")
    if region not in MPG_REGIONS:
        raise SandboxError(f"region {region} is not available for Managed Postgres. "
                           f"Available regions: [{' '.join(MPG_REGIONS)}]")
    try:
        disk = int(ctx.flag("volume_size") or 10)
    except ValueError:
        disk = 10
    with ctx.sb.transaction() as st:
        c = new_cluster(st, name, org, region=region, plan=plan, status="initializing", disk=disk,
                        pg_major_version=major, postgis=bool(ctx.flag("enable_postgis_support")))
        ensure_backing(st, c)
        cid = c["id"]
    pname, cpu, mem, price = PLANS[plan]
    ctx.out(f"Selected Plan: {pname}")
    ctx.out(f"  CPU: {cpu}")
    ctx.out(f"  Memory: {mem}")
    ctx.out(f"  Price: ${price} per month\n")
    ctx.out(f"Waiting for cluster {name} ({cid}) to be ready...")
    ctx.out(f"You can view the cluster in the UI at: https://fly.io/dashboard/{org}/managed_postgres/{cid}")
    ctx.out("You can cancel this wait with Ctrl+C - the cluster will continue provisioning in the background.")
    ctx.out(f"Once ready, you can connect to the database with: fly mpg connect {cid}\n")
    while True:
        with ctx.sb.transaction() as st:
            c = find_cluster(st, cid)
            status, uri = c["status"], connection_uri(c) if c["status"] == "ready" else ""
        if status == "ready":
            break
        if status == "error":
            raise SandboxError("cluster creation failed")
        ctx.pace(5.0)
    ctx.out("\nManaged Postgres cluster created successfully!")
    ctx.out(f"  ID: {cid}")
    ctx.out(f"  Name: {name}")
    ctx.out(f"  Organization: {org}")
    ctx.out(f"  Region: {region}")
    ctx.out(f"  Plan: {plan}")
    ctx.out(f"  Disk: {disk}GB")
    ctx.out(f"  PostGIS: {'true' if ctx.flag('enable_postgis_support') else 'false'}")
    ctx.out(f"  Connection string: {uri}")
    return 0


def _app_and_cluster(ctx: Ctx, st: dict[str, Any], verb: str) -> tuple[dict[str, Any], dict[str, Any]]:
    app = get_app(st, ctx.app_name())
    if not ctx.args:
        ctx.out(f"Listing clusters in organization {app['org']}")
        raise SandboxError("prompt: non interactive")
    try:
        c = _live(st, ctx.args[0])
    except SandboxError as exc:
        raise SandboxError(f"failed retrieving cluster {ctx.args[0]}: {exc.message}") from None
    if app["org"] != c["org"]:
        tail = " to attach" if verb == "attach" else ""
        raise SandboxError(f"app {app['name']} is in organization {app['org']}, but cluster {c['id']} is in "
                           f"organization {c['org']}. They must be in the same organization{tail}")
    return app, c


@command("mpg attach")
def mpg_attach(ctx: Ctx) -> int:
    var = ctx.flag("variable_name") or "DATABASE_URL"
    with ctx.sb.transaction() as st:
        app, c = _app_and_cluster(ctx, st, "attach")
        user = ctx.flag("user") or DEFAULT_USER
        if user not in c["passwords"]:
            raise SandboxError(f"failed retrieving credentials for user {user}: user not found")
        if c["status"] != "ready" and not ctx.flag("user"):
            raise SandboxError(f"failed retrieving cluster {c['id']}: cluster is not ready")
        db = ctx.flag("database") or DEFAULT_DB
        if var in app["secrets"]:
            raise SandboxError(f"app {app['name']} already has {var} set. Use 'fly secrets unset {var}' "
                               "to remove it first")
        ensure_backing(st, c)
        url = connection_uri(c, user, db)
        put_secret(app, var, url, staged=not app["machines"])
        if app["name"] not in c["attached_apps"]:
            c["attached_apps"].append(app["name"])
    ctx.out(f"\nPostgres cluster {c['id']} is being attached to {app['name']}")
    ctx.out(f"The following secret was added to {app['name']}:\n  {var}={url}")
    return 0


@command("mpg detach")
def mpg_detach(ctx: Ctx) -> int:
    with ctx.sb.transaction() as st:
        app, c = _app_and_cluster(ctx, st, "detach")
        if app["name"] not in c["attached_apps"]:
            raise SandboxError(f"failed to detach: app {app['name']} is not attached to cluster {c['id']}")
        c["attached_apps"].remove(app["name"])
    ctx.out(f"\nPostgres cluster {c['id']} has been detached from {app['name']}")
    ctx.out("Note: This only removes the attachment record. Any secrets (like DATABASE_URL) are still set on the app.")
    ctx.out(f"Use 'fly secrets unset DATABASE_URL -a {app['name']}' to remove the connection string.")
    return 0


@command("mpg destroy")
def mpg_destroy(ctx: Ctx) -> int:
    if len(ctx.args) != 1:
        raise SandboxError(f"accepts 1 arg(s), received {len(ctx.args)}")
    with ctx.sb.transaction() as st:
        try:
            c = _live(st, ctx.args[0])
        except SandboxError as exc:
            raise SandboxError(f"failed retrieving cluster {ctx.args[0]}: {exc.message}") from None
        if not ctx.flag("yes"):
            ctx.err("Destroying a managed Postgres cluster is not reversible. All data will be permanently lost.")
            raise SandboxError("--yes flag must be specified when not running interactively")
        drop_backing(st, c)
        stop_forwarder(c)
        c["deleted"] = True
        c["status"] = "deleted"
        c["attached_apps"] = []
        name, cid = c["name"], c["id"]
    ctx.out(f"Managed Postgres cluster {name} ({cid}) scheduled to be destroyed (may take some time)")
    return 0


def _sub(ctx: Ctx, group: str) -> str:
    """``mpg databases list CLUSTER``: the subcommand word (aliases ls) and the remaining positionals."""
    if not ctx.args:
        ctx.out(f"Usage:\n  flyctl mpg {group} [command]\n")
        raise SandboxError(f'unknown command "" for "flyctl mpg {group}"', exit_code=1)
    word = {"ls": "list"}.get(ctx.args[0], ctx.args[0])
    ctx.args = ctx.args[1:]
    if word != "list":
        raise SandboxError(f'unknown command "{word}" for "flyctl mpg {group}"')
    return word


@command("mpg databases")
@command("mpg database")
@command("mpg db")
@command("mpg dbs")
def mpg_databases(ctx: Ctx) -> int:
    _sub(ctx, "databases")
    with ctx.sb.transaction() as st:
        c = _live(st, _cluster_arg(ctx))
        names = list(c["databases"])
    if not names:
        ctx.out(f"No databases found for cluster {c['id']}")
        return 0
    if ctx.json:
        print_json([{"name": n} for n in names])
        return 0
    print_table(["Name"], [[n] for n in names])
    return 0


@command("mpg users")
@command("mpg user")
def mpg_users(ctx: Ctx) -> int:
    _sub(ctx, "users")
    with ctx.sb.transaction() as st:
        c = _live(st, _cluster_arg(ctx))
        users = [dict(u) for u in c["users"]]
    if not users:
        ctx.out(f"No users found for cluster {c['id']}")
        return 0
    if ctx.json:
        print_json(users)
        return 0
    print_table(["Name", "Role"], [[u["name"], u["role"]] for u in users])
    return 0


async def _serve_proxy(ctx: Ctx, bind: str, local: int, direct_ip: str, target: str) -> int:
    """Listen on bind:local and pump each connection to the backing server (the cluster's primary)."""
    import asyncio

    from flytui.sandbox.commands.net import _bind, _until_stopped
    from flytui.sandbox.procs import forward_to

    handle = forward_to(target)

    def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # SIGTERM with connections open cancels their handlers: not an error worth a traceback on stderr
        if not isinstance(context.get("exception"), (asyncio.CancelledError, SystemExit)):
            loop.default_exception_handler(context)

    asyncio.get_running_loop().set_exception_handler(quiet)
    sock = _bind(bind, local)
    server = await asyncio.start_server(handle, sock=sock)
    port = sock.getsockname()[1]
    ctx.out(f"Proxying localhost:{port} to remote [{direct_ip}]:5432")  # proxy/connect.go
    done = _until_stopped(False)
    async with server:
        return await done


@command("mpg proxy")
def mpg_proxy(ctx: Ctx) -> int:
    if ctx.flag("watch_stdin"):
        raise SandboxError("unknown flag: --watch-stdin")
    with ctx.sb.transaction() as st:
        c = _live(st, _cluster_arg(ctx))
        if c["status"] == "initializing":
            raise SandboxError("cluster is still initializing, wait a bit more")
        if c["status"] != "ready":
            raise SandboxError("error getting cluster password")
        server = st.get("postgres_server")
        if not server:
            raise SandboxError(f"failed retrieving cluster {c['id']}: the sandbox has no backing PostgreSQL "
                               "server (Sandbox.set_postgres_server)")
        ensure_backing(st, c)
        from flytui.sandbox.procs import _server_target

        target = _server_target(server)
        direct = c["direct_ip"]
    port_s = str(ctx.flag("local_port") or PROXY_DEFAULT_PORT)
    try:
        local = int(port_s)
    except ValueError:
        raise SandboxError(f"listen unix {port_s}: bind: no such file or directory") from None
    bind = ctx.flag("bind_addr") or "127.0.0.1"
    pid = os.getpid()
    with ctx.sb.transaction() as st:
        st.setdefault("proxies", []).append(pid)
    import asyncio

    try:
        return asyncio.run(_serve_proxy(ctx, bind, local, direct, target))
    finally:
        with ctx.sb.transaction() as st:
            st["proxies"] = [p for p in st.get("proxies", []) if p != pid]
