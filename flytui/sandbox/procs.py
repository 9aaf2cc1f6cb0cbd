"""Sandbox machines as real local processes, and the per-app log buffer.

An app deployed from a project directory remembers ``source_dir``. Each *started* machine of such an
app is a real process running the Dockerfile's ``CMD`` with:

* cwd = ``source_dir``; the program is resolved in the sandbox's own venv ``bin`` dir first;
* env = the app's deployed secrets **unchanged** + ``PORT``, ``FLY_APP_NAME``, ``FLY_MACHINE_ID``,
  ``FLY_REGION``, ``FLY_PROCESS_GROUP``, ``PRIMARY_REGION`` (+ ``PGHOSTADDR``, see below);
* the fly.toml ``internal_port`` replaced by a free local port allocated per machine (kept in state).
  **In the sandbox the app URL is ``http://127.0.0.1:<port>/`` of the first started machine.**

The process is started detached (own session) under a tiny "pump" (``python -m flytui.sandbox.procs
pump ...``) that is the process-group leader: it runs the command and appends each output line to the
app's log file as a log entry, restarts it per the restart policy (``on-failure``, capped by
``$FLYTUI_SANDBOX_MAX_RESTARTS``, default 2) and records every exit in ``machines/<id>.json``
(read back by :func:`reconcile_app`). Killing the group (stop/suspend/destroy/teardown) kills both.
Machines without a runnable command (never deployed) are state only.

Private network emulation: each Fly Postgres app owns a loopback address ``127.0.0.N`` (N in
2..254: the first one where ``:5432`` binds, scanning from a per-sandbox offset; kept in
``app["sandbox"]["addr"]``). Its primary machine's process is a TCP forwarder
(``python -m flytui.sandbox.procs flycast FD TARGET``) listening on ``127.0.0.N:5432`` and
forwarding to the backing PostgreSQL server; stopping that machine really makes the database
unreachable. Consumers see ``DATABASE_URL`` exactly as ``fly postgres attach`` set it, plus libpq's
``PGHOSTADDR=127.0.0.N`` derived from the URL's host (``X.flycast``, ``X.internal``,
``top2.nearest.of.X.internal``): libpq connects to ``hostaddr`` and uses ``host`` only as a name.
A host naming no Postgres app gets no ``PGHOSTADDR`` and fails like DNS would.

Size: one module on purpose (about 640 lines). It is also the entry point ``python -m flytui.sandbox.procs
pump|flycast`` of every machine process and forwarder, which imports as little as it can and needs the machine,
network and log code together.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flytui.fly.lifeline import die_with_parent, watch_owner
from flytui.sandbox.state import ENV_DIR, Sandbox, SandboxError, now_ms, now_rfc3339, pid_alive, stop_group

#: ``PID:STARTTIME`` of the process that owns this sandbox (``flytui --demo``; flytui.fly.lifeline.owner_token).
#: Machine processes and forwarders are started by short-lived flyctl processes, so they cannot die with their
#: parent: they watch the owner and end themselves once it is gone (however it died, ``kill -9`` included).
OWNER_ENV = "FLYTUI_SANDBOX_OWNER"


# ---- logs -----------------------------------------------------------------------------------

def now_nano() -> str:
    """RFC 3339 with nanoseconds (the ``timestamp`` of ``fly logs --json``)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


def append_log(path: Path, instance: str, region: str, message: str, *, provider: str = "app",
               level: str = "info") -> None:
    """Append one log entry to an app's log buffer (JSON lines, flock-guarded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"timestamp": now_nano(), "instance": instance, "region": region, "level": level,
             "provider": provider, "message": message}
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.write(json.dumps(entry) + "\n")


# ---- command resolution -------------------------------------------------------------------

def dockerfile_cmd(source_dir: str | Path) -> list[str] | None:
    """The Dockerfile's ENTRYPOINT + CMD as argv (shell form -> ``/bin/sh -c``), or None."""
    path = Path(source_dir) / "Dockerfile"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    text = re.sub(r"\\\r?\n", " ", text)
    cmd: list[str] | None = None
    entry: list[str] = []
    for line in text.splitlines():
        m = re.match(r"\s*(CMD|ENTRYPOINT)\s+(.*)$", line, re.IGNORECASE)
        if not m:
            continue
        body = m.group(2).strip()
        if body.startswith("["):
            try:
                argv = [str(x) for x in json.loads(body)]
            except ValueError:
                argv = ["/bin/sh", "-c", body]
        else:
            argv = ["/bin/sh", "-c", body]
        if m.group(1).upper() == "CMD":
            cmd = argv
        else:
            entry = argv
    full = entry + (cmd or [])
    return full or None


