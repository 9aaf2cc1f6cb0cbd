"""Preflight checks ("doctor"): everything that stands between a project folder and a working deploy.

Plain asyncio, no UI: the doctor screen and `flytui doctor` both call :func:`run_doctor` and render the
same :class:`Check` list. Each check says what it found, why it matters and how to fix it; where flytui
can do the fix itself, ``fix_action`` names it.
"""
from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

from flytui.fly.errors import (
    AppNotFound,
    FlyctlNotFound,
    FlyError,
    NotLoggedIn,
    PaymentRequired,
)
from flytui.fly.flytoml import FLY_TOML, FlyToml, read_dockerfile

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.client import FlyClient

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
SEVERITY = {OK: 0, SKIP: 0, WARN: 1, FAIL: 2}

# fix actions the UI knows how to perform with one key
FIX_LOGIN = "login"
FIX_BILLING = "open_billing"
FIX_DATABASE_URL = "fix_database_url"
FIX_READ_DATABASE_URL = "read_database_url"
FIX_RELEASE_COMMAND = "add_release_command"
FIX_INTERNAL_PORT = "set_internal_port"
FIX_CREATE_APP = "create_app"


@dataclass
class Check:
    id: str
    title: str
    status: str = SKIP
    detail: str = ""
    why: str = ""
    fix: str = ""
    fix_action: str | None = None
    data: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def by_id(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)


def _mk(check_id: str, title: str, why: str) -> Check:
    return Check(id=check_id, title=title, why=why)


async def _guard(check: Check, coro: Awaitable[None]) -> Check:
    """Run one check; any FlyError becomes a failed check with flyctl's own message and hint."""
    try:
        await coro
    except FlyctlNotFound as exc:
        check.status, check.detail, check.fix = FAIL, exc.message, exc.hint
    except NotLoggedIn as exc:
        check.status, check.detail = FAIL, exc.message
        check.fix, check.fix_action = "Run `fly auth login` (press the fix key to run it here).", FIX_LOGIN
    except PaymentRequired as exc:
        check.status, check.detail = FAIL, exc.message
        check.fix, check.fix_action = f"Add a payment method: {exc.billing_url}", FIX_BILLING
        check.data["billing_url"] = exc.billing_url
    except FlyError as exc:
        check.status, check.detail, check.fix = FAIL, exc.message, exc.hint
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - one check's bug is shown as that check failing; the doctor goes on
        check.status, check.detail = FAIL, f"{type(exc).__name__}: {exc}"
    return check


# --- individual checks ------------------------------------------------------------------------


# --- supported flyctl versions ----------------------------------------------------------------
#: The oldest flyctl flytui supports: every database tunnel runs `fly proxy … --watch-stdin`, a flag added in
#: v0.2.77 (flyctl 3501aeb46 "Abort proxy when stdin gets closed (#3638)", internal/command/proxy/proxy.go).
MIN_FLYCTL = (0, 2, 77)

#: What fails below a version (flyctl source, `git log -S`): (first version that has it, what breaks without it)
BROKEN_BELOW: tuple[tuple[tuple[int, int, int], str], ...] = (
    ((0, 2, 77), "database tunnels: `fly proxy … --watch-stdin` (v0.2.77) fails with "
                 "“unknown flag: --watch-stdin”, "
                 "so the Postgres console, migrations against Fly Postgres and remote Alembic over SSH cannot connect"),
)

#: Older output flytui still understands (said in the detail, so a user comparing transcripts is not surprised)
UNDERSTOOD_BELOW: tuple[tuple[tuple[int, int, int], str], ...] = (
    ((0, 3, 154), "`fly proxy` prints “Proxying local port N …” (understood)"),
    ((0, 1, 104), "deploy progress comes in the 2023 “  [1/2] Updating …” lines (understood)"),
)

_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"0.3.164"`` / ``"v0.2.77"`` / calver ``"2026.8.21-pr5113.1"`` → a comparable tuple; None when unknown or
    a development build (``0.0.0``: internal/version/version.go)."""
    m = _SEMVER.match(text.strip())
    if not m:
        return None
    v = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None if v == (0, 0, 0) else v


def _fmt(v: tuple[int, int, int]) -> str:
    return "v" + ".".join(str(x) for x in v)


def version_policy(version: str) -> tuple[str, str, list[str]]:
    """(status, detail, what breaks) of one ``fly version`` for flytui's supported-version policy."""
    v = parse_version(version)
    minimum = f"flytui supports flyctl {_fmt(MIN_FLYCTL)} or newer"
    if v is None:
        return WARN, f"flyctl {version}: cannot tell its generation; {minimum}", []
    broken = [what for since, what in BROKEN_BELOW if v < since]
    if broken:
        return FAIL, f"flyctl {_fmt(v)} is older than {_fmt(MIN_FLYCTL)}: {minimum}", broken
    notes = [what for since, what in UNDERSTOOD_BELOW if v < since]
    return OK, f"flyctl {_fmt(v)} · {minimum}" + (f" · {'; '.join(notes)}" if notes else ""), []


