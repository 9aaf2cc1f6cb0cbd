#!/usr/bin/env python3
"""Zero-setup entry points: `python3 tasks.py demo`, `python3 tasks.py test`, `python3 tasks.py reliability`.

Creates `.venv` next to this file on first use (Python >= 3.11 is the only
prerequisite), installs flytui into it, then runs the demo or the test suite.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".flytui-installed"


def _fingerprint(extras: str) -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"flytui needs Python >= 3.11 (this is {sys.version.split()[0]})")
    if not PY.exists():
        print(f"creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = _fingerprint(extras)
    if STAMP.exists() and STAMP.read_text() == want:
        return
    print(f"installing flytui[{extras}] into {VENV} (a minute or two on the first run) ...", flush=True)
    print("  [1/2] upgrading pip ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=False)
    print("  [2/2] installing flytui and its dependencies (Textual, SQLAlchemy, psycopg, Alembic, "
          "embedded PostgreSQL ...) ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(want)
    print("  done.", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "reliability", "bench", "shell"}:
        print(__doc__)
        print("usage: python3 tasks.py demo | test [pytest args] | reliability | bench")
        return 2
    cmd, rest = argv[0], argv[1:]
    # one environment serves every task, so demo and test never reinstall each other
    ensure_venv("dev")
    env = dict(os.environ)
    if cmd == "demo":
        return subprocess.call([str(BIN / "flytui"), "--demo", *rest], env=env)
    if cmd == "test":
        lint = subprocess.call([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, env=env)
        if lint != 0:
            print("import contracts broken (see above)")
            return lint
        # the linter and the type checker (config in pyproject.toml: mypy strict for flytui.fly and flytui.db)
        for name, check in (("ruff", [str(BIN / "ruff"), "check", "."]), ("mypy", [str(BIN / "mypy")])):
            rc = subprocess.call(check, cwd=ROOT, env=env)
            if rc != 0:
                print(f"{name} failed (see above)")
                return rc
        pytest = [str(PY), "-m", "pytest", "--durations=15"]  # the slowest tests, listed at the end
        # one seed for the whole run (both pytest calls and every xdist worker): a failure prints it with its
        # worker and neighbours (tests/plugins/flakeinfo.py), so a flake can be replayed
        env.setdefault("FLYTUI_TEST_SEED", str(int.from_bytes(os.urandom(4), "big")))
        print(f"test seed: FLYTUI_TEST_SEED={env['FLYTUI_TEST_SEED']}", flush=True)
        if any(a.startswith(("-n", "--numprocesses", "-m")) or a == "no:xdist" for a in rest):
            return subprocess.call([*pytest, *rest], cwd=ROOT, env=env)  # the caller chose: one plain run
        # The suite mostly waits on child processes (sandbox flyctl, Postgres, uvicorn), so 3 workers keep two
        # cores busy (one test file per worker). Tests marked `serial` measure responsiveness or throughput and
        # run afterwards, alone, so the other workers cannot starve them.
        workers = os.environ.get("FLYTUI_TEST_WORKERS", "3")
        first = subprocess.call([*pytest, "-n", workers, "--dist", "loadfile", "-m", "not serial", *rest],
                                cwd=ROOT, env=env)
        second = subprocess.call([*pytest, "-p", "no:xdist", "-m", "serial", *rest], cwd=ROOT, env=env)
        if second == 5 and first == 0:  # no serial test among the selected ones
            second = 0
        return first or second
    if cmd == "reliability":  # the reliability/security suite (issue 8); pytest prints the figures at the end
        return subprocess.call([str(PY), "-m", "pytest", "-m", "reliability", "-q", *rest], cwd=ROOT, env=env)
    if cmd == "bench":
        rc = 0
        for script in sorted((ROOT / "bench").glob("bench_*.py")):
            print(f"== {script.name}", flush=True)
            rc |= subprocess.call([str(PY), str(script), *rest], cwd=ROOT, env=env)
        return rc
    return subprocess.call([str(PY), *rest], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
