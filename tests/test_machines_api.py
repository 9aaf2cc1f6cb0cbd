"""The Machines API fast path (flytui/fly/machines_api.py) against the sandbox's API server
(flytui/sandbox/api_server.py): one truth with the sandbox flyctl, auth, token hygiene, fallback, config switch.

Shapes: fly-go @ 22d6e518 flaps/flaps_machines.go ``List``/``Get`` (the list ``fly machine list --json`` prints,
flyctl internal/command/machine/list.go @ ad0172f), flaps/flaps_apps.go ``GetApp``; tokens/tokens.go
``FlapsHeader``; token lookup: flyctl internal/config/config.go ``applyEnv``/``applyFile`` + helpers/config.go.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from flytui.fly.client import FlyClient
from flytui.fly.commandlog import CommandLog
from flytui.fly.machines_api import MachinesAPI, flaps_authorization, token_from_config_file
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.api_server import SandboxApiServer
from flytui.ui.config import Config, ConfigError, parse_config


@pytest.fixture
def sandbox_api(sandbox) -> Iterator[SandboxApiServer]:
    """The sandbox's Machines API on loopback, serving ``sandbox``'s state."""
    server = SandboxApiServer(sandbox.dir).start()
    try:
        yield server
    finally:
        server.stop()


def api_env(sandbox) -> dict[str, str]:
    """The sandbox env without the developer's tokens or ~/.fly (the token comes from `fly auth token`)."""
    env = dict(sandbox.env)
    env.pop("FLY_API_TOKEN", None)
    env.pop("FLY_ACCESS_TOKEN", None)
    env["FLY_CONFIG_DIR"] = str(sandbox.dir)
    return env


def make_client(sandbox, url: str, **kw: Any) -> tuple[FlyClient, MachinesAPI, CommandLog]:
    env = api_env(sandbox)
    runner = FlyctlRunner(sandbox.flyctl, env=env)
    api = MachinesAPI(url, runner=runner, environ=env, **kw)
    log = CommandLog()
    log.attach(runner)
    log.attach(api)
    return FlyClient(runner, api=api), api, log


def seed(sandbox) -> list[str]:
    sandbox.create_app("web", deployed=True)
    sandbox.add_machine("web", state="started")
    sandbox.add_machine("web", state="stopped", region="ams")
    return [m["id"] for m in sandbox.read()["apps"]["web"]["machines"]]


def row(m: Any) -> tuple:
    return (m.id, m.name, m.state, m.region, m.image, m.checks_text, m.process_group, m.size, m.private_ip)


def flyctl_calls(sandbox, *words: str) -> int:
    return sum(1 for argv in sandbox.argv_log() if list(argv[1:1 + len(words)]) == list(words)
               or list(argv[:len(words)]) == list(words))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- one truth ------------------------------------------------------------------------------------
async def test_list_detail_and_status_match_flyctl(sandbox, sandbox_api):
    ids = seed(sandbox)
    client, api, _ = make_client(sandbox, sandbox_api.url)
    assert not api.ready  # cold: reads go to flyctl until warmed (start-up never waits for httpx)
    via_flyctl = await client.machines("web")
    assert await client.warm_api() and api.token_source == "fly auth token"
    before = flyctl_calls(sandbox, "machine", "list")
    via_api = await client.machines("web")
    assert flyctl_calls(sandbox, "machine", "list") == before  # no flyctl process for this poll
    assert sorted(map(row, via_api)) == sorted(map(row, via_flyctl))
    assert sorted(m.id for m in via_api) == sorted(ids)

    one = await client.machine("web", ids[1])
    assert (one.id, one.state, one.region) == (ids[1], "stopped", "ams")

    flyctl_status = await FlyClient(client.runner).status("web")
    api_status = await client.status("web")
    assert (api_status.name, api_status.status, api_status.deployed, api_status.org_slug) == \
        (flyctl_status.name, flyctl_status.status, flyctl_status.deployed, flyctl_status.org_slug)
    assert sorted(map(row, api_status.machines)) == sorted(map(row, flyctl_status.machines))
    paths = [r["path"] for r in sandbox_api.requests]
    assert {"/v1/apps/web/machines", f"/v1/apps/web/machines/{ids[1]}", "/v1/apps/web"} <= set(paths)
    await api.aclose()


