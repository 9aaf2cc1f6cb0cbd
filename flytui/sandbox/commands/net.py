"""``fly proxy`` (a real TCP forward) and ``fly ssh console -C`` (runs locally, flyctl exit-code collapse).

The sandbox emulates the Fly private network: ``[<pg-app>.internal]:5432`` is the backing PostgreSQL
server (unix socket ``<host>/.s.PGSQL.<port>`` or TCP); ``[<app>.internal]:<internal_port>`` is the
first started machine's local port.
"""
from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

from flytui.sandbox.commands import Ctx, command
from flytui.sandbox.generations import WATCH_STDIN, at_least, proxy_ready_line
from flytui.sandbox.state import SandboxError, get_app


def _target(sb: Any, app_name: str) -> tuple[str, Any] | None:
    """Where a forwarded connection goes on the emulated private network, or None.

    A Postgres app is reachable only while its machine (the flycast forwarder) runs, like on Fly.
    """
    from flytui.sandbox import procs

    with sb.transaction() as st:
        app = get_app(st, app_name)
        procs.ensure_network(st, app)
        return procs.private_target(st, app)


def _bind(bind: str, local: int) -> socket.socket:
    """A listening TCP socket on bind:local, or flyctl's Go ``listen tcp`` error.

    Like every Go listener, flyctl's sets SO_REUSEADDR (Go's net/sockopt_linux.go,
    ``setDefaultListenerSockopts``), so a proxy restarted on the port of one that was just killed binds at
    once even while that port's old connections sit in TIME_WAIT.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, local))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SandboxError(f"listen tcp {bind}:{local}: bind: address already in use") from None
        raise SandboxError(f"listen tcp {bind}:{local}: bind: {(exc.strerror or str(exc)).lower()}") from None
    sock.listen(64)
    return sock


def _until_stopped(watch_stdin: bool) -> asyncio.Future[int]:
    """A future that resolves (to exit code 0) when stdin closes under ``--watch-stdin``; else never."""
    import asyncio

    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    if watch_stdin:
        def watch() -> None:
            with contextlib.suppress(Exception):
                while os.read(0, 65536):
                    pass
            def finish() -> None:
                if not done.done():
                    done.set_result(0)

            loop.call_soon_threadsafe(finish)

        threading.Thread(target=watch, daemon=True).start()
    return done


async def _serve(ctx: Ctx, bind: str, local: int, remote_port: int, label: str, app_name: str,
                 watch_stdin: bool) -> int:
    """Listen on bind:local, forward each connection to the app's private-network target."""
    import asyncio

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        target = _target(ctx.sb, app_name)
        try:
            if target is None:
                raise OSError("no started machines")
            if target[0] == "unix":
                ur, uw = await asyncio.open_unix_connection(target[1])
            else:
                ur, uw = await asyncio.open_connection(*target[1])
        except OSError:
            cw.close()
            return
        from flytui.sandbox.procs import pipe_bytes

        await asyncio.gather(pipe_bytes(cr, uw), pipe_bytes(ur, cw))

    sock = _bind(bind, local)
    server = await asyncio.start_server(handle, sock=sock)
    port = sock.getsockname()[1]
    ctx.out(proxy_ready_line(port, f"[{label}]:{remote_port}"))  # text by flyctl generation
    done = _until_stopped(watch_stdin)
    async with server:
        return await done


async def _serve_ssh(ctx: Ctx, bind: str, local: int, label: str, app_name: str, watch_stdin: bool) -> int:
    """``fly proxy L:22 HOST -a APP``: the machine's SSH server (hallpass) on bind:local."""
    from flytui.sandbox import sshd

    sock = _bind(bind, local)
    acceptor, hallpass = await sshd.serve(ctx.sb, sock, app_name, label)
    port = sock.getsockname()[1]
    ctx.out(proxy_ready_line(port, f"[{label}]:22"))
    try:
        return await _until_stopped(watch_stdin)
    finally:
        acceptor.close()
        await hallpass.close()


