"""Snapshot tests (pytest-textual-snapshot) of every full screen and every modal of ``flytui.ui`` at 80x24 and
140x40, against seeded sandbox state (tests/helpers/snapshots.py): ids, names, timestamps and paths are fixed by the
test (a fixed folder, a fixed clock), never by changing what the product shows. Each screenshot waits for a settled
screen (tests/helpers/settle.py: the case's condition, no worker running, two identical renders), never a pause.

``test_every_screen_has_a_snapshot`` lists the Screen / ModalScreen subclasses of ``flytui.ui`` and fails when one
has no case here (or in tests/test_ui_snapshots.py): a new dialog gets a snapshot, or this test says so.

Regenerate after an intended UI change: ``python -m pytest tests/test_ui_snapshots_screens.py --snapshot-update``,
then look at every changed SVG (centred, nothing clipped at 80x24, the dialog's keys visible).
"""
from __future__ import annotations

import json
import shlex
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flytui.db import tunnel
from flytui.sandbox.commands.parity import seed_members
from flytui.sandbox.demo import copy_demo_project
from flytui.sandbox.mpg_state import new_cluster
from tests.helpers.settle import settle
from tests.helpers.snapshots import T_CREATED, T_UPDATED, fixed_dir, make, seed, ui_screen_classes

SIZES = {"80x24": (80, 24), "140x40": (140, 40)}
SNAPSHOTS = Path(__file__).parent / "__snapshots__"


async def on_pane(pilot, pane_id: str) -> None:
    """Wait until the main screen shows ``pane_id`` loaded (its rows are what the next key acts on)."""
    app = pilot.app
    await settle(pilot, lambda: app.main.query_one("#panes").current == pane_id
                 and app.main.query_one(f"#{pane_id}").loads >= 1, what=f"the {pane_id} pane")


def pane_loaded(app, pane_id: str) -> bool:
    header = str(app.main.query_one("#header").render())
    return (app.screen is app.main and app.main.query_one("#panes").current == pane_id
            and app.main.query_one(f"#{pane_id}").loads >= 1 and not app.main.query_one("#ops").ops
            and "…" not in header)


@dataclass
class Case:
    """``keys`` are pressed from the machines pane of ``api`` (``@pane`` waits for that pane); ``screen`` is the
    class name the snapshot must show; ``ready`` the extra condition; ``confirm``: a worker awaits the dialog."""

    id: str
    screen: str
    keys: tuple[str, ...] = ()
    pane: str | None = None
    ready: Callable[[Any], bool] | None = None
    confirm: bool = False
    setup: Callable[..., Any] | None = None
    drive: Callable[[Any], Awaitable[None]] | None = None
    live: tuple[str, ...] = ()  # workers that run as long as the screen is open (the log tail)


def seed_cluster(sandbox) -> None:
    """One ready Managed Postgres cluster with a fixed id and address (mpg_state.new_cluster draws them at random)."""
    with sandbox.transaction() as st:
        c = new_cluster(st, "api-pg", "personal", region="nrt")
        del st["mpg_clusters"][c["id"]]
        c.update(id="kx0fixedcluster0", mpgd_cluster_id="mpgd-kx0fixedcl", direct_ip="fdaa:0:3b99:a7b:2:1234::2")
        c["passwords"] = {k: "snapshot-password" for k in c["passwords"]}
        st["mpg_clusters"][c["id"]] = c


def seed_org_members(sandbox) -> None:
    """Members of ``personal`` with fixed ids and join dates (the sandbox fills in "now" otherwise)."""
    seed_members(sandbox, "personal", [
        {"id": "01JFIXEDMEMBER0", "name": "demo", "email": "demo@example.com", "role": "admin",
         "joined_at": T_CREATED},
        {"id": "01JFIXEDMEMBER1", "name": "Ana Ops", "email": "ana@example.com", "role": "member",
         "joined_at": T_UPDATED}])


def typed(app, text: str) -> bool:
    """The focused ``:`` input holds ``text`` (its completion is drawn after it)."""
    return getattr(app.focused, "value", None) == text


