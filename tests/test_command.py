"""FlyCommand: the display a confirmation shows, and FlyctlRunner.execute running exactly that object (args, stdin,
env additions, check), with secrets masked in what the command log keeps. A stand-in executable echoes what it got
(no flyctl shape is involved: argv, stdin and env are the runner's contract, docs/ARCHITECTURE.md "Runner")."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from flytui.fly.command import FlyCommand, positional
from flytui.fly.runner import FlyctlRunner, Invocation

SECRET = "hunter2-env-secret"
ECHO = """
import json, os, sys
data = sys.stdin.buffer.read()
print(json.dumps({"args": sys.argv[1:], "env": os.environ.get("FLYTUI_T_SECRET"), "stdin": data.decode()}))
print("token was " + str(os.environ.get("FLYTUI_T_SECRET")), file=sys.stderr)
sys.exit(3 if "--fail" in sys.argv else 0)
"""


@pytest.fixture
def echo(tmp_path: Path) -> str:
    exe = tmp_path / "fly"
    exe.write_text(f"#!{sys.executable}\n{ECHO}")
    exe.chmod(0o755)
    return str(exe)


def test_display_masks_values_names_stdin_and_env() -> None:
    cmd = FlyCommand(("secrets", "set", "KEY=-", "-a", "alpha"), stdin=b"v", env={"FLYTUI_T_SECRET": SECRET},
                     stdin_names=("KEY",))
    assert cmd.display("fly") == "FLYTUI_T_SECRET=**** fly secrets set KEY=- -a alpha  < stdin: KEY (values hidden)"
    # a value that did reach argv (never built by FlyClient) is masked by the same redaction as the log
    assert FlyCommand(("secrets", "set", "KEY=plain")).display_argv("flyctl") == ["flyctl", "secrets", "set",
                                                                                 "KEY=****"]
    assert FlyCommand(("apps", "destroy", "a b", "--yes")).display() == "fly apps destroy 'a b' --yes"
    assert FlyCommand(("x",), stdin=b"12345").display().endswith("< stdin: 5 bytes (values hidden)")
    assert FlyCommand(("machine", "stop", "m1")).with_args("--force").args == ("machine", "stop", "m1", "--force")
    assert SECRET not in repr(FlyCommand(("x",), stdin=SECRET.encode(), env={"E": SECRET}))


def test_positional_refuses_flags_and_newlines() -> None:
    assert positional("m1", "machine id") == "m1"
    for bad in ("", " ", "-a", "--force", "a\nb", "a\x00b"):
        with pytest.raises(ValueError):
            positional(bad, "machine id")


async def test_execute_runs_the_object_as_built_and_masks_env_values(echo: str) -> None:
    runner = FlyctlRunner(echo, default_timeout=20.0)
    seen: list[Invocation] = []
    runner.add_listener(seen.append)
    cmd = FlyCommand(("secrets", "import", "-a", "alpha"), stdin=b"A=1\n", env={"FLYTUI_T_SECRET": SECRET})
    run = await runner.execute(cmd)
    got = json.loads(run.stdout)
    assert got == {"args": list(cmd.args), "env": SECRET, "stdin": "A=1\n"}
    assert run.argv[1:] == list(cmd.args)

    failing = FlyCommand(("apps", "destroy", "alpha", "--fail"), env={"FLYTUI_T_SECRET": SECRET}, check=False)
    done = await runner.execute(failing)
    assert done.returncode == 3  # check=False: no exception, the exit code is the result's
    ended = [i for i in seen if i.returncode is not None]
    assert [i.argv[1:] for i in ended] == [list(cmd.args), list(failing.args)]
    assert all(SECRET not in i.stderr_tail and SECRET not in " ".join(i.argv) for i in seen)
    assert "token was ****" in ended[-1].stderr_tail
