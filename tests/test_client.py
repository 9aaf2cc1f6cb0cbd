"""FlyClient argv building against a recording fake runner (end-to-end sandbox tests come later)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flytui.fly.client import (
    DeployOptions,
    FlyClient,
    encode_secret_line,
    encode_secrets_import,
    ssh_exit_status,
    validate_app_name,
)
from flytui.fly.errors import AppNotFound, FlyctlError, FlyctlOutputError, NotLoggedIn
from flytui.fly.runner import CompletedRun
from flytui.sandbox.commands.secrets import parse_secrets as flyctl_parse_secrets  # parser.go @ ad0172f, ported

FIX = Path(__file__).parent / "fixtures" / "flyctl"


@dataclass
class Call:
    kind: str  # run | json | spawn
    args: tuple[str, ...]
    stdin: bytes | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


class FakeProcess:
    def __init__(self, args: tuple[str, ...]) -> None:
        self.argv = ["fly", *args]


class FakeRunner:
    """Records every call; returns canned JSON / CompletedRun values queued per command prefix."""

    path = "/usr/local/bin/fly"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.json: dict[str, Any] = {}
        self.runs: dict[str, CompletedRun] = {}

    def _key(self, args: tuple[str, ...]) -> str:
        return " ".join(a for a in args[:2])

    async def run(self, *args: str, stdin: bytes | None = None, timeout: float | None = None,
                  check: bool = True, cwd: str | None = None) -> CompletedRun:
        self.calls.append(Call("run", args, stdin, {"timeout": timeout, "check": check, "cwd": cwd}))
        canned = self.runs.get(self._key(args))
        if canned is not None:
            return canned
        return CompletedRun(argv=["fly", *args], returncode=0, stdout="", stderr="", duration=0.01)

    async def execute(self, command: Any) -> CompletedRun:  # FlyctlRunner.execute: the command's own options
        return await self.run(*command.args, stdin=command.stdin, timeout=command.timeout, check=command.check,
                              cwd=command.cwd)

    async def run_json(self, *args: str, timeout: float | None = None, stdin: bytes | None = None) -> Any:
        self.calls.append(Call("json", args, stdin, {"timeout": timeout}))
        value = self.json[self._key(args)]
        if isinstance(value, Exception):
            raise value
        return value

    def spawn(self, *args: str, stdin: bytes | None = None, keep_stdin_open: bool = False,
              max_line: int = 4096, cwd: str | None = None) -> FakeProcess:
        self.calls.append(Call("spawn", args, stdin, {"keep_stdin_open": keep_stdin_open, "cwd": cwd}))
        return FakeProcess(args)

    def all_argv_text(self) -> str:
        return "\n".join(" ".join(c.args) for c in self.calls)


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


@pytest.fixture
def fake() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def client(fake: FakeRunner) -> FlyClient:
    return FlyClient(fake)


# --------------------------------------------------------------------------------------------
# read commands: exact argv + parsed models
# --------------------------------------------------------------------------------------------


async def test_read_commands_argv_and_models(fake: FakeRunner, client: FlyClient) -> None:
    fake.json.update({
        "version --json": load("recon-version.json"),
        "auth whoami": {"email": "jane@example.com"},
        "orgs list": {"personal": "Jane Doe"},
        "apps list": load("recon-apps-list.json"),
        "status -a": load("recon-status.json"),
        "machine list": load("recon-machine-list.json"),
        "secrets list": load("recon-secrets-list.json"),
        "releases -a": [],
        "checks list": load("recon-checks-list.json"),
        "volumes list": [],
        "ips list": [],
        "postgres list": [],
    })
    assert (await client.version()).version == "0.3.164"
    assert (await client.whoami()).email == "jane@example.com"
    assert [o.slug for o in await client.orgs()] == ["personal"]
    assert [a.name for a in await client.apps()] == ["my-app"]
    await client.apps(org="acme")
    assert (await client.status("my-app")).version == 12
    assert (await client.machines("my-app"))[0].size == "shared-cpu-1x:256MB"
    assert [s.name for s in await client.secrets("my-app")] == ["DATABASE_URL", "SECRET_KEY"]
    assert await client.releases("my-app") == []
    assert list(await client.checks("my-app")) == ["e286065f969386"]
    assert await client.volumes("my-app") == []
    assert await client.ips("my-app") == []
    assert await client.postgres_list() == []
    assert [c.args for c in fake.calls] == [
        ("version", "--json"),
        ("auth", "whoami", "--json"),
        ("orgs", "list", "--json"),
        ("apps", "list", "--json"),
        ("apps", "list", "--json", "-o", "acme"),
        ("status", "-a", "my-app", "--json"),
        ("machine", "list", "-a", "my-app", "--json"),
        ("secrets", "list", "-a", "my-app", "--json"),
        ("releases", "-a", "my-app", "--json"),
        ("checks", "list", "-a", "my-app", "--json"),
        ("volumes", "list", "-a", "my-app", "--json"),
        ("ips", "list", "-a", "my-app", "--json"),
        ("postgres", "list", "--json"),
    ]
    assert all(c.kind == "json" for c in fake.calls)


async def test_version_falls_back_to_text(fake: FakeRunner, client: FlyClient) -> None:
    fake.json["version --json"] = FlyctlOutputError("flyctl printed nothing")
    fake.runs["version"] = CompletedRun(
        argv=["fly", "version"], returncode=0, duration=0.0, stderr="",
        stdout=(FIX / "seed-version.txt").read_text(encoding="utf-8"),
    )
    info = await client.version()
    assert info.version == "0.2.50" and info.name == "flyctl"
    assert [c.args for c in fake.calls] == [("version", "--json"), ("version",)]


async def test_machine_by_id(fake: FakeRunner, client: FlyClient) -> None:
    fake.json["machine list"] = load("recon-machine-list.json")
    m = await client.machine("my-app", "e286065f969386")
    assert m.name == "rough-tree-1360"
    with pytest.raises(FlyctlError, match="not found"):
        await client.machine("my-app", "nope")


async def test_bad_json_surfaces_output_error(fake: FakeRunner, client: FlyClient) -> None:
    fake.json["machine list"] = {"unexpected": "object"}
    with pytest.raises(FlyctlOutputError, match="fly machine list"):
        await client.machines("my-app")


# --------------------------------------------------------------------------------------------
# mutating commands
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["start", "stop", "restart", "suspend", "destroy"])
async def test_machine_actions(fake: FakeRunner, client: FlyClient, action: str) -> None:
    await client.machine_action("my-app", "e286", action)  # type: ignore[arg-type]
    assert fake.calls[-1].args == ("machine", action, "e286", "-a", "my-app")


async def test_machine_destroy_force_and_bad_action(fake: FakeRunner, client: FlyClient) -> None:
    await client.machine_action("my-app", "e286", "destroy", force=True)
    assert fake.calls[-1].args == ("machine", "destroy", "e286", "-a", "my-app", "--force")
    await client.machine_action("my-app", "e286", "stop", force=True)  # --force only for destroy
    assert fake.calls[-1].args == ("machine", "stop", "e286", "-a", "my-app")
    with pytest.raises(ValueError, match="Unknown machine action"):
        await client.machine_action("my-app", "e286", "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await client.machine_action("my-app", "--force", "stop")


async def test_destructive_commands_pass_yes(fake: FakeRunner, client: FlyClient) -> None:
    await client.destroy_app("my-app")
    await client.destroy_volume("my-app", "vol_123")
    await client.scale_count("my-app", 2, "web")
    assert [c.args for c in fake.calls] == [
        ("apps", "destroy", "my-app", "--yes"),
        ("volumes", "destroy", "vol_123", "-a", "my-app", "--yes"),
        ("scale", "count", "2", "--process-group", "web", "-a", "my-app", "--yes"),
    ]
    await client.scale_vm("my-app", "shared-cpu-2x")
    assert fake.calls[-1].args == ("scale", "vm", "shared-cpu-2x", "-a", "my-app")
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError):
            await client.scale_count("my-app", bad)  # type: ignore[arg-type]


async def test_create_app(fake: FakeRunner, client: FlyClient) -> None:
    fake.json["apps create"] = load("recon-apps-list.json")[0]
    app = await client.create_app("my-app", "personal")
    assert app.name == "my-app"
    assert fake.calls[-1].args == ("apps", "create", "my-app", "--org", "personal", "--json")
    n = len(fake.calls)
    # flyctl's rule (flytui/fly/names.py): [a-z0-9-] only, <= 63 characters; a leading dash would be a flag
    for bad in ("My-App", "app_name", "", "a" * 64, "-a", "app name"):
        with pytest.raises(ValueError):
            await client.create_app(bad, "personal")
    assert len(fake.calls) == n  # nothing ran for invalid names
    await client.create_app("1app", "personal")  # flyctl accepts a leading digit (plan_builder.go validateAppName)
    assert fake.calls[-1].args[:3] == ("apps", "create", "1app")


def test_validate_app_name_messages() -> None:
    assert validate_app_name("a" * 63) == "a" * 63
    with pytest.raises(ValueError, match="63"):
        validate_app_name("a" * 64)
    with pytest.raises(ValueError, match="lowercase letters, digits and dashes"):
        validate_app_name("Bad")


# --------------------------------------------------------------------------------------------
# secrets: values on stdin only
# --------------------------------------------------------------------------------------------

SECRET_VALUES = {
    "DATABASE_URL": "postgresql+psycopg://app:s3cr3t-pw@db.flycast:5432/app?sslmode=disable",
    "PEM": "-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----\n",
    "QUOTED": '"hello world"',
    "SPACED": "  leading spaces",
}


async def test_set_secrets_uses_stdin_only(fake: FakeRunner, client: FlyClient) -> None:
    await client.set_secrets("my-app", SECRET_VALUES)
    call = fake.calls[-1]
    assert call.kind == "run"
    assert call.args == ("secrets", "import", "-a", "my-app")
    assert call.stdin is not None
    assert flyctl_parse_secrets(call.stdin) == SECRET_VALUES
    argv_text = fake.all_argv_text()
    for value in SECRET_VALUES.values():
        for piece in value.split("\n"):
            if len(piece.strip()) > 4:
                assert piece.strip() not in argv_text
    assert call.kwargs["timeout"] and call.kwargs["timeout"] >= 600  # rolls machines


async def test_set_secrets_stage_and_unset(fake: FakeRunner, client: FlyClient) -> None:
    await client.set_secrets("my-app", {"A": "1"}, stage=True)
    assert fake.calls[-1].args == ("secrets", "import", "-a", "my-app", "--stage")
    assert fake.calls[-1].stdin == b"A=1\n"
    await client.unset_secrets("my-app", ["A", "B"], stage=True)
    assert fake.calls[-1].args == ("secrets", "unset", "A", "B", "-a", "my-app", "--stage")
    assert fake.calls[-1].stdin is None
    with pytest.raises(ValueError):
        await client.set_secrets("my-app", {})
    with pytest.raises(ValueError):
        await client.set_secrets("my-app", {"BAD NAME": "x"})
    with pytest.raises(ValueError):
        await client.unset_secrets("my-app", [])


def test_secret_encoding_examples() -> None:
    # encodings parser.go @ ad0172f reads back exactly (see flytui/fly/secrets.py)
    assert encode_secret_line("A", "plain value") == "A=plain value"
    assert encode_secret_line("A", "") == "A="
    assert encode_secret_line("A", '"q"') == "A='\"q\"'"
    assert encode_secret_line("A", " x") == "A=' x'"
    assert encode_secret_line("A", "x\r") == "A='x\r'"
    assert encode_secret_line("A", "pw#1") == 'A="pw#1"'
    assert encode_secret_line("A", 'x"#1') == 'A=x"#1'
    assert encode_secret_line("A", "'") == "A='''"
    assert encode_secret_line("A", '""#') == 'A="""""#"""'
    assert encode_secret_line("A", "l1\nl2") == 'A="""l1\nl2"""'
    assert encode_secrets_import({"A": "1", "B": "2"}) == b"A=1\nB=2\n"
    for bad in ("a\nb\"\"\"\nc", "a\r\nb", 'x"#\ny', "nul\x00"):  # import cannot carry these
        with pytest.raises(ValueError):
            encode_secret_line("A", bad)
    with pytest.raises(ValueError, match="at most 65535 bytes"):
        encode_secret_line("A", "x" * 70_000)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list('ab "\'\n\r#=\\\t') + ["é", '"""']), max_size=25).map("".join))
