"""Power layer (issue 9), fast parts: command log bookkeeping (and through a real runner + sandbox flyctl),
the registry reaching every command by ``:``/aliases/completion/palette/help, user aliases and key remaps,
scale plans."""
from __future__ import annotations

import time


from flytui.fly.commandlog import CommandLog, display_argv
from flytui.fly.runner import FlyctlRunner, Invocation
from flytui.ui import commands
from flytui.ui.config import parse_config
from flytui.fly.client import FlyClient
from flytui.ui.modals.scale import ScaleState, scale_plan, size_name


# --- command log -----------------------------------------------------------------------------------
def test_command_log_matches_start_and_end_newest_first_and_bounded():
    log = CommandLog(maxlen=3)
    seen = []
    log.subscribe(seen.append)
    t = time.time()
    log.on_invocation(Invocation(["/usr/bin/fly", "apps", "list"], t, None, None, "", "json"))
    log.on_invocation(Invocation(["/usr/bin/fly", "status"], t + 1, None, None, "", "run"))
    assert [e.status for e in log.entries()] == ["running", "running"]
    log.on_invocation(Invocation(["/usr/bin/fly", "apps", "list"], t, 0.5, 0, "warning: x", "json"))
    log.on_invocation(Invocation(["/usr/bin/fly", "status"], t + 1, 0.2, 1, "Error: app not found", "run"))
    entries = log.entries()
    assert len(log) == 2 and [e.argv[1] for e in entries] == ["status", "apps"]  # newest first
    assert entries[0].status == "exit 1" and entries[0].failed and entries[0].stderr_tail == "Error: app not found"
    assert entries[1].status == "ok" and entries[1].stderr_tail == ""  # tail kept only on failure
    assert entries[1].command_line == "fly apps list" and entries[1].duration == 0.5
    assert len(seen) == 4
    for i in range(3):
        log.record(["fly", "version", str(i)], kind="run", started=t + 10 + i, duration=0.1, returncode=0)
    assert len(log) == 3 and [e.argv[2] for e in log.entries()] == ["2", "1", "0"]
    assert display_argv(["/a/b/flyctl", "x"]) == ["flyctl", "x"]


async def test_command_log_through_real_runner_redacts_and_keeps_stderr(sandbox):
    runner = FlyctlRunner(sandbox.flyctl, env=sandbox.env)
    log = CommandLog()
    assert log.attach(runner)
    sandbox.create_app("alpha")
    await runner.run("apps", "list")
    done = await runner.run("secrets", "set", "API_KEY=hunter2-secret", "-a", "nope", check=False)
    assert done.returncode != 0
    newest, older = log.entries()
    assert older.status == "ok" and older.argv[1:] == ("apps", "list")
    assert newest.failed and newest.returncode == done.returncode
    assert "hunter2-secret" not in newest.command_line and "API_KEY=" in newest.command_line
    assert "nope" in newest.stderr_tail and newest.stderr_tail.startswith("Error")
    assert newest.duration is not None and newest.duration > 0


# --- registry: every command reachable ---------------------------------------------------------
def test_every_command_reachable_by_colon_aliases_and_completion():
    for cmd in commands.COMMANDS:
        assert commands.parse(":" + cmd.id).command is cmd, cmd.id
        assert commands.complete(cmd.id) == cmd.id, cmd.id  # the suggester completes every full id
        assert commands.complete(cmd.id[:-1]) is not None, cmd.id
        for alias in cmd.aliases:
            assert commands.resolve(alias) is cmd, (cmd.id, alias)
    assert commands.parse("cl").command.id == "command-log"
    assert commands.parse("tun").command.id == "tunnels"
    assert commands.parse(":rel alpha").args == ["alpha"]
    assert commands.parse("rollback").command.id == "releases"
    assert commands.parse("ssh").command.id == "machine-shell"
    assert commands.complete("tun") == "tunnels" and commands.complete("sca") == "scale"


def test_power_keys_do_not_collide_in_their_scopes():
    for group in commands.PANE_GROUPS:
        keys = [c.key for c in commands.COMMANDS if c.group in (group, commands.GLOBAL, commands.VIEW) and c.key]
        assert len(keys) == len(set(keys)), group
    assert commands.key_label("at") == "@"


def test_user_aliases_and_keymap_from_config_file():
    cfg = parse_config('[aliases]\npf = "tunnels"\nhist = "command-log"\n[keymap]\ntunnels = "ctrl+t"\n')
    assert commands.parse("pf", cfg.aliases).command.id == "tunnels"
    assert commands.parse("hist", cfg.aliases).command.id == "command-log"
    binding = next(b for b in commands.bindings([commands.VIEW], cfg.keymap) if b.id == "view.tunnels")
    assert binding.key == "ctrl+t"


# --- scale -------------------------------------------------------------------------------------
def test_scale_state_and_plan():
    from flytui.fly.models import Guest, Machine

    def m(i, group, cpus, state="started"):
        return Machine(id=f"m{i}", state=state, metadata={"fly_process_group": group},
                       guest=Guest(cpu_kind="shared", cpus=cpus, memory_mb=256 * cpus))

    state = ScaleState.from_machines([m(1, "app", 1), m(2, "app", 1), m(3, "worker", 2),
                                      m(4, "app", 1, state="destroyed")])
    assert state.counts == {"app": 2, "worker": 1} and state.size == "shared-cpu-1x"
    assert size_name(Guest(cpu_kind="performance", cpus=2)) == "performance-2x"
    client = FlyClient(None)  # type: ignore[arg-type]  # builds commands only
    assert scale_plan(client, "alpha", state, {"app": 2, "worker": 1}, "shared-cpu-1x") == []
    assert [list(c.args) for c in scale_plan(client, "alpha", state, {"app": 3, "worker": 1}, "shared-cpu-2x")] == [
        ["scale", "count", "3", "--process-group", "app", "-a", "alpha", "--yes"],
        ["scale", "vm", "shared-cpu-2x", "-a", "alpha"]]
