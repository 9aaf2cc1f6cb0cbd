"""Migrations benchmarks. Prints times and ratios.

1. History view load for a generated 500-revision project (branches, merges): flytui's in-process
   ``MigrationSession.snapshot()`` (ScriptDirectory + lane graph + states, what the pane needs) vs the
   ``alembic history`` CLI on the same folder (goal <= 1.0x).
2. ``upgrade head`` of the demo project: flytui (``MigrationSession.run``: advisory lock, subprocess with
   progress parsing, heads before/after) vs plain ``alembic upgrade head`` on the same URL, against an
   embedded PostgreSQL, each on a fresh database (goal <= 1.2x).

Usage: python bench/bench_migrations.py [revisions] [repeats]
"""
from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ALEMBIC = [sys.executable, "-m", "alembic"]


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


async def bench_history(tmp: Path, n: int, repeats: int) -> tuple[float, float]:
    from flytui.db.migrations import MigrationSession
    from flytui.db.alembic_service import find_alembic_project
    from tests.helpers.revgen import branching_chain, write_project

    proj = write_project(tmp / "hist", branching_chain(n))
    project = find_alembic_project(proj)
    assert project is not None
    ours, cli = [], []
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://x@localhost/x"}
    for _ in range(repeats):
        t0 = time.perf_counter()
        snap = await MigrationSession(project, alembic_command=ALEMBIC).snapshot()
        ours.append(time.perf_counter() - t0)
        assert len(snap.history.revisions) == n and snap.history.source == "alembic"
        t0 = time.perf_counter()
        out = subprocess.run([*ALEMBIC, "-c", str(proj / "alembic.ini"), "history"], cwd=proj, env=env,
                             capture_output=True, text=True, check=True).stdout
        cli.append(time.perf_counter() - t0)
        assert out.count("\n") >= n
    return _median(ours), _median(cli)


async def bench_upgrade(tmp: Path, repeats: int) -> tuple[float, float]:
    from flytui.db.alembic_service import find_alembic_project
    from flytui.db.migrations import MigrationAction, MigrationSession
    from flytui.sandbox.demo import copy_demo_project
    from flytui.sandbox.postgres import EmbeddedPostgres

    proj = copy_demo_project(tmp / "demo", "bench-demo")
    project = find_alembic_project(proj)
    assert project is not None
    server = EmbeddedPostgres()
    server.start(timeout=60)
    ours, cli = [], []
    try:
        for i in range(repeats):
            for which in ("flytui", "cli"):
                db = f"bench_{which}_{i}"
                server.create_database(db)
                url = server.url(db)
                t0 = time.perf_counter()
                if which == "flytui":
                    session = MigrationSession(project, alembic_command=ALEMBIC)
                    session.set_url(url)
                    summary = [e async for e in session.run(MigrationAction("upgrade", "head"))][-1]
                    assert summary.ok and summary.heads_after == ("0002_todo",), summary.note
                    ours.append(time.perf_counter() - t0)
                else:
                    subprocess.run([*ALEMBIC, "-c", str(proj / "alembic.ini"), "upgrade", "head"], cwd=proj,
                                   env={**os.environ, "DATABASE_URL": url}, capture_output=True, check=True)
                    cli.append(time.perf_counter() - t0)
                server.drop_database(db)
    finally:
        server.stop()
    return _median(ours), _median(cli)


async def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="flytui-bench-mig-") as d:
        tmp = Path(d)
        ours, cli = await bench_history(tmp, n, repeats)
        print(f"history view, {n} revisions: flytui {ours:.3f}s  alembic history CLI {cli:.3f}s  "
              f"ratio {ours / cli:.2f}x (goal <= 1.0x)")
        ours, cli = await bench_upgrade(tmp, repeats)
        print(f"upgrade head (demo, embedded PostgreSQL): flytui {ours:.3f}s  alembic CLI {cli:.3f}s  "
              f"ratio {ours / cli:.2f}x (goal <= 1.2x)")


if __name__ == "__main__":
    asyncio.run(main())