def resolve_program(argv: list[str]) -> list[str]:
    """Resolve ``argv[0]`` in the sandbox's own venv bin dir first (then PATH at exec time)."""
    if not argv or "/" in argv[0]:
        return list(argv)
    candidate = Path(sys.executable).parent / argv[0]
    if candidate.exists():
        return [str(candidate), *argv[1:]]
    if argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return list(argv)


def replace_port(argv: list[str], internal_port: int, local_port: int) -> list[str]:
    """Replace the internal port in the command (exact tokens, or words inside a shell string)."""
    out = []
    for tok in argv:
        if tok == str(internal_port):
            out.append(str(local_port))
        else:
            out.append(re.sub(rf"(?<![\d]){internal_port}(?![\d])", str(local_port), tok)
                       if " " in tok or "=" in tok or ":" in tok else tok)
    return out


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- private network (Flycast / .internal for Fly Postgres apps) ----------------------------------

FLYCAST_PORT = 5432
_FIRST_ADDR, _LAST_ADDR = 2, 254


def private_app_name(host: str | None) -> str | None:
    """The app a private-network host name designates, or None for other hosts.

    ``X.flycast``, ``X.internal``, ``<region>.X.internal``, ``top2.nearest.of.X.internal`` and
    ``<machine>.vm.X.internal`` all name app ``X`` (the last label before the suffix).
    """
    h = (host or "").lower().rstrip(".")
    for suffix in (".flycast", ".internal"):
        if h.endswith(suffix):
            name = h[: -len(suffix)].rsplit(".", 1)[-1]
            return name or None
    return None


def _url_host(value: str) -> str | None:
    """The host of a URL-shaped value (None when it is not a URL)."""
    if "://" not in value:
        return None
    try:
        return urlsplit(value).hostname
    except ValueError:
        return None


def database_app(app: dict[str, Any], state: dict[str, Any]) -> dict[str, Any] | None:
    """The Fly Postgres app the app's ``DATABASE_URL`` (else any URL secret) points at, if it exists."""
    secrets = app.get("secrets", {})
    names = sorted(secrets, key=lambda n: n != "DATABASE_URL")
    for name in names:
        target = private_app_name(_url_host(str(secrets[name].get("value", ""))))
        if target is None:
            continue
        pg = state.get("apps", {}).get(target)
        if pg is not None and pg.get("role") == "postgres_cluster":
            return pg
        if name == "DATABASE_URL":
            return None
    return None


def _bind_flycast(addr: str) -> socket.socket | None:
    """A listening socket on ``addr:5432``, or None when that address can't be bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, FLYCAST_PORT))
        sock.listen(128)
    except OSError:
        sock.close()
        return None
    return sock


def _claim_address(state: dict[str, Any], pg: dict[str, Any]) -> tuple[str, socket.socket]:
    """Bind the pg app's address (keeping it if still free, else the first free one) and store it."""
    info = pg.setdefault("sandbox", {})
    current = info.get("addr")
    if current:
        sock = _bind_flycast(current)
        if sock is not None:
            return current, sock
    taken = {a.get("sandbox", {}).get("addr") for a in state.get("apps", {}).values() if a is not pg}
    span = _LAST_ADDR - _FIRST_ADDR + 1
    # Scan from a per-sandbox offset: concurrent sandboxes on one host (parallel tests, a demo) then
    # rarely pick the address another one's stopped pg app still owns.
    base = state.setdefault("network", {}).setdefault("base", random.randrange(span))
    for i in range(span):
        addr = f"127.0.0.{_FIRST_ADDR + (base + i) % span}"
        if addr in taken or addr == current:
            continue
        sock = _bind_flycast(addr)
        if sock is not None:
            info["addr"] = addr
            return addr, sock
    raise SandboxError(f"no free loopback address 127.0.0.{_FIRST_ADDR}-{_LAST_ADDR} with port "
                       f"{FLYCAST_PORT} for the private network of {pg['name']}")


