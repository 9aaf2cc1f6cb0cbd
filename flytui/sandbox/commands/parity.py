"""Issue 19 commands: ``fly machine cordon|uncordon|kill|leases``, ``fly apps restart``, ``fly services list``,
``fly orgs show|invite|remove``. Texts and shapes from flyctl @ ad0172f (file named on each handler) and
fly-go v0.9.6; samples in tests/fixtures/flyctl/parity/.

Leases: ``machine["sandbox"]["lease"] = {"nonce", "owner", "expires_at"}`` (seed with :func:`hold_lease`). A command
that takes a lease first (cordon, uncordon, stop, apps restart: internal/machine/lease.go AcquireLeases) fails while
another owner's lease has not expired. Only the substring ``lease currently held by`` of the server's refusal is in
flyctl's source (internal/command/deploy/plan.go matches it); the rest of that sentence is the sandbox's.
Org members: ``state["org_members"][slug] = [{"id", "name", "email", "role", "joined_at"}]``; the logged-in user
is the org's ``admin`` unless seeded otherwise (:func:`seed_members`).
"""
from __future__ import annotations

import sys
import time
from typing import Any

from flytui.sandbox import procs
from flytui.sandbox.commands import Ctx, command, print_json, print_table
from flytui.sandbox.state import Sandbox, SandboxError, add_event, find_machine, get_app, now_rfc3339, ulid_like

LEASE_TTL = 120  # internal/machine/lease.go: AcquireLease(..., new(120))


# ---- tokens (several accounts) -------------------------------------------------------------------

def add_token(sb: Sandbox, token: str, email: str, orgs: list[str]) -> None:
    """Test/demo helper: an API token of another account, seeing only ``orgs``."""
    with sb.transaction() as st:
        st.setdefault("tokens", {})[token] = {"email": email, "orgs": list(orgs)}


def env_token() -> str:
    """The token flyctl takes from its environment: the first of FLY_ACCESS_TOKEN, FLY_API_TOKEN that *exists*
    (internal/config/config.go applyEnv + internal/env/env.go First @ ad0172f); "" = flyctl's own login."""
    import os

    for key in ("FLY_ACCESS_TOKEN", "FLY_API_TOKEN"):
        if key in os.environ:
            return os.environ[key]
    return ""


def token_account(state: dict[str, Any]) -> dict[str, Any] | None:
    """The account of the environment's token, None for the logged-in user. An unknown token: ``unauthorized``
    (the API's refusal; the word flytui's error classifier reads as "not logged in")."""
    token = env_token()
    if not token or token == (state.get("user") or {}).get("token"):
        return None
    acct = (state.get("tokens") or {}).get(token)
    if acct is None:
        raise SandboxError("unauthorized")
    return acct


def scope_to_account(ctx: Ctx) -> None:
    """Called by the dispatcher: remember the token's account; an ``-a APP`` of an org it cannot see is not found."""
    state = ctx.sb.read()
    acct = token_account(state)
    if acct is None:
        return
    ctx.flags["_account"] = acct
    name = ctx.flags.get("app")
    if name and name in state.get("apps", {}) and state["apps"][name]["org"] not in acct["orgs"]:
        get_app({"apps": {}}, name)  # raises the sandbox's "app not found" error


# ---- leases --------------------------------------------------------------------------------------

def hold_lease(sb: Sandbox, app: str, machine_id: str, owner: str = "someone@example.com",
               ttl: int = 3600) -> str:
    """Test/demo helper: someone else holds a lease on the machine for ``ttl`` seconds; returns the nonce."""
    nonce = ulid_like().lower()[:12]
    with sb.transaction() as st:
        m = find_machine(get_app(st, app), machine_id)
        m.setdefault("sandbox", {})["lease"] = {"nonce": nonce, "owner": owner, "expires_at": int(time.time()) + ttl,
                                                "version": m.get("instance_id", "")}
    return nonce


def current_lease(m: dict[str, Any]) -> dict[str, Any] | None:
    lease = (m.get("sandbox") or {}).get("lease")
    if lease and lease.get("expires_at", 0) > time.time():
        return lease
    return None


