"""One flytui migration run in its own OS process, for the two-processes concurrency test (issue 8, property 5).

Usage: ``python -m tests.helpers.migrate_process PROJECT_DIR RUN_DIR NAME`` with ``MIGRATE_URL`` (the
attached ``postgres://`` DATABASE_URL: env only, never argv), ``FLYTUI_FLYCTL`` and the sandbox env.

It does what the migrations pane does — ``MigrationSession`` + the app's ``TunnelManager`` (its own
``fly proxy``) — connects, writes ``RUN_DIR/NAME.ready``, waits for ``RUN_DIR/go`` so both processes run
``upgrade head`` at the same moment, then writes ``RUN_DIR/NAME.json``:
``{"outcome": "ran"|"locked"|"error", "message", "hint", "steps", "heads_after", "pid"}``.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path


async def run(project_dir: Path, run_dir: Path, name: str) -> dict:
    from flytui.db.alembic_service import find_alembic_project
    from flytui.db.lock import MigrationLocked
    from flytui.db.migrations import MigrationAction, MigrationSession, RunSummary
    from flytui.db.tunnel import TunnelManager
    from flytui.fly.runner import FlyctlRunner

    runner = FlyctlRunner(os.environ["FLYTUI_FLYCTL"], grace=1.0)
    tunnels = TunnelManager(runner, idle_timeout=0.2, backoff_base=0.05, backoff_cap=0.2, ready_timeout=15.0)
    project = find_alembic_project(project_dir)
    assert project is not None
    session = MigrationSession(project, runner=runner, tunnels=tunnels,
                               alembic_command=[sys.executable, "-m", "alembic"])
    out: dict = {"pid": os.getpid()}
    try:
        session.set_url(os.environ["MIGRATE_URL"])
        await session.connect()
        (run_dir / f"{name}.ready").write_text("")
        deadline = time.monotonic() + 30
        while not (run_dir / "go").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        try:
            summary = [e async for e in session.run(MigrationAction("upgrade", "head"))][-1]
            assert isinstance(summary, RunSummary)
            out.update(outcome="ran" if summary.ok else "error", message=summary.note, hint="",
                       steps=[p.revision for p in summary.result.steps], heads_after=list(summary.heads_after or ()))
        except MigrationLocked as exc:
            out.update(outcome="locked", message=exc.message, hint=exc.hint, steps=[], heads_after=None,
                       holders=exc.pids)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        out.update(outcome="error", message=f"{type(exc).__name__}: {exc}", hint="", steps=[], heads_after=None)
    finally:
        await session.close()
        await tunnels.close_all()
    return out


def main() -> int:
    project_dir, run_dir, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    result = asyncio.run(run(project_dir, run_dir, name))
    (run_dir / f"{name}.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
