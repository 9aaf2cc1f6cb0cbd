"""The sandbox's SSH side of the Fly private network: a per-sandbox user CA and a hallpass-like server.

Real Fly machines run *hallpass*, a small SSH server bound to the machine's 6PN address on port 22 that
accepts OpenSSH user certificates signed by the organization's CA (principals ``root``/``fly``) and runs
the requested command. Here:

* :func:`load_ca` keeps one ed25519 CA per sandbox in ``<state dir>/ssh/ca`` (0600);
* :func:`issue_credential` makes what ``fly ssh issue`` writes: an OpenSSH ed25519 private key
  (comment ``fly.io``) and its user certificate signed by that CA;
* :func:`serve` runs an asyncssh server on an already bound socket (``fly proxy L:22 ...``); each session
  runs its command locally in the app's source dir with the machine's environment (secrets, with the
  private-network ``DATABASE_URL`` rewritten to the backing server), streams stdout/stderr and sends the
  **real exit status** (or the signal) back.

asyncssh is imported lazily (inside functions): ``flyctl version`` must stay fast.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from flytui.fly.lifeline import die_with_parent
from flytui.sandbox import procs
from flytui.sandbox.state import Sandbox, get_app

if TYPE_CHECKING:
    import asyncssh

PRINCIPALS = ("root", "fly")
KEY_COMMENT = "fly.io"
SHELLS = {"sh", "bash", "ash", "dash", "zsh", "/bin/sh", "/bin/bash", "/bin/ash", "/bin/dash", "/usr/bin/bash",
          "/bin/zsh", "/usr/bin/zsh"}


# ---- the per-sandbox certificate authority ------------------------------------------------------

def ca_path(sb: Sandbox) -> Path:
    """Where the sandbox CA's private key lives."""
    return sb.dir / "ssh" / "ca"


def load_ca(sb: Sandbox) -> "asyncssh.SSHKey":
    """The sandbox's user CA (created once, under the state lock, mode 0600)."""
    import asyncssh

    path = ca_path(sb)
    with sb._locked():
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = asyncssh.generate_private_key("ssh-ed25519", comment="flytui-sandbox-ca")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.export_private_key("openssh"))
            (path.parent / "ca.pub").write_bytes(key.export_public_key("openssh"))
        return asyncssh.read_private_key(str(path))


@dataclass(frozen=True)
class Credential:
    """An issued credential: OpenSSH private key text and ``*-cert.pub`` text."""

    private_key: bytes
    certificate: bytes
    principals: tuple[str, ...]
    hours: int


def issue_credential(sb: Sandbox, *, principals: tuple[str, ...] = PRINCIPALS, hours: int = 24,
                     key_id: str = "") -> Credential:
    """A fresh ed25519 key (comment ``fly.io``) and a user certificate for it signed by the sandbox CA."""
    import asyncssh

    ca = load_ca(sb)
    user = asyncssh.generate_private_key("ssh-ed25519", comment=KEY_COMMENT)
    now = int(time.time())
    cert = ca.generate_user_certificate(user, key_id or f"flytui-sandbox-{now}", principals=list(principals),
                                        valid_after=now - 60, valid_before=now + hours * 3600,
                                        comment=KEY_COMMENT)
    return Credential(private_key=user.export_private_key("openssh"),
                      certificate=cert.export_certificate("openssh"), principals=tuple(principals), hours=hours)


# ---- which machine a proxied connection reaches ------------------------------------------------

_VM_HOST = re.compile(r"^(?P<id>[0-9a-z]+)\.vm\.(?P<app>[a-z0-9-]+)\.internal$")


def pick_machine(app: dict[str, Any], host: str) -> dict[str, Any] | None:
    """The *started* machine ``host`` names (``<id>.vm.APP.internal``, a private IP, ``APP.internal``)."""
    host = host.strip("[]")
    started = [m for m in app.get("machines", []) if m.get("state") == "started"]
    m = _VM_HOST.match(host)
    if m:
        if m.group("app") != app["name"]:
            return None
        return next((x for x in started if x["id"] == m.group("id")), None)
    if ":" in host:  # a 6PN address
        return next((x for x in started if x.get("private_ip") == host), None)
    if host in (f"{app['name']}.internal", f"top1.nearest.of.{app['name']}.internal"):
        return started[0] if started else None
    return None


# ---- the server ---------------------------------------------------------------------------------

def _argv_for(command: str | None) -> list[str]:
    """The local argv for a session's command: shlex split, no shell unless the command is a shell."""
    if not command or not command.strip():
        return ["/bin/sh"]
    return procs.resolve_program(shlex.split(command))