def test_secret_encoding_round_trips_or_refuses(value: str) -> None:
    try:
        payload = encode_secrets_import({"NAME": value, "AFTER": "z"})
    except ValueError:
        assert "\n" in value  # every one-line value has an exact import encoding
        return
    assert flyctl_parse_secrets(payload) == {"NAME": value, "AFTER": "z"}


# --------------------------------------------------------------------------------------------
# streaming / long-lived processes
# --------------------------------------------------------------------------------------------


def test_deploy_argv(fake: FakeRunner, client: FlyClient) -> None:
    client.deploy("my-app", local_only=True, ha=False, strategy="rolling", build_args={"PY": "3.12"}, cwd="/proj")
    call = fake.calls[-1]
    assert call.kind == "spawn"
    assert call.args == ("deploy", "-a", "my-app", "--yes", "--local-only", "--ha=false", "--strategy", "rolling",
                         "--build-arg", "PY=3.12")
    assert call.kwargs["cwd"] == "/proj"
    client.deploy("my-app", DeployOptions(remote_only=True, image="registry.fly.io/my-app:v2", detach=True))
    assert fake.calls[-1].args == ("deploy", "-a", "my-app", "--yes", "--remote-only",
                                   "--image", "registry.fly.io/my-app:v2", "--detach")
    client.deploy("my-app")
    assert fake.calls[-1].args == ("deploy", "-a", "my-app", "--yes")
    with pytest.raises(ValueError, match="not both"):
        client.deploy("my-app", local_only=True, remote_only=True)