async def test_machine_stopped_with_flyctl_is_stopped_via_api_next_poll(sandbox, sandbox_api):
    ids = seed(sandbox)
    client, api, _ = make_client(sandbox, sandbox_api.url)
    await client.warm_api()
    assert {m.id: m.state for m in await client.machines("web")}[ids[0]] == "started"
    done = sandbox.run("machine", "stop", ids[0], "-a", "web")
    assert done.returncode == 0, done.stderr
    served = len(sandbox_api.requests)
    assert {m.id: m.state for m in await client.machines("web")}[ids[0]] == "stopped"
    assert len(sandbox_api.requests) == served + 1 and sandbox_api.requests[-1]["status"] == 200
    await api.aclose()


# --- auth and token hygiene -------------------------------------------------------------------------
async def test_auth_header_sent_and_token_never_in_logs_or_argv(sandbox, sandbox_api, caplog):
    caplog.set_level(logging.DEBUG)
    seed(sandbox)
    token = "fm2_" + "s3cr3t-macaroon-value"  # a macaroon: fly-go sends it as "FlyV1 <token>"
    with sandbox.transaction() as st:
        st["user"]["token"] = token
    client, api, log = make_client(sandbox, sandbox_api.url)
    await client.warm_api()
    assert await api.machines("web") is not None  # served by the API: the server accepted the header
    req = sandbox_api.requests[-1]
    assert (req["auth"], req["auth_ok"], req["status"]) == ("FlyV1", True, 200)

    texts = [" ".join(e.argv) + " " + e.stderr_tail for e in log.entries()]
    assert any(t.startswith("GET /v1/apps/web/machines") for t in texts)
    assert not any(token in t for t in texts)  # command log: method + path only
    assert not any(token in " ".join(argv) for argv in sandbox.argv_log())  # never in any argv
    assert token not in caplog.text
    assert token not in repr(api.__dict__.get("last_fallback"))
    await api.aclose()


async def test_wrong_token_is_refused_then_flyctl_answers_and_token_is_read_again(sandbox, sandbox_api):
    seed(sandbox)
    client, api, log = make_client(sandbox, sandbox_api.url, cooldown=0.0)
    await client.warm_api()
    sandbox.login("demo@example.com")  # a new token: the one flytui holds is stale now
    got = await client.machines("web")
    assert len(got) == 2  # flyctl answered
    assert sandbox_api.requests[-1]["status"] == 401
    failed = [e for e in log.entries() if e.kind == "api" and e.failed]
    assert failed and failed[0].status == "401" and "falling back to flyctl" in failed[0].stderr_tail
    assert await client.machines("web")  # flyctl again; meanwhile the token is looked up again in the background
    deadline = time.monotonic() + 30
    while not api.ready and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert api.ready, "the token was not looked up again after the 401"
    assert await api.machines("web") is not None and sandbox_api.requests[-1]["status"] == 200
    await api.aclose()


def test_flaps_authorization_and_token_sources(tmp_path: Path):
    # tokens/tokens.go Parse + normalized(false, true): macaroons win, the scheme is stripped first
    assert flaps_authorization("fo1_abc") == "Bearer fo1_abc"
    assert flaps_authorization("FlyV1 fm2_a,fm2_b") == "FlyV1 fm2_a,fm2_b"
    assert flaps_authorization("fm1r_x, fo1_y") == "FlyV1 fm1r_x"
    # config.yml as flyctl's yaml.v3 writes it (internal/config/file.go SetAccessToken)
    (tmp_path / "config.yml").write_text("access_token: 'fo1_fromfile'\nlast_login: 2026-01-01T00:00:00Z\n")
    assert token_from_config_file({"FLY_CONFIG_DIR": str(tmp_path)}) == "fo1_fromfile"
    assert token_from_config_file({"FLY_CONFIG_DIR": str(tmp_path / "none")}) is None
    home = tmp_path / "home"
    (home / ".fly").mkdir(parents=True)
    (home / ".fly" / "config.yml").write_text("access_token: fo1_home\n")
    assert token_from_config_file({"HOME": str(home)}) == "fo1_home"


