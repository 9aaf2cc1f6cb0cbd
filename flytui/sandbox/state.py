"""Persistent state of the sandbox flyctl emulator.

Everything the emulator knows lives in one directory (``$FLYTUI_SANDBOX_DIR``):

* ``state.json``  -- user, orgs, apps (machines, secrets, releases, ...), backing Postgres server;
  read/modified/written under an exclusive ``fcntl.flock`` on ``state.lock`` and written atomically
  (temp file + ``os.replace``), because several emulator processes share it.
* ``faults.json`` -- injected failures per command key (see :meth:`Sandbox.inject_fault`).
* ``argv.log``    -- one JSON line per invocation: ``{"argv": [...], "stdin_len": n, "t": ts}``.
* ``logs/<app>.jsonl`` -- the app's log buffer (one JSON entry per line), read by ``fly logs``.

Machine-private bookkeeping (pid, local port) lives under each machine's ``"sandbox"`` key and is
stripped from every flyctl output.

Size: just over 500 lines, kept together on purpose: the one state file, its lock and its atomic writes, the
faults and the argv log that every emulator process shares must stay in one place.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import random
import secrets as _secrets
import signal
import string
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

ENV_DIR = "FLYTUI_SANDBOX_DIR"
FLYCTL_VERSION = "0.3.164"

_ADJECTIVES = ["rough", "calm", "bold", "quiet", "misty", "small", "proud", "lively", "green", "damp",
               "frosty", "silent", "young", "royal", "red", "old", "floral", "summer", "winter", "hidden"]
_NOUNS = ["tree", "river", "sun", "leaf", "morning", "field", "frost", "pond", "cloud", "snow",
          "wave", "meadow", "dust", "flower", "star", "moon", "forest", "hill", "wind", "sea"]


class SandboxError(Exception):
    """A flyctl-style failure: ``message`` is printed as ``Error: <message>`` by the CLI."""

    def __init__(self, message: str, exit_code: int = 1, stdout: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.stdout = stdout


def now_rfc3339() -> str:
    """Current UTC time as an RFC 3339 string with second precision (``2024-05-22T11:04:08Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_ms() -> int:
    """Current time in integer milliseconds since the epoch (machine event timestamps)."""
    return int(time.time() * 1000)


def machine_id() -> str:
    """A Fly-style machine id: 14 lowercase hex characters."""
    return _secrets.token_hex(7)


def machine_name() -> str:
    """A Fly-style machine name: ``adjective-noun-NNNN``."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1000, 9999)}"


def ulid_like() -> str:
    """A 26-character Crockford base32 id shaped like a ULID (``01HY09TSQNFP1FB83CXDR9H3SZ``)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "01H" + "".join(random.choice(alphabet) for _ in range(23))


def private_ip() -> str:
    """A 6PN-looking private IPv6 address."""
    return "fdaa:0:3b99:a7b:" + ":".join(f"{random.randint(1, 0xffff):x}" for _ in range(3)) + ":2"


def secret_digest(value: str) -> str:
    """The 16-hex-char digest flyctl shows for a secret value."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def random_password(n: int = 15) -> str:
    """A random alphanumeric password (``fly pg attach`` uses 15 characters)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(_secrets.choice(alphabet) for _ in range(n))


def sandbox_dir_from_env() -> Path:
    """The state directory from ``$FLYTUI_SANDBOX_DIR``; a clear SandboxError when unset."""
    value = os.environ.get(ENV_DIR, "")
    if not value:
        raise SandboxError(
            f"{ENV_DIR} is not set: the sandbox flyctl needs a state directory "
            "(create one with flytui.sandbox.state.Sandbox.init(dir))"
        )
    return Path(value)


def _atomic_write(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _kill_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the process group led by ``pid``; falls back to the process alone if it leads none."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` names a live, non-zombie process."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def stop_group(pid: int | None, grace: float = 3.0) -> None:
    """SIGTERM a process group, wait up to ``grace`` seconds, then SIGKILL it."""
    if not pid:
        return
    _kill_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)
    _kill_group(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class Sandbox:
    """Python API over a sandbox state directory (used by the emulator, tests and the demo)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)

    # ---- files -------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    @property
    def faults_path(self) -> Path:
        return self.dir / "faults.json"

    @property
    def argv_log_path(self) -> Path:
        return self.dir / "argv.log"

    def log_path(self, app: str) -> Path:
        """The app's log buffer file (JSON lines)."""
        return self.dir / "logs" / f"{app}.jsonl"

    @classmethod
    def init(cls, directory: str | os.PathLike[str], *, user_email: str | None = "demo@example.com",
             org: str = "personal", org_name: str | None = None) -> "Sandbox":
        """Create a fresh state directory; ``user_email=None`` starts logged out."""
        sb = cls(directory)
        sb.dir.mkdir(parents=True, exist_ok=True)
        (sb.dir / "logs").mkdir(exist_ok=True)
        state: dict[str, Any] = {
            "user": None,
            "orgs": [{"slug": org, "name": org_name or (user_email or "Personal"), "type": "PERSONAL"}],
            "apps": {},
            "postgres_server": None,
            "proxies": [],
        }
        if user_email:
            state["user"] = {"email": user_email, "token": "fo1_" + _secrets.token_urlsafe(32)}
        with sb.transaction() as st:
            st.clear()
            st.update(state)
        return sb

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "state.lock", "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"user": None, "orgs": [], "apps": {}, "postgres_server": None, "proxies": []}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Lock, load, yield the mutable state, write it back atomically (not on exception)."""
        with self._locked():
            state = self._load()
            yield state
            _atomic_write(self.state_path, json.dumps(state, indent=2))

    def read(self) -> dict[str, Any]:
        """A consistent snapshot of the state."""
        with self._locked():
            return self._load()

    # ---- seeding -----------------------------------------------------------------------
    def login(self, email: str = "demo@example.com") -> None:
        with self.transaction() as st:
            st["user"] = {"email": email, "token": "fo1_" + _secrets.token_urlsafe(32)}

    def logout(self) -> None:
        with self.transaction() as st:
            st["user"] = None

    def add_org(self, slug: str, name: str | None = None, type_: str = "SHARED") -> None:
        with self.transaction() as st:
            if not any(o["slug"] == slug for o in st["orgs"]):
                st["orgs"].append({"slug": slug, "name": name or slug, "type": type_})

    def create_app(self, name: str, org: str = "personal", *, role: str = "", deployed: bool = False,
                   source_dir: str | None = None, network: str = "default") -> dict[str, Any]:
        """Create an app record (like ``fly apps create``); returns it."""
        with self.transaction() as st:
            return new_app(st, name, org, role=role, deployed=deployed, source_dir=source_dir, network=network)

    def create_postgres(self, name: str, org: str = "personal", region: str = "iad") -> dict[str, Any]:
        """Create a Fly Postgres app (role ``postgres_cluster``) with one started machine.

        The app gets its private address ``127.0.0.N``; with a backing server set, the machine's
        forwarder (``127.0.0.N:5432`` -> server) starts now, else lazily once a server is set.
        """
        with self.transaction() as st:
            app = new_app(st, name, org, role="postgres_cluster", deployed=True)
            app["ips"].append({"ID": ulid_like(), "Address": "fdaa:0:3b99:0:1::2", "Type": "private_v6",
                               "Region": "global", "CreatedAt": now_rfc3339()})
            add_release(app, st, image="flyio/postgres-flex:16", description="Create cluster")
            m = new_machine(app, region=region, image="flyio/postgres-flex:16", state="started",
                            process_group="", internal_port=5432, check_path=None)
            m["config"]["metadata"].update({"fly-managed-postgres": "true", "role": "primary"})
            m["checks"] = [{"name": "pg", "status": "passing", "output": "[✓] connections: 5 used, 3 reserved, 300 max",
                            "updated_at": now_rfc3339()}]
            from flytui.sandbox import procs

            procs.assign_address(st, app)
            procs.start_flycast(st, app, m)  # the machine's process: 127.0.0.N:5432 -> backing server
            return app

    def add_machine(self, app: str, *, region: str = "iad", state: str = "stopped",
                    process_group: str = "app", image: str | None = None) -> dict[str, Any]:
        """Add a (state-only) machine to an app; use ``fly machine start`` to run its process."""
        with self.transaction() as st:
            a = get_app(st, app)
            return new_machine(a, region=region, image=image or f"registry.fly.io/{app}:deployment-{ulid_like()}",
                               state=state, process_group=process_group)

    def set_secret(self, app: str, name: str, value: str, *, staged: bool = False) -> None:
        with self.transaction() as st:
            put_secret(get_app(st, app), name, value, staged=staged)

    def set_postgres_server(self, host: str, port: int, user: str) -> None:
        """Point Fly Postgres apps at a real server (host = unix socket dir or IP)."""
        with self.transaction() as st:
            st["postgres_server"] = {"host": str(host), "port": int(port), "user": user}

    # ---- faults and argv log -------------------------------------------------------------
    def inject_fault(self, command_key: str, **fault: Any) -> None:
        """Make ``command_key`` (``"apps list"``, ``"deploy"``, ``"*"``...) misbehave.

        Keys: ``latency`` s, ``fail`` text (+ ``exit``), ``garbage``, ``hang``, ``payment_required``,
        ``logged_out``, ``rate_limited``, ``fail_stage`` (deploy), ``times`` N (then cleared), ``machine`` ID
        (only invocations that target that machine: a positional id or ``--machine``/``-i``; others run
        normally and do not consume ``times``).
        """
        with self._locked():
            faults = self._faults()
            faults[command_key] = fault
            _atomic_write(self.faults_path, json.dumps(faults, indent=2))

    def clear_faults(self) -> None:
        with self._locked():
            _atomic_write(self.faults_path, "{}")

    def _faults(self) -> dict[str, Any]:
        try:
            return json.loads(self.faults_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def take_fault(self, command_key: str, targets: Iterable[str] = ()) -> dict[str, Any] | None:
        """The fault for ``command_key`` (or ``"*"``), consuming one of its ``times``.

        ``targets``: the machine ids this invocation acts on; a fault with ``machine`` applies only when its
        id is among them.
        """
        wanted = set(targets)
        with self._locked():
            faults = self._faults()
            key = next((k for k in (command_key, "*") if k in faults
                        and (faults[k].get("machine") is None or faults[k]["machine"] in wanted)), None)
            if key is None:
                return None
            fault = dict(faults[key])
            if "times" in fault:
                left = int(fault["times"]) - 1
                if left <= 0:
                    del faults[key]
                else:
                    faults[key]["times"] = left
                _atomic_write(self.faults_path, json.dumps(faults, indent=2))
            return fault

    def log_argv(self, argv: list[str], stdin_len: int | None) -> None:
        """Append one invocation to ``argv.log`` (stdin length only, never its content)."""
        line = json.dumps({"argv": argv, "stdin_len": stdin_len, "t": time.time()}) + "\n"
        with open(self.argv_log_path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            fh.write(line)

    def argv_log(self) -> list[list[str]]:
        """Every recorded argv, oldest first."""
        try:
            lines = self.argv_log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(ln)["argv"] for ln in lines if ln.strip()]

    def argv_log_entries(self) -> list[dict[str, Any]]:
        try:
            lines = self.argv_log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(ln) for ln in lines if ln.strip()]

    # ---- processes -----------------------------------------------------------------------
    def teardown(self) -> None:
        """Stop every machine process (incl. Postgres forwarders) and proxy this sandbox started. Idempotent."""
        if not self.state_path.exists():
            return
        with self.transaction() as st:
            pids: list[int] = []
            for app in st.get("apps", {}).values():
                for m in app.get("machines", []):
                    pid = m.get("sandbox", {}).pop("pid", None)
                    if pid:
                        pids.append(pid)
            pids.extend(st.get("proxies", []))
            st["proxies"] = []
        for pid in pids:
            stop_group(pid, grace=1.0)


# ---- state helpers (operate on a loaded state dict inside a transaction) ----------------------

def get_app(state: dict[str, Any], name: str | None) -> dict[str, Any]:
    """The app record, or flyctl's not-found error."""
    if not name:
        raise SandboxError("the config for your app is missing an app name, add an app field to the "
                           "fly.toml file or specify with the -a flag")
    app = state.get("apps", {}).get(name)
    if app is None:
        raise SandboxError(f'failed to get app: Could not find App "{name}"')
    return app


def get_org(state: dict[str, Any], slug: str) -> dict[str, Any]:
    for org in state.get("orgs", []):
        if org["slug"] == slug:
            return org
    raise SandboxError(f"Could not find organization {slug}")


def new_app(state: dict[str, Any], name: str, org: str, *, role: str = "", deployed: bool = False,
            source_dir: str | None = None, network: str = "default") -> dict[str, Any]:
    """Insert a new app into ``state``; raises flyctl's errors for taken or invalid names."""
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", name or "") or name.endswith("-"):
        raise SandboxError("Validation failed: Name may only contain numbers, lowercase letters and dashes")
    if name in state.setdefault("apps", {}):
        raise SandboxError("Name has already been taken")
    get_org(state, org)
    app: dict[str, Any] = {
        "name": name, "org": org, "role": role, "network": network,
        "status": "deployed" if deployed else "pending", "deployed": deployed,
        "hostname": f"{name}.fly.dev", "created_at": now_rfc3339(),
        "releases": [], "secrets": {}, "machines": [], "volumes": [], "ips": [],
        "source_dir": source_dir, "config": {},
    }
    state["apps"][name] = app
    return app


def add_release(app: dict[str, Any], state: dict[str, Any], *, image: str, status: str = "complete",
                description: str = "Deploy image", strategy: str = "ROLLING") -> dict[str, Any]:
    """Append a release (version + 1) and return it."""
    user = (state.get("user") or {}).get("email", "")
    rel = {
        "id": ulid_like()[:10], "version": len(app["releases"]) + 1, "status": status,
        "description": description, "reason": "deploy", "user_email": user, "image_ref": image,
        "created_at": now_rfc3339(), "strategy": strategy,
    }
    app["releases"].append(rel)
    return rel


def new_machine(app: dict[str, Any], *, region: str, image: str, state: str, process_group: str = "app",
                internal_port: int | None = 8080, check_path: str | None = "/",
                memory_mb: int = 256, cpu_kind: str = "shared", cpus: int = 1) -> dict[str, Any]:
    """Append a machine with a complete fly-go shaped config to ``app`` and return it."""
    repo_tag = image.split("/", 1)[-1]
    repository, _, tag = repo_tag.partition(":")
    registry = image.split("/", 1)[0] if "/" in image else "docker-hub-mirror.fly.io"
    release = app["releases"][-1] if app["releases"] else None
    ts = now_rfc3339()
    services: list[dict[str, Any]] = []
    if internal_port and process_group:
        svc: dict[str, Any] = {
            "protocol": "tcp", "internal_port": internal_port, "autostop": "stop", "autostart": True,
            "min_machines_running": 0,
            "ports": [{"port": 80, "handlers": ["http"], "force_https": True},
                      {"port": 443, "handlers": ["http", "tls"]}],
            "force_instance_key": None,
        }
        if check_path:
            svc["checks"] = [{"type": "http", "interval": "20s", "timeout": "5s", "grace_period": "5s",
                              "method": "GET", "path": check_path}]
        services.append(svc)
    metadata = {"fly_flyctl_version": FLYCTL_VERSION, "fly_platform_version": "v2"}
    if process_group:
        metadata["fly_process_group"] = process_group
    if release:
        metadata["fly_release_id"] = release["id"]
        metadata["fly_release_version"] = str(release["version"])
    env = {"PRIMARY_REGION": region}
    if process_group:
        env["FLY_PROCESS_GROUP"] = process_group
    machine: dict[str, Any] = {
        "id": machine_id(), "name": machine_name(), "state": state, "region": region,
        "image_ref": {"registry": registry, "repository": repository, "tag": tag or "latest",
                      "digest": "sha256:" + _secrets.token_hex(32), "labels": {}},
        "instance_id": ulid_like(), "version": ulid_like(), "private_ip": private_ip(),
        "created_at": ts, "updated_at": ts,
        "config": {"env": env, "init": {},
                   "guest": {"cpu_kind": cpu_kind, "cpus": cpus, "memory_mb": memory_mb},
                   "metadata": metadata, "services": services, "image": image,
                   "restart": {"policy": "on-failure", "max_retries": 10}},
        "events": [{"type": "launch", "status": "created", "source": "user", "timestamp": now_ms()}],
        "checks": [], "host_status": "ok", "cordoned": False, "sandbox": {},
    }
    if services and services[0].get("checks"):
        machine["checks"] = [{"name": f"servicecheck-00-http-{internal_port}",
                              "status": "passing" if state == "started" else "critical",
                              "output": "Success" if state == "started" else "",
                              "updated_at": ts}]
    if state == "started":
        machine["events"].insert(0, {"type": "start", "status": "started", "source": "flyd", "timestamp": now_ms()})
    app["machines"].append(machine)
    return machine


def put_secret(app: dict[str, Any], name: str, value: str, *, staged: bool) -> None:
    """Set a secret; ``staged`` ones are not on the machines yet."""
    app["secrets"][name] = {"value": value, "digest": secret_digest(value), "created_at": now_rfc3339(),
                            "status": "Staged" if staged else "Deployed"}


def find_machine(app: dict[str, Any], ident: str) -> dict[str, Any]:
    """Machine by id (or name); flyctl's not-found error otherwise."""
    for m in app["machines"]:
        if m["id"] == ident or m["name"] == ident:
            return m
    raise SandboxError(f"could not get machine {ident}: failed to get VM {ident}: machine not found "
                       f"(Request ID: {ulid_like()}-iad)")


def add_event(machine: dict[str, Any], type_: str, status: str, source: str = "user") -> None:
    """Prepend a machine event (newest first, like the Machines API)."""
    machine["events"].insert(0, {"type": type_, "status": status, "source": source, "timestamp": now_ms()})
    del machine["events"][10:]
    machine["updated_at"] = now_rfc3339()
