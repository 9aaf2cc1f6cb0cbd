"""Models and parsers against the flyctl samples in tests/fixtures/flyctl/ (copied verbatim)."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flytui.fly.errors import FlyctlOutputError
from flytui.fly.models import (
    App,
    AppStatus,
    Check,
    IPAddress,
    Machine,
    MachineEvent,
    Organization,
    PostgresCluster,
    Release,
    Secret,
    VersionInfo,
    Volume,
    WhoAmI,
    iter_json_values,
    parse_apps,
    parse_checks,
    parse_ips,
    parse_machines,
    parse_postgres_list,
    parse_releases,
    parse_secrets,
    parse_timestamp,
    parse_version_text,
    parse_volumes,
)

FIX = Path(__file__).parent / "fixtures" / "flyctl"
UTC = timezone.utc


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


def text(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# every sample in the fixtures folder is parsed by something
# --------------------------------------------------------------------------------------------

JSON_PARSERS: dict[str, Callable[[Any], Any]] = {
    "recon-apps-list.json": parse_apps,
    "recon-checks-list.json": parse_checks,
    "recon-machine-list.json": parse_machines,
    "recon-secrets-list.json": parse_secrets,
    # flyctl v0.3.178-v0.4.5 (internal/command/secrets/list.go @ v0.4.5: render.JSON of []fly.AppSecret,
    # fly-go v0.2.0 secrets_types.go: name, value omitempty, digest omitempty; 4-space indent)
    "flyctl-v0.4.5-secrets-list.json": parse_secrets,
    "recon-status.json": AppStatus.from_json,
    "recon-version.json": VersionInfo.from_json,
}
TEXT_SAMPLES = {
    "recon-logs-json.txt", "recon-logs.txt", "seed-version.txt", "recon-secrets-list.txt", "seed-secrets-list.txt",
    "errors.txt", "fly.toml", "seed-deploy-local-only.txt", "seed-launch-no-deploy.txt", "seed-payment-error.txt",
    "seed-secrets-set.txt", "seed-ssh-console-alembic.txt",
}


#: sub-folders with their own contract tests (each covers every file of its folder)
FIXTURE_FOLDERS = {"mpg": "tests/test_mpg_client.py, tests/test_mpg_sandbox.py", "parity": "tests/test_parity_sandbox.py"}


def test_every_fixture_is_covered() -> None:
    names = {p.name for p in FIX.iterdir() if p.is_file()}
    assert names == set(JSON_PARSERS) | TEXT_SAMPLES
    assert {p.name for p in FIX.iterdir() if p.is_dir()} == set(FIXTURE_FOLDERS)


@pytest.mark.parametrize("name", sorted(JSON_PARSERS))
def test_json_fixture_parses(name: str) -> None:
    result = JSON_PARSERS[name](load(name))
    assert result  # non-empty model / list / mapping


def test_machine_list_fixture() -> None:
    [m] = parse_machines(load("recon-machine-list.json"))
    assert m.id == "e286065f969386"
    assert m.name == "rough-tree-1360"
    assert m.state == "started"
    assert m.region == "iad"
    assert m.process_group == "app"
    assert m.size == "shared-cpu-1x:256MB"
    assert m.image == "appname:deployment-01GQR4GN7EA8G12VE1DBRQG4KQ"
    assert (m.checks_passing, m.checks_total, m.checks_text) == (1, 1, "1/1")
    assert m.release_version == 3
    assert m.is_user_visible
    assert m.private_ip == "fdaa:0:3b99:a7b:8aeb:fea3:148b:2"
    assert m.created_at == datetime(2023, 1, 25, 21, 35, 32, tzinfo=UTC)
    assert m.guest is not None and (m.guest.cpu_kind, m.guest.cpus, m.guest.memory_mb) == ("shared", 1, 256)
    assert m.env["PRIMARY_REGION"] == "iad"
    assert m.host_status == "ok" and m.cordoned is False
    # events: timestamp is int64 milliseconds
    assert m.events[0] == MachineEvent(
        type="start", status="started", source="flyd",
        timestamp=datetime(2023, 1, 26, 21, 52, 36, 123000, tzinfo=UTC),
    )
    assert m.checks[0].updated_at == datetime(2023, 1, 26, 22, 53, 0, 123000, tzinfo=UTC)
    assert m.config["restart"]["policy"] == "on-failure"


@pytest.mark.parametrize("data", [[], None])
def test_machine_list_empty_array_or_null(data: Any) -> None:
    assert parse_machines(data) == []


def test_apps_list_fixture_pascal_case() -> None:
    [a] = parse_apps(load("recon-apps-list.json"))
    assert (a.name, a.status, a.deployed, a.hostname) == ("my-app", "deployed", True, "my-app.fly.dev")
    assert a.org_slug == "personal"
    assert a.organization == Organization(slug="personal", name="Jane Doe")
    assert a.latest_deploy == datetime(2024, 5, 22, 11, 4, 8, tzinfo=UTC)
    assert parse_apps([]) == []


def test_apps_list_is_pascal_case_only() -> None:
    # snake_case app objects are not what flyctl prints: the required Name is missing
    with pytest.raises(FlyctlOutputError, match="'Name'"):
        parse_apps([{"name": "x"}])


def test_status_fixture() -> None:
    st_ = AppStatus.from_json(load("recon-status.json"))
    assert (st_.name, st_.status, st_.version, st_.org_slug) == ("my-app", "deployed", 12, "personal")
    assert st_.machines == ()
    data = load("recon-status.json")
    data["Machines"] = load("recon-machine-list.json")
    st2 = AppStatus.from_json(data)
    assert [m.id for m in st2.visible_machines] == ["e286065f969386"]


def test_checks_fixture_keyed_by_machine() -> None:
    checks = parse_checks(load("recon-checks-list.json"))
    assert list(checks) == ["e286065f969386"]
    [c] = checks["e286065f969386"]
    assert c == Check(
        name="servicecheck-00-http-8080", status="passing", output="[✓] 200 OK",
        updated_at=datetime(2024, 5, 22, 11, 4, 44, 123000, tzinfo=UTC),
    )
    assert c.passing


def test_secrets_new_and_old_shapes() -> None:
    new = parse_secrets(load("recon-secrets-list.json"))
    assert [(s.name, s.digest, s.status) for s in new] == [
        ("DATABASE_URL", "a1b2c3d4e5f60718", "Deployed"),
        ("SECRET_KEY", "0f1e2d3c4b5a6978", "Staged"),
    ]
    assert [s.is_staged for s in new] == [False, True]
    no_status = parse_secrets([{"name": "A", "digest": "d"}])
    assert no_status == [Secret(name="A", digest="d")]
    old = parse_secrets([{"Name": "DATABASE_URL", "Digest": "eb0aac24db6ab082", "CreatedAt": "2024-05-22T10:00:00Z"}])
    assert old == [Secret("DATABASE_URL", "eb0aac24db6ab082", "", datetime(2024, 5, 22, 10, tzinfo=UTC))]


def test_secrets_machines_api_shapes() -> None:
    # flyctl v0.3.178-v0.4.5: {"name","digest"} only (list.go @ v0.4.5 + fly-go v0.2.0 AppSecret)
    assert parse_secrets(load("flyctl-v0.4.5-secrets-list.json")) == [
        Secret("DATABASE_URL", "eb0aac24db6ab082"), Secret("SECRET_KEY", "7f3c2d1e0a9b8c76")]
    # fly-go >= v0.2.1 AppSecret carries the API's created_at/updated_at strings; flyctl's own parseTimestamp
    # (list.go @ ad0172f) also reads zone-less "2006-01-02T15:04:05[.999999]" (UTC): so do we
    zoneless = parse_secrets([{"name": "A", "digest": "d", "created_at": "2025-09-10T12:00:00",
                               "updated_at": "2025-09-10T12:00:00.123456"},
                              {"name": "B", "digest": "e", "created_at": "2025-09-10T12:00:00.123456789"}])
    assert [s.created_at for s in zoneless] == [datetime(2025, 9, 10, 12, tzinfo=UTC),
                                               datetime(2025, 9, 10, 12, 0, 0, 123456, tzinfo=UTC)]
    with pytest.raises(FlyctlOutputError, match="created_at"):
        parse_secrets([{"name": "A", "created_at": "yesterday"}])


def test_version_json_and_text() -> None:
    v = VersionInfo.from_json(load("recon-version.json"))
    assert (v.name, v.version, v.os, v.arch, v.environment) == ("flyctl", "0.3.164", "darwin", "arm64", "production")
    assert v.version_tuple == (0, 3, 164)
    assert v.build_date == datetime(2025, 7, 30, 12, 20, 14, tzinfo=UTC)
    t = parse_version_text(text("seed-version.txt"))
    assert (t.name, t.version, t.os, t.arch) == ("flyctl", "0.2.50", "darwin", "arm64")
    assert t.build_date == datetime(2024, 5, 8, 14, 4, 18, tzinfo=UTC)
    fly = parse_version_text("fly v0.4.40 linux/amd64 Commit: abc123-dirty BuildDate: 2026-05-01T00:00:00Z BranchName: main\n")
    assert (fly.name, fly.version, fly.commit, fly.branch) == ("fly", "0.4.40", "abc123-dirty", "main")
    with pytest.raises(FlyctlOutputError, match="version"):
        parse_version_text("Error: something else\n")


def test_volume_ip_org_release_pg_whoami() -> None:
    vols = parse_volumes([{
        "id": "vol_123", "name": "pgdata", "state": "created", "size_gb": 10, "region": "iad", "zone": "abcd",
        "encrypted": True, "attached_machine_id": None, "attached_alloc_id": None,
        "created_at": "2024-05-22T11:00:00.5Z", "host_dedication_id": "", "snapshot_retention": 5,
        "auto_backup_enabled": True,
    }])
    assert vols == [Volume("vol_123", "pgdata", "created", 10, "iad", "abcd", True, None,
                           datetime(2024, 5, 22, 11, 0, 0, 500000, tzinfo=UTC))]
    assert parse_volumes([{"id": "v", "attached_machine_id": "m1"}])[0].attached_machine_id == "m1"
    ips = parse_ips([{"ID": "ip_1", "Address": "2a09:8280:1::35:b49f:0", "Type": "v6", "Region": "global",
                      "CreatedAt": "2024-05-22T11:00:00Z", "ServiceName": "", "Network": None}])
    assert ips[0].address.startswith("2a09") and ips[0].type == "v6"
    orgs = Organization.list_from_json({"personal": "Jane Doe", "acme": "Acme Inc"})
    assert orgs == [Organization("personal", "Jane Doe"), Organization("acme", "Acme Inc")]
    rels = parse_releases([{
        "ID": "r1", "Version": 3, "Stable": True, "InProgress": False, "Reason": "change_image",
        "Description": "Deploy image", "Status": "complete", "DeploymentStrategy": "rolling", "Metadata": None,
        "User": {"ID": "u", "Name": "Jane", "Email": "jane@example.com"}, "EvaluationID": "",
        "CreatedAt": "2024-05-22T11:04:08Z", "ImageRef": "registry.fly.io/my-app:deployment-01",
    }])
    assert rels[0].version == 3 and rels[0].user_email == "jane@example.com" and rels[0].stable
    pgs = parse_postgres_list(load("recon-apps-list.json"))
    assert pgs == [PostgresCluster("my-app", "deployed", True, "my-app.fly.dev",
                                   Organization("personal", "Jane Doe"), datetime(2024, 5, 22, 11, 4, 8, tzinfo=UTC))]
    assert WhoAmI.from_json({"email": "jane@example.com"}).email == "jane@example.com"


def test_go_zero_time_is_none() -> None:
    r = Release.from_json({"Version": 1, "CreatedAt": "0001-01-01T00:00:00Z"})
    assert r.created_at is None


def test_user_visible_machines_like_list_active() -> None:
    base = load("recon-machine-list.json")[0]

    def with_(group: str | None = None, state: str = "started") -> Machine:
        d = copy.deepcopy(base)
        d["state"] = state
        if group is not None:
            d["config"]["metadata"]["fly_process_group"] = group
        return Machine.from_json(d)

    assert with_("app").is_user_visible
    assert not with_("fly_app_release_command").is_user_visible
    assert not with_("fly_app_console").is_user_visible
    assert not with_(state="destroyed").is_user_visible
    assert not with_(state="destroying").is_user_visible
    assert with_(state="stopped").is_user_visible


def test_machine_derived_edge_cases() -> None:
    m = Machine.from_json({"id": "m1", "state": "created", "checks": [
        {"name": "a", "status": "passing"}, {"name": "b", "status": "critical"},
        {"name": "bg_deployments_compat_x", "status": "critical"},
    ], "config": {"guest": {"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096}, "image": "img:1"}})
    assert (m.checks_passing, m.checks_total) == (1, 2)
    assert m.size == "performance-2x:4096MB"
    assert m.image == "img:1"  # no image_ref -> config.image
    assert m.release_version is None
    legacy = Machine.from_json({"id": "m2", "state": "stopped", "config": {"metadata": {"process_group": "worker"}}})
    assert legacy.process_group == "worker"
    incomplete = Machine.from_json({"id": "m3", "state": "started", "host_status": "unreachable",
                                    "incomplete_config": {"metadata": {"fly_process_group": "web"}}})
    assert incomplete.process_group == "web"
    exited = Machine.from_json({"id": "m4", "state": "stopped", "events": [
        {"type": "exit", "status": "stopped", "timestamp": 1, "request": {"MonitorEvent": {"exit_event": {"exit_code": 3}}}},
    ]})
    assert exited.last_exit_code == 3


# --------------------------------------------------------------------------------------------
# errors name the command, the field and the object
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "data", "field"),
    [
        (parse_machines, [{"state": "started"}], "'id'"),
        (parse_machines, [{"id": "m1"}], "'state'"),
        (parse_apps, [{"ID": "x"}], "'Name'"),
        (AppStatus.from_json, {"ID": "x"}, "'Name'"),
        (parse_secrets, [{"digest": "d"}], "'name'"),
        (parse_releases, [{"ID": "r"}], "'Version'"),
        (parse_volumes, [{"name": "v"}], "'id'"),
        (parse_ips, [{"Type": "v4"}], "'Address'"),
        (VersionInfo.from_json, {"Name": "flyctl"}, "'Version'"),
        (WhoAmI.from_json, {}, "'email'"),
    ],
)
def test_missing_field(parse: Callable[[Any], Any], data: Any, field: str) -> None:
    with pytest.raises(FlyctlOutputError) as info:
        parse(data)
    assert f"missing field {field}" in info.value.message
    assert "fly " in info.value.message  # names the command


@pytest.mark.parametrize(
    ("parse", "data", "needle"),
    [
        (parse_machines, [{"id": 5, "state": "started"}], "'id' should be a string"),
        (parse_machines, [{"id": "m1", "state": "started", "config": {"guest": {"cpus": "1"}}}], "'cpus' should be an integer"),
        (parse_machines, [{"id": "m1", "state": "started", "cordoned": "no"}], "'cordoned' should be a boolean"),
        (parse_machines, [{"id": "m1", "state": "started", "events": [{"timestamp": "x"}]}], "'timestamp'"),
        (parse_machines, [{"id": "m1", "state": "started", "config": {"metadata": {"k": 1}}}], "'metadata.k'"),
        (parse_machines, {"id": "m1"}, "expected an array"),
        (parse_apps, [{"Name": "a", "Deployed": "yes"}], "'Deployed' should be a boolean"),
        (parse_apps, [{"Name": "a", "Organization": []}], "'Organization' should be an object"),
        (parse_releases, [{"Version": True}], "'Version' should be an integer"),
        (parse_checks, [], "keyed by machine id"),
        # a check's name/status may be absent (fly-go MachineCheckStatus: omitempty), never of another type
        (parse_checks, {"m1": [{"name": "c", "status": 7}]}, "'status' should be a string"),
        (parse_secrets, [{"name": "A", "created_at": "yesterday"}], "RFC3339"),
        (lambda d: Organization.list_from_json(d), {"personal": 1}, "personal"),
    ],
)
def test_wrong_type(parse: Callable[[Any], Any], data: Any, needle: str) -> None:
    with pytest.raises(FlyctlOutputError) as info:
        parse(data)
    assert needle in info.value.message


def test_error_names_the_object() -> None:
    data = load("recon-machine-list.json")
    data[0]["checks"][0]["status"] = 7
    with pytest.raises(FlyctlOutputError) as info:
        parse_machines(data)
    msg = info.value.message
    assert "fly machine list" in msg and "e286065f969386" in msg and "'status'" in msg


def test_timestamps() -> None:
    assert parse_timestamp("2024-05-22T11:04:44.123456789+02:00") == datetime(
        2024, 5, 22, 9, 4, 44, 123456, tzinfo=UTC
    )
    for bad in ("2024-13-01T00:00:00Z", "2024-05-22", "2024-05-22T11:04:44", "2024-05-22T11:04:44+25:00"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)
    assert list(iter_json_values('{"a": 1}\n{"a": 2}  [3]')) == [{"a": 1}, {"a": 2}, [3]]


# --------------------------------------------------------------------------------------------
# property: arbitrary JSON never raises anything but FlyctlOutputError
# --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)

MACHINE_KEYS = ["id", "state", "config", "guest", "metadata", "events", "checks", "image_ref", "timestamp",
                "request", "MonitorEvent", "exit_event", "exit_code", "created_at", "labels", "cpus", "memory_mb"]
APP_KEYS = ["Name", "ID", "Organization", "CurrentRelease", "CreatedAt", "Slug", "Machines", "Version", "User",
            "name", "email", "timestamp", "message", "meta", "Event", "Provider", "Error", "Message"]
keyed_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30)
    | st.sampled_from(["2024-05-22T11:04:44Z", "0001-01-01T00:00:00Z", "9999-99-99T99:99:99Z"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(MACHINE_KEYS + APP_KEYS), children, max_size=6),
    max_leaves=30,
)

ALL_PARSERS: list[Callable[[Any], Any]] = [
    parse_machines, parse_apps, parse_checks, parse_secrets, parse_releases, parse_volumes, parse_ips,
    parse_postgres_list, AppStatus.from_json, VersionInfo.from_json, WhoAmI.from_json, Organization.list_from_json,
    Machine.from_json, App.from_json, Check.from_json, Secret.from_json, Volume.from_json,
    IPAddress.from_json, Release.from_json, MachineEvent.from_json,
]


def _only_output_errors(value: Any) -> None:
    for parse in ALL_PARSERS:
        try:
            result = parse(value)
        except FlyctlOutputError:
            continue
        if isinstance(result, Machine):  # derived properties must not blow up either
            _ = (result.size, result.image, result.process_group, result.release_version,
                 result.is_user_visible, result.checks_text, result.last_exit_code)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_only_raises_output_error(value: Any) -> None:
    _only_output_errors(value)
    _only_output_errors([value])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_values)
def test_plausible_keys_only_raise_output_error(value: Any) -> None:
    _only_output_errors(value)
    _only_output_errors([value])
    _only_output_errors({"m1": [value]})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_text_parsers_never_crash(s: str) -> None:
    try:
        parse_version_text(s)
    except FlyctlOutputError:
        pass