@command("proxy")
def proxy(ctx: Ctx) -> int:
    if ctx.flag("watch_stdin") and not at_least(WATCH_STDIN):  # cobra rejects it before flyctl v0.2.77
        raise SandboxError("unknown flag: --watch-stdin")
    if not ctx.args:
        raise SandboxError("accepts between 1 and 2 arg(s), received 0")
    local_s, _, remote_s = ctx.args[0].partition(":")
    try:
        local = int(local_s)
        remote = int(remote_s or local_s)
    except ValueError:
        raise SandboxError(f"invalid port mapping {ctx.args[0]!r}") from None
    app_name = ctx.app_name()
    get_app(ctx.sb.read(), app_name)
    label = ctx.args[1] if len(ctx.args) > 1 else f"{app_name}.internal"
    pid = os.getpid()
    with ctx.sb.transaction() as st:
        st.setdefault("proxies", []).append(pid)
    import asyncio

    bind = ctx.flag("bind_addr") or "127.0.0.1"
    watch = bool(ctx.flag("watch_stdin"))
    is_pg = get_app(ctx.sb.read(), app_name).get("role") == "postgres_cluster"
    try:
        if remote == 22 and not is_pg:
            return asyncio.run(_serve_ssh(ctx, bind, local, label, app_name, watch))
        return asyncio.run(_serve(ctx, bind, local, remote, label, app_name, watch))
    finally:
        with ctx.sb.transaction() as st:
            st["proxies"] = [p for p in st.get("proxies", []) if p != pid]


NO_VMS = ("app {app} has no started VMs.\nIt may be unhealthy or not have been deployed yet.\n"
          "Try the following command to verify:\n\nfly status")


@command("ssh console")
def ssh_console(ctx: Ctx) -> int:
    from flytui.sandbox.transcripts import run_in_app

    state = ctx.sb.read()
    app = get_app(state, ctx.app_name())
    started = [m for m in app["machines"] if m["state"] == "started"]
    wanted = ctx.flag("machine")
    if wanted:
        started = [m for m in started if m["id"] == wanted or m["name"] == wanted]
        if not started:
            raise SandboxError(f"machine {wanted} was not found in app '{app['name']}' or is not started")
    if not started:
        raise SandboxError(NO_VMS.format(app=app["name"]))
    m = started[0]
    if not wanted and len(started) > 1:  # internal/command/ssh/console.go selectMachine @ ad0172f (stdout)
        ctx.out(f"No machine specified, using {m['id']} in region {m['region']}")
    ctx.err(f"Connecting to {m['private_ip']}... complete")
    cmd = ctx.flag("command") or "/bin/sh"
    try:
        proc = run_in_app(app, state.get("postgres_server"), cmd, capture=False)
    except SandboxError:
        ctx.err(f"exec: \"{cmd.split()[0]}\": executable file not found in $PATH")
        raise SandboxError("ssh shell: Process exited with status 127") from None
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        raise
    sys.stdout.flush()
    if code != 0:
        status = code if code > 0 else 128 - code
        raise SandboxError(f"ssh shell: Process exited with status {status}")
    return 0


ISSUE_BANNER = """
!!!! WARNING: We're now prompting you to save an SSH private key and certificate       !!!!
!!!! (the private key in "id_whatever" and the certificate in "id_whatever-cert.pub"). !!!!
!!!! These SSH credentials are time-limited and handling them in files is clunky;      !!!!
!!!! consider running an SSH agent and running this command with --agent. Things       !!!!
!!!! should just sort of work like magic if you do.                                    !!!!"""
NON_INTERACTIVE = "prompt: non interactive"


def _issue_org(ctx: Ctx) -> str:
    """``[org]`` positional, else ``--org``/``$FLY_ORG``; flyctl cannot prompt without a terminal."""
    from flytui.sandbox.state import get_org

    slug = (ctx.args[0] if ctx.args else None) or ctx.flag("org") or os.environ.get("FLY_ORG")
    if not slug:
        raise SandboxError("org slug must be specified when not running interactively")
    get_org(ctx.sb.read(), slug)
    return slug