async def check_flyctl(client: "FlyClient") -> Check:
    c = _mk("flyctl", "flyctl installed", "flytui drives flyctl for every Fly.io operation.")

    async def body() -> None:
        info = await client.version()  # `fly version --json`: {"Name", "Version": "0.3.164", …} (buildinfo.go)
        c.data["version"] = info.version
        c.data["minimum"] = ".".join(map(str, MIN_FLYCTL))
        c.status, detail, broken = version_policy(info.version)
        c.detail = f"{detail} ({client.runner.path})"
        c.data["broken"] = broken
        if broken:
            c.why = "Below the minimum these do not work: " + "; ".join(broken) + "."
            c.fix = ("Upgrade flyctl: `fly version upgrade` (or reinstall: https://fly.io/docs/flyctl/install/), "
                     "then run the doctor again.")
        elif c.status == WARN:
            c.why = "A development or unknown build: flytui cannot tell which output generation it prints."
            c.fix = "Use a released flyctl (`fly version upgrade`) if deploys or tunnels misbehave."

    return await _guard(c, body())


async def check_auth(client: "FlyClient") -> Check:
    c = _mk("auth", "Logged in to Fly.io", "Every flyctl command except `version` needs a session or FLY_API_TOKEN.")

    async def body() -> None:
        who = await client.whoami()
        c.status, c.detail = OK, f"logged in as {who.email}"
        c.data["email"] = who.email

    return await _guard(c, body())


async def check_billing(client: "FlyClient") -> Check:
    c = _mk(
        "billing",
        "Payment information",
        "Fly.io refuses to create more than one machine (and Postgres) without a payment method.",
    )

    async def body() -> None:
        apps = await client.apps()
        c.status, c.detail = OK, f"organization reachable ({len(apps)} apps)"
        c.data["apps"] = [a.name for a in apps]

    return await _guard(c, body())


def check_fly_toml(project_dir: Path | None) -> tuple[Check, FlyToml | None]:
    c = _mk("fly_toml", "fly.toml present and valid", "flyctl reads the app name, region, ports and checks from it.")
    if project_dir is None or not (project_dir / FLY_TOML).exists():
        c.status = FAIL
        c.detail = f"no fly.toml in {project_dir or 'this folder'}"
        c.fix = "Run `fly launch --no-deploy` in your project folder, or start flytui there."
        return c, None
    from tomlkit.exceptions import TOMLKitError

    try:
        ft = FlyToml.load(project_dir / FLY_TOML)
    except (TOMLKitError, OSError, UnicodeDecodeError) as exc:
        c.status, c.detail, c.fix = FAIL, f"cannot parse fly.toml: {exc}", "Fix the TOML syntax (see the line above)."
        return c, None
    issues = ft.validate()
    errors = [i for i in issues if i.severity == "error"]
    warnings = [i for i in issues if i.severity != "error"]
    if errors:
        c.status = FAIL
        c.detail = "; ".join(f"{i.path}: {i.message}" for i in errors)
        c.fix = "Edit fly.toml (flytui's fly.toml editor validates before saving)."
    else:
        c.status = WARN if warnings else OK
        c.detail = f"app = {ft.app!r}, primary_region = {ft.primary_region!r}"
        if warnings:
            c.detail += "; " + "; ".join(i.message for i in warnings)
    c.data.update(app=ft.app, primary_region=ft.primary_region, internal_port=ft.internal_port)
    return c, ft


