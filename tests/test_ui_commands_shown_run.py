"""What a confirmation shows is what runs: the confirm dialog (and the set-secret dialog) shows the
:class:`~flytui.fly.command.FlyCommand` objects FlyClient built, and those same objects reach
``FlyctlRunner.execute``; the argv the sandbox flyctl received equals the argv shown, word for word.

Through the sandbox flyctl (it logs every argv and the stdin length: flytui/sandbox/state.py ``argv.log``);
command shapes: flyctl @ ad0172f (internal/command/apps/destroy.go, secrets/{set,unset,import}.go,
machine/{stop,destroy}.go, scale/{count,vm}.go), as tests/test_client.py pins them."""
from __future__ import annotations

import os
import shlex
from typing import Any

from flytui.fly.client import FlyClient
from flytui.fly.command import FlyCommand
from flytui.fly.runner import CompletedRun, FlyctlRunner
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config
from tests.helpers.wait import until

SECRET = "s3cr3t-Value-never-in-argv"
MUTATING = {("apps", "destroy"), ("machine", "stop"), ("machine", "destroy"), ("scale", "count"),
            ("scale", "vm"), ("secrets", "unset"), ("secrets", "import"), ("secrets", "set")}


class SpyRunner(FlyctlRunner):
    """The real runner; remembers every command object it was asked to execute."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.executed: list[FlyCommand] = []

    async def execute(self, command: FlyCommand) -> CompletedRun:
        self.executed.append(command)
        return await super().execute(command)


def make(sandbox: Any, **kw: Any) -> tuple[FlytuiApp, SpyRunner]:
    runner = SpyRunner(sandbox.flyctl, env=sandbox.env)
    return FlytuiApp(Config(refresh_interval=600), FlyClient(runner), **kw), runner


def shown(app: FlytuiApp, sandbox: Any) -> list[tuple[list[str], str]]:
    """The dialog's command lines as (argv without the program, stdin note); the program is flyctl's name."""
    out = []
    for line in str(app.screen.query_one(".dialog-argv").render()).splitlines():
        assert line.startswith("$ "), line
        cmd, _, stdin = line[2:].partition("  < stdin: ")
        program, *args = shlex.split(cmd)
        assert program == os.path.basename(sandbox.flyctl)
        out.append((args, stdin))
    return out


def ran(sandbox: Any) -> list[dict[str, Any]]:
    """The mutating invocations the sandbox flyctl received (argv and stdin length), oldest first."""
    return [e for e in sandbox.argv_log_entries() if tuple(e["argv"][:2]) in MUTATING]


def the_same_objects(request_commands: Any, runner: SpyRunner) -> bool:
    ids = {id(c) for c in runner.executed}
    return bool(request_commands) and all(id(c) in ids for c in request_commands)


async def confirm_open(pilot: Any, app: FlytuiApp) -> Any:
    await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen" and app.screen.query("#confirm-argv"),
                what="the confirm dialog, composed")
    return app.screen.request


async def select(pilot: Any, pane: Any, key: str) -> None:
    await until(pilot, lambda: key in pane.table.rows_data, what=f"row {key}")
    pane.table.move_cursor(row=pane.table.get_row_index(key), animate=False)
    pane.table.focus()
    await until(pilot, lambda: pane.table.selected_key == key, what=f"{key} selected")


async def test_destroy_app_runs_the_shown_command(sandbox: Any) -> None:
    for name in ("alpha", "beta"):
        sandbox.create_app(name)
    app, runner = make(sandbox)
    async with app.run_test(size=(160, 45)) as pilot:
        await select(pilot, app.main.query_one("#apps"), "beta")
        await pilot.press("ctrl+d")
        request = await confirm_open(pilot, app)
        lines = shown(app, sandbox)
        assert lines == [(["apps", "destroy", "beta", "--yes"], "")]
        assert ran(sandbox) == []  # nothing before the confirmation
        await pilot.press(*"beta", "enter")
        await until(pilot, lambda: len(ran(sandbox)) == 1, what="apps destroy run")
    assert [e["argv"] for e in ran(sandbox)] == [args for args, _ in lines]
    assert the_same_objects(request.commands, runner)


async def test_unset_secret_runs_the_shown_command(sandbox: Any) -> None:
    sandbox.create_app("alpha")
    sandbox.set_secret("alpha", "API_KEY", SECRET)
    app, runner = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("3")
        await select(pilot, app.main.query_one("#secrets"), "API_KEY")
        await pilot.press("ctrl+d")
        request = await confirm_open(pilot, app)
        lines = shown(app, sandbox)
        assert lines == [(["secrets", "unset", "API_KEY", "-a", "alpha"], "")]
        await pilot.press("y")
        await until(pilot, lambda: len(ran(sandbox)) == 1, what="secrets unset run")
    assert [e["argv"] for e in ran(sandbox)] == [args for args, _ in lines]
    assert the_same_objects(request.commands, runner)


async def test_machine_stop_and_destroy_run_the_shown_commands(sandbox: Any) -> None:
    sandbox.create_app("alpha", deployed=True)
    m1, m2 = (sandbox.add_machine("alpha", state="started")["id"] for _ in range(2))
    app, runner = make(sandbox, current_app="alpha")
    async with app.run_test(size=(200, 45)) as pilot:
        pane = app.main.query_one("#machines")
        await select(pilot, pane, m1)
        pane.table.marked.update({m1, m2})
        await pilot.press("t")
        request = await confirm_open(pilot, app)
        stops = shown(app, sandbox)
        assert sorted(args for args, _ in stops) == sorted(["machine", "stop", m, "-a", "alpha"] for m in (m1, m2))
        await pilot.press("y")
        await until(pilot, lambda: len(ran(sandbox)) == 2, what="both stops run")
        assert sorted(e["argv"] for e in ran(sandbox)) == sorted(args for args, _ in stops)
        assert the_same_objects(request.commands, runner)

        await until(pilot, lambda: not pane.following and str(pane.table.rows_data[m1]["state"]) == "stopped",
                    what="m1 stopped")
        await select(pilot, pane, m1)
        await pilot.press("ctrl+d")
        request = await confirm_open(pilot, app)
        destroy = shown(app, sandbox)
        assert destroy == [(["machine", "destroy", m1, "-a", "alpha"], "")]
        await pilot.press(*m1, "enter")
        await until(pilot, lambda: len(ran(sandbox)) == 3, what="machine destroy run")
    assert ran(sandbox)[-1]["argv"] == destroy[0][0]
    assert the_same_objects(request.commands, runner)


async def test_scale_runs_the_shown_commands(sandbox: Any) -> None:
    sandbox.create_app("alpha")
    for _ in range(2):
        sandbox.add_machine("alpha", state="started")
    app, runner = make(sandbox, current_app="alpha")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: any(p.active for p in app.main.query(".pane")), what="a pane")
        await pilot.press("colon", *"scale", "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "ScaleScreen", what="scale dialog")
        screen = app.screen
        await until(pilot, lambda: bool(screen.query("#scale-count-app")), what="counts loaded")
        screen.query_one("#scale-count-app").value = "3"
        screen.query_one("#scale-vm").value = "shared-cpu-2x"
        await pilot.click("#scale-yes")
        request = await confirm_open(pilot, app)
        lines = shown(app, sandbox)
        assert lines == [(["scale", "count", "3", "--process-group", "app", "-a", "alpha", "--yes"], ""),
                         (["scale", "vm", "shared-cpu-2x", "-a", "alpha"], "")]
        await pilot.press("y")
        await until(pilot, lambda: len(ran(sandbox)) == 2, timeout=30, what="both scale steps run")
    assert [e["argv"] for e in ran(sandbox)] == [args for args, _ in lines]
    assert the_same_objects(request.commands, runner)


async def test_set_secret_runs_the_shown_commands_with_the_value_on_stdin(sandbox: Any) -> None:
    sandbox.create_app("alpha")
    app, runner = make(sandbox, current_app="alpha")
    results: list[Any] = []
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: app.main.query_one("#secrets").loads >= 1, what="secrets loaded")
        await pilot.press("n")
        await until(pilot, lambda: type(app.screen).__name__ == "SetSecretScreen" and app.screen.focused is not None,
                    what="set-secret dialog")
        dialog = app.screen
        original = dialog.dismiss
        dialog.dismiss = lambda result=None: (results.append(result), original(result))[1]  # type: ignore[method-assign]
        await pilot.press(*"API_KEY", "enter", *SECRET)
        await until(pilot, lambda: dialog.query_one("#secret-argv").display, what="the command line shown")
        lines = shown(app, sandbox)
        assert lines == [(["secrets", "import", "-a", "alpha"], "API_KEY (values hidden)")]
        assert SECRET not in str(dialog.query_one("#secret-argv").render())
        await pilot.press("enter")
        await until(pilot, lambda: len(ran(sandbox)) == 1, timeout=30, what="secrets import run")
        await until(pilot, lambda: runner.executed, what="the command executed")
    [entry] = ran(sandbox)
    assert entry["argv"] == lines[0][0] and entry["stdin_len"] == len(f"API_KEY={SECRET}\n")
    assert not any(SECRET in " ".join(e["argv"]) for e in sandbox.argv_log_entries())
    [result] = results
    assert the_same_objects(result.commands, runner)


async def test_redeploy_runs_the_shown_options(sandbox: Any, tmp_path: Any) -> None:
    # fly deploy -a APP --yes --image IMG (flyctl @ ad0172f internal/command/deploy/deploy.go --image): the
    # releases pane shows the DeployOptions it then hands to the deploy screen, which runs them as they are
    from flytui.sandbox.state import add_release

    sandbox.create_app("alpha", deployed=True)
    image = "registry.fly.io/alpha:deployment-01"
    with sandbox.transaction() as st:
        add_release(st["apps"]["alpha"], st, image=image, description="first")
    app, _ = make(sandbox, current_app="alpha", project_dir=tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: any(p.active for p in app.main.query(".pane")), what="a pane")
        await pilot.press("colon", *"releases", "enter")
        pane = app.main.query_one("#releases")
        await select(pilot, pane, "v1")
        await pilot.press("R")
        await confirm_open(pilot, app)
        lines = shown(app, sandbox)
        assert lines == [(["deploy", "-a", "alpha", "--yes", "--image", image], "")]
        await pilot.press("y")
        await until(pilot, lambda: type(app.screen).__name__ == "DeployScreen", what="the deploy screen")
        deploy = app.screen
        await until(pilot, lambda: any(e["argv"][:1] == ["deploy"] for e in sandbox.argv_log_entries()),
                    timeout=30, what="the redeploy started")
        assert deploy.options is deploy.confirmed  # the object the confirmation showed
    [ran_argv] = [e["argv"] for e in sandbox.argv_log_entries() if e["argv"][:1] == ["deploy"]]
    assert ran_argv == lines[0][0]
