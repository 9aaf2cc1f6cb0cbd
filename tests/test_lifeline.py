"""flytui/fly/lifeline.py: children die with their parent; the owner watch sees a dead (or reused) pid."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from flytui.fly.lifeline import die_with_parent, owner_alive, owner_token

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_child_of_a_killed_parent_dies() -> None:
    # a middle process spawns a long sleep with die_with_parent(), prints its pid, then is SIGKILLed
    middle = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import subprocess, sys, time
        from flytui.fly.lifeline import die_with_parent
        child = subprocess.Popen(["sleep", "600"], preexec_fn=die_with_parent(), start_new_session=True)
        print(child.pid, flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    assert middle.stdout is not None
    child = int(middle.stdout.readline())
    assert _alive(child)
    middle.kill()
    middle.wait()
    end = time.monotonic() + 5
    while _alive(child) and time.monotonic() < end:
        time.sleep(0.02)
    assert not _alive(child), "the child outlived its SIGKILLed parent"


def test_owner_token_tracks_the_process_not_the_pid() -> None:
    me = owner_token()
    assert owner_alive(me)
    proc = subprocess.Popen(["sleep", "600"])
    token = owner_token(proc.pid)
    assert owner_alive(token)
    proc.kill()
    proc.wait()
    assert not owner_alive(token)
    pid, _, start = me.partition(":")
    assert not owner_alive(f"{pid}:{int(start) + 1}")  # same pid, another start time: a reused pid
    assert owner_alive("not-a-token")  # never kill on a misunderstanding


def test_die_with_parent_is_a_callable_on_linux() -> None:
    fn = die_with_parent()
    assert callable(fn)
    out = subprocess.run([sys.executable, "-c", "print('ok')"], preexec_fn=fn, capture_output=True, text=True)
    assert out.stdout.strip() == "ok" and os.getpid()
