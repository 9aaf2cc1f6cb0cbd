"""Sandbox SSH: `fly ssh issue` credentials and the hallpass-like server behind `fly proxy L:22` (real asyncssh)."""
from __future__ import annotations

import re
import secrets
import stat
import subprocess
from pathlib import Path

import asyncssh
import pytest

BANNER_FIRST = "!!!! WARNING: We're now prompting you to save an SSH private key and certificate       !!!!"


def _web_app(sb, tmp_path: Path, *, started: bool = True) -> tuple[str, dict]:
    name = f"web-{secrets.token_hex(3)}"
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker.txt").write_text("in the app dir\n")
    sb.create_app(name, source_dir=str(src))
    machine = sb.add_machine(name, state="started" if started else "stopped")
    sb.set_secret(name, "GREETING", "hello from secrets")
    return name, machine


def _issue(sb, path: Path, *extra: str):
    return sb.run("ssh", "issue", "personal", str(path), *extra)


def test_ssh_issue_writes_key_and_cert(sandbox, tmp_path):
    key = tmp_path / "id_fly"
    r = _issue(sandbox, key, "--hours", "2")
    assert r.returncode == 0, r.stderr
    assert BANNER_FIRST in r.stdout
    assert r.stdout.endswith(f"Wrote 2-hour SSH credential to {key}, {key}-cert.pub\n")
    for p in (key, Path(f"{key}-cert.pub")):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    private = asyncssh.read_private_key(str(key))
    assert private.algorithm == b"ssh-ed25519"
    assert private.get_comment() == "fly.io"
    cert = asyncssh.read_certificate(f"{key}-cert.pub")
    assert cert.principals == ["root", "fly"]
    assert cert.key.public_data == private.public_data
    assert 2 * 3600 <= cert._valid_before - cert._valid_after <= 2 * 3600 + 120
    ca = asyncssh.read_private_key(str(sandbox.dir / "ssh" / "ca"))
    assert cert.signing_key.public_data == ca.public_data
    assert stat.S_IMODE((sandbox.dir / "ssh" / "ca").stat().st_mode) == 0o600

    # O_EXCL without --overwrite: refused, files untouched
    before = key.read_bytes()
    r = _issue(sandbox, key)
    assert r.returncode == 1
    assert f"Can't open private key file: open {key}: file exists\n" in r.stdout
    assert r.stderr == "Error: prompt: non interactive\n"
    assert key.read_bytes() == before


def test_ssh_issue_overwrite_rules_and_arguments(sandbox, tmp_path):
    other = tmp_path / "not_fly"
    other.write_text("my own key\n")
    r = _issue(sandbox, other, "--overwrite")
    assert r.returncode == 1
    assert "File exists, but isn't a fly.io ed25519 private key\n" in r.stdout
    assert other.read_text() == "my own key\n"

    flyish = tmp_path / "flyish"
    flyish.write_text("# issued by fly.io\n")
    r = _issue(sandbox, flyish, "--overwrite", "-u", "root")
    assert r.returncode == 0, r.stderr
    assert asyncssh.read_certificate(f"{flyish}-cert.pub").principals == ["root"]

    assert sandbox.run("ssh", "issue").stderr == "Error: org slug must be specified when not running interactively\n"
    r = _issue(sandbox, tmp_path / "x", "--hours", "73")
    assert (r.returncode, r.stderr) == (1, "Error: Invalid expiration time (1-72 hours)\n\n")
    r = sandbox.run("ssh", "issue", "personal")
    assert (r.returncode, r.stderr) == (1, "Error: prompt: non interactive\n")


def _proxy(sb, *args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sb.flyctl, "proxy", *args, "--watch-stdin"], env=sb.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.fullmatch(r"Proxying localhost:(\d+) to remote \[(.+)\]:22\n", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(m.group(1))


def _stop(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


async def _connect(port: int, key: Path, username: str = "root"):
    return await asyncssh.connect("127.0.0.1", port, username=username, client_keys=[str(key)], known_hosts=None,
                                  agent_path=None, config=None, connect_timeout=10)


async def test_ssh_through_proxy_real_exit_status_env_and_cwd(sandbox, tmp_path):
    sb = sandbox
    app, machine = _web_app(sb, tmp_path)
    key = tmp_path / "id_fly"
    assert _issue(sb, key, "--hours", "1").returncode == 0
    proc, port = _proxy(sb, "0:22", f"{machine['id']}.vm.{app}.internal", "-a", app)
    try:
        async with await _connect(port, key) as conn:
            r = await conn.run("sh -c 'exit 3'")
            assert r.exit_status == 3
            r = await conn.run("sh -c 'echo out; echo err >&2; cat marker.txt; printenv GREETING FLY_MACHINE_ID'")
            assert r.exit_status == 0
            assert r.stdout == f"out\nin the app dir\nhello from secrets\n{machine['id']}\n"
            assert r.stderr == "err\n"
            r = await conn.run("no-such-program-xyz")
            assert r.exit_status == 127
            assert 'exec: "no-such-program-xyz": executable file not found in $PATH' in r.stderr
            r = await conn.run("cat", input="piped stdin\n")  # stdin reaches the command
            assert r.stdout == "piped stdin\n"
        # principal "fly" also works; another user does not
        async with await _connect(port, key, username="fly") as conn:
            assert (await conn.run("true")).exit_status == 0
        with pytest.raises(asyncssh.PermissionDenied):
            await _connect(port, key, username="postgres")
    finally:
        _stop(proc)


async def test_cert_from_another_ca_and_plain_key_are_rejected(sandbox, tmp_path):
    sb = sandbox
    app, machine = _web_app(sb, tmp_path)
    # a certificate that looks right (principals root,fly, comment fly.io) but is signed by a foreign CA
    rogue_ca = asyncssh.generate_private_key("ssh-ed25519")
    user = asyncssh.generate_private_key("ssh-ed25519", comment="fly.io")
    cert = rogue_ca.generate_user_certificate(user, "rogue", principals=["root", "fly"])
    rogue = tmp_path / "rogue"
    user.write_private_key(str(rogue))
    cert.write_certificate(f"{rogue}-cert.pub")
    plain = tmp_path / "plain"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(plain))
    proc, port = _proxy(sb, "0:22", machine["private_ip"], "-a", app)
    try:
        for key in (rogue, plain):
            with pytest.raises(asyncssh.PermissionDenied):
                await _connect(port, key)
    finally:
        _stop(proc)


async def test_stopped_machine_refuses_connections(sandbox, tmp_path):
    sb = sandbox
    app, _ = _web_app(sb, tmp_path, started=False)
    key = tmp_path / "id_fly"
    assert _issue(sb, key).returncode == 0
    proc, port = _proxy(sb, "0:22", "-a", app)  # default host APP.internal: started machines only
    try:
        with pytest.raises((asyncssh.Error, OSError)):
            await _connect(port, key)
    finally:
        _stop(proc)
