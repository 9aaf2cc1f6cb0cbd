"""Data is never markup: texts from outside show verbatim everywhere, and a failing poll does not spam.

flyctl prints Go slices as ``[ams iad nrt]`` (``fmt`` of a ``[]string``, e.g. flyctl ad0172f
internal/command/machine/run.go region errors), and names, log lines and alembic messages may contain
anything. Rendered as Rich/Textual markup such text vanishes (``must be one of``) or raises ``MarkupError``
(``[/x]``) and ends the app. Every test drives the real app through the sandbox flyctl (real runner + client)
and reads what is rendered (widget ``render()``, the DataTable's own cell formatter, the toasts).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from textual.widgets._data_table import default_cell_formatter
from textual.widgets._toast import Toast

from flytui.fly.client import FlyClient
from flytui.fly.errors import FlyctlError, classify
from flytui.fly.runner import FlyctlRunner
from tests.helpers.wait import until
from flytui.sandbox.procs import append_log
from flytui.sandbox.state import add_release
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.failures import FailureLog

#: the texts of the brief: a Go slice, a closing tag without an opening one, real tags, a link, a colour
SLICE, CLOSE, BOLD, LINK, RED = "[ams iad nrt]", "[/x]", "[bold]x[/]", "[link=https://e.com]x[/link]", "[red]"
#: flyctl's error sentence shape for a bad region (flyctl ad0172f: `... must be one of [...]`)
ERROR_TEXT = f"region must be one of {SLICE} {CLOSE} {BOLD} {LINK} {RED}"


async def wait_for(pilot: Any, cond: Callable[[], Any], timeout: float = 20.0, what: str = "") -> None:
    await until(pilot, cond, timeout=timeout, what=what or "the condition")


def make(sandbox: Any, refresh: float = 60, **kw: Any) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))
    return FlytuiApp(Config(refresh_interval=refresh), client, **kw)


def rows(pane: Any) -> dict[str, Any]:
    """The pane's loaded rows ({} while a pane built on first use is not composed yet)."""
    return pane.table.rows_data if pane.query("ResourceTable") else {}


def rendered(widget: Any) -> str:
    """What a Static/Label shows (its rendered visual as plain text)."""
    return str(widget.render())


def cell_text(table: Any, row: str, col: str) -> str:
    """What the DataTable shows for a cell: the table's own formatter applied to the stored value."""
    return default_cell_formatter(table.get_cell(row, col)).plain


def toasts(app: FlytuiApp) -> list[str]:
    """The text of every toast on screen (title + message, as rendered)."""
    return [str(t.render()) for t in app.screen.query(Toast)]


def odd_app(sandbox: Any, name: str = SLICE) -> None:
    """An app named ``name``: Fly (and the sandbox's `apps create`) only allow [a-z0-9-], so the record is
    renamed in the sandbox state; the UI must not trust that rule for texts it shows."""
    sandbox.create_app("odd-app", deployed=True)
    with sandbox.transaction() as st:
        app = st["apps"].pop("odd-app")
        app["name"] = name
        st["apps"][name] = app


def seed(sandbox: Any) -> dict[str, Any]:
    """An app named like a Go slice; a machine, secret and release whose texts are markup look-alikes."""
    odd_app(sandbox)
    sandbox.create_app("web", deployed=True)
    m = sandbox.add_machine("web", region=CLOSE, state="started", image=f"registry.fly.io/web:{RED}")
    sandbox.set_secret("web", LINK, "value-1")
    with sandbox.transaction() as st:
        app = st["apps"]["web"]
        app["machines"][0]["name"] = BOLD
        add_release(app, st, image="registry.fly.io/web:deployment-1", description=f"{CLOSE} deploy {BOLD}")
    return m


async def test_names_regions_secrets_and_releases_show_verbatim(sandbox) -> None:
    m = seed(sandbox)
    app = make(sandbox)
    async with app.run_test(size=(200, 45), notifications=True) as pilot:
        apps = app.main.query_one("#apps")
        await wait_for(pilot, lambda: SLICE in rows(apps), what="apps")
        assert cell_text(apps.table, SLICE, "name") == SLICE
        app.select_app("web")
        machines = app.main.query_one("#machines")
        await wait_for(pilot, lambda: m["id"] in rows(machines), what="machines")
        await pilot.pause()
        assert cell_text(machines.table, m["id"], "name") == BOLD
        assert cell_text(machines.table, m["id"], "region") == CLOSE
        assert cell_text(machines.table, m["id"], "image").endswith(RED)
        assert "app web" in rendered(app.main.query_one("#header"))
        await pilot.press("3")
        secrets = app.main.query_one("#secrets")
        await wait_for(pilot, lambda: LINK in rows(secrets), what="secrets")
        await pilot.pause()
        assert cell_text(secrets.table, LINK, "name") == LINK
        app.show_view("releases")
        releases = app.main.query_one("#releases")
        described = f"{CLOSE} deploy {BOLD}"
        await wait_for(pilot, lambda: any(str(r["description"]) == described for r in rows(releases).values()),
                       what="releases")
        await pilot.pause()
        key = next(k for k, r in rows(releases).items() if str(r["description"]) == described)
        assert cell_text(releases.table, key, "description") == described
        # the app name in the header and a pane title, and the confirm dialog naming it
        app.select_app(SLICE)
        await pilot.pause()
        assert f"app {SLICE}" in rendered(app.main.query_one("#header"))
        assert SLICE in rendered(app.main.query_one("#releases-title"))
        app.show_view("apps")
        await wait_for(pilot, lambda: apps.table.selected_key is not None, what="apps again")
        apps.table.move_cursor(row=apps.table.get_row_index(SLICE))
        await pilot.press("ctrl+d")  # destroy: the confirm dialog names the app
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm dialog")
        assert SLICE in rendered(app.screen.query_one("#confirm-target"))
        assert SLICE in rendered(app.screen.query_one("#confirm-title"))
        await pilot.press("escape")
        assert app.is_running