def check_lease(m: dict[str, Any]) -> None:
    """What AcquireLease says when another owner holds the machine (fly-go flaps AcquireLease wraps it in
    ``failed to get lease on VM ID: …``; lease.go in ``failed to obtain lease: …``)."""
    lease = current_lease(m)
    if lease is not None:
        raise SandboxError(f"failed to obtain lease: failed to get lease on VM {m['id']}: machine ID {m['id']} "
                           f"lease currently held by {lease['owner']}, expires at "
                           f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(lease['expires_at']))}")


def _many(ctx: Ctx) -> list[str]:
    if not ctx.args:  # select.go checkSelectConditions without a terminal
        raise SandboxError("at least one machine ID must be specified when not running interactively")
    return list(ctx.args)


def _cordon(ctx: Ctx, on: bool) -> int:
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        machines = [find_machine(app, ident) for ident in _many(ctx)]
        for m in machines:
            check_lease(m)
        for m in machines:
            ctx.out(f"{'Activating' if on else 'Deactivating'} cordon on machine {m['id']}...")
            m["cordoned"] = on
            m["updated_at"] = now_rfc3339()
            ctx.out("done!")
    return 0


@command("machine cordon")
def machine_cordon(ctx: Ctx) -> int:
    """internal/command/machine/cordon.go @ ad0172f."""
    return _cordon(ctx, True)


@command("machine uncordon")
def machine_uncordon(ctx: Ctx) -> int:
    """internal/command/machine/uncordon.go @ ad0172f."""
    return _cordon(ctx, False)


@command("machine kill")
def machine_kill(ctx: Ctx) -> int:
    """internal/command/machine/kill.go @ ad0172f: ``cobra.RangeArgs(0, 1)``, no lease, SIGKILL via the API."""
    if len(ctx.args) > 1:
        raise SandboxError(f"accepts between 0 and 1 arg(s), received {len(ctx.args)}")
    if not ctx.args:
        raise SandboxError("machine ID must be specified when not running interactively")
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        m = find_machine(app, ctx.args[0])
        if m["state"] == "destroyed":
            raise SandboxError(f"machine {m['id']} has already been destroyed")
        ctx.out(f"machine {m['id']} was found and is currently in a {m['state']} state, attempting to kill...")
        if m["state"] != "started":  # flyd refuses a signal to a machine that is not running
            raise SandboxError(f"could not kill machine {m['id']}: failed to kill VM {m['id']}: "
                               f"machine is not started")
        procs.stop_machine_process(m)
        add_event(m, "exit", "stopped", "flyd")
        m["state"] = "stopped"
        for c in m.get("checks") or []:
            c["status"], c["output"] = "critical", procs.REFUSED
    ctx.out("kill signal has been sent")
    return 0


@command("machine leases")
def machine_leases(ctx: Ctx) -> int:
    """internal/command/machine/leases.go @ ad0172f: ``leases view [ids] [--json]``, ``leases clear [ids]``."""
    if not ctx.args or ctx.args[0] not in ("view", "clear"):
        raise SandboxError(f"unknown command \"{ctx.args[0] if ctx.args else ''}\" for \"flyctl machine leases\"")
    sub, ids = ctx.args[0], ctx.args[1:]
    if not ids:
        raise SandboxError("at least one machine ID must be specified when not running interactively")
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        machines = [find_machine(app, i) for i in ids]
        if sub == "clear":
            for m in machines:
                if current_lease(m) is None:
                    continue
                ctx.out(f"clearing lease for machine {m['id']}")
                m["sandbox"].pop("lease", None)
            ctx.out("Lease(s) cleared")
            return 0
        leases: dict[str, dict[str, Any]] = {}
        for m in machines:
            lease = current_lease(m)
            if lease is not None:
                leases[m["id"]] = {"status": "success", "data": {
                    "nonce": lease["nonce"], "expires_at": lease["expires_at"], "owner": lease["owner"],
                    "version": lease.get("version", "")}}
    if ctx.json:
        print_json(leases)
        return 0
    if not leases:
        ctx.out("No leases found")
        return 0
    print_table(["Machine", "Nonce", "Status", "Owner", "Expires"],
                [[mid, v["data"]["nonce"], v["status"], v["data"]["owner"],
                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(v["data"]["expires_at"]))]
                 for mid, v in leases.items()])
    return 0


# ---- apps restart ----------------------------------------------------------------------------------