def test_logs_argv(fake: FakeRunner, client: FlyClient) -> None:
    client.logs("my-app")
    assert fake.calls[-1].args == ("logs", "-a", "my-app", "--json")
    client.logs("my-app", machine="e286", region="iad", follow=False)
    assert fake.calls[-1].args == ("logs", "-a", "my-app", "--json", "-i", "e286", "-r", "iad", "--no-tail")
    assert all(c.kind == "spawn" for c in fake.calls)


def test_proxy_argv(fake: FakeRunner, client: FlyClient) -> None:
    client.proxy(15432, 5432, "my-db")
    call = fake.calls[-1]
    assert call.args == ("proxy", "15432:5432", "-a", "my-db", "--watch-stdin")
    assert call.kwargs["keep_stdin_open"] is True
    client.proxy(0, 22, "my-app", host="e286.vm.my-app.internal")
    assert fake.calls[-1].args == ("proxy", "0:22", "e286.vm.my-app.internal", "-a", "my-app", "--watch-stdin")
    with pytest.raises(ValueError):
        client.proxy(70000, 5432, "my-db")


# --------------------------------------------------------------------------------------------
# ssh console
# --------------------------------------------------------------------------------------------


def test_ssh_exit_status() -> None:
    assert ssh_exit_status(0, "") == 0
    assert ssh_exit_status(1, "Error: ssh shell: Process exited with status 3\n") == 3
    assert ssh_exit_status(1, "Error: app my-app has no started VMs.\nIt may be unhealthy") is None