async def test_flyctl_error_is_a_verbatim_notification_with_a_true_hint_and_command_log(sandbox) -> None:
    odd_app(sandbox)
    sandbox.inject_fault("machine list", fail=ERROR_TEXT, times=1)
    app = make(sandbox, current_app=SLICE)
    async with app.run_test(size=(200, 45), notifications=True) as pilot:
        await wait_for(pilot, lambda: any(ERROR_TEXT in t for t in toasts(app)), what="error toast")
        toast = next(t for t in toasts(app) if ERROR_TEXT in t)
        assert "output above" not in toast and "command log (press @)" in toast
        assert all(not n.markup for n in app._notifications)
        await pilot.press("at")  # the command log: argv and stderr of the failed call, verbatim
        log = app.main.query_one("#command-log")
        await wait_for(pilot, lambda: any(str(r["status"]) == "exit 1" for r in log.table.rows_data.values()),
                       what="failed call in the command log")
        key = next(k for k, r in log.table.rows_data.items() if str(r["status"]) == "exit 1")
        assert f"-a '{SLICE}'" in cell_text(log.table, key, "command") or SLICE in cell_text(log.table, key, "command")
        assert ERROR_TEXT in cell_text(log.table, key, "error")
        log.table.move_cursor(row=log.table.get_row_index(key))
        await pilot.pause()
        assert ERROR_TEXT in rendered(log.query_one("#command-log-detail"))
        assert app.is_running


async def test_failing_poll_gives_one_toast_and_a_counted_status_line(sandbox) -> None:
    sandbox.create_app("web", deployed=True)
    m = sandbox.add_machine("web", state="started")
    poll_error = f"region must be one of {SLICE}"  # (no [/x] here: the old code crashed on that first)
    sandbox.inject_fault("machine list", fail=poll_error)  # fails on every poll until cleared
    app = make(sandbox, refresh=0.1, current_app="web")

    def polls() -> int:
        return sum(1 for argv in sandbox.argv_log() if argv[:2] in (["machine", "list"], ["machines", "list"]))

    async with app.run_test(size=(200, 45), notifications=True) as pilot:
        machines = app.main.query_one("#machines")
        # the 5th call starts only after the 4th failure was handled (the poll re-arms in the error handler)
        await wait_for(pilot, lambda: polls() >= 5, what="five polls")
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1, [n.message for n in errors]
        line = machines.query_one(".pane-failure")
        await wait_for(pilot, lambda: re.search(r"same error [4-9]\d*×", rendered(line)), what="counted line")
        text = rendered(line)
        assert line.display and poll_error in text and "last at" in text
        sandbox.clear_faults()  # flyctl works again: the rows come back and the line goes
        await wait_for(pilot, lambda: m["id"] in rows(machines), what="recovery")
        await wait_for(pilot, lambda: not line.display, what="line cleared")
        assert len([n for n in app._notifications if n.severity == "error"]) == 1


async def test_log_lines_and_tail_errors_show_verbatim(sandbox) -> None:
    sandbox.create_app("web", deployed=True)
    line = f"GET /regions {SLICE} {CLOSE} {BOLD} {LINK} {RED}"
    append_log(sandbox.log_path("web"), "148e2d4f7e5e89", "iad", line)
    from flytui.ui.screens.logs import LogsScreen

    app = make(sandbox, current_app="web")
    async with app.run_test(size=(200, 45), notifications=True) as pilot:
        app.action_open_logs()
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), what="logs screen")
        screen: LogsScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: screen.query("LogView") and screen.view.rows, what="log line")
        shown = "".join(seg.text for seg in screen.view.render_line(0))
        assert line in shown
        screen.on_logs_screen_status(LogsScreen.Status(type(screen.tail_status)("error", ERROR_TEXT)))
        screen.flush_inbox()
        await pilot.pause()
        assert ERROR_TEXT in rendered(screen.query_one("#logs-status"))
        assert app.is_running