def check_dockerfile(project_dir: Path | None, ft: FlyToml | None) -> Check:
    c = _mk(
        "dockerfile",
        "Dockerfile and internal port",
        "Fly's proxy sends traffic to http_service.internal_port; if the app listens elsewhere, health checks fail.",
    )
    if project_dir is None:
        c.status, c.detail = SKIP, "no project folder"
        return c
    name = ft.dockerfile if ft else "Dockerfile"
    path = project_dir / name
    if not path.exists():
        c.status, c.detail = FAIL, f"{name} not found in {project_dir}"
        c.fix = "Add a Dockerfile (fly launch generates one for FastAPI), or set [build] image in fly.toml."
        return c
    info = read_dockerfile(path)
    served = info.served_port or (info.exposed[0] if info.exposed else None)
    c.data.update(exposed=info.exposed, served_port=info.served_port, cmd=info.cmd)
    if ft is None or ft.internal_port is None:
        c.status = WARN
        c.detail = f"{name} found (serves on {served or 'an unknown port'}); fly.toml has no internal_port to compare"
        return c
    if served is None:
        c.status = WARN
        c.detail = f"{name} found; cannot tell which port its CMD listens on (fly.toml says {ft.internal_port})"
        return c
    if served != ft.internal_port:
        c.status = FAIL
        c.detail = f"fly.toml internal_port = {ft.internal_port} but {name} serves on {served} ({info.cmd})"
        c.fix = f"Set http_service.internal_port = {served} in fly.toml (one-key fix) or change the CMD."
        c.fix_action = FIX_INTERNAL_PORT
        c.data["port"] = served
        return c
    c.status, c.detail = OK, f"{name} serves on {served}, matching internal_port"
    return c


def check_alembic(project_dir: Path | None) -> Check:
    c = _mk("alembic", "Alembic project", "flytui's migrations pane runs your project's own Alembic.")
    if project_dir is None:
        c.status, c.detail = SKIP, "no project folder"
        return c
    from flytui.db.alembic_service import find_alembic_project

    project = find_alembic_project(project_dir)
    if project is None:
        c.status = WARN
        c.detail = "no alembic.ini found"
        c.fix = "Run `alembic init migrations` if this app uses a database."
        return c
    c.status, c.detail = OK, f"{project.config_file.name} with migrations in {project.script_location.name}/"
    c.data["project"] = project
    return c


def check_release_command(ft: FlyToml | None, has_alembic: bool) -> Check:
    c = _mk(
        "release_command",
        "Migrations wired into deploys",
        "A `[deploy] release_command` runs migrations before new machines take traffic; without it a deploy can "
        "ship code that expects tables that don't exist yet.",
    )
    if ft is None:
        c.status, c.detail = SKIP, "no fly.toml"
        return c
    if not has_alembic:
        c.status, c.detail = SKIP, "no Alembic project"
        return c
    cmd = ft.release_command
    if cmd and "alembic" in cmd:
        c.status, c.detail = OK, f"release_command = {cmd!r}"
    elif cmd:
        c.status, c.detail = WARN, f"release_command = {cmd!r} does not run Alembic"
    else:
        c.status = WARN
        c.detail = "no [deploy] release_command: migrations must be run by hand (fly ssh console -C loses exit codes)"
        c.fix = "Add `[deploy] release_command = \"alembic upgrade head\"` (one-key fix), or use the migrations pane."
        c.fix_action = FIX_RELEASE_COMMAND
    return c