async def test_ssh_command_argv(fake: FakeRunner, client: FlyClient) -> None:
    await client.ssh_command("fastapi-zero", "alembic upgrade head")
    assert fake.calls[-1].args == ("ssh", "console", "-a", "fastapi-zero", "-C", "alembic upgrade head")
    assert fake.calls[-1].kwargs["check"] is False
    await client.ssh_command("fastapi-zero", "ls", machine="e286")
    assert fake.calls[-1].args == ("ssh", "console", "-a", "fastapi-zero", "-C", "ls", "--machine", "e286")


async def test_read_database_url(fake: FakeRunner, client: FlyClient) -> None:
    url = "postgres://fly_demo_test:pw@fly-demo-test-postgres.flycast:5432/fly_demo_test?sslmode=disable"
    fake.runs["ssh console"] = CompletedRun(
        argv=[], returncode=0, duration=0.0, stderr="",
        stdout=f"Connecting to fdaa:9:4109:a7b:b4f1:12d8:1709:2... complete\n{url}\n",
    )
    assert await client.read_database_url("fly-demo-test") == url
    assert fake.calls[-1].args == ("ssh", "console", "-a", "fly-demo-test", "-C", "printenv DATABASE_URL")
    fake.runs["ssh console"] = CompletedRun(
        argv=[], returncode=1, duration=0.0, stdout="", stderr="Error: ssh shell: Process exited with status 1\n"
    )
    assert await client.read_database_url("fly-demo-test") is None
    fake.runs["ssh console"] = CompletedRun(
        argv=["fly", "ssh"], returncode=1, duration=0.0, stdout="",
        stderr="Error: no access token available. Please login with 'flyctl auth login'\n",
    )
    with pytest.raises(NotLoggedIn):
        await client.read_database_url("fly-demo-test")
    fake.runs["ssh console"] = CompletedRun(
        argv=["fly", "ssh"], returncode=1, duration=0.0, stdout="",
        stderr="Error: the app name nope could not be found, did you create the app or misspell it in the fly.toml file or via -a?\n",
    )
    with pytest.raises(AppNotFound):
        await client.read_database_url("nope")
