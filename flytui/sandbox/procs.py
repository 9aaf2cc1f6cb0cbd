"""Sandbox machines as real local processes, and the per-app log buffer.

An app deployed from a project directory remembers ``source_dir``. Each *started* machine of such an
app is a real process running the Dockerfile's ``CMD`` with:

* cwd = ``source_dir``; the program is resolved in the sandbox's own venv ``bin`` dir first;
* env = the app's deployed secrets (``DATABASE_URL`` host rewritten, see :func:`rewrite_database_url`)
  + ``PORT``, ``FLY_APP_NAME``, ``FLY_MACHINE_ID``, ``FLY_REGION``, ``FLY_PROCESS_GROUP``, ``PRIMARY_REGION``;
* the fly.toml ``internal_port`` replaced by a free local port allocated per machine (kept in state).
  **In the sandbox the app URL is ``http://127.0.0.1:<port>/`` of the first started machine.**

The process is started detached (own session) under a tiny "pump" (``python -m flytui.sandbox.procs
pump ...``) that is the process-group leader: it runs the command and appends each output line to the
app's log file as a log entry. Killing the group (stop/suspend/destroy/teardown) kills both.
Machines without a runnable command (never deployed, Postgres apps) are state only.

Private network emulation: an app's ``DATABASE_URL`` points at ``<pg-app>.flycast`` /
``<pg-app>.internal``; inside the sandbox that host is rewritten to the backing PostgreSQL server
(a unix socket dir becomes ``?host=/dir&port=N``), so machine processes, ``ssh console`` commands
and release commands reach the real database.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from flytui.sandbox.state import Sandbox, pid_alive, stop_group


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


def rewrite_database_url(url: str, server: dict[str, Any] | None) -> str:
    """Point a Fly private-network Postgres URL (``*.flycast``/``*.internal``) at the backing server."""
    if not server:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url
    if not (host.endswith(".flycast") or host.endswith(".internal")):
        return url
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    query = parts.query
    shost, sport = str(server["host"]), int(server["port"])
    if shost.startswith("/"):
        extra = f"host={quote(shost, safe='/')}&port={sport}"
        netloc = userinfo
        query = f"{extra}&{query}" if query else extra
    else:
        netloc = f"{userinfo}{shost}:{sport}"
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def app_env(app: dict[str, Any], server: dict[str, Any] | None, *, machine: dict[str, Any] | None = None,
            deployed_only: bool = True) -> dict[str, str]:
    """Environment a machine of ``app`` sees: os env + [env] + secrets (+ DATABASE_URL rewrite) + FLY_*."""
    env = dict(os.environ)
    env.pop("FLYTUI_SANDBOX_DIR", None)
    env.update({k: str(v) for k, v in (app.get("config", {}).get("env") or {}).items()})
    for name, sec in app.get("secrets", {}).items():
        if deployed_only and sec.get("status") == "Staged":
            continue
        value = sec["value"]
        env[name] = rewrite_database_url(value, server) if name == "DATABASE_URL" else value
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
    return bool(src) and app.get("role") != "postgres_cluster" and dockerfile_cmd(src) is not None


def start_machine_process(sb: Sandbox, app: dict[str, Any], machine: dict[str, Any],
                          server: dict[str, Any] | None) -> int | None:
    """Start the machine's process (detached, own session) and record pid/port in ``machine``.

    Call inside a state transaction; returns the pid or None for state-only machines.
    """
    stop_machine_process(machine)
    log = sb.log_path(app["name"])
    append_log(log, machine["id"], machine["region"], "Starting init (commit: 5293ff2)...", provider="runner")
    if not runnable(app):
        return None
    src = app["source_dir"]
    argv = dockerfile_cmd(src) or []
    internal = int(app.get("config", {}).get("internal_port") or 8080)
    port = machine.setdefault("sandbox", {}).get("port") or free_port()
    machine["sandbox"]["port"] = port
    argv = resolve_program(replace_port(argv, internal, port))
    env = app_env(app, server, machine=machine)
    env["PORT"] = str(port)
    append_log(log, machine["id"], machine["region"],
               f"INFO Preparing to run: `{shlex.join(argv)}` as root", provider="runner")
    pump = [sys.executable, "-m", "flytui.sandbox.procs", "pump", str(log), machine["id"], machine["region"],
            "--", *argv]
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


# ---- the pump (runs as the process-group leader of a machine) --------------------------------

def _pump(log: str, instance: str, region: str, argv: list[str]) -> int:
    path = Path(log)
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
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


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 5 or args[0] != "pump" or "--" not in args:
        print("usage: python -m flytui.sandbox.procs pump LOG INSTANCE REGION -- CMD...", file=sys.stderr)
        return 2
    sep = args.index("--")
    log, instance, region = args[1:4]
    import signal

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    with contextlib.suppress(KeyboardInterrupt):
        return _pump(log, instance, region, args[sep + 1:])
    return 130


if __name__ == "__main__":
    sys.exit(main())