@command("apps restart")
def apps_restart(ctx: Ctx) -> int:
    """internal/command/apps/restart.go @ ad0172f: restart only the started machines, leases first."""
    name = ctx.args[0] if ctx.args else ctx.app_name(required=False)
    if not name:
        raise SandboxError("no app name was provided, and none is available from the environment or fly.toml")
    with ctx.sb.transaction() as st:
        app = get_app(st, name)
        if app.get("role") == "postgres_cluster":
            raise SandboxError("postgres apps should use `fly pg restart` instead")
        machines = [m for m in app["machines"] if m["state"] not in ("destroyed", "destroying")]
        for m in machines:
            check_lease(m)
        for m in machines:
            if m["state"] != "started":
                continue
            ctx.out(f"Restarting machine {m['id']}")  # internal/machine/restart.go
            add_event(m, "restart", "stopping", "user")
            add_event(m, "start", "started", "flyd")
            m["restarts"] = m.get("restarts", 0) + 1
            if m.get("sandbox", {}).get("pid"):
                procs.stop_machine_process(m)
                procs.start_machine_process(ctx.sb, app, m, state=st)
            ctx.out(f"Machine {m['id']} restarted successfully!")
    return 0


# ---- services --------------------------------------------------------------------------------------

@command("services")
def services(ctx: Ctx) -> int:
    """internal/command/services/list.go @ ad0172f (``fly services list``; no JSON)."""
    if not ctx.args or ctx.args[0] not in ("list", "ls"):
        raise SandboxError(f"unknown command \"{ctx.args[0] if ctx.args else ''}\" for \"flyctl services\"")
    if ctx.json:
        raise SandboxError("outputting to json is not yet supported")
    app = get_app(ctx.sb.read(), ctx.app_name())
    machines = [m for m in app["machines"] if m["state"] not in ("destroyed", "destroying")]
    if not machines:
        ctx.err("No machines found")
        return 0
    groups: dict[tuple, dict[str, list]] = {}
    for m in machines:
        for svc in m["config"].get("services") or []:
            for port in svc.get("ports") or []:
                key = (svc["protocol"].upper(), f"{port['port']} => {svc['internal_port']}",
                       "[" + ",".join(h.upper() for h in port.get("handlers") or []) + "]",
                       "True" if port.get("force_https") else "False")
                g = groups.setdefault(key, {"pg": [], "regions": [], "n": []})
                pg = m["config"]["metadata"].get("fly_process_group", "")
                g["pg"] += [pg] if pg not in g["pg"] else []
                g["regions"] += [m["region"]] if m["region"] not in g["regions"] else []
                g["n"].append(m["id"])
    print_table(["Protocol", "Ports", "Handlers", "Force HTTPS", "Process Group", "Regions", "Machines"],
                [[*k, ",".join(g["pg"]), ",".join(g["regions"]), str(len(g["n"]))] for k, g in groups.items()],
                title="Services")
    return 0


# ---- orgs ------------------------------------------------------------------------------------------

def seed_members(sb: Sandbox, slug: str, members: list[dict[str, Any]]) -> None:
    """Test/demo helper: the members of an org (``{"name", "email", "role"}``; ids and dates filled in)."""
    with sb.transaction() as st:
        st.setdefault("org_members", {})[slug] = [
            {"id": m.get("id") or ulid_like(), "name": m.get("name", ""), "email": m["email"],
             "role": m.get("role", "member"), "joined_at": m.get("joined_at") or now_rfc3339()} for m in members]


def _members(st: dict[str, Any], slug: str) -> list[dict[str, Any]]:
    members = st.setdefault("org_members", {})
    if slug not in members:
        email = (st.get("user") or {}).get("email", "")
        members[slug] = [{"id": ulid_like(), "name": email.split("@")[0], "email": email, "role": "admin",
                          "joined_at": now_rfc3339()}]
    return members[slug]


def _org(st: dict[str, Any], ctx: Ctx) -> dict[str, Any] | None:
    slug = ctx.flag("org") or (ctx.args[0] if ctx.args else None)
    if not slug:
        raise SandboxError("slug argument must be specified when not running interactively")
    for org in st.get("orgs", []):
        if org["slug"] == slug:
            return org
    return None