def _open_key_files(ctx: Ctx, root: str) -> tuple[int, int]:
    """Open PATH and PATH-cert.pub like issue.go (O_EXCL unless --overwrite of a fly.io key file)."""
    mode = os.O_WRONLY | os.O_TRUNC | os.O_CREAT
    if not ctx.flag("overwrite"):
        mode |= os.O_EXCL
    elif os.path.exists(root):
        try:
            with open(root, "rb") as fh:
                content = fh.read()
        except OSError as exc:
            ctx.out(f"File exists, but we can't read it to make sure it's safe to overwrite: open {root}: "
                    f"{(exc.strerror or '').lower()}")
            raise SandboxError(NON_INTERACTIVE) from None  # issue.go prompts for another path
        if b"fly.io" not in content:
            ctx.out("File exists, but isn't a fly.io ed25519 private key")
            raise SandboxError(NON_INTERACTIVE)
    try:
        pf = os.open(root, mode, 0o600)
    except OSError as exc:
        ctx.out(f"Can't open private key file: open {root}: {(exc.strerror or '').lower()}")
        raise SandboxError(NON_INTERACTIVE) from None
    try:
        cf = os.open(root + "-cert.pub", mode, 0o600)
    except OSError as exc:
        os.close(pf)
        ctx.out(f"Can't open certificate file {root}-cert.pub: open {root}-cert.pub: {(exc.strerror or '').lower()}")
        raise SandboxError(NON_INTERACTIVE) from None
    return pf, cf


def _add_to_agent(private_key: bytes, certificate: bytes) -> None:
    """``--agent``: add key + certificate to ``$SSH_AUTH_SOCK``."""
    import asyncio

    import asyncssh

    sock = os.environ.get("SSH_AUTH_SOCK", "")

    async def add() -> None:
        try:
            agent = await asyncssh.connect_agent(sock) if sock else None
        except (OSError, asyncssh.Error) as exc:
            raise SandboxError(f"can't connect to SSH agent: dial unix {sock}: connect: {exc}") from None
        if agent is None:
            raise SandboxError("can't connect to SSH agent: dial unix : connect: no such file or directory")
        try:
            key = asyncssh.import_private_key(private_key)
            cert = asyncssh.import_certificate(certificate)
            await agent.add_keys([(key, cert)])
        except (OSError, asyncssh.Error, ValueError) as exc:
            raise SandboxError(f"ssh-agent failure: {exc}") from None
        finally:
            agent.close()
            await agent.wait_closed()

    asyncio.run(add())


@command("ssh issue")
def ssh_issue(ctx: Ctx) -> int:
    """``fly ssh issue [org] [path] [--agent] [--hours N] [-u root,fly] [--overwrite]`` (issue.go texts)."""
    from flytui.sandbox import sshd

    _issue_org(ctx)
    try:
        hours = int(ctx.flag("hours") or 24)
    except ValueError:
        raise SandboxError(f'invalid argument "{ctx.flag("hours")}" for "--hours" flag: '
                           'strconv.ParseInt: parsing "{0}": invalid syntax'.format(ctx.flag("hours"))) from None
    if hours < 1 or hours > 72:
        raise SandboxError("Invalid expiration time (1-72 hours)\n")
    users = tuple(u.strip() for u in str(ctx.flag("user") or "root,fly").split(",") if u.strip())
    cred = sshd.issue_credential(ctx.sb, principals=users, hours=hours)
    if ctx.flag("agent"):
        _add_to_agent(cred.private_key, cred.certificate)
        ctx.out(f"Populated agent with cert:\n{cred.certificate.decode().strip()}")
        return 0
    ctx.out(ISSUE_BANNER)
    if len(ctx.args) < 2:
        raise SandboxError(NON_INTERACTIVE)  # "Path to store private key: " cannot be asked
    root = ctx.args[1]
    pf, cf = _open_key_files(ctx, root)
    with os.fdopen(cf, "wb") as fh:
        fh.write(cred.certificate)
    with os.fdopen(pf, "wb") as fh:
        fh.write(cred.private_key)
    ctx.out(f"Wrote {hours}-hour SSH credential to {root}, {root}-cert.pub")
    return 0
