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
from flytui.sandbox.state import SandboxError, get_app


def _target(state: dict[str, Any], app: dict[str, Any], remote_port: int) -> tuple[str, Any] | None:
    """Where a forwarded connection goes: ("unix", path) or ("tcp", (host, port)) or None."""
    server = state.get("postgres_server")
    if app.get("role") == "postgres_cluster":
        if not server:
            return None
        host = str(server["host"])
        if host.startswith("/"):
            return "unix", os.path.join(host, f".s.PGSQL.{server['port']}")
        return "tcp", (host, int(server["port"]))
    for m in app["machines"]:
        port = m.get("sandbox", {}).get("port")
        if m["state"] == "started" and port:
            return "tcp", ("127.0.0.1", int(port))
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes one way until EOF, then close the writer."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(ctx: Ctx, bind: str, local: int, remote_port: int, label: str, app_name: str,
                 watch_stdin: bool) -> int:
    """Listen on bind:local, forward each connection to the app's private-network target."""
    import asyncio

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        target = _target(ctx.sb.read(), get_app(ctx.sb.read(), app_name), remote_port)
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
        await asyncio.gather(_pipe(cr, uw), _pipe(ur, cw))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((bind, local))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SandboxError(f"listen tcp {bind}:{local}: bind: address already in use") from None
        raise SandboxError(f"listen tcp {bind}:{local}: bind: {exc.strerror.lower()}") from None
    sock.listen(64)
    server = await asyncio.start_server(handle, sock=sock)
    port = sock.getsockname()[1]
    ctx.out(f"Proxying localhost:{port} to remote [{label}]:{remote_port}")
    done = asyncio.get_running_loop().create_future()
    if watch_stdin:
        loop = asyncio.get_running_loop()

        def watch() -> None:
            with contextlib.suppress(Exception):
                while os.read(0, 65536):
                    pass
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(0))

        threading.Thread(target=watch, daemon=True).start()
    async with server:
        return await done


@command("proxy")
def proxy(ctx: Ctx) -> int:
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

    try:
        return asyncio.run(_serve(ctx, ctx.flag("bind_addr") or "127.0.0.1", local, remote, label, app_name,
                                  bool(ctx.flag("watch_stdin"))))
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
