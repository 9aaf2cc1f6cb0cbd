"""Sandbox: per-machine faults and the log generator's JSON rendering (its throughput: bench/bench_log_generator.py)."""
from __future__ import annotations

from flytui.sandbox.commands import logs as sandbox_logs


def test_machine_fault_applies_only_to_that_machine(sandbox) -> None:
    sandbox.create_app("alpha")
    a, b = (sandbox.add_machine("alpha", state="started")["id"] for _ in range(2))
    sandbox.inject_fault("machine restart", fail="failed to restart machine: lease currently held", exit=1,
                         machine=b, times=1)
    ok = sandbox.run("machine", "restart", a, "-a", "alpha")
    assert ok.returncode == 0 and f"Machine {a} restarted successfully!" in ok.stdout
    assert sandbox._faults()["machine restart"]["times"] == 1  # not consumed by another machine
    bad = sandbox.run("machine", "restart", b, "-a", "alpha")
    assert bad.returncode == 1 and "lease currently held" in bad.stderr
    assert "machine restart" not in sandbox._faults()
    again = sandbox.run("machine", "restart", b, "-a", "alpha")
    assert again.returncode == 0
    events = {m["id"]: [e["type"] for e in m["events"]] for m in sandbox.read()["apps"]["alpha"]["machines"]}
    assert events[a].count("restart") == 1 and events[b].count("restart") == 1


def test_json_template_renders_exactly_like_the_encoder() -> None:
    e = {"level": "info", "instance": "3d8d9013b9e418", "region": "nrt", "timestamp": "2026-01-02T03:04:05.123Z",
         "provider": "app", "message": 'INFO: <b>&"q"\\ é\ttab'}
    assert sandbox_logs.render_json(e) == sandbox_logs.render_json_slow(e)
