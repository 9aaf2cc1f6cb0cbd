"""version, auth, orgs, apps, status, releases, checks, volumes, ips, scale."""
from __future__ import annotations

import json
import platform
from typing import Any

from flytui.sandbox import procs
from flytui.sandbox.commands import (Ctx, command, print_json, print_table, relative_time, strip_private)
from flytui.sandbox.state import (SandboxError, add_event, get_app, get_org, new_app,
                                  new_machine, now_rfc3339, stop_group)

COMMIT = "f767253a8e91ffc2706346c8366b597dfc455a98"
BUILD_DATE = "2025-07-30T12:20:14Z"


def _arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


# ---- version / auth / orgs ----------------------------------------------------------------

@command("version", auth=False)
def version(ctx: Ctx) -> int:
    from flytui.sandbox.generations import version as played_version

    v = played_version()  # $FLYTUI_SANDBOX_FLYCTL_VERSION, else FLYCTL_VERSION
    if ctx.json:  # internal/command/version/version.go: json.NewEncoder(out).Encode(buildinfo.Info())
        info = {"Name": "flyctl", "Version": v, "Commit": COMMIT, "BranchName": "",
                "BuildDate": BUILD_DATE, "OS": platform.system().lower(), "Architecture": _arch(),
                "Environment": "production"}
        ctx.out(json.dumps(info, separators=(",", ":")))
    else:
        ctx.out(f"{ctx.exe} v{v} {platform.system().lower()}/{_arch()} Commit: {COMMIT} "
                f"BuildDate: {BUILD_DATE}")
    return 0


@command("auth whoami")
def whoami(ctx: Ctx) -> int:
    email = (ctx.flag("_account") or {}).get("email") or ctx.sb.read()["user"]["email"]
    if ctx.json:
        print_json({"email": email})
    else:
        ctx.out(email)
    return 0


@command("auth token")
def token(ctx: Ctx) -> int:
    ctx.out(ctx.sb.read()["user"]["token"])
    return 0


@command("auth login", auth=False)
def login(ctx: Ctx) -> int:
    email = ctx.flag("email") or "demo@example.com"
    ctx.sb.login(email)
    with ctx.sb.transaction() as st:  # every Fly.io user has a personal org (a fresh state has none yet)
        orgs = st.setdefault("orgs", [])
        if not any(o.get("type") == "PERSONAL" or o.get("slug") == "personal" for o in orgs):
            orgs.insert(0, {"slug": "personal", "name": email, "type": "PERSONAL"})
    ctx.out(f"successfully logged in as {email}")
    return 0


@command("auth logout", auth=False)
def logout(ctx: Ctx) -> int:
    ctx.sb.logout()
    ctx.out("Removed token from the config file")
    return 0


@command("orgs list")
def orgs_list(ctx: Ctx) -> int:
    orgs = [o for o in ctx.sb.read()["orgs"] if o["slug"] in (ctx.flag("_account") or {}).get("orgs", [o["slug"]])]
    if ctx.json:
        print_json({o["slug"]: o["name"] for o in orgs})
    else:
        print_table(["Name", "Slug", "Type"], [[o["name"], o["slug"], o["type"]] for o in orgs])
    return 0


# ---- apps -------------------------------------------------------------------------------

def org_json(org: dict[str, Any]) -> dict[str, Any]:
    """fly-go ``Organization`` (PascalCase, no omitempty)."""
    return {"ID": "", "InternalNumericID": "", "Name": org["name"], "RemoteBuilderImage": "",
            "RemoteBuilderApp": None, "Slug": org["slug"], "RawSlug": "", "Type": org.get("type", ""),
            "PaidPlan": False, "Billable": False, "Settings": None, "AllowedReplaySourceOrgSlugs": None,
            "AllowAllCrossNetworkReplays": False, "WireGuardPeer": None,
            "WireGuardPeers": {"Nodes": None, "Edges": None}}


def release_json(rel: dict[str, Any] | None, email: str = "") -> dict[str, Any] | None:
    """fly-go ``Release`` (PascalCase, no omitempty)."""
    if rel is None:
        return None
    return {"ID": rel["id"], "Version": rel["version"], "Stable": rel["status"] == "complete",
            "InProgress": rel["status"] == "running", "Reason": rel.get("reason", ""),
            "Description": rel.get("description", ""), "Status": rel["status"],
            "DeploymentStrategy": rel.get("strategy", ""), "Metadata": None,
            "User": {"ID": "", "Name": "", "Email": rel.get("user_email", email)},
            "EvaluationID": "", "CreatedAt": rel["created_at"], "ImageRef": rel.get("image_ref", "")}


