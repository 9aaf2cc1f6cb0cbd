"""Doctor screen: Pilot tests of every one-key fix, through the sandbox flyctl and a copy of the demo project."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

import flytui.fly.runner as runner_mod
from flytui import doctor as d
from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.demo import copy_demo_project
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.screens.doctor import DoctorScreen, detail_markup
from tests.helpers.wait import until as wait_until

APP = "doctor-ui"
PASSWORD = "cQv0vvfasf7FMzz"
ATTACH_URL = f"postgres://doctor_ui:{PASSWORD}@doctor-ui-db.flycast:5432/doctor_ui?sslmode=disable"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo_project(tmp_path / "proj", APP)


def make(sandbox: Any, project: Path, **config: Any) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    return FlytuiApp(Config(refresh_interval=600, **config), client, current_app=APP, project_dir=project)


def notes(app: FlytuiApp) -> list[str]:
    return [n.message for n in app._notifications]


def plain(widget: Any) -> str:
    return str(widget.render())


async def open_doctor(pilot: Any, app: FlytuiApp) -> DoctorScreen:
    """Open the doctor with its registry key and wait for a complete run."""
    await pilot.press("H")
    assert await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen)), app.screen
    screen = app.screen
    assert isinstance(screen, DoctorScreen)
    assert await wait_until(pilot, lambda: screen.report is not None and not screen.running)
    return screen


async def rerun_done(pilot: Any, screen: DoctorScreen, run: int) -> None:
    await wait_until(pilot, lambda: screen._run > run and not screen.running, what="the doctor to re-run")


def status(screen: DoctorScreen, check_id: str) -> str:
    return screen.checks[check_id].status


async def test_failing_check_shown_with_fix_and_create_app_fix(sandbox: Any, project: Path) -> None:
    app = make(sandbox, project)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        table = screen.table
        assert table.row_count == len(screen.report.checks)
        assert status(screen, "app") == d.FAIL and screen.checks["app"].fix_action == d.FIX_CREATE_APP
        screen.select("app")
        await pilot.pause()
        row = table.get_row("app")
        assert row[0].plain == "✗ fail" and row[1].plain == "App exists on Fly.io"
        detail = plain(screen.query_one("#doctor-detail"))
        assert "Why it matters" in detail and f"fly apps create {APP}" in detail and "Press f or enter" in detail
        run = screen._run
        await pilot.press("f")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "CreateAppScreen")
        assert await wait_until(pilot, lambda: app.screen.query_one("#create-name").value == APP)  # from fly.toml
        assert await wait_until(pilot, lambda: getattr(app.focused, "id", None) == "create-name")
        assert await wait_until(pilot, lambda: app.screen.query_one("#create-org").value == "personal")  # loaded
        await pilot.press("enter")
        await rerun_done(pilot, screen, run)
        assert app.screen is screen
        assert status(screen, "app") == d.OK
        assert table.get_row("app")[0].plain == "✓ ok"
    assert any(argv[:3] == ["apps", "create", APP] for argv in sandbox.argv_log())


async def test_release_command_fix_adds_only_the_table(sandbox: Any, project: Path) -> None:
    sandbox.create_app(APP)
    toml = project / "fly.toml"
    before = toml.read_bytes()
    app = make(sandbox, project)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        assert status(screen, "release_command") == d.WARN
        assert "no [deploy] release_command" in screen.table.get_row("release_command")[2].plain  # not markup
        screen.select("release_command")
        run = screen._run
        await pilot.press("enter")  # enter = fix, like f
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        diff = plain(app.screen.query_one("#confirm-body"))
        assert "+[deploy]" in diff and '+release_command = "alembic upgrade head"' in diff
        assert toml.read_bytes() == before  # nothing written before the confirmation
        await pilot.press("y")
        await rerun_done(pilot, screen, run)
        assert app.screen is screen
        assert status(screen, "release_command") == d.OK
    after = toml.read_bytes()
    assert after[: len(before)] == before
    assert after[len(before):] == b'\n[deploy]\nrelease_command = "alembic upgrade head"\n'


async def test_internal_port_fix_changes_one_line(sandbox: Any, project: Path) -> None:
    sandbox.create_app(APP)
    toml = project / "fly.toml"
    toml.write_text(toml.read_text().replace("internal_port = 8080", "internal_port = 8000"))
    before = toml.read_text().splitlines(keepends=True)
    app = make(sandbox, project)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        assert status(screen, "dockerfile") == d.FAIL
        screen.select("dockerfile")
        run = screen._run
        await pilot.press("f")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        await rerun_done(pilot, screen, run)
        assert status(screen, "dockerfile") == d.OK
    after = toml.read_text().splitlines(keepends=True)
    changed = [(a, b) for a, b in zip(before, after, strict=False) if a != b]
    assert len(before) == len(after) and changed == [("  internal_port = 8000\n", "  internal_port = 8080\n")]


async def test_database_url_read_then_fix_through_stdin(sandbox: Any, project: Path) -> None:
    sandbox.create_app(APP)
    sandbox.set_secret(APP, "DATABASE_URL", ATTACH_URL)
    sandbox.add_machine(APP, state="started", region="nrt")
    app = make(sandbox, project)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        c = screen.checks["database_url"]
        assert c.status == d.WARN and c.fix_action == d.FIX_READ_DATABASE_URL
        screen.select("database_url")
        run = screen._run
        await pilot.press("f")  # fly ssh console -C "printenv DATABASE_URL"
        await rerun_done(pilot, screen, run)
        c = screen.checks["database_url"]
        assert c.status == d.FAIL and c.fix_action == d.FIX_DATABASE_URL
        await pilot.pause()
        shown = plain(screen.query_one("#doctor-detail")) + plain(screen.query_one("#doctor-title"))
        shown += " ".join(cell.plain for cell in screen.table.get_row("database_url")) + " ".join(notes(app))
        assert "postgres://doctor_ui:***@" in shown and PASSWORD not in shown
        run = screen._run
        await pilot.press("f")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "DatabaseUrlScreen")
        dburl = app.screen
        # prefilled (a password input: shown masked)
        assert await wait_until(pilot, lambda: dburl.query_one("#dburl-input").value == ATTACH_URL)
        assert dburl.query_one("#dburl-input").password
        assert await wait_until(pilot, lambda: not dburl.query_one("#dburl-fix").disabled)
        assert PASSWORD not in plain(dburl.query_one("#dburl-result")) and PASSWORD not in dburl.diff_text()
        await pilot.click("#dburl-fix")
        await rerun_done(pilot, screen, run)
        assert app.screen is screen
        assert status(screen, "database_url") == d.OK
    fixed = ATTACH_URL.replace("postgres://", "postgresql+psycopg://", 1)
    assert sandbox.read()["apps"][APP]["secrets"]["DATABASE_URL"]["value"] == fixed
    log = sandbox.argv_log()
    assert any(argv[:2] == ["ssh", "console"] for argv in log)
    assert any(argv[:2] == ["secrets", "import"] for argv in log)
    assert not any(PASSWORD in " ".join(argv) for argv in log)
    for path in project.rglob("*"):  # the value read from the machine is never written to disk
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


async def test_read_only_refuses_fixes(sandbox: Any, project: Path) -> None:
    toml = project / "fly.toml"
    before = toml.read_bytes()
    app = make(sandbox, project, read_only=True)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        for check_id in ("app", "release_command"):
            screen.select(check_id)
            await pilot.pause()
            assert "disabled in read-only mode" in plain(screen.query_one("#doctor-detail"))
            refused = sum("read-only mode" in n for n in notes(app))
            await pilot.press("f")
            await wait_until(pilot, lambda: sum("read-only mode" in n for n in notes(app)) > refused,
                             what=f"{check_id}: the read-only refusal")
            assert app.screen is screen
        assert sum("read-only mode" in n for n in notes(app)) == 2
    assert toml.read_bytes() == before
    assert not any(argv[:2] == ["apps", "create"] for argv in sandbox.argv_log())


async def test_login_fix_runs_fly_auth_login_then_reruns(sandbox: Any, project: Path, monkeypatch: Any) -> None:
    import subprocess

    sandbox.logout()
    ran: list[list[str]] = []

    def attached(argv: list[str], env: dict[str, str], cwd: str | None) -> int:
        # the runner's real argv and env, run without a terminal
        ran.append(argv)
        return subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True).returncode

    monkeypatch.setattr(runner_mod, "_run_attached", attached)
    app = make(sandbox, project)
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)  # Pilot's headless driver cannot suspend
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        assert status(screen, "auth") == d.FAIL and "app" not in screen.checks
        screen.select("auth")
        run = screen._run
        await pilot.press("f")
        await rerun_done(pilot, screen, run)
        assert status(screen, "auth") == d.OK
        # checks that need a session appear after logging in, in the doctor's order
        assert [k.value for k in screen.table.rows] == [c.id for c in screen.report.checks]
    assert ran == [[sandbox.flyctl, "auth", "login"]]
    entry = next(e for e in app.command_log.entries() if e.kind == "interactive")  # logged like any call
    assert entry.argv[1:] == ("auth", "login") and entry.returncode == 0


async def test_login_without_a_terminal_says_what_to_run(sandbox: Any, project: Path) -> None:
    sandbox.logout()
    app = make(sandbox, project)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        screen.select("auth")
        await pilot.press("f")
        await wait_until(pilot, lambda: any("auth login" in n and "press r" in n for n in notes(app)),
                         what="the auth login advice")


async def test_billing_fix_opens_the_url(sandbox: Any, project: Path, monkeypatch: Any) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    sandbox.create_app(APP)
    sandbox.inject_fault("apps list", payment_required=True)
    app = make(sandbox, project)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_doctor(pilot, app)
        c = screen.checks["billing"]
        assert c.status == d.FAIL and c.fix_action == d.FIX_BILLING
        url = c.data["billing_url"]
        screen.select("billing")
        await pilot.pause()
        assert url in plain(screen.query_one("#doctor-detail"))
        await pilot.press("f")
        assert await wait_until(pilot, lambda: opened == [url])
        assert any(url in n for n in notes(app))


def test_detail_markup_escapes_and_marks_read_only() -> None:
    c = d.Check("x", "Title [b]", d.WARN, detail="[red]not markup[/red]", why="w", fix="do it",
                fix_action=d.FIX_RELEASE_COMMAND)
    text = detail_markup(c, read_only=True)
    assert r"\[red]not markup" in text and "disabled in read-only mode" in text
    assert "Press f" in detail_markup(c, read_only=False)