@command("orgs show")
def orgs_show(ctx: Ctx) -> int:
    """internal/command/orgs/show.go @ ad0172f; fly-go OrganizationDetails (PascalCase, no omitempty)."""
    with ctx.sb.transaction() as st:
        org = _org(st, ctx)
        if org is None:
            slug = ctx.args[0] if ctx.args else ctx.flag("org")
            raise SandboxError(f"failed retrieving organization with slug {slug}: Could not find Organization")
        members = list(_members(st, org["slug"]))
        viewer = next((m["role"] for m in members if m["email"] == (st.get("user") or {}).get("email")), "member")
    if ctx.json:
        print_json({"ID": org["slug"] + "-id", "InternalNumericID": "", "Name": org["name"], "RemoteBuilderImage": "",
                    "RemoteBuilderApp": None, "Slug": org["slug"], "Type": org.get("type", ""),
                    "ViewerRole": viewer, "Apps": {"Nodes": None},
                    "Members": {"Edges": [{"Cursor": "", "Node": {"ID": m["id"], "Name": m["name"],
                                                                  "Email": m["email"], "EnablePaidHobby": False},
                                           "Role": m["role"], "JoinedAt": m["joined_at"]} for m in members]}})
        return 0
    ctx.out("Organization")
    for k, v in (("Name", org["name"]), ("Slug", org["slug"]), ("Type", org.get("type", ""))):
        ctx.out(f"{k:<10}: {v:<20}")
    ctx.out("")
    ctx.out("Summary")
    ctx.out(f"You have {viewer} permissions on this organizaton")  # sic, show.go
    ctx.out(f"There are {len(members)} members associated with this organization")
    ctx.out("")
    ctx.out("Organization Members")
    print_table(["Name", "Email", "Role"], [[m["name"], m["email"], m["role"]] for m in members])
    return 0


def _admin(st: dict[str, Any], slug: str) -> bool:
    email = (st.get("user") or {}).get("email")
    return any(m["email"] == email and m["role"] == "admin" for m in _members(st, slug))


@command("orgs invite")
def orgs_invite(ctx: Ctx) -> int:
    """internal/command/orgs/invite.go @ ad0172f: an org that cannot be used (unknown, not admin: the
    ``fly.AdminOnly`` filter) makes it ``return nil`` — exit 0, no output."""
    with ctx.sb.transaction() as st:
        org = _org(st, ctx)
        if org is None or not _admin(st, org["slug"]):
            return 0
        if len(ctx.args) < 2:
            return 0  # emailFromSecondArgOrPrompt fails without a terminal: also `return nil`
        email = ctx.args[1]
        # fly-go Invitation; the mutation (resource_organizations.go CreateOrganizationInvite) selects id, email,
        # createdAt, redeemed and organization { slug }: Inviter stays null, the Organization only has its Slug
        from flytui.sandbox.commands.basic import org_json

        inv = {"ID": ulid_like(), "Email": email, "CreatedAt": now_rfc3339(), "Redeemed": False, "Inviter": None,
               "Organization": {**org_json({"slug": "", "name": "", "type": ""}), "Slug": org["slug"]}}
        st.setdefault("org_invitations", {}).setdefault(org["slug"], []).append(inv)
    if ctx.json:
        print_json(inv)
        return 0
    ctx.out(f"{'Org':<20} {'Email':<20} {'Redeemed':<10}")
    ctx.out(f"{'----':<20} {'----':<20} {'----':<10}")
    ctx.out(f"{org['slug']:<20} {email:<20} {'false':<10}")
    return 0


@command("orgs remove")
def orgs_remove(ctx: Ctx) -> int:
    """internal/command/orgs/remove.go @ ad0172f (org problems: ``return nil``; unknown member: ``user not found``)."""
    with ctx.sb.transaction() as st:
        org = _org(st, ctx)
        if org is None or not _admin(st, org["slug"]) or len(ctx.args) < 2:
            return 0
        email = ctx.args[1]
        members = _members(st, org["slug"])
        target = next((m for m in members if m["email"] == email), None)
        if target is None:
            raise SandboxError("user not found")
        members.remove(target)
    ctx.out(f"successfully removed user {email} from {org['name']}")
    sys.stdout.write(f"Offboarding Checklist: https://fly.io/dashboard/{org['slug']}/offboarding")  # no newline
    sys.stdout.flush()
    return 0