async def test_doctor_check_detail_shows_flyctl_text_verbatim(sandbox) -> None:
    sandbox.create_app("web", deployed=True)
    sandbox.inject_fault("status", fail=ERROR_TEXT)
    from flytui.ui.screens.doctor import DoctorScreen

    app = make(sandbox, current_app="web")
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        app.action_open_doctor()
        await wait_for(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor")
        screen: DoctorScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: not screen.running and screen.report is not None, timeout=40, what="checks")
        hit = next(cid for cid, c in screen.checks.items() if ERROR_TEXT in (c.detail or ""))
        screen.select(hit)
        await pilot.pause()
        assert ERROR_TEXT in cell_text(screen.table, hit, "detail")
        assert ERROR_TEXT in rendered(screen.query_one("#doctor-detail"))
        assert app.is_running


async def test_alembic_revision_texts_show_verbatim(sandbox, tmp_path: Path, monkeypatch) -> None:
    from tests.helpers.revgen import RevSpec, write_project
    from tests.test_migrations_support import ALEMBIC
    from flytui.ui.screens.migrations import MigrationsScreen

    message = f"regions {SLICE} {RED} x"  # alembic's message; no "/" (it also names the file)
    project = write_project(tmp_path / "proj", [RevSpec("0001_a", None, message)])
    monkeypatch.setenv("FLYTUI_ALEMBIC", " ".join(ALEMBIC))
    app = FlytuiApp(Config(refresh_interval=60), FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env)),
                    project_dir=project)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        app.action_open_migrations()
        await wait_for(pilot, lambda: isinstance(app.screen, MigrationsScreen), what="migrations")
        screen: MigrationsScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: screen.snapshot is not None, timeout=40, what="history")
        table = screen.query_one("#mig-table")
        await wait_for(pilot, lambda: table.row_count == 1, what="revision row")
        assert cell_text(table, "0001_a", "message") == message
        screen._show_detail()
        assert message in rendered(screen.query_one("#mig-detail"))
        assert app.is_running


# --- units: the hint and the repeat counter ---------------------------------------------------------
def test_generic_flyctl_error_hint_names_the_command_log_and_quotes_the_rest_of_stderr() -> None:
    # stderr shape: flyctl prints usage/context lines, then `Error: <sentence>` (flyctl ad0172f cmd/root)
    err = classify(["fly", "machine", "run", "--region", "xyz"], 1,
                   f"Searching for image\nError: {ERROR_TEXT}\n")
    assert type(err) is FlyctlError and err.message == ERROR_TEXT
    assert "output above" not in err.hint
    assert "`fly machine run --region xyz` exited with code 1" in err.hint
    assert "Searching for image" in err.hint and "command log (press @)" in err.hint
    bare = classify(["fly", "apps", "list"], 2, "Error: boom\n")
    assert "also printed" not in bare.hint and "output above" not in FlyctlError("x").hint


def test_failure_log_counts_the_same_error_and_restarts_on_another() -> None:
    from datetime import datetime, timedelta

    t = [datetime(2026, 8, 1, 14, 2, 0)]
    log = FailureLog(now=lambda: t[0])
    assert not log.record("apps", FlyctlError(ERROR_TEXT), "refresh apps").repeated
    for _ in range(2):
        t[0] += timedelta(seconds=5)
        assert log.record("apps", FlyctlError(ERROR_TEXT), "refresh apps").repeated
    assert log.line("apps").startswith("✗ apps: same error 3× — last at 14:02:10")
    assert not log.record("apps", FlyctlError("other"), "refresh apps").repeated  # a new error: a new toast
    assert log.clear("apps") and log.line("apps") == ""


async def test_deploy_screen_shows_flyctl_lines_verbatim(tmp_path: Path) -> None:
    # the deploy screen with the fake flyctl replaying a recorded release_command failure
    # (tests/fixtures/transcripts, written from flyctl's `fly deploy` texts) whose image ref and
    # release command output carry markup look-alikes
    from tests.test_deploy_screen import HERE, make as make_deploy, result_text

    src = (HERE / "deploy-fail-release-command.txt").read_text()
    image = re.search(r"^image: (\S+)", src, re.M).group(1)
    odd_image = f"registry.fly.io/shop-api:{CLOSE}{SLICE.replace(' ', '-')}"  # shorter than the 60-char cut
    text = src.replace(image, odd_image).replace("NotNullViolation", f"NotNullViolation {SLICE} {CLOSE} {BOLD}")
    app, _ = make_deploy(tmp_path, "", text=text, FAKE_RC="1")
    async with app.run_test(size=(200, 50)) as pilot:
        scr = app.screen
        await pilot.press("d")  # d (or enter on the form) starts the deploy
        await wait_for(pilot, lambda: scr.tracker is not None and scr.tracker.finished and not scr.running,
                       what="deploy finished")
        assert f"NotNullViolation {SLICE} {CLOSE} {BOLD}" in result_text(app)
        assert cell_text(scr.query_one("#deploy-stages"), "push", "detail").startswith(odd_image)  # + " (148 MB)"
        assert f"image {odd_image}" in rendered(scr.query_one("#deploy-summary"))
        assert app.is_running