def app_json(state: dict[str, Any], app: dict[str, Any]) -> dict[str, Any]:
    """fly-go ``App`` as ``apps list --json`` prints it: every field, PascalCase."""
    org = get_org(state, app["org"])
    cur = app["releases"][-1] if app["releases"] else None
    return {
        "ID": app["name"], "InternalNumericID": 0, "Name": app["name"], "State": "", "Status": app["status"],
        "Deployed": app["deployed"], "Hostname": app["hostname"], "AppURL": "", "Version": 0, "NetworkID": 0,
        "Network": app.get("network", "default"), "Release": None, "Organization": org_json(org),
        "Secrets": None, "CurrentRelease": release_json(cur), "Releases": {"Nodes": None},
        "IPAddresses": {"Nodes": None}, "EgressIpAddresses": {"Nodes": None}, "SharedIPAddress": "",
        "CNAMETarget": "", "IPAddress": None, "Certificates": {"Nodes": None}, "Certificate": None,
        "PostgresAppRole": {"Name": app["role"]} if app.get("role") else None, "Image": None,
        "ImageUpgradeAvailable": False, "ImageVersionTrackingEnabled": False, "ImageDetails": None,
        "LatestImageDetails": None, "PlatformVersion": "machines", "Machines": {"Nodes": None},
        "CurrentLock": None,
    }


def app_rows(state: dict[str, Any], apps: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of ``apps list`` / ``pg list``."""
    with_net = any(a.get("network", "default") != "default" for a in apps)
    headers = ["Name", "Owner", "Status"] + (["Network"] if with_net else []) + ["Latest Deploy"]
    rows = []
    for a in sorted(apps, key=lambda a: a["name"]):
        cur = a["releases"][-1] if a["releases"] and a["deployed"] else None
        row = [a["name"], a["org"], a["status"]] + ([a.get("network", "default")] if with_net else [])
        row.append(relative_time(cur["created_at"]) if cur else "")
        rows.append(row)
    return headers, rows


@command("apps list")
def apps_list(ctx: Ctx) -> int:
    state = ctx.sb.read()
    apps = [a for a in state["apps"].values() if (not ctx.flag("org") or a["org"] == ctx.flag("org"))
            and a["org"] in (ctx.flag("_account") or {}).get("orgs", [a["org"]])]
    if ctx.json:
        print_json([app_json(state, a) for a in sorted(apps, key=lambda a: a["name"])])
        return 0
    if ctx.flag("quiet"):
        for a in sorted(apps, key=lambda a: a["name"]):
            ctx.out(a["name"])
        return 0
    if not apps:
        ctx.out("No apps found")
        return 0
    print_table(*app_rows(state, apps))
    return 0


@command("apps create")
def apps_create(ctx: Ctx) -> int:
    name = ctx.args[0] if ctx.args else ctx.flag("name")
    if not name:
        raise SandboxError("prompt: non interactive")
    org = ctx.flag("org")
    if not org:
        raise SandboxError("org slug must be specified when not running interactively")
    with ctx.sb.transaction() as st:
        app = new_app(st, name, org)
        data = app_json(st, app)
    if ctx.json:
        print_json(data)
    else:
        ctx.out(f"New app created: {name}")
    return 0


@command("apps destroy")
def apps_destroy(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("accepts at least 1 arg(s), received 0")
    names = ctx.args
    if not ctx.flag("yes"):
        ctx.err("Destroying an app is not reversible.")
        raise SandboxError("prompt: non interactive")
    pids = []
    with ctx.sb.transaction() as st:
        for name in names:
            app = get_app(st, name)
            pids += [m.get("sandbox", {}).get("pid") for m in app["machines"]]
            del st["apps"][name]
    for pid in pids:
        stop_group(pid)
    for name in names:
        ctx.out(f"Destroyed app {name}")
    return 0


# ---- status / releases / checks -----------------------------------------------------------

def checks_summary(m: dict[str, Any]) -> str:
    checks = m.get("checks") or []
    if not checks:
        return ""
    counts: dict[str, int] = {}
    for c in checks:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    parts = [f"{len(checks)} total"] + [f"{counts[s]} {s}" for s in ("passing", "warning", "critical") if s in counts]
    return ", ".join(parts)


def active_machines(app: dict[str, Any]) -> list[dict[str, Any]]:
    """Machines ``ListActive`` would return (no destroyed / release-command / console machines)."""
    return [m for m in app["machines"] if m["state"] not in ("destroyed", "destroying")
            and m["config"]["metadata"].get("fly_process_group") not in ("fly_app_release_command", "fly_app_console")]


@command("status")
def status(ctx: Ctx) -> int:
    with ctx.sb.transaction() as state:
        app = get_app(state, ctx.app_name())
        procs.reconcile_app(ctx.sb, app)
        refresh_checks(app)
        machines = active_machines(app)
    if ctx.json:
        org = get_org(state, app["org"])
        print_json({
            "AppURL": "", "Deployed": app["deployed"], "Hostname": app["hostname"], "ID": app["name"],
            "Machines": [strip_private(m) for m in machines], "Name": app["name"],
            "Organization": {"ID": "", "InternalNumericID": "", "Name": org["name"], "Slug": org["slug"],
                             "RawSlug": "", "PaidPlan": False},
            "PlatformVersion": "machines", "Status": app["status"],
            "Version": app["releases"][-1]["version"] if app["releases"] else 0,
        })
        return 0
    image = machines[0]["config"]["image"].split("/", 1)[-1] if machines else ""
    ctx.out("App")
    ctx.out(f"  Name     = {app['name']}")
    ctx.out(f"  Owner    = {app['org']}")
    ctx.out(f"  Hostname = {app['hostname']}")
    ctx.out(f"  Image    = {image}")
    ctx.out("")
    if not machines:
        ctx.out(f"No machines are available on this app {app['name']}")
        return 0
    rows = []
    for m in sorted(machines, key=lambda m: (m["config"]["metadata"].get("fly_process_group", ""), m["id"])):
        md = m["config"]["metadata"]
        rows.append([md.get("fly_process_group", ""), m["id"], md.get("fly_release_version", ""), m["region"],
                     m["state"], md.get("role", ""), checks_summary(m), m["updated_at"]])
    print_table(["Process", "ID", "Version", "Region", "State", "Role", "Checks", "Last Updated"], rows,
                title="Machines")
    return 0


@command("releases")
def releases(ctx: Ctx) -> int:
    state = ctx.sb.read()
    app = get_app(state, ctx.app_name())
    rels = list(reversed(app["releases"]))
    if ctx.json:
        print_json([release_json(r) for r in rels])
        return 0
    headers = ["Version", "Status", "Description", "User", "Date"] + (["Docker Image"] if ctx.flag("image") else [])
    rows = [[f"v{r['version']}", r["status"], r["description"], r["user_email"], relative_time(r["created_at"])]
            + ([r["image_ref"]] if ctx.flag("image") else []) for r in rels]
    print_table(headers, rows)
    return 0


def refresh_checks(app: dict[str, Any]) -> None:
    """Recompute each machine's checks from its real process (call after :func:`procs.reconcile_app`).

    Not started -> critical ``connect: connection refused``; a started machine with a process is
    passing iff its HTTP check path answers (< 400) within 0.5 s; state-only machines pass.
    """
    for m in app["machines"]:
        if not m.get("checks"):
            continue
        if m["state"] != "started":
            status_, output = "critical", procs.REFUSED
        elif app.get("role") == "postgres_cluster":
            continue
        elif procs.runnable(app):
            ok = http_ok(m.get("sandbox", {}).get("port"), app.get("config", {}).get("check_path") or "/",
                         timeout=0.5)
            status_, output = ("passing", "[✓] 200 OK") if ok else ("critical", procs.REFUSED)
        else:
            status_, output = "passing", "Success"
        for c in m["checks"]:
            if c["status"] != status_:
                c["updated_at"] = now_rfc3339()
            c["status"], c["output"] = status_, output


def http_ok(port: int | None, path: str, timeout: float = 1.0) -> bool:
    """True when ``GET http://127.0.0.1:port/path`` answers with a status < 400."""
    if not port:
        return False
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=timeout)
        conn.request("GET", path)
        ok = conn.getresponse().status < 400
        conn.close()
        return ok
    except OSError:
        return False