async def test_env_token_wins_over_config_file_and_flyctl(tmp_path: Path):
    (tmp_path / "config.yml").write_text("access_token: fo1_file\n")

    class NoRunner:
        env: dict[str, str] = {}

        async def run(self, *a: str, **k: Any) -> Any:  # pragma: no cover - must not be reached
            raise AssertionError("fly auth token must not run when the env has a token")

    for env, want in (({"FLY_ACCESS_TOKEN": "fo1_a", "FLY_API_TOKEN": "fo1_b"}, ("fo1_a", "FLY_ACCESS_TOKEN")),
                      ({"FLY_API_TOKEN": "fo1_b"}, ("fo1_b", "FLY_API_TOKEN")),
                      ({}, ("fo1_file", "config file"))):
        api = MachinesAPI("http://127.0.0.1:9", runner=NoRunner(), environ={**env, "FLY_CONFIG_DIR": str(tmp_path)})
        assert await api._find_token() == want


# --- fallback ---------------------------------------------------------------------------------------
async def test_server_error_falls_back_to_flyctl_and_is_recorded(sandbox, sandbox_api):
    ids = seed(sandbox)
    client, api, log = make_client(sandbox, sandbox_api.url)
    await client.warm_api()
    sandbox.inject_fault("api", http_status=500, error="flaps is down", times=1)
    before = flyctl_calls(sandbox, "machine", "list")
    got = await client.machines("web")
    assert sorted(m.id for m in got) == sorted(ids)
    assert flyctl_calls(sandbox, "machine", "list") == before + 1  # flyctl answered
    api_entry = next(e for e in log.entries() if e.kind == "api")
    assert api_entry.status == "500" and api_entry.failed
    assert "flaps is down" in api_entry.stderr_tail and "falling back to flyctl" in api_entry.stderr_tail
    assert log.entries()[0].kind != "api"  # the flyctl call came after it
    assert not api.ready  # cooling down: the next polls do not hammer a failing API
    served = len(sandbox_api.requests)
    await client.machines("web")
    assert len(sandbox_api.requests) == served
    await api.aclose()


async def test_connection_refused_falls_back_to_flyctl(sandbox):
    ids = seed(sandbox)
    client, api, log = make_client(sandbox, f"http://127.0.0.1:{free_port()}")
    await client.warm_api()
    got = await client.machines("web")
    assert sorted(m.id for m in got) == sorted(ids)
    api_entry = next(e for e in log.entries() if e.kind == "api")
    assert api_entry.status == "no response" and "falling back to flyctl" in api_entry.stderr_tail
    st = await client.status("web")  # cooling down: straight to flyctl
    assert st.name == "web"
    await api.aclose()


async def test_api_latency_timeout_falls_back(sandbox, sandbox_api):
    seed(sandbox)
    client, api, log = make_client(sandbox, sandbox_api.url, timeout=0.3)
    await client.warm_api()
    sandbox.inject_fault("api", latency=2.0, times=1)
    t0 = time.monotonic()
    got = await client.machines("web")
    assert len(got) == 2 and time.monotonic() - t0 < 10
    assert any(e.kind == "api" and e.failed and "Timeout" in e.stderr_tail for e in log.entries())
    await api.aclose()


# --- config switch ----------------------------------------------------------------------------------
def test_config_keys_parse_and_validate():
    assert Config().machines_api is True and Config().machines_api_url is None
    cfg = parse_config('machines_api = false\nmachines_api_url = "http://127.0.0.1:4280"\n')
    assert (cfg.machines_api, cfg.machines_api_url) == (False, "http://127.0.0.1:4280")
    with pytest.raises(ConfigError, match="machines_api_url"):
        parse_config('machines_api_url = "ftp://x"')
    with pytest.raises(ConfigError, match="machines_api"):
        parse_config('machines_api = "yes"')