async def _copy_out(reader: asyncio.StreamReader | None, write: Callable[[bytes], None]) -> None:
    """Copy a child's pipe to the SSH channel until EOF."""
    if reader is None:
        return
    with contextlib.suppress(Exception):
        while data := await reader.read(65536):
            write(data)


async def _copy_in(process: "asyncssh.SSHServerProcess[bytes]", writer: asyncio.StreamWriter | None) -> None:
    """Copy the channel's stdin to the child until EOF, then close the child's stdin."""
    if writer is None:
        return
    with contextlib.suppress(Exception):
        while data := await process.stdin.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


async def _terminate(child: asyncio.subprocess.Process, grace: float = 2.0) -> None:
    if child.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        await asyncio.wait_for(child.wait(), grace)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()


class Hallpass:
    """Runs one SSH session's command like a machine would and reports its real exit status."""

    def __init__(self, sb: Sandbox, app_name: str, host: str) -> None:
        self.sb = sb
        self.app_name = app_name
        self.host = host
        self.children: set[asyncio.subprocess.Process] = set()

    def target(self) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
        """(app, machine or None, postgres server) from the current sandbox state."""
        state = self.sb.read()
        app = get_app(state, self.app_name)
        return app, pick_machine(app, self.host), state.get("postgres_server")

    async def session(self, process: "asyncssh.SSHServerProcess[bytes]") -> None:
        """One ``exec``/``shell`` request: run, stream, exit with the child's status."""
        app, machine, server = self.target()
        if machine is None:
            process.stderr.write(b"machine is not started\n")
            process.exit(255)
            return
        argv = _argv_for(process.command)
        env = procs.app_env(app, server, machine=machine)
        for name in ("FLY_SSH_CONTAINER", "FLY_SSH_MACHINE"):
            if name in process.env:
                env[name] = str(process.env[name])
        try:
            child = await asyncio.create_subprocess_exec(
                *argv, cwd=app.get("source_dir") or os.getcwd(), env=env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=die_with_parent())
        except OSError:
            process.stderr.write(f'exec: "{argv[0]}": executable file not found in $PATH\n'.encode())
            process.exit(127)
            return
        self.children.add(child)
        feeder = asyncio.ensure_future(_copy_in(process, child.stdin))
        try:
            await asyncio.gather(_copy_out(child.stdout, process.stdout.write),
                                 _copy_out(child.stderr, process.stderr.write))
            code = await child.wait()
        finally:
            feeder.cancel()
            await _terminate(child)
            self.children.discard(child)
        if code < 0:
            process.exit_with_signal(signal.Signals(-code).name.removeprefix("SIG"))
        else:
            process.exit(code)

    async def close(self) -> None:
        """Terminate every session's child (the proxy is going away)."""
        await asyncio.gather(*(_terminate(c, 1.0) for c in list(self.children)), return_exceptions=True)


def _server_class(sb: Sandbox, hallpass: Hallpass) -> type:
    """An ``asyncssh.SSHServer`` that trusts the sandbox CA for users ``root``/``fly``, publickey only.

    A connection to a machine that is not started is dropped at once (the proxy's dial fails).
    """
    import asyncssh

    ca_line = load_ca(sb).export_public_key("openssh").decode().strip()
    authorized = asyncssh.import_authorized_keys(f"cert-authority {ca_line}\n")

    class _Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            if username in PRINCIPALS:  # any other user: no key can ever match
                self._conn.set_authorized_keys(authorized)
            return True

        def connection_made(self, conn: "asyncssh.SSHServerConnection") -> None:
            self._conn = conn
            if hallpass.target()[1] is None:
                conn.abort()

        def password_auth_supported(self) -> bool:
            return False

        def kbdint_auth_supported(self) -> bool:
            return False

        def public_key_auth_supported(self) -> bool:
            return True

    return _Server


async def serve(sb: Sandbox, sock: socket.socket, app_name: str, host: str) -> tuple[Any, Hallpass]:
    """Serve SSH on the bound, listening ``sock`` for ``host`` of ``app_name``; returns (acceptor, hallpass).

    Close with ``acceptor.close(); await acceptor.wait_closed(); await hallpass.close()``.
    """
    import asyncssh

    hallpass = Hallpass(sb, app_name, host)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    acceptor = await asyncssh.listen(
        sock=sock, server_factory=_server_class(sb, hallpass), server_host_keys=[host_key], process_factory=hallpass.session,
        encoding=None, allow_scp=False, agent_forwarding=False, x11_forwarding=False,
        login_timeout=30, keepalive_interval=0)
    return acceptor, hallpass
