"""Keys a person can trust (issue 15): Pilot tests with the real ``FlytuiApp``, the real confirm dialog and the
sandbox flyctl (``flytui-sandbox-flyctl``; deploy pacing and outputs from flytui/sandbox/transcripts.py, whose
shapes come from flyctl's internal/command/deploy at ad0172f).

* stopping a running deploy, answered both ways, leaves an app that still takes keys (it froze before);
* read-only mode refuses the machine shell and says so;
* fast typing into the set-secret dialog never puts the value into the (unmasked) name field;
* the confirm dialog: one rule for enter, keys shown.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from textual import events
from textual.keys import _character_to_key

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner, live_groups
from flytui.sandbox.state import pid_alive
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from flytui.ui.modals.confirm import ConfirmRequest, ConfirmScreen
from flytui.ui.screens.deploy import DeployScreen
from flytui.ui.modals.set_secret import SetSecretScreen
from tests.helpers.wait import until

PROJECT = Path(__file__).parent / "fixtures" / "sandbox" / "project"


def make(sandbox: Any, config: Config | None = None, **kw: Any) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env, grace=1.0))
    return FlytuiApp(config or Config(refresh_interval=60), client, **kw)


def record_notes(app: FlytuiApp) -> list[str]:
    notes: list[str] = []
    orig = app.notify

    def notify(message: Any, *a: Any, **kw: Any) -> None:
        notes.append(f"{kw.get('title') or ''}|{message}")
        orig(message, *a, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return notes


def type_fast(app: FlytuiApp, keys: list[str]) -> None:
    """Queue every key at once, like a paste or an auto-typer: no pause between them (Pilot.press waits for
    idle after each key, which hides the race)."""
    driver = app._driver
    assert driver is not None
    for key in keys:
        char = key if len(key) == 1 else ("\t" if key == "tab" else "\r" if key == "enter" else None)
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)  # "=" -> "equals_sign", as the terminal driver names it
        event = events.Key(key, char)
        event.set_sender(app)
        driver.send_message(event)


# --- deploy: stop a running deploy, both answers, then the app still takes keys ------------------------------
async def test_stop_running_deploy_both_answers_then_keys_still_work(sandbox: Any, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    sandbox.create_app("web-app")
    app = make(sandbox, current_app="web-app", project_dir=project)
    app.client.runner.env["FLYTUI_SANDBOX_SPEED"] = "0.5"  # slow: time to answer twice mid-deploy
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: any(p.active for p in app.main.query(".pane")), "main screen")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DeployScreen), "deploy screen")
        dep = app.screen
        await pilot.press("enter")  # enter on the form starts it (the Deploy button has the focus)
        await until(pilot, lambda: dep.tracker is not None and dep.tracker.reached("build") and dep.process,
                    "deploy running")
        pid = dep.process.pid

        # 1. x, then "keep deploying" (n): the dialog closes, the deploy goes on, keys work
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm dialog")
        dialog = app.screen
        assert dialog.request.confirm_label == "Stop the deploy" and dialog.request.cancel_label == "Keep deploying"
        keys = str(dialog.query_one("#dialog-keys").render())
        assert "y Stop the deploy" in keys and "n/esc Keep deploying" in keys, keys
        assert keys.endswith("enter Keep deploying"), keys  # what enter does now: the focused button
        assert dialog.focused is dialog.query_one("#confirm-no")  # danger: enter = the safe button
        await pilot.press("n")
        await until(pilot, lambda: app.screen is dep, "dialog closed after 'keep deploying'")
        assert dep.running and pid_alive(pid)
        transcript = dep.query_one("#deploy-transcript")
        shown = transcript.display
        await pilot.press("t")  # a key still works
        await until(pilot, lambda: transcript.display != shown, "t toggles the transcript")

        # 2. ctrl+c, then enter on "Stop the deploy": flyctl is stopped, the screen says so
        await pilot.press("ctrl+c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm dialog (ctrl+c)")
        await pilot.press("tab")  # focus moves to "Stop the deploy"; enter presses the focused button
        await pilot.press("enter")
        await until(pilot, lambda: not dep.running, "deploy stopped")
        assert app.screen is dep
        assert not pid_alive(pid)
        assert "cancelled" in str(dep.query_one("#deploy-result").render())
        await pilot.press("escape")  # a key still works: back to the main screen
        await until(pilot, lambda: app.screen is app.main, "back on the main screen")
    assert live_groups() == {}


# --- read-only: no shell -----------------------------------------------------------------------------------
async def test_read_only_refuses_the_machine_shell(sandbox: Any, monkeypatch: Any) -> None:
    sandbox.create_app("alpha")
    mid = sandbox.add_machine("alpha", state="started")["id"]
    app = make(sandbox, Config(refresh_interval=60, read_only=True), current_app="alpha")
    ran: list[Any] = []
    monkeypatch.setattr(app, "run_in_terminal", lambda *a, **kw: ran.append(a))
    notes = record_notes(app)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.main.query("#machines") and mid in app.main.query_one("#machines")
                    .table.rows_data, "machines")
        app.main.query_one("#machines").table.focus()
        await pilot.press("x")
        await until(pilot, lambda: any("read-only" in n for n in notes), "read-only notice")
        await pilot.press("colon", *"ssh", "enter")
        await until(pilot, lambda: sum("read-only" in n for n in notes) >= 2, "second read-only notice")
    assert ran == []
    assert not any(a[:2] == ["ssh", "console"] for a in sandbox.argv_log())
    assert any(n.startswith("read-only|Shell") for n in notes), notes


# --- set secret: typing fast ------------------------------------------------------------------------------
class _Done:
    result: Any = "pending"


async def _secret_dialog(pilot: Any, app: FlytuiApp) -> tuple[SetSecretScreen, _Done]:
    done = _Done()
    screen = SetSecretScreen("alpha")

    def finished(result: Any) -> None:
        done.result = result

    app.push_screen(screen, finished)
    await until(pilot, lambda: app.screen is screen and screen.focused is not None, "secret dialog")
    return screen, done


async def test_secret_dialog_fast_typing_name_tab_value(sandbox: Any) -> None:
    app = make(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, done = await _secret_dialog(pilot, app)
        type_fast(app, [*"API_TOKEN", "tab", *"s3cr3t-value-42"])
        value = screen.query_one("#secret-value")
        await until(pilot, lambda: value.value == "s3cr3t-value-42", "the whole value in the value field")
        assert screen.query_one("#secret-name").value == "API_TOKEN"
        assert value.password  # masked

        # the same with "=" (NAME=value typed like a .env line) and enter to submit
        screen2, done2 = await _push_again(pilot, app, screen)
        type_fast(app, [*"DB_PASS", "=", *"p=ss/word", "enter"])
        await until(pilot, lambda: done2.result != "pending", "submitted")
        assert (done2.result.values, done2.result.stage) == ({"DB_PASS": "p=ss/word"}, False)


async def _push_again(pilot: Any, app: FlytuiApp, old: SetSecretScreen) -> tuple[SetSecretScreen, _Done]:
    old.dismiss(None)
    await until(pilot, lambda: app.screen is app.main, "first dialog closed")
    return await _secret_dialog(pilot, app)


async def test_secret_dialog_paste_name_and_value(sandbox: Any) -> None:
    app = make(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _ = await _secret_dialog(pilot, app)
        app.post_message(events.Paste("SESSION_KEY\tabc\tdef"))
        value = screen.query_one("#secret-value")
        await until(pilot, lambda: value.value == "abc\tdef", "pasted value in the value field")
        assert screen.query_one("#secret-name").value == "SESSION_KEY" and screen.focused is value


def ask(app: FlytuiApp, req: ConfirmRequest) -> Any:
    """``app.confirm(req)`` awaited in a worker of the app (as every caller does); ``.wait()`` gives the answer."""
    async def run() -> bool:
        return await app.confirm(req)

    return app.run_worker(run(), exit_on_error=False)


# --- the confirm dialog's one rule ------------------------------------------------------------------------
async def test_confirm_enter_presses_the_focused_button_and_keys_are_shown(sandbox: Any) -> None:
    app = make(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: any(p.active for p in app.main.query(".pane")), "main screen")
        answers: list[bool] = []
        for danger, expected in ((False, True), (True, False)):
            req = ConfirmRequest("Restart 1 machine(s) of alpha?", ["m1"], [["fly", "machine", "restart", "m1"]],
                                 danger=danger, confirm_label="Restart")
            before = app.screen
            fut = ask(app, req)
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen is not before, "dialog")
            label = "Restart" if expected else "Cancel"
            hint = app.screen.query_one("#dialog-keys")
            await until(pilot, lambda: str(hint.render()).endswith(f"enter {label}"), f"enter hint {label}")
            assert "y Restart" in str(hint.render()) and app.screen.focused.label.plain == label
            await pilot.press("enter")
            answers.append(await fut.wait())
        assert answers == [True, False]
        # the whole box fits 80x24: the buttons are on screen
        fut = ask(app, ConfirmRequest("Destroy 9 machines of alpha?", [f"m{i}" for i in range(9)],
                                         [["fly", "machine", "destroy", f"m{i}"] for i in range(9)],
                                         typed_name="alpha", danger=True, confirm_label="Destroy"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "typed dialog")
        for button in app.screen.query("#confirm-buttons Button"):
            region = button.region
            assert region.height > 0 and region.bottom <= 24 and region.right <= 80, (button, region)
        await pilot.press(*"alpha", "enter")
        assert await fut.wait() is True


# --- `:` mode: Tab completes (README) ---------------------------------------------------------------------
async def test_tab_completes_the_command_and_the_app_name(sandbox: Any) -> None:
    sandbox.create_app("alpha-shop")
    app = make(sandbox)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: "alpha-shop" in app.known_apps(), "apps loaded")
        await pilot.press("colon", *"sec")
        line = app.main.query_one("#command")
        await until(pilot, lambda: line._suggestion == "secrets", "suggestion")
        await pilot.press("tab")
        assert line.value == "secrets" and line.has_focus  # completed, the focus stayed
        await pilot.press(*" alp")
        await until(pilot, lambda: line._suggestion == "secrets alpha-shop", "app suggestion")
        await pilot.press("tab", "enter")
        await until(pilot, lambda: app.main.pane.id == "secrets" and app.current_app == "alpha-shop", ":secrets APP")