async def test_switch_off_means_flyctl_only(sandbox, sandbox_api):
    from flytui.cli import _make_client

    seed(sandbox)
    env = api_env(sandbox)
    off = _make_client(sandbox.flyctl, env, None, Config(machines_api=False, machines_api_url=sandbox_api.url))
    assert off.api is None and await off.warm_api() is False
    before = flyctl_calls(sandbox, "machine", "list")
    assert len(await off.machines("web")) == 2
    assert (await off.status("web")).name == "web"
    assert flyctl_calls(sandbox, "machine", "list") == before + 1
    assert sandbox_api.requests == []

    on = _make_client(sandbox.flyctl, env, None, Config(machines_api_url=sandbox_api.url))
    assert on.api is not None and on.api.base_url == sandbox_api.url
    assert await on.warm_api()
    assert len(await on.machines("web")) == 2 and sandbox_api.requests[-1]["path"] == "/v1/apps/web/machines"
    await on.api.aclose()


async def test_polls_reuse_one_keep_alive_connection(sandbox, sandbox_api):
    seed(sandbox)
    client, api, _ = make_client(sandbox, sandbox_api.url)
    await client.warm_api()
    for _ in range(5):
        assert len(await client.machines("web")) == 2
    peers = {r["peer"] for r in sandbox_api.requests}
    assert len(sandbox_api.requests) == 5 and len(peers) == 1  # HTTP/1.1 keep-alive: one connection
    await api.aclose()


async def test_concurrency_is_bounded(sandbox, sandbox_api):
    seed(sandbox)
    client, api, _ = make_client(sandbox, sandbox_api.url, concurrency=3)
    await client.warm_api()
    sandbox.inject_fault("api", latency=0.2)  # every request takes a while: they pile up unless bounded
    results = await asyncio.gather(*(api.machines("web") for _ in range(12)))
    assert all(r is not None and len(r) == 2 for r in results)
    assert sandbox_api.peak_in_flight == 3  # never more than the bound, and the bound was used
    assert len({r["peer"] for r in sandbox_api.requests}) == 3  # one keep-alive connection per slot
    await api.aclose()


# --- every app's status: one ListApps per organization (flytui/fly/statuses.py) -----------------------
# Shape: fly-go @ 22d6e518 flaps/flaps_apps.go ``ListApps`` (``GET /v1/apps?org_slug=ORG`` -> ``{"apps": [App]}``,
# the same ``App`` as ``GetApp``); the published OpenAPI spec's ``ListApp`` (``id``, ``name``, ``machine_count``,
# ``network``; no ``status``) is the sandbox fault ``list_shape="openapi"``.
def seed_orgs(sandbox) -> list[str]:
    sandbox.add_org("acme", "Acme Corp")
    sandbox.create_app("web", deployed=True)
    sandbox.add_machine("web", state="started")
    sandbox.create_app("api")  # never deployed: pending
    sandbox.create_app("worker", "acme", deployed=True)
    sandbox.add_machine("worker", state="stopped")
    sandbox.create_app("sleepy", "acme", deployed=True)
    with sandbox.transaction() as st:
        st["apps"]["sleepy"]["status"] = "suspended"
    return ["api", "sleepy", "web", "worker"]


async def statuses_via_flyctl(client: FlyClient, names: list[str]) -> dict[str, tuple]:
    plain = FlyClient(client.runner)
    return {n: ((st := await plain.status(n)).name, st.status, st.deployed, st.org_slug) for n in names}


def key(st: Any) -> tuple:
    return (st.name, st.status, st.deployed, st.org_slug)