@command("checks list")
def checks_list(ctx: Ctx) -> int:
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        procs.reconcile_app(ctx.sb, app)
        refresh_checks(app)
        machines = active_machines(app)
    if ctx.json:
        print_json({m["id"]: m.get("checks", []) for m in machines})
        return 0
    ctx.out(f"Health Checks for {app['name']}")
    rows = [[c["name"], c["status"], m["id"], relative_time(c["updated_at"]), c.get("output", "")]
            for m in machines for c in m.get("checks", [])]
    print_table(["Name", "Status", "Machine", "Last Updated", "Output"], rows)
    return 0


# ---- volumes / ips / scale -------------------------------------------------------------

@command("volumes list")
def volumes_list(ctx: Ctx) -> int:
    app = get_app(ctx.sb.read(), ctx.app_name())
    vols = [v for v in app["volumes"] if v.get("state") != "destroyed"]
    if ctx.json:
        print_json(vols)
        return 0
    if not vols:
        ctx.out(f"No volumes found for app {app['name']}")
        return 0
    print_table(["ID", "State", "Name", "Size", "Region", "Zone", "Encrypted", "Attached VM", "Created At"],
                [[v["id"], v["state"], v["name"], f"{v['size_gb']}GB", v["region"], v.get("zone", ""),
                  str(v.get("encrypted", True)).lower(), v.get("attached_machine_id") or "",
                  relative_time(v["created_at"])] for v in vols])
    return 0