def _normalising_literals(source: str) -> bool:
    """True when code (not comments or docstrings) holds a literal that rewrites the scheme."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            v = node.value
            if v.startswith(("postgres://", "postgresql+psycopg", "postgresql+asyncpg")) or v == "postgres":
                return True
    return False


def _code_normalises_url(project_dir: Path) -> bool:
    """Does the project's own code rewrite DATABASE_URL's scheme before handing it to SQLAlchemy?"""
    for path in list(project_dir.glob("*.py")) + list(project_dir.glob("*/*.py")) + list(project_dir.glob("*/*/*.py")):
        if ".venv" in path.parts or "versions" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "DATABASE_URL" in text and _normalising_literals(text):
            return True
    return False


async def check_database_url(
    client: "FlyClient | None", app: str | None, project_dir: Path | None, database_url: str | None
) -> Check:
    c = _mk(
        "database_url",
        "DATABASE_URL scheme",
        "`fly postgres attach` sets DATABASE_URL=postgres://…; SQLAlchemy ≥ 1.4 rejects that scheme "
        "(NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres).",
    )
    from flytui.db.urls import diagnose_url, mask_url

    if database_url:
        diag = diagnose_url(database_url)
        c.data["value_masked"] = mask_url(database_url)
        problems = [p for p in getattr(diag, "problems", [])]
        if problems:
            c.status = FAIL
            c.detail = f"{mask_url(database_url)}: " + "; ".join(str(getattr(p, "message", p)) for p in problems)
            c.fix = "Rewrite it to postgresql+psycopg:// (one-key fix; the secret is set through stdin)."
            c.fix_action = FIX_DATABASE_URL
        else:
            c.status, c.detail = OK, f"{mask_url(database_url)} works with SQLAlchemy + psycopg 3"
        return c
    if client is None or not app:
        c.status, c.detail = SKIP, "no app selected"
        return c

    async def body() -> None:
        secrets = await client.secrets(app)
        names = {s.name for s in secrets}
        if "DATABASE_URL" not in names:
            c.status, c.detail = SKIP, f"{app} has no DATABASE_URL secret (no Postgres attached)"
            return
        normalised = bool(project_dir and _code_normalises_url(project_dir))
        if normalised:
            c.status = OK
            c.detail = "DATABASE_URL is set and your code rewrites the scheme before create_engine"
            return
        c.status = WARN
        c.detail = (
            "DATABASE_URL is set (value hidden by Fly.io). If it came from `fly postgres attach` it starts with "
            "postgres:// and your code passes it to SQLAlchemy unchanged."
        )
        c.fix = "Read it from a running machine (one key, via fly ssh console) or paste it, then fix it."
        c.fix_action = FIX_READ_DATABASE_URL

    return await _guard(c, body())


async def check_app_exists(client: "FlyClient", app: str | None) -> Check:
    c = _mk("app", "App exists on Fly.io", "Deploys, secrets and logs all need the app to exist.")
    if not app:
        c.status, c.detail = SKIP, "no app name (fly.toml or --app)"
        return c

    async def body() -> None:
        try:
            st = await client.status(app)
        except AppNotFound as exc:
            c.status, c.detail = FAIL, exc.message
            c.fix, c.fix_action = f"Create it: `fly apps create {app}` (one-key fix).", FIX_CREATE_APP
            return
        c.status = OK
        n = len(getattr(st, "machines", []) or [])
        c.detail = f"{app}: {st.status or 'pending'}, {n} machine{'s' if n != 1 else ''}"

    return await _guard(c, body())


async def run_doctor(
    client: "FlyClient",
    project_dir: Path | None,
    app: str | None = None,
    database_url: str | None = None,
    on_check: Callable[[Check], None] | None = None,
) -> DoctorReport:
    """Run every check; independent flyctl calls run concurrently. Never raises for a failing check."""
    checks: list[Check] = []

    def add(c: Check) -> Check:
        checks.append(c)
        if on_check:
            on_check(c)
        return c

    flyctl = add(await check_flyctl(client))
    toml_check, ft = check_fly_toml(project_dir)
    app = app or (ft.app if ft else None)
    if flyctl.status == FAIL and "version" not in flyctl.data:  # too old still runs: go on checking
        auth = add(Check("auth", "Logged in to Fly.io", SKIP, "flyctl not available"))
    else:
        auth = add(await check_auth(client))
    if auth.status == OK:
        billing, app_check_done = await asyncio.gather(check_billing(client), check_app_exists(client, app))
        add(billing)
        app_check: Check | None = app_check_done
    else:
        app_check = None
    add(toml_check)
    add(check_dockerfile(project_dir, ft))
    if app_check is not None:
        add(app_check)
    alembic = add(check_alembic(project_dir))
    add(check_release_command(ft, alembic.status == OK))
    db_client = client if auth.status == OK and app_check is not None and app_check.status == OK else None
    url = database_url or os.environ.get("FLYTUI_DATABASE_URL")
    from flytui.doctor_db import check_database_kind, check_mpg_cluster, refine_database_url  # kind / MPG checks

    url_check, kind = await asyncio.gather(check_database_url(db_client, app, project_dir, url),
                                           check_database_kind(db_client, app, url))
    add(refine_database_url(url_check, kind))
    add(kind)
    if kind.data.get("kind") == "mpg":
        for c in await check_mpg_cluster(client if auth.status == OK else None, app, kind.data.get("name"),
                                         ft.primary_region if ft else None):
            add(c)
    return DoctorReport(checks)


def summary(checks: list[Check]) -> str:
    """``9 checks: 1 failed, 1 warning`` — the same line for the screen and `flytui doctor`."""
    failed = sum(1 for c in checks if c.status == FAIL)
    warned = sum(1 for c in checks if c.status == WARN)
    return f"{len(checks)} checks: {failed} failed, {warned} warning{'' if warned == 1 else 's'}"


def render_text(report: DoctorReport) -> str:
    marks = {OK: "✓", WARN: "!", FAIL: "✗", SKIP: "-"}
    out = []
    for c in report.checks:
        out.append(f"{marks[c.status]} {c.title}: {c.detail}")
        if c.status in (WARN, FAIL):
            if c.why:
                out.append(f"    why: {c.why}")
            if c.fix:
                out.append(f"    fix: {c.fix}")
    out.append("")
    out.append(summary(report.checks))
    return "\n".join(out)
