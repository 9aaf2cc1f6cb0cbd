"""History load of the largest corpus project (langflow, 162 revisions, 30 merges) through flytui vs its own
``alembic history``. One run of each; prints the times and the ratio.

flytui: what the migrations view does when it opens — ``prepare`` (settings + discovery), the session, and
``MigrationSession.snapshot()`` (``load_history``: Alembic's ScriptDirectory in flytui's Python with the ini's
``prepend_sys_path``, importing every revision module; the lane graph; the states), in this fresh process, so the
imports of sqlmodel & co. are paid like on the view's first open; then a reload (the view's `r`).
alembic: the project's own command as its developers run it: ``alembic -c langflow/alembic.ini history`` from the
ini's folder, with the repository's virtual environment (a new process: interpreter start, imports, revisions).

Usage: python bench/bench_corpus_history.py
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROJECT = ROOT / "tests" / "fixtures" / "alembic_corpus" / "langflow"


async def flytui_history() -> tuple[float, float, int, str]:
    from flytui.fly.runner import FlyctlRunner
    from flytui.db.migration_setup import make_session, prepare

    started = time.perf_counter()
    setup = prepare(PROJECT)
    session = make_session(FlyctlRunner(), None, None, setup, setup.projects[0], None)
    snap = await session.snapshot()
    took = time.perf_counter() - started
    started = time.perf_counter()
    await session.snapshot()  # the view's reload (`r`): the imports are paid, the revision files are read again
    again = time.perf_counter() - started
    return took, again, len(snap.history.revisions), snap.history.how


def alembic_history() -> tuple[float, int, list[str]]:
    from flytui.db.interpreter import find_alembic_command

    ini = PROJECT / "langflow" / "alembic.ini"
    argv = [*find_alembic_command(ini.parent).argv, "-c", str(ini), "history"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ini.parent, capture_output=True, text=True, check=True)
    took = time.perf_counter() - started
    return took, sum(1 for line in done.stdout.splitlines() if " -> " in line), argv


def main() -> None:
    ours, again, n_ours, how = asyncio.run(flytui_history())
    theirs, n_theirs, argv = alembic_history()
    print(f"project: {PROJECT.relative_to(ROOT)} ({n_ours} revisions)")
    print(f"flytui  prepare + session + snapshot: {ours * 1000:8.0f} ms  ({how})")
    print(f"alembic {' '.join(Path(a).name if i == 0 else a for i, a in enumerate(argv[:1] + argv[3:]))}: "
          f"{theirs * 1000:8.0f} ms  ({n_theirs} lines)")
    print(f"flytui  reload (snapshot again):      {again * 1000:8.0f} ms")
    print(f"ratio flytui / alembic history: {ours / theirs:.2f}x first open, {again / theirs:.2f}x reload")
    if n_ours != n_theirs:
        print(f"WARNING: flytui read {n_ours} revisions, alembic listed {n_theirs}")


if __name__ == "__main__":
    main()