async def doctor_command_line(pilot) -> None:
    """``:`` on a sub-screen (the doctor) opens the command line as a modal."""
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "DoctorScreen", what="the doctor")
    await pilot.press("colon")
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "CommandLineScreen", what="the command line")
    await pilot.press(*"mach")


FIXED_NOW = 1767608430.0  # 2026-01-05T10:20:30Z


class FixedTime:
    """Stands in for ``time`` in the command log pane: "now" is FIXED_NOW (its WHEN column is relative)."""

    strftime = staticmethod(time.strftime)
    localtime = staticmethod(time.gmtime)

    @staticmethod
    def time() -> float:
        return FIXED_NOW


def fixed_command_log(app) -> None:
    """Every flyctl call flytui makes is logged with a fixed start (5 s before FIXED_NOW) and duration (0.42 s)."""
    log = app.command_log
    record = log.record

    def fixed(argv, *, started: float, duration: float | None = None, **kw):
        return record(argv, started=FIXED_NOW - 5, duration=None if duration is None else 0.42, **kw)

    log.record = fixed


async def secrets_then_command_log(pilot) -> None:
    """Clear the log, load the secrets and volumes views (their flyctl calls), then show the command log."""
    app = pilot.app
    fixed_command_log(app)
    app.command_log.clear()
    for key, pane in (("3", "secrets"), ("4", "volumes")):  # one after the other: the log's order is fixed
        await pilot.press(key)
        await on_pane(pilot, pane)
        await settle(pilot, lambda: not app.main.query_one("#ops").ops, what=f"the {pane} calls")
    await pilot.press("at")


MAIN_CASES = [
    Case("command-log", "MainScreen", pane="command-log", drive=secrets_then_command_log),
    Case("releases", "MainScreen", ("V",), pane="releases"),
    Case("services", "MainScreen", ("6",), pane="services"),
    Case("members", "MainScreen", ("7",), pane="members", setup=seed_org_members),
    Case("clusters", "MainScreen", ("5",), pane="clusters", setup=seed_cluster),
    Case("app-detail", "AppDetailScreen", ("1", "@apps", "i")),
    Case("create-app", "CreateAppScreen", ("1", "@apps", "c")),
    Case("machine-detail", "MachineDetailScreen", ("enter",)),
    Case("scale", "ScaleScreen", ("S",)),
    Case("dburl-from-secrets", "DatabaseUrlScreen", ("3", "@secrets", "b")),
    Case("open-tunnel", "OpenTunnelScreen", ("P", "@tunnels", "n")),
    Case("invite-member", "InviteScreen", ("7", "@members", "n"), setup=seed_org_members),
    Case("cluster-detail", "ClusterDetailScreen", ("5", "@clusters", "enter"), setup=seed_cluster),
    Case("rollback-confirm", "ConfirmScreen", ("V", "@releases", "R"), confirm=True),
    Case("command-mode", "MainScreen", ("colon", *"mach"), ready=lambda app: typed(app, "mach")),
]


