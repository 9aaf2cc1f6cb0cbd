"""Issue 19: the sandbox's new flyctl commands print what flyctl @ ad0172f prints (tests/fixtures/flyctl/parity/,
sources in its SOURCES.md), and flytui's parsers read those samples."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flytui.fly.ops import Invitation, OrgDetails, parse_leases, services_from_machines
from flytui.fly.models import parse_machines
from flytui.sandbox.commands.parity import hold_lease, seed_members

FIX = Path(__file__).parent / "fixtures" / "flyctl" / "parity"


def sample(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def shape(value):  # type: ignore[no-untyped-def]
    """Keys and JSON types, recursively (values differ between a sample and the sandbox)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def ids(text: str, mid: str) -> str:
    return text.replace(mid, "ID")


def test_samples_parse() -> None:
    leases = parse_leases(json.loads(sample("leases-view.json")))
    lease = leases["3d8d9016b24e89"]
    assert lease.owner == "ci@example.com" and lease.nonce == "a1b2c3d4e5f6" and lease.expires_at.year == 2026
    assert parse_leases(json.loads(sample("leases-view-empty.json"))) == {}
    org = OrgDetails.from_json(json.loads(sample("orgs-show.json")))
    assert org.slug == "acme" and org.viewer_role == "admin"
    assert [(m.email, m.role) for m in org.members] == [("jane@example.com", "admin"), ("bob@example.com", "member")]
    inv = Invitation.from_json(json.loads(sample("orgs-invite.json")))
    assert inv.email == "carol@example.com" and inv.org == "acme" and not inv.redeemed


