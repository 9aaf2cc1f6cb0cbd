"""Contract tests: the sandbox flyctl prints the same shapes as real flyctl (tests/fixtures/sandbox/)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures" / "sandbox"


def fixture_json(name: str):
    return json.loads((FIX / name).read_text())


def keys(obj: dict) -> set[str]:
    return {k for k in obj if k != "..."}


def test_version_text_and_compact_json(sandbox):
    r = sandbox.run("version")
    assert r.returncode == 0
    assert r.stdout.startswith("flyctl v0.3.164 linux/")
    assert " Commit: " in r.stdout and " BuildDate: " in r.stdout
    rj = sandbox.run("version", "--json")
    assert rj.stdout.count("\n") == 1, "fly version --json is one compact line"
    assert set(json.loads(rj.stdout)) == set(fixture_json("recon-version.json"))


def test_whoami_json_is_four_space_indented(sandbox):
    r = sandbox.run("auth", "whoami", "-j")
    assert r.stdout == '{\n    "email": "demo@example.com"\n}\n'
    assert sandbox.run("auth", "whoami").stdout == "demo@example.com\n"


def test_apps_list_json_pascal_case_like_recon(sandbox):
    sandbox.create_app("my-app")
    sandbox.create_postgres("my-db")
    data = json.loads(sandbox.run("apps", "list", "--json").stdout)
    recon = fixture_json("recon-apps-list.json")[0]
    assert [a["Name"] for a in data] == ["my-app", "my-db"]
    assert keys(recon) <= set(data[0])
    assert keys(recon["Organization"]) <= set(data[0]["Organization"])
    assert data[1]["CurrentRelease"]["Status"] == "complete"
    assert keys(recon["CurrentRelease"]) <= set(data[1]["CurrentRelease"])
    assert data[0]["CurrentRelease"] is None and data[0]["Status"] == "pending"


def test_empty_lists(sandbox):
    assert sandbox.run("apps", "list").stdout == "No apps found\n"
    assert sandbox.run("apps", "list", "--json").stdout == "[]\n"
    assert sandbox.run("pg", "list").stdout == "No postgres clusters found\n"
    sandbox.create_app("bare")
    assert sandbox.run("m", "ls", "-a", "bare").stdout == "No machines are available on this app bare\n"
    assert json.loads(sandbox.run("machines", "list", "-a", "bare", "--json").stdout) == []


def test_apps_list_table_headers(sandbox):
    sandbox.create_app("my-app")
    out = sandbox.run("apps", "list").stdout
    header = out.splitlines()[0]
    assert [c.strip() for c in header.split("\t")] == ["NAME", "OWNER", "STATUS", "LATEST DEPLOY"]
    assert out.endswith("\n\n"), "tables end with a blank line"


@pytest.mark.parametrize("argv", [["machine", "list"], ["machines", "ls"], ["m", "list"], ["machine", "ls"]])
def test_machine_list_aliases_and_shape(sandbox, argv):
    sandbox.create_app("my-app")
    m = sandbox.add_machine("my-app", state="started")
    data = json.loads(sandbox.run(*argv, "--app", "my-app", "-j").stdout)
    recon = fixture_json("recon-machine-list.json")[0]
    assert set(data[0]) == set(recon)
    assert data[0]["id"] == m["id"] and len(m["id"]) == 14
    assert set(data[0]["config"]) >= {"env", "guest", "metadata", "services", "image", "restart"}
    assert isinstance(data[0]["events"][0]["timestamp"], int)
    assert set(data[0]["checks"][0]) == set(recon["checks"][0])
    assert "sandbox" not in data[0]


def test_machine_list_text(sandbox):
    sandbox.create_app("my-app")
    sandbox.add_machine("my-app")
    lines = sandbox.run("machine", "list", "-a", "my-app").stdout.splitlines()
    assert lines[0] == "1 machines have been retrieved from app my-app."
    assert lines[3] == "my-app"
    assert [c.strip() for c in lines[4].split("\t")] == [
        "ID", "NAME", "STATE", "CHECKS", "REGION", "ROLE", "IMAGE", "IP ADDRESS", "VOLUME", "CREATED",
        "LAST UPDATED", "PROCESS GROUP", "SIZE"]


def test_status_json_keys(sandbox):
    sandbox.create_app("my-app")
    data = json.loads(sandbox.run("status", "-a", "my-app", "--json").stdout)
    recon = fixture_json("recon-status.json")
    assert set(data) == set(recon)
    assert set(data["Organization"]) == set(recon["Organization"])
    assert list(data) == sorted(data), "Go map keys are sorted"


def test_secrets_list_formats(sandbox):
    sandbox.create_app("my-app")
    sandbox.set_secret("my-app", "DATABASE_URL", "postgres://x")
    sandbox.set_secret("my-app", "SECRET_KEY", "s3cret", staged=True)
    data = json.loads(sandbox.run("secrets", "list", "-a", "my-app", "--json").stdout)
    recon = fixture_json("recon-secrets-list.json")
    assert [set(d) for d in data] == [set(d) for d in recon]
    assert [(d["name"], d["status"]) for d in data] == [("DATABASE_URL", "Deployed"), ("SECRET_KEY", "Staged")]
    assert all(len(d["digest"]) == 16 for d in data)
    text = sandbox.run("secrets", "ls", "-a", "my-app").stdout
    want = [ln for ln in (FIX / "recon-secrets-list.txt").read_text().splitlines() if not ln.startswith("#")]
    got = text.splitlines()
    assert [c.strip() for c in got[0].split("\t")] == [c.strip() for c in want[0].split("\t")]
    assert got[2].startswith("* SECRET_KEY")
    assert got[-1] == want[-1]
    assert "s3cret" not in text


def test_checks_list_json_keyed_by_machine(sandbox):
    sandbox.create_app("my-app")
    m = sandbox.add_machine("my-app", state="started")
    data = json.loads(sandbox.run("checks", "list", "-a", "my-app", "--json").stdout)
    recon = fixture_json("recon-checks-list.json")
    assert list(data) == [m["id"]]
    assert set(data[m["id"]][0]) == set(next(iter(recon.values()))[0])


def test_machine_actions_texts(sandbox):
    sandbox.create_app("my-app")
    mid = sandbox.add_machine("my-app", state="stopped")["id"]
    r = sandbox.run("machine", "start", mid, "-a", "my-app")
    assert r.stdout == f"{mid} has been started\n"
    r = sandbox.run("machine", "destroy", mid, "-a", "my-app")
    assert r.returncode == 1
    assert r.stderr == f"Error: machine {mid} currently started, either stop first or use --force flag\n"
    r = sandbox.run("machine", "stop", mid, "-a", "my-app")
    assert r.stdout == f"Sending kill signal to machine {mid}...\n{mid} has been successfully stopped\n"
    r = sandbox.run("m", "destroy", mid, "-a", "my-app")
    assert r.stdout == (f"machine {mid} was found and is currently in stopped state, attempting to destroy...\n"
                        f"{mid} has been destroyed\n")
    assert sandbox.read()["apps"]["my-app"]["machines"] == []


def test_errors_exact(sandbox):
    r = sandbox.run("status", "-a", "nope")
    assert (r.returncode, r.stderr) == (1, 'Error: failed to get app: Could not find App "nope"\n')
    r = sandbox.run("frobnicate")
    assert r.returncode == 1
    assert r.stderr == 'Error: unknown command "frobnicate" for "flyctl"\n'
    assert r.stdout == "Run 'flyctl --help' for usage.\n"
    r = sandbox.run("apps", "list", "--bogus")
    assert r.stderr == "Error: unknown flag: --bogus\n"
    sandbox.create_app("taken")
    r = sandbox.run("apps", "create", "taken", "--org", "personal")
    assert r.stderr == "Error: Name has already been taken\n"
    r = sandbox.run("apps", "destroy", "taken")
    assert r.returncode == 1 and r.stderr.endswith("Error: prompt: non interactive\n")
    r = sandbox.run("secrets", "set", "-a", "taken")  # set.go:33 @ ad0172f cmd.Args = cobra.MinimumNArgs(1)
    assert r.stderr == "Error: requires at least 1 arg(s), only received 0\n"
    r = sandbox.run("secrets", "import", "-a", "taken", stdin="# only a comment\n")  # import.go:48-50
    assert r.stderr == "Error: requires at least one SECRET=VALUE pair\n"


def test_logged_out(sandbox):
    sandbox.logout()
    r = sandbox.run("apps", "list")
    assert r.returncode == 1
    assert r.stderr == "Error: no access token available. Please login with 'flyctl auth login'\n"
    assert sandbox.run("version").returncode == 0


def test_apps_create_and_destroy(sandbox):
    r = sandbox.run("apps", "create", "new-app", "--org", "personal", "--json")
    assert json.loads(r.stdout)["Name"] == "new-app"
    assert sandbox.run("apps", "destroy", "new-app", "--yes").stdout == "Destroyed app new-app\n"
    assert "new-app" not in sandbox.read()["apps"]


def test_secrets_import_multiline_and_quotes(sandbox):
    sandbox.create_app("my-app")
    data = 'A=plain\nB="quoted value"\nC="""line1\nline2"""\n# comment\nD=\'single\'\n'
    r = sandbox.run("secrets", "import", "-a", "my-app", "--stage", stdin=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Secrets have been staged, but not set on VMs.")
    secrets = sandbox.read()["apps"]["my-app"]["secrets"]
    assert {k: v["value"] for k, v in secrets.items()} == {
        "A": "plain", "B": "quoted value", "C": "line1\nline2", "D": "single"}
    assert all(v["status"] == "Staged" for v in secrets.values())
    entry = sandbox.argv_log_entries()[-1]
    assert entry["stdin_len"] == len(data.encode()) and "plain" not in json.dumps(entry)


def test_secrets_set_before_first_deploy(sandbox):
    sandbox.create_app("my-app")
    r = sandbox.run("secrets", "set", "X=1", "-a", "my-app")
    assert r.stdout == "Secrets are staged for the first deployment\n"


def test_logs_no_tail_plain_and_json(sandbox):
    from flytui.sandbox.procs import append_log

    sandbox.create_app("my-app")
    append_log(sandbox.log_path("my-app"), "e286065f969386", "iad", "Listening on 0.0.0.0:8080")
    append_log(sandbox.log_path("my-app"), "e286065f969386", "iad", "GET / 200")
    plain = sandbox.run("logs", "-a", "my-app", "--no-tail").stdout.splitlines()
    assert plain[0].endswith(" app[e286065f969386] iad [info]Listening on 0.0.0.0:8080")
    raw = sandbox.run("logs", "-a", "my-app", "--no-tail", "--json").stdout
    dec = json.JSONDecoder()
    objs, i = [], 0
    while i < len(raw.strip()):
        obj, j = dec.raw_decode(raw, i)
        objs.append(obj)
        i = j + 1
    recon = json.loads((FIX / "recon-logs-json.txt").read_text().split("\n}\n")[0] + "\n}")
    assert len(objs) == 2 and set(objs[0]) == set(recon) and set(objs[0]["meta"]) == set(recon["meta"])
    assert raw.startswith('{\n    "level": "info",')
