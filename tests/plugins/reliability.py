"""The reliability report: figures recorded by ``@pytest.mark.reliability`` tests, printed at the end.

Tests use the ``reliability`` fixture (a :class:`Figures` shared by the whole run)::

    def test_x(reliability):
        reliability.add("cycles run", 1)
        reliability.add("orphans found", len(orphans))

Whenever a reliability test ran, ``pytest_terminal_summary`` prints a "flytui reliability report" block
(the figures the README's "Reliability" section quotes) with the pass/fail count of those tests.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

#: figures always shown (0 when nothing recorded them), in this order
FIGURES = ("cycles run", "orphans found", "fuzz cases run", "crashes", "secrets leaked", "faults survived")


class Figures:
    """Counters of the reliability report (process-wide for one pytest run)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.tests: Counter[str] = Counter()  # outcome -> n, for reliability-marked tests

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def __getitem__(self, name: str) -> int:
        return self.counts[name]


_FIGURES = Figures()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: reliability/security suite (issue 8); figures go to the report")


@pytest.fixture(scope="session")
def reliability() -> Figures:
    """The run's reliability figures."""
    return _FIGURES


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "reliability" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _FIGURES.tests["xfailed" if hasattr(report, "wasxfail") else report.outcome] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its figures to the controller (see ``pytest_testnodedown``)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["flytui_reliability"] = dict(_FIGURES.counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: add up the figures every worker recorded."""
    _FIGURES.counts.update(getattr(node, "workeroutput", {}).get("flytui_reliability", {}))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _FIGURES.tests:
        return
    tr = terminalreporter
    tr.section("flytui reliability report")
    for name in FIGURES:
        tr.write_line(f"{name:<24} {_FIGURES.counts[name]}")
    for name in sorted(set(_FIGURES.counts) - set(FIGURES)):
        tr.write_line(f"{name:<24} {_FIGURES.counts[name]}")
    outcome = ", ".join(f"{n} {k}" for k, n in sorted(_FIGURES.tests.items()))
    tr.write_line(f"{'tests':<24} {outcome}")
