"""Make a flake reproducible when it happens.

Every failing test report gets a "flake info" section: the xdist worker that ran it, the tests that worker ran
before it (a flake that needs its neighbours shows here), the run's seed, the machine's load and a command
that reruns it alone and in the same order. The seed (``FLYTUI_TEST_SEED``, else a fresh one printed in the
header) seeds ``random`` before every test and is handed to Hypothesis, so a rerun with the same seed makes
the same choices. ``tasks.py test`` adds ``--durations`` so the slowest tests are listed at the end.
"""
from __future__ import annotations

import os
import random
import secrets
import shlex
from typing import Any

import pytest

_SEED_ENV = "FLYTUI_TEST_SEED"
_history: list[str] = []


def _seed() -> int:
    value = os.environ.get(_SEED_ENV)
    if not value:  # the controller picks one; xdist workers inherit it through the environment
        value = str(secrets.randbelow(2**32))
        os.environ[_SEED_ENV] = value
    return int(value)


def pytest_configure(config: pytest.Config) -> None:
    seed = _seed()
    if getattr(config.option, "hypothesis_seed", None) is None:  # --hypothesis-seed given: it wins
        try:
            from hypothesis import core
        except ImportError:  # pragma: no cover - hypothesis is a dev dependency
            return
        core.global_force_seed = seed  # what --hypothesis-seed sets


def pytest_report_header(config: pytest.Config) -> str:
    return f"flytui test seed: {_seed()} (rerun with {_SEED_ENV}={_seed()})"


def pytest_runtest_setup(item: pytest.Item) -> None:
    random.seed(f"{_seed()}:{item.nodeid}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "teardown":
        _history.append(item.nodeid)
    if not report.failed:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main process")
    before = [n for n in _history if n != item.nodeid][-8:]
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    rerun = ["python3", "tasks.py", "test", "-p", "no:xdist", *dict.fromkeys([*before[-3:], item.nodeid])]
    lines = [
        f"failed in {report.when} on worker {worker} (seed {_seed()}, load average {load}, cores {os.cpu_count()})",
        "tests this worker ran just before it:" if before else "it was the first test of its worker",
        *(f"  {n}" for n in before),
        f"rerun: {_SEED_ENV}={_seed()} {shlex.join(rerun)}",
    ]
    report.sections.append(("flake info", "\n".join(lines)))