def run_case(case: Case, expected: str | None = None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(pilot, lambda: app.main.pane.loads >= 1, what="the first pane")
        for key in case.keys:
            if key.startswith("@"):
                await on_pane(pilot, key[1:])
            else:
                await pilot.press(key)
        if case.drive is not None:
            await case.drive(pilot)

        def ready() -> bool:
            if type(app.screen).__name__ != case.screen:
                return False
            if case.pane is not None and not pane_loaded(app, case.pane):
                return False
            return case.ready is None or bool(case.ready(app))

        await settle(pilot, ready, what=f"{case.screen} ({case.id})", workers_idle=not case.confirm,
                     live=case.live)
        assert type(app.screen).__name__ == case.screen

    return run_before


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", MAIN_CASES, ids=[c.id for c in MAIN_CASES])
def test_main_snapshot(sandbox, snap_compare, monkeypatch, case: Case, size: str):
    import flytui.ui.panes.command_log as command_log

    monkeypatch.setattr(command_log, "time", FixedTime)
    seed(sandbox)
    if case.setup is not None:
        case.setup(sandbox)
    assert snap_compare(make(sandbox, current_app="api"), terminal_size=SIZES[size], run_before=run_case(case))


# ---------------------------------------------------------------- full screens on the demo project
LOG_LINES = [  # (machine index, level, message): shape of `fly logs` entries (flytui/sandbox/commands/logs.py)
    (0, "info", "Starting init (commit: 0b0b0b0)..."),
    (0, "info", "INFO:     Started server process [315]"),
    (0, "info", "INFO:     Waiting for application startup."),
    (0, "info", "INFO:     Application startup complete."),
    (0, "info", "INFO:     Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)"),
    (0, "info", 'INFO:     172.16.0.2:50422 - "GET /healthz HTTP/1.1" 200 OK'),
    (0, "info", 'INFO:     172.16.0.3:50431 - "GET /todos HTTP/1.1" 200 OK'),
    (1, "warn", "WARNING:  database connection slow: 812 ms"),
    (1, "error", 'ERROR:    Exception in ASGI application: relation "todo" does not exist'),
    (0, "info", 'INFO:     172.16.0.4:50502 - "POST /todos HTTP/1.1" 201 Created'),
]


def seed_logs(sandbox) -> None:
    """The app's log buffer (``logs/api.jsonl``, read by the sandbox's ``fly logs``) with fixed entries."""
    machines = sandbox.read()["apps"]["api"]["machines"]
    path = sandbox.log_path("api")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i, (m, level, message) in enumerate(LOG_LINES):
            fh.write(json.dumps({"timestamp": f"2026-01-05T10:20:{30 + i:02d}.000000000Z",
                                 "instance": machines[m]["id"], "region": machines[m]["region"], "level": level,
                                 "provider": "app", "message": message}) + "\n")


def screen_is(app, name: str) -> bool:
    return type(app.screen).__name__ == name


async def edit_flytoml(pilot) -> None:
    """Edit fly.toml (a comment on the first line) and save: the diff is shown before anything is written."""
    app = pilot.app
    await settle(pilot, lambda: screen_is(app, "FlyTomlScreen"), what="the fly.toml screen")
    await pilot.press("e")
    await settle(pilot, lambda: not app.screen.text_area.read_only, what="edit mode")
    await pilot.press(*"# edited in flytui", "enter", "ctrl+s")


SCREEN_CASES = [
    Case("doctor", "DoctorScreen", ("H",), ready=lambda app: app.screen.report is not None
         and not app.screen.running),
    Case("command-line", "CommandLineScreen", ("H",), drive=doctor_command_line,
         ready=lambda app: typed(app, "mach")),
    Case("flytoml", "FlyTomlScreen", ("T",)),
    Case("flytoml-diff", "ConfirmScreen", ("T",), drive=edit_flytoml, confirm=True),
    Case("deploy-form", "DeployScreen", ("d",)),
    Case("logs", "LogsScreen", ("l",), setup=seed_logs, ready=lambda app: app.screen.buffer is not None
         and len(app.screen.buffer) == len(LOG_LINES) and app.screen.tail_status.state == "connected",
         live=("start_tail",)),
]


class FixedClock:
    """Stands in for ``time`` in the deploy screen and tracker: every duration reads 0."""

    @staticmethod
    def monotonic() -> float:
        return 1000.0

    perf_counter = monotonic


def fixed_flyctl(sandbox, root: Path, mkdir: bool = True):
    """The sandbox's flyctl under the fixed folder (the doctor shows flyctl's path; the venv's path varies)."""
    link = root / "bin" / "fly"
    if mkdir:
        link.parent.mkdir()
    link.symlink_to(sandbox.flyctl)
    sandbox.flyctl = str(link)
    return sandbox


def fix_deploy_clock(monkeypatch) -> None:
    import flytui.ui.screens.deploy as deploy_screen
    from flytui.fly.deploy import DeployTracker

    monkeypatch.setattr(deploy_screen, "time", FixedClock)
    monkeypatch.setattr(deploy_screen, "DeployTracker",
                        lambda *a, **kw: DeployTracker(*a, **{**kw, "clock": FixedClock.monotonic}))


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", SCREEN_CASES, ids=[c.id for c in SCREEN_CASES])
def test_screen_snapshot(sandbox, snap_compare, monkeypatch, case: Case, size: str):
    seed(sandbox)
    if case.setup is not None:
        case.setup(sandbox)
    fix_deploy_clock(monkeypatch)
    with fixed_dir(f"{case.id}-{size}") as root:
        project = copy_demo_project(root / "demo", "api")
        assert snap_compare(make(fixed_flyctl(sandbox, root), project, current_app="api"),
                            terminal_size=SIZES[size], run_before=run_case(case))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_finished_deploy_snapshot(snap_compare, monkeypatch, size: str):
    """The timeline of a finished rolling deploy, replayed from tests/fixtures/transcripts/deploy-rolling-success.txt
    (flyctl's deploy texts, see that folder's README) by the deploy screen's test host; the probe of the app's URL
    answers through an httpx mock transport (200), so its line is the same on every run."""
    import httpx

    from tests.test_deploy_screen import make as make_deploy_host

    real_client = httpx.AsyncClient

    def mocked_client(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        return real_client(*args, transport=httpx.MockTransport(lambda request: httpx.Response(200)), **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", mocked_client)
    fix_deploy_clock(monkeypatch)

    async def run_before(pilot) -> None:
        screen = pilot.app.screen
        await settle(pilot, lambda: screen_is(pilot.app, "DeployScreen"), what="the deploy form")
        await pilot.press("d")
        await settle(pilot, lambda: screen.probe_results and not screen.running, timeout=60,
                     what="the deploy and its probe")
        assert screen.tracker.succeeded

    with fixed_dir(f"deploy-finished-{size}") as root:
        app, _project = make_deploy_host(root, "deploy-rolling-success.txt", FAKE_PACE="0.001")
        assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


# ---------------------------------------------------------------- migrations: the demo project on real PostgreSQL
async def open_migrations(pilot) -> None:
    app = pilot.app
    await settle(pilot, lambda: screen_is(app, "MigrationsScreen") and app.screen.snapshot is not None,
                 what="the migration history")


async def connect_migrations(pilot) -> None:
    """``c`` + ``$MIG_SNAPSHOT_URL``: the attached DATABASE_URL, through the sandbox's fly proxy (tunnel)."""
    await open_migrations(pilot)
    screen = pilot.app.screen
    await pilot.press("c", *"$MIG_SNAPSHOT_URL", "enter")
    await settle(pilot, lambda: screen.snapshot is not None and screen.snapshot.current is not None, timeout=60,
                 what="the database's revision")


async def ask_upgrade_head(pilot) -> None:
    await connect_migrations(pilot)
    await pilot.press("U")


async def ask_stop(pilot) -> None:
    """The stop dialog of a running ``upgrade head``: ``q`` during a run asks before killing alembic."""
    await connect_migrations(pilot)
    screen = pilot.app.screen
    # the dialog a run shows (flytui/ui/screens/migrations_stop.py); the run itself is not started here: its
    # elapsed clock and alembic output would differ from run to run
    screen.running, screen.running_label = True, "upgrade head"
    screen.running_argv = ["alembic", "upgrade", "head"]
    screen._ask_stop(then_quit=True)


def two_projects(project: Path) -> Path:
    """A folder holding two Alembic projects (the demo's, twice): the pane asks which one to use
    (migrations_setup.choice_text). Returns that folder, the project folder of this case."""
    import shutil

    mono = project.parent / "mono"
    for name in ("api", "billing"):
        shutil.copytree(project, mono / name)
    return mono


MIGRATION_CASES = [
    Case("migrations", "MigrationsScreen", ("M",), drive=connect_migrations),
    Case("migrations-history", "MigrationsScreen", ("M",), drive=open_migrations),
    Case("migrations-setup", "MigrationsScreen", ("M",), setup=two_projects,
         ready=lambda app: app.screen.snapshot is None),
    Case("migrations-confirm", "ConfirmScreen", ("M",), drive=ask_upgrade_head, confirm=True),
    Case("migrations-stop", "ConfirmScreen", ("M",), drive=ask_stop, confirm=True),
]


@pytest.fixture
def attached_db(sandbox_pg, pg_server):
    """``api`` (seeded) attached to the Fly Postgres app ``api-db`` (fixed names: the header shows them)."""
    sb = sandbox_pg
    seed(sb)
    sb.create_postgres("api-db")
    with sb.transaction() as st:
        st["apps"]["api"]["secrets"].pop("DATABASE_URL")
    r = sb.run("postgres", "attach", "api-db", "-a", "api")
    assert r.returncode == 0, r.stderr
    url = sb.read()["apps"]["api"]["secrets"]["DATABASE_URL"]["value"]
    db = url.rsplit("/", 1)[1].split("?")[0]
    yield sb, url
    pg_server.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    pg_server.execute('DROP ROLE IF EXISTS "api"')


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("case", MIGRATION_CASES, ids=[c.id for c in MIGRATION_CASES])
def test_migrations_snapshot(attached_db, snap_compare, monkeypatch, case: Case, size: str):
    from tests.test_migrations_support import ALEMBIC

    sandbox, url = attached_db
    monkeypatch.setenv("MIG_SNAPSHOT_URL", url)
    name = f"{case.id}-{size}"
    # the tunnel's local port: fixed per case, below Linux's ephemeral range (32768-60999) so that no random bind
    # takes it; the fixed folder's lock keeps two sessions from using it at once
    port = 20000 + zlib.crc32(name.encode()) % 10000
    monkeypatch.setattr(tunnel, "free_port", lambda host="127.0.0.1": port)
    with fixed_dir(name) as root:
        alembic = root / "bin" / "alembic"  # the header names the alembic command: not the venv's varying path
        alembic.parent.mkdir()
        alembic.write_text(f'#!/bin/sh\nexec {shlex.join(ALEMBIC)} "$@"\n')
        alembic.chmod(0o755)
        monkeypatch.setenv("FLYTUI_ALEMBIC", str(alembic))
        project = copy_demo_project(root / "demo", "api")
        if case.setup is not None:
            project = case.setup(project)
        assert snap_compare(make(fixed_flyctl(sandbox, root, mkdir=False), project, current_app="api"),
                            terminal_size=SIZES[size], run_before=run_case(case))


# ---------------------------------------------------------------- every screen has a snapshot
#: screens snapshot by tests/test_ui_snapshots.py::test_view_snapshot (its view id)
ELSEWHERE = {"MainScreen": "apps", "HelpScreen": "help", "PickerScreen": "switch-app",
             "ConfirmScreen": "confirm-destroy-app", "SetSecretScreen": "set-secret"}
ABSTRACT = {"Dialog", "FormDialog",  # the modal and form bases (flytui/ui/modals/dialog.py): never shown alone
            "MigrationPromptsMixin", "RunStopMixin"}  # mixins of MigrationsScreen, typed as Screens
CASES = {"test_main_snapshot": MAIN_CASES, "test_screen_snapshot": SCREEN_CASES,
         "test_migrations_snapshot": MIGRATION_CASES}


def test_every_screen_has_a_snapshot():
    """Each Screen / ModalScreen subclass of flytui.ui is shown by a snapshot case (whose run_before asserts that
    class is on screen), and the SVGs of both sizes exist."""
    names = {cls.__name__ for cls in ui_screen_classes().values()}
    assert {"MainScreen", "DoctorScreen", "ConfirmScreen", "InviteScreen"} <= names  # the walk itself works
    covered = {c.screen for cases in CASES.values() for c in cases} | {"DeployScreen"}  # + test_finished_deploy
    missing = sorted(names - ABSTRACT - covered - set(ELSEWHERE))
    assert not missing, f"screens without a snapshot test (add a Case in {Path(__file__).name}): {missing}"
    expected = [SNAPSHOTS / "test_ui_snapshots" / f"test_view_snapshot[{view}-{size}].svg"
                for view in ELSEWHERE.values() for size in SIZES]
    expected += [SNAPSHOTS / "test_ui_snapshots_screens" / f"{test}[{c.id}-{size}].svg"
                 for test, cases in CASES.items() for c in cases for size in SIZES]
    expected += [SNAPSHOTS / "test_ui_snapshots_screens" / f"test_finished_deploy_snapshot[{size}].svg"
                 for size in SIZES]
    absent = [p.name for p in expected if not p.exists()]
    assert not absent, f"snapshots never generated (run with --snapshot-update, then look at them): {absent}"