def assign_address(state: dict[str, Any], pg: dict[str, Any]) -> str:
    """Give a Postgres app its private address now (bound briefly to check it is usable)."""
    addr, sock = _claim_address(state, pg)
    sock.close()
    return addr


def _server_target(server: dict[str, Any]) -> str:
    """The forwarder's target: a unix socket path or ``host:port``."""
    host = str(server["host"])
    if host.startswith("/"):
        return os.path.join(host, f".s.PGSQL.{int(server['port'])}")
    return f"{host}:{int(server['port'])}"


def is_pg_primary(pg: dict[str, Any], machine: dict[str, Any]) -> bool:
    """True for the machine that serves the pg app's proxy port (role primary, else the first)."""
    machines = [m for m in pg.get("machines", []) if m.get("state") not in ("destroyed", "destroying")]
    primary = next((m for m in machines if m["config"]["metadata"].get("role") == "primary"), None)
    return (primary or (machines[0] if machines else None)) is machine


def start_flycast(state: dict[str, Any], pg: dict[str, Any], machine: dict[str, Any]) -> int | None:
    """Start the pg machine's forwarder ``127.0.0.N:5432`` -> backing server; None without a server.

    Call inside a state transaction (records ``machine["sandbox"]["pid"]`` and the app's address).
    The listening socket is bound here and handed to the child, so it accepts as soon as this returns.
    """
    stop_machine_process(machine)
    server = state.get("postgres_server")
    if not server or not is_pg_primary(pg, machine):
        return None
    _addr, sock = _claim_address(state, pg)
    try:
        fd = sock.fileno()
        argv = [sys.executable, "-m", "flytui.sandbox.procs", "flycast", str(fd), _server_target(server)]
        proc = subprocess.Popen(argv, pass_fds=[fd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    finally:
        sock.close()
    machine.setdefault("sandbox", {})["pid"] = proc.pid
    return proc.pid


def ensure_flycast(state: dict[str, Any], pg: dict[str, Any]) -> None:
    """Start the forwarder of a pg app whose primary machine is started but has no live process."""
    for m in pg.get("machines", []):
        if m.get("state") == "started" and is_pg_primary(pg, m) and not process_alive(m):
            start_flycast(state, pg, m)


def ensure_network(state: dict[str, Any], app: dict[str, Any] | None = None) -> None:
    """Lazily start forwarders: the one ``app`` needs, or every pg app's (inside a transaction)."""
    if app is not None:
        pg = app if app.get("role") == "postgres_cluster" else database_app(app, state)
        pgs = [pg] if pg is not None else []
    else:
        pgs = [a for a in state.get("apps", {}).values() if a.get("role") == "postgres_cluster"]
    for pg in pgs:
        ensure_flycast(state, pg)


def database_hostaddr(app: dict[str, Any], state: dict[str, Any]) -> str | None:
    """``127.0.0.N`` of the pg app the app's ``DATABASE_URL`` names (None when it names none)."""
    pg = database_app(app, state)
    if pg is None:
        return None
    return pg.get("sandbox", {}).get("addr") or assign_address(state, pg)


def private_target(state: dict[str, Any], app: dict[str, Any]) -> tuple[str, Any] | None:
    """Where ``[<app>.internal]:<port>`` leads in the sandbox: ``("tcp", (host, port))`` or None.

    A Postgres app -> its forwarder ``(127.0.0.N, 5432)`` while its machine is started (so a stopped
    database is unreachable through ``fly proxy`` too); another app -> its first started machine's
    local port. For ``commands/net.py``'s proxy (it does not use this yet).
    """
    if app.get("role") == "postgres_cluster":
        addr = app.get("sandbox", {}).get("addr")
        live = any(m.get("state") == "started" and process_alive(m) for m in app.get("machines", []))
        return ("tcp", (addr, FLYCAST_PORT)) if addr and live else None
    for m in app.get("machines", []):
        port = m.get("sandbox", {}).get("port")
        if m.get("state") == "started" and port:
            return "tcp", ("127.0.0.1", int(port))
    return None


def _state_from_env(app_name: str) -> dict[str, Any] | None:
    """Current state from ``$FLYTUI_SANDBOX_DIR`` with the app's forwarder started (own transaction)."""
    directory = os.environ.get(ENV_DIR)
    if not directory or not (Path(directory) / "state.json").exists():
        return None
    with Sandbox(Path(directory)).transaction() as st:
        app = st.get("apps", {}).get(app_name)
        if app is not None:
            ensure_network(st, app)
        return st


def app_env(app: dict[str, Any], server: dict[str, Any] | None = None, *, machine: dict[str, Any] | None = None,
            deployed_only: bool = True, state: dict[str, Any] | None = None) -> dict[str, str]:
    """Environment a machine of ``app`` sees: os env + [env] + secrets (unchanged) + FLY_* + PGHOSTADDR.

    ``state`` is the loaded sandbox state (pass it when inside a transaction). Without it, the state
    is loaded from ``$FLYTUI_SANDBOX_DIR`` in a transaction of its own (which also starts the
    database forwarder lazily), so never call it without ``state`` while holding the state lock.
    ``server`` is unused (kept for callers of the old signature).
    """
    del server
    if state is None:
        state = _state_from_env(app["name"]) or {}
    env = dict(os.environ)
    env.pop(ENV_DIR, None)
    env.pop("PGHOSTADDR", None)
    env.update({k: str(v) for k, v in (app.get("config", {}).get("env") or {}).items()})
    for name, sec in app.get("secrets", {}).items():
        if deployed_only and sec.get("status") == "Staged":
            continue
        env[name] = sec["value"]
    addr = database_hostaddr(app, state) if state else None
    if addr is None and state:  # a Fly Managed Postgres URL (pgbouncer.<cluster>.flympg.net)
        from flytui.sandbox.mpg_state import mpg_hostaddr

        addr = mpg_hostaddr(app, state)
    if addr:
        env["PGHOSTADDR"] = addr
    env["FLY_APP_NAME"] = app["name"]
    if machine:
        env["FLY_MACHINE_ID"] = machine["id"]
        env["FLY_REGION"] = machine["region"]
        env["PRIMARY_REGION"] = machine["region"]
        env["FLY_PROCESS_GROUP"] = machine["config"]["metadata"].get("fly_process_group", "app")
        env["FLY_PRIVATE_IP"] = machine.get("private_ip", "")
    return env


# ---- start / stop -----------------------------------------------------------------------

def runnable(app: dict[str, Any]) -> bool:
    """True when machines of this app run a real process (deployed from a dir with a Dockerfile CMD)."""
    src = app.get("source_dir")
    return bool(src) and app.get("role") != "postgres_cluster" and dockerfile_cmd(str(src)) is not None


def _snapshot(sb: Sandbox) -> dict[str, Any]:
    """State read without the lock (``state.json`` is replaced atomically), for callers holding it."""
    try:
        return json.loads(sb.state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def status_path(sb: Sandbox, machine_id: str) -> Path:
    """Where the pump records a machine's exits (``machines/<id>.json``)."""
    return sb.dir / "machines" / f"{machine_id}.json"


def max_restarts(machine: dict[str, Any]) -> int:
    """Restarts after a failing exit: the restart policy's ``max_retries``, capped for the sandbox."""
    policy = machine.get("config", {}).get("restart") or {}
    if policy.get("policy", "on-failure") == "no":
        return 0
    try:
        cap = int(os.environ.get("FLYTUI_SANDBOX_MAX_RESTARTS", "2"))
    except ValueError:
        cap = 2
    return max(0, min(int(policy.get("max_retries", 10)), cap))


def start_machine_process(sb: Sandbox, app: dict[str, Any], machine: dict[str, Any],
                          server: dict[str, Any] | None = None, *, state: dict[str, Any] | None = None) -> int | None:
    """Start the machine's process (detached, own session) and record pid/port in ``machine``.

    Call inside a state transaction and pass its ``state`` (it starts the database forwarder the app
    needs and, for a Postgres app, the forwarder itself); returns the pid or None for state-only machines.
    """
    del server
    stop_machine_process(machine)
    if state is None:
        state = _snapshot(sb)
        state.setdefault("apps", {})[app["name"]] = app
    if app.get("role") == "postgres_cluster":
        return start_flycast(state, app, machine)
    log = sb.log_path(app["name"])
    append_log(log, machine["id"], machine["region"], "Starting init (commit: 5293ff2)...", provider="runner")
    if not runnable(app):
        return None
    ensure_network(state, app)
    src = app["source_dir"]
    argv = dockerfile_cmd(src) or []
    internal = int(app.get("config", {}).get("internal_port") or 8080)
    port = machine.setdefault("sandbox", {}).get("port") or free_port()
    machine["sandbox"]["port"] = port
    argv = resolve_program(replace_port(argv, internal, port))
    env = app_env(app, machine=machine, state=state)
    env["PORT"] = str(port)
    append_log(log, machine["id"], machine["region"],
               f"INFO Preparing to run: `{shlex.join(argv)}` as root", provider="runner")
    status = status_path(sb, machine["id"])
    status.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        status.unlink()
    pump = [sys.executable, "-m", "flytui.sandbox.procs", "pump", str(log), machine["id"], machine["region"],
            "--status", str(status), "--restarts", str(max_restarts(machine)), "--", *argv]
    proc = subprocess.Popen(pump, cwd=src, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    machine["sandbox"]["pid"] = proc.pid
    return proc.pid


def stop_machine_process(machine: dict[str, Any]) -> None:
    """Kill the machine's process group (if any) and forget its pid."""
    pid = machine.get("sandbox", {}).pop("pid", None)
    if pid:
        stop_group(pid, grace=2.0)


def machine_url(app: dict[str, Any]) -> str | None:
    """``http://127.0.0.1:<port>/`` of the first started machine with a process."""
    for m in app.get("machines", []):
        sb = m.get("sandbox", {})
        if m.get("state") == "started" and sb.get("port") and sb.get("pid"):
            return f"http://127.0.0.1:{sb['port']}/"
    return None


def process_alive(machine: dict[str, Any]) -> bool:
    return pid_alive(machine.get("sandbox", {}).get("pid"))


def read_exits(sb: Sandbox, machine_id: str) -> list[dict[str, Any]]:
    """Exits the pump recorded for the machine's current run (oldest first)."""
    try:
        data = json.loads(status_path(sb, machine_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(data.get("exits", []))


# ---- crashed machines --------------------------------------------------------------------------

REFUSED = "connect: connection refused"


def mark_crashed(sb: Sandbox, machine: dict[str, Any]) -> None:
    """A started machine whose main process is gone: stopped, an ``exit`` event, checks critical."""
    machine.get("sandbox", {}).pop("pid", None)
    exits = read_exits(sb, machine["id"])
    last: dict[str, Any] = exits[-1] if exits else {"exit_code": -1, "exited_at": now_rfc3339(), "t_ms": now_ms()}
    event = {
        "type": "exit", "status": "stopped", "source": "flyd", "timestamp": int(last.get("t_ms") or now_ms()),
        "request": {
            "exit_event": {"exit_code": int(last["exit_code"]), "guest_exit_code": int(last["exit_code"]),
                           "guest_signal": 0, "oom_killed": False, "requested_stop": False,
                           "restarting": False, "signal": -1, "exited_at": last["exited_at"]},
            "restart_count": max(0, len(exits) - 1),
        },
    }
    machine["events"].insert(0, event)
    del machine["events"][10:]
    machine["state"] = "stopped"
    machine["updated_at"] = now_rfc3339()
    for c in machine.get("checks") or []:
        if c.get("status") != "critical":
            c["updated_at"] = now_rfc3339()
        c["status"], c["output"] = "critical", REFUSED


def reconcile_app(sb: Sandbox, app: dict[str, Any]) -> list[str]:
    """Turn started machines whose process died into stopped ones (inside a transaction).

    Only machines with a recorded pid are checked (state-only machines have no process). Returns
    the ids of the machines it stopped.
    """
    crashed = []
    for m in app.get("machines", []):
        pid = m.get("sandbox", {}).get("pid")
        if m.get("state") == "started" and pid and not pid_alive(pid):
            mark_crashed(sb, m)
            crashed.append(m["id"])
    return crashed


# ---- the pump (runs as the process-group leader of a machine) --------------------------------

def _record_exit(status: Path | None, code: int) -> None:
    """Append one exit to the machine's status file (atomic replace)."""
    if status is None:
        return
    try:
        data = json.loads(status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {"exits": []}
    data["exits"].append({"exit_code": code, "exited_at": now_rfc3339(), "t_ms": now_ms()})
    tmp = status.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, status)


def _run_once(path: Path, instance: str, region: str, argv: list[str]) -> int:
    """Run the main command once, streaming its output into the log; its exit code."""
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, preexec_fn=die_with_parent(signal.SIGKILL))
    except OSError as exc:
        append_log(path, instance, region, f"Error: failed to spawn command: {argv[0]}: {exc}",
                   provider="runner", level="error")
        append_log(path, instance, region, "Main child exited normally with code: 1", provider="runner")
        return 1
    assert child.stdout is not None
    for raw in child.stdout:
        append_log(path, instance, region, raw.decode("utf-8", "replace").rstrip("\r\n"))
    code = child.wait()
    append_log(path, instance, region, f"Main child exited normally with code: {code}", provider="runner")
    return code


def _pump(log: str, instance: str, region: str, argv: list[str], *, status: Path | None = None,
          restarts: int = 0) -> int:
    """Run the command, restarting it after failing exits (``on-failure``) up to ``restarts`` times."""
    path = Path(log)
    attempt = 0
    while True:
        code = _run_once(path, instance, region, argv)
        _record_exit(status, code)
        if code == 0:
            return 0
        if attempt >= restarts:
            if restarts:
                append_log(path, instance, region, f"machine has reached its max restart count of {restarts}",
                           provider="runner", level="warn")
            return code
        attempt += 1
        append_log(path, instance, region, "Starting init (commit: 5293ff2)...", provider="runner")


# ---- the Flycast forwarder (runs as a Postgres machine's process) --------------------------------

async def pipe_bytes(reader: Any, writer: Any) -> None:
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


def forward_to(target: str) -> Any:
    """A ``start_server`` handler that pumps each connection to ``target`` (``host:port`` or a unix socket
    path); a connection the target refuses is closed at once."""
    import asyncio

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            if target.startswith("/"):
                ur, uw = await asyncio.open_unix_connection(target)
            else:
                host, _, port = target.rpartition(":")
                ur, uw = await asyncio.open_connection(host, int(port))
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe_bytes(cr, uw), pipe_bytes(ur, cw))

    return handle


async def _flycast(fd: int, target: str) -> None:
    """Accept on the inherited listening socket ``fd``; forward each connection to ``target``."""
    import asyncio

    sock = socket.socket(fileno=fd)
    server = await asyncio.start_server(forward_to(target), sock=sock)
    async with server:
        await server.serve_forever()


def _end_machine() -> None:
    """SIGKILL this machine: its process group when we lead one (detached pump/forwarder), else ourselves
    (the command then gets its parent-death signal)."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _usage() -> int:
    print("usage: python -m flytui.sandbox.procs pump LOG INSTANCE REGION [--status F] [--restarts N] -- CMD...\n"
          "       python -m flytui.sandbox.procs flycast FD TARGET", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    # the owner (flytui) is gone: end the whole machine (the pump and its command)
    watch_owner(os.environ.get(OWNER_ENV), _end_machine)
    if len(args) == 3 and args[0] == "flycast":
        import asyncio

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_flycast(int(args[1]), args[2]))
        return 0
    if len(args) < 5 or args[0] != "pump" or "--" not in args:
        return _usage()
    sep = args.index("--")
    log, instance, region = args[1:4]
    opts = args[4:sep]
    status = Path(opts[opts.index("--status") + 1]) if "--status" in opts else None
    restarts = int(opts[opts.index("--restarts") + 1]) if "--restarts" in opts else 0
    with contextlib.suppress(KeyboardInterrupt):
        return _pump(log, instance, region, args[sep + 1:], status=status, restarts=restarts)
    return 130


if __name__ == "__main__":
    sys.exit(main())