async def test_every_apps_status_in_one_request_per_org_matches_flyctl(sandbox, sandbox_api):
    from flytui.fly.statuses import gather_statuses

    names = seed_orgs(sandbox)
    client, api, log = make_client(sandbox, sandbox_api.url)
    apps = await client.apps()
    orgs = {a.name: a.org_slug for a in apps}
    assert sorted(orgs) == names and orgs["worker"] == "acme"
    truth = await statuses_via_flyctl(client, names)
    assert {v[1] for v in truth.values()} == {"deployed", "pending", "suspended"}
    assert await client.warm_api()
    status_calls = flyctl_calls(sandbox, "status")
    got = await gather_statuses(client, names, orgs=orgs)
    assert {n: key(st) for n, st in got.items()} == truth
    assert flyctl_calls(sandbox, "status") == status_calls  # no flyctl process
    assert sorted((r["path"], r["status"]) for r in sandbox_api.requests) == [("/v1/apps", 200)] * 2
    api_argv = sorted(e.argv[1] for e in log.entries() if e.kind == "api")
    assert api_argv == ["/v1/apps?org_slug=acme", "/v1/apps?org_slug=personal"]

    # one truth: a change made with the sandbox flyctl is what the next refresh shows
    assert sandbox.run("machine", "stop", sandbox.read()["apps"]["web"]["machines"][0]["id"], "-a", "web")\
        .returncode == 0
    with sandbox.transaction() as st:
        st["apps"]["web"]["status"] = "suspended"
    again = await gather_statuses(client, names, orgs=orgs)
    assert key(again["web"]) == ("web", "suspended", True, "personal") == (await statuses_via_flyctl(client, ["web"]))["web"]
    await api.aclose()


async def test_list_without_status_reads_those_apps_one_by_one(sandbox, sandbox_api):
    from flytui.fly.statuses import gather_statuses

    names = seed_orgs(sandbox)
    client, api, _ = make_client(sandbox, sandbox_api.url)
    orgs = {a.name: a.org_slug for a in await client.apps()}
    truth = await statuses_via_flyctl(client, names)
    await client.warm_api()
    sandbox.inject_fault("api", list_shape="openapi")  # the documented ListApp: id, name, machine_count, network
    status_calls = flyctl_calls(sandbox, "status")
    got = await gather_statuses(client, names, orgs=orgs)
    assert {n: key(st) for n, st in got.items()} == truth
    assert flyctl_calls(sandbox, "status") == status_calls and api.last_fallback is None
    paths = [r["path"] for r in sandbox_api.requests]
    assert paths.count("/v1/apps") == 2  # asked once per org, then GetApp + List for each app
    assert all(paths.count(f"/v1/apps/{n}") == 1 and paths.count(f"/v1/apps/{n}/machines") == 1 for n in names)
    await api.aclose()


async def test_list_failure_falls_back_to_flyctl_per_app_and_is_recorded(sandbox, sandbox_api):
    from flytui.fly.statuses import gather_statuses

    names = seed_orgs(sandbox)
    client, api, log = make_client(sandbox, sandbox_api.url)
    orgs = {a.name: a.org_slug for a in await client.apps()}
    truth = await statuses_via_flyctl(client, names)
    await client.warm_api()
    sandbox.inject_fault("api", http_status=500, error="flaps is down", times=1)
    status_calls = flyctl_calls(sandbox, "status")
    got = await gather_statuses(client, names, orgs=orgs)
    assert {n: key(st) for n, st in got.items()} == truth
    failed = [e for e in log.entries() if e.kind == "api" and e.failed]
    assert failed and "flaps is down" in failed[0].stderr_tail and "falling back to flyctl" in failed[0].stderr_tail
    # the failed organization's apps were read with flyctl (the other org's request was already answered)
    failed_org = failed[0].argv[1].rsplit("=", 1)[1]
    assert flyctl_calls(sandbox, "status") == status_calls + sum(1 for o in orgs.values() if o == failed_org)
    assert not api.ready  # cooling down: the next refresh goes straight to flyctl
    await gather_statuses(client, names, orgs=orgs)
    assert len([e for e in log.entries() if e.kind == "api"]) == len(failed) + 1
    await api.aclose()