@command("volumes destroy")
def volumes_destroy(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("accepts at least 1 arg(s), received 0")
    if not ctx.flag("yes"):
        raise SandboxError("prompt: non interactive")
    with ctx.sb.transaction() as st:
        for vid in ctx.args:
            found = [(a, v) for a in st["apps"].values() for v in a["volumes"] if v["id"] == vid]
            if not found:
                raise SandboxError(f"failed retrieving volume {vid}: volume not found")
            app, vol = found[0]
            if vol.get("attached_machine_id"):
                raise SandboxError(f"failed destroying volume: volume {vid} is attached to machine "
                                   f"{vol['attached_machine_id']}, destroy the machine first")
            app["volumes"].remove(vol)
    for vid in ctx.args:
        ctx.out(f"Destroyed volume ID: {vid}")
    return 0


@command("ips list")
def ips_list(ctx: Ctx) -> int:
    app = get_app(ctx.sb.read(), ctx.app_name())
    if ctx.json:
        print_json(app["ips"])
        return 0
    print_table(["Version", "IP", "Type", "Region", "Created At"],
                [["v6" if ":" in ip["Address"] else "v4", ip["Address"],
                  "private" if ip["Type"] == "private_v6" else ip["Type"], ip["Region"],
                  relative_time(ip["CreatedAt"])] for ip in app["ips"]])
    return 0


SIZES = {"shared-cpu-1x": ("shared", 1, 256), "shared-cpu-2x": ("shared", 2, 512),
         "shared-cpu-4x": ("shared", 4, 1024), "shared-cpu-8x": ("shared", 8, 2048),
         "performance-1x": ("performance", 1, 2048), "performance-2x": ("performance", 2, 4096),
         "performance-4x": ("performance", 4, 8192)}


@command("scale count")
def scale_count(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("accepts at least 1 arg(s), received 0")
    try:
        want = int(ctx.args[0].split("=")[-1])
    except ValueError:
        raise SandboxError(f'invalid argument "{ctx.args[0]}"') from None
    group = ctx.flag("process_group") or "app"
    if not ctx.flag("yes"):
        raise SandboxError("prompt: non interactive")
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        ms = [m for m in active_machines(app) if m["config"]["metadata"].get("fly_process_group") == group]
        ctx.out(f"App '{app['name']}' is going to be scaled according to this plan:")
        diff = want - len(ms)
        if diff > 0:
            ctx.out(f"  +{diff} machines for group '{group}' on region '{ms[0]['region'] if ms else 'iad'}' "
                    "of size 'shared-cpu-1x'")
        elif diff < 0:
            ctx.out(f"  {diff} machines for group '{group}' on region '{ms[0]['region']}' of size 'shared-cpu-1x'")
        ctx.out("Executing scale plan")
        if diff > 0:
            template = ms[0] if ms else None
            for _ in range(diff):
                image = template["config"]["image"] if template else f"registry.fly.io/{app['name']}:latest"
                m = new_machine(app, region=template["region"] if template else "iad", image=image,
                                state="started", process_group=group,
                                internal_port=int(app.get("config", {}).get("internal_port") or 8080),
                                check_path=app.get("config", {}).get("check_path", "/"))
                procs.start_machine_process(ctx.sb, app, m, state=st)
                ctx.out(f"  Created {m['id']} group:{group} region:{m['region']} size:shared-cpu-1x")
        for m in ms[want:] if diff < 0 else []:
            procs.stop_machine_process(m)
            app["machines"].remove(m)
            ctx.out(f"  Destroyed {m['id']} group:{group} region:{m['region']} size:shared-cpu-1x")
    return 0


@command("scale vm")
def scale_vm(ctx: Ctx) -> int:
    if not ctx.args:
        raise SandboxError("accepts 1 arg(s), received 0")
    size = ctx.args[0]
    if size not in SIZES:
        raise SandboxError(f"invalid vm size '{size}'")
    kind, cpus, mem = SIZES[size]
    if ctx.flag("vm_memory"):
        mem = int(ctx.flag("vm_memory"))
    with ctx.sb.transaction() as st:
        app = get_app(st, ctx.app_name())
        for m in active_machines(app):
            m["config"]["guest"] = {"cpu_kind": kind, "cpus": cpus, "memory_mb": mem}
            add_event(m, "update", "replacing")
            if m["state"] == "started":
                procs.start_machine_process(ctx.sb, app, m, state=st)
            ctx.out(f"Updating machine {m['id']}")
            ctx.out(f"  Machine {m['id']} updated successfully!")
    ctx.out(f"Scaled VM Type to '{size}'")
    ctx.out(f"      CPU Cores: {cpus}")
    ctx.out(f"         Memory: {mem} MB")
    return 0