def test_machine_commands_print_flyctls_lines(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    mid = sandbox.add_machine("alpha", state="started")["id"]
    for name, argv in (("cordon.txt", ["machine", "cordon", mid]), ("uncordon.txt", ["machine", "uncordon", mid]),
                       ("kill.txt", ["machine", "kill", mid])):
        run = sandbox.run(*argv, "-a", "alpha")
        assert run.returncode == 0, run.stderr
        assert ids(run.stdout, mid) == ids(sample(name), "3d8d9016b24e89"), name
    sandbox.run("machine", "start", mid, "-a", "alpha")
    run = sandbox.run("machine", "stop", mid, "--signal", "sigusr1", "-a", "alpha")
    assert ids(run.stdout, mid) == ids(sample("stop-signal.txt"), "3d8d9016b24e89")
    assert next(m for m in sandbox.read()["apps"]["alpha"]["machines"])["sandbox"]["stop_signal"] == "SIGUSR1"
    # kill takes one id (cobra.RangeArgs(0, 1))
    run = sandbox.run("machine", "kill", mid, mid, "-a", "alpha")
    assert run.returncode == 1 and run.stderr.strip() == "Error: accepts between 0 and 1 arg(s), received 2"


def test_leases_view_clear_and_a_held_lease_refuses_cordon_stop_restart(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    mid = sandbox.add_machine("alpha", state="started")["id"]
    assert json.loads(sandbox.run("machine", "leases", "view", mid, "-a", "alpha", "--json").stdout) == {}
    hold_lease(sandbox, "alpha", mid, owner="ci@example.com")
    data = json.loads(sandbox.run("machine", "leases", "view", mid, "-a", "alpha", "--json").stdout)
    assert shape(data[mid]) == shape(json.loads(sample("leases-view.json"))["3d8d9016b24e89"])
    for argv in (["machine", "cordon", mid], ["machine", "stop", mid], ["machine", "restart", mid],
                 ["apps", "restart", "alpha"]):
        run = sandbox.run(*argv, "-a", "alpha") if argv[0] == "machine" else sandbox.run(*argv)
        assert run.returncode == 1, argv
        assert re.match(rf"Error: failed to obtain lease: failed to get lease on VM {mid}: .*lease currently held by "
                        r"ci@example\.com", run.stderr), run.stderr
    assert next(iter(sandbox.read()["apps"]["alpha"]["machines"]))["state"] == "started"
    run = sandbox.run("machine", "leases", "clear", mid, "-a", "alpha")
    assert ids(run.stdout, mid) == ids(sample("leases-clear.txt"), "3d8d9016b24e89")
    assert sandbox.run("machine", "cordon", mid, "-a", "alpha").returncode == 0


def test_apps_restart_restarts_started_machines_only(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    started = sandbox.add_machine("alpha", state="started")["id"]
    sandbox.add_machine("alpha", state="stopped")
    run = sandbox.run("apps", "restart", "alpha")
    assert ids(run.stdout, started) == ids(sample("apps-restart.txt"), "3d8d9016b24e89")
    sandbox.create_postgres("alpha-db")
    run = sandbox.run("apps", "restart", "alpha-db")
    assert run.stderr.strip() == "Error: postgres apps should use `fly pg restart` instead"


def test_services_list_matches_flytuis_grouping(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    sandbox.add_machine("alpha", state="started")
    sandbox.add_machine("alpha", state="stopped")
    assert sandbox.run("services", "list", "-a", "alpha").stdout == sample("services-list.txt")
    assert sandbox.run("services", "list", "-a", "alpha", "--json").stderr.strip() == \
        "Error: outputting to json is not yet supported"
    machines = parse_machines(json.loads(sandbox.run("machine", "list", "-a", "alpha", "--json").stdout))
    got = {(s.protocol, s.ports, s.handlers, s.force_https, s.machines) for s in services_from_machines(machines)}
    assert got == {("TCP", "80 => 8080", "[HTTP]", "True", 2), ("TCP", "443 => 8080", "[HTTP,TLS]", "False", 2)}


def test_orgs_show_invite_remove_and_the_silent_exits(sandbox) -> None:
    seed_members(sandbox, "personal", [{"email": "demo@example.com", "name": "Demo", "role": "admin"},
                                       {"email": "bob@example.com", "name": "Bob", "role": "member"}])
    data = json.loads(sandbox.run("orgs", "show", "personal", "--json").stdout)
    assert shape(data) == shape(json.loads(sample("orgs-show.json")))
    inv = json.loads(sandbox.run("orgs", "invite", "personal", "carol@example.com", "--json").stdout)
    assert shape(inv) == shape(json.loads(sample("orgs-invite.json")))
    run = sandbox.run("orgs", "remove", "personal", "bob@example.com")
    assert run.stdout == sample("orgs-remove.txt").replace("Acme", "demo@example.com").replace("acme", "personal")
    assert sandbox.run("orgs", "remove", "personal", "bob@example.com").stderr.strip() == "Error: user not found"
    for argv in (["orgs", "invite", "nope", "x@example.com"], ["orgs", "remove", "nope", "x@example.com"]):
        run = sandbox.run(*argv)
        assert (run.returncode, run.stdout, run.stderr) == (0, "", ""), argv  # flyctl's `return nil`


@pytest.mark.parametrize("line", [ln for ln in sample("errors.txt").splitlines() if ln.startswith("Error:")])
def test_every_error_sample_names_its_source(line: str) -> None:
    assert " # " in line and (".go" in line or "cobra" in line)


def test_env_tokens_follow_flyctls_order(sandbox) -> None:
    """internal/config/config.go applyEnv: the first of FLY_ACCESS_TOKEN, FLY_API_TOKEN that exists, even empty."""
    import subprocess

    from flytui.fly.errors import NotLoggedIn, classify
    from flytui.sandbox.commands.parity import add_token

    sandbox.add_org("acme")
    add_token(sandbox, "tok-acme", "ops@acme.example", ["acme"])

    def whoami(**env: str) -> subprocess.CompletedProcess:
        full = {k: v for k, v in sandbox.env.items() if k not in ("FLY_ACCESS_TOKEN", "FLY_API_TOKEN")}
        return subprocess.run([sandbox.flyctl, "auth", "whoami"], env={**full, **env}, capture_output=True,
                              text=True, timeout=30)

    assert whoami().stdout.strip() == "demo@example.com"
    assert whoami(FLY_API_TOKEN="tok-acme").stdout.strip() == "ops@acme.example"
    assert whoami(FLY_ACCESS_TOKEN="", FLY_API_TOKEN="tok-acme").stdout.strip() == "demo@example.com"
    assert whoami(FLY_ACCESS_TOKEN="tok-acme", FLY_API_TOKEN="nope").stdout.strip() == "ops@acme.example"
    bad = whoami(FLY_API_TOKEN="nope")
    assert bad.returncode == 1 and bad.stderr.strip() == "Error: unauthorized"
    assert isinstance(classify(["fly", "auth", "whoami"], 1, bad.stderr, ""), NotLoggedIn)
