"""The Machines API (flaps) fast path for the hot reads: machine list + state, one machine, app status.

Every poll through flyctl is a process (~100 ms of start-up before flyctl does anything); these reads go to
the Machines REST API directly, like flyctl itself does underneath, over one httpx client (HTTP/1.1 keep-alive,
at most :data:`CONCURRENCY` requests at once, timeouts). flyctl stays the path for everything else and the
FALLBACK for these: any API failure (connection refused, timeout, HTTP >= 400, JSON the models reject) makes
the caller (:class:`flytui.fly.client.FlyClient`) run the flyctl command instead, and the command log records
the failed request with ``falling back to flyctl``.

Endpoints and shapes — fly-go @ 22d6e518f42d50a81b4485da918741563354b3d3 (2026-08-21):

- base URL ``https://api.machines.dev`` unless ``FLY_FLAPS_BASE_URL`` is set (flaps/flaps.go ``NewWithOptions``;
  flyctl's internal/config/config.go ``flapsBaseURLEnvKey`` @ ad0172f); every path is ``/v1`` + endpoint
  (flaps/flaps.go ``NewRequest``).
- ``GET /v1/apps/{app}/machines`` -> ``[]Machine`` (flaps/flaps_machines.go ``List``; ``fly machine list --json``
  prints exactly that list: flyctl internal/command/machine/list.go), ``GET /v1/apps/{app}/machines/{id}`` ->
  ``Machine`` (``Get``); both drop the ``bg_deployments_compat*`` checks (machine_types.go ``RemoveCompatChecks``).
- ``GET /v1/apps/{app}`` -> ``App{id,name,status,organization{name,slug},...}`` (flaps/flaps_apps.go ``GetApp``).
- ``GET /v1/apps?org_slug={org}`` -> ``{"apps": [App, ...]}`` (flaps/flaps_apps.go ``ListApps``, decoded into the
  same ``App`` type as ``GetApp``, so ``status`` per app when the API sends it). The published OpenAPI spec's
  ``ListApp`` documents only ``id``, ``name``, ``machine_count``, ``network`` (+ ``total_apps``): an entry without
  ``status`` is not taken as a state, that app is read on its own (:meth:`MachinesAPI.app_states`).
- ``Authorization: FlyV1 <macaroons>`` when the token holds macaroons (``fm1r_``/``fm1a_``/``fm2_``), else
  ``Bearer <token>`` (tokens/tokens.go ``Parse`` + ``FlapsHeader``); error bodies ``{"error": ..., "message": ...}``
  (flaps/flaps.go ``handleAPIError``).

The token is found the way flyctl finds it (flyctl internal/config/config.go ``applyEnv``/``applyFile`` @ ad0172f):
``FLY_ACCESS_TOKEN``, then ``FLY_API_TOKEN``, then ``access_token`` in ``config.yml`` of ``$FLY_CONFIG_DIR`` or
``~/.fly`` (helpers/config.go), else ``fly auth token`` through the runner. It is read once and kept in memory
only: never written anywhere, never in argv, never logged (the command log shows ``GET /v1/apps/x/machines``,
the status code and the duration).

``fly status --json`` through the API (:meth:`MachinesAPI.status`): ``GetApp`` + ``List`` filtered like
flyctl's ``RenderMachineStatus`` (``ListActive``, Apps-v2 machines unless a Postgres app, sorted by id
descending: internal/command/status/machines.go). The API has no release number or hostname: ``Version`` is
the highest ``fly_release_version`` the machines carry and ``Hostname`` stays empty (the UI falls back to the
apps list's).

The apps pane's refresh (:meth:`MachinesAPI.app_states`): one ``ListApps`` per organization gives every app's
``status`` (and so ``Deployed``, flaps ``App.Deployed``) in one round trip instead of ``GetApp`` + ``List`` per app.
It has no release number, hostname or machines (flaps ``App`` has none): those stay the apps list's.

httpx is imported lazily (in a thread, by :meth:`MachinesAPI.warm`) so start-up never waits for it: until the
fast path is warm, reads go through flyctl.
"""
from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, TypeVar
from urllib.parse import quote, urlencode

_T = TypeVar("_T")

if TYPE_CHECKING:  # pragma: no cover
    from .models import AppStatus, Machine

DEFAULT_BASE_URL = "https://api.machines.dev"
#: requests in flight at once (one keep-alive connection each)
CONCURRENCY = 8
#: seconds: connect / whole request
CONNECT_TIMEOUT = 3.0
REQUEST_TIMEOUT = 10.0
#: seconds the fast path stays off after a failure that is not about one app/machine (then it is tried again)
COOLDOWN = 30.0
#: fly-go tokens/tokens.go ``Parse``: these prefixes are macaroons
MACAROON_PREFIXES = ("fm1r", "fm1a", "fm2")
COMPAT_CHECK_PREFIX = "bg_deployments_compat"

_CONFIG_TOKEN = re.compile(r"^access_token:\s*(.*?)\s*$", re.MULTILINE)


class ApiError(Exception):
    """One failed API request: ``status`` is the HTTP status (None: no response), ``str()`` what went wrong."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def flaps_authorization(token: str) -> str:
    """The ``Authorization`` value fly-go sends to flaps for ``token`` (tokens.go ``FlapsHeader``)."""
    token = token.strip()
    scheme, _, rest = token.partition(" ")
    if rest and scheme.lower() in ("bearer", "flyv1"):  # StripAuthorizationScheme
        token = rest.strip()
    parts = [t.strip() for t in token.split(",") if t.strip()]
    macaroons = [t for t in parts if t.split("_", 1)[0] in MACAROON_PREFIXES]
    if macaroons:
        return "FlyV1 " + ",".join(macaroons)
    return "Bearer " + ",".join(parts)


def token_from_config_file(environ: Mapping[str, str]) -> str | None:
    """``access_token`` of flyctl's ``config.yml`` (``$FLY_CONFIG_DIR`` or ``~/.fly``), or None.

    flyctl writes the file with yaml.v3 (internal/config/file.go ``SetAccessToken``): a top-level scalar line,
    plain or quoted; that is all that is read here.
    """
    base = environ.get("FLY_CONFIG_DIR")
    if base is None:
        home = environ.get("HOME") or str(Path.home())
        base = os.path.join(home, ".fly")
    try:
        text = Path(base, "config.yml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = _CONFIG_TOKEN.search(text)
    if not match:
        return None
    value = match.group(1)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value.strip() or None


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _without_compat_checks(machine: Any) -> Any:
    if isinstance(machine, dict) and isinstance(machine.get("checks"), list):
        machine = dict(machine)
        machine["checks"] = [c for c in machine["checks"]
                             if not (isinstance(c, dict) and str(c.get("name", "")).startswith(COMPAT_CHECK_PREFIX))]
    return machine


def _error_text(status: int, body: bytes) -> str:
    """flaps ``handleAPIError``: ``message``, else ``error``, else the raw body."""
    import json

    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and (data.get("message") or data.get("error")):
        return str(data.get("message") or data.get("error"))
    text = body.decode("utf-8", "replace").strip()[:200]
    return f"request returned non-2xx status: {status}" + (f": {text}" if text else "")


class MachinesAPI:
    """Machines API reads. ``runner`` (a FlyctlRunner) supplies the environment and ``fly auth token``."""

    def __init__(self, base_url: str | None = None, *, runner: Any = None,
                 environ: Mapping[str, str] | None = None, enabled: bool = True,
                 concurrency: int = CONCURRENCY, timeout: float = REQUEST_TIMEOUT,
                 connect_timeout: float = CONNECT_TIMEOUT, cooldown: float = COOLDOWN) -> None:
        self.runner = runner
        if environ is not None:  # the complete environment (the demo's, without the user's tokens)
            env = dict(environ)
        else:  # what flyctl sees: os.environ + the runner's additions
            env = dict(os.environ)
            env.update(getattr(runner, "env", None) or {})
        self._environ = env
        self.base_url = (base_url or env.get("FLY_FLAPS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.enabled = enabled
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.cooldown = cooldown
        self._token: str | None = None
        self._token_source = ""
        self._http: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._down_until = 0.0
        self._warm_lock: asyncio.Lock | None = None
        self._listeners: list[Callable[[Any], None]] = []
        #: why the last request fell back to flyctl (None: the last one succeeded)
        self.last_fallback: str | None = None

    # --- state -------------------------------------------------------------------------------
    def add_listener(self, cb: Callable[[Any], None]) -> None:
        """Call ``cb(Invocation)`` at start and end of every request (the command log: method, path, status)."""
        self._listeners.append(cb)

    @property
    def ready(self) -> bool:
        """Requests go out now: enabled, warm (httpx imported, token known) and not cooling down."""
        return (self.enabled and self._token is not None and "httpx" in sys.modules
                and time.monotonic() >= self._down_until)

    @property
    def token_source(self) -> str:
        """Where the token came from (``FLY_API_TOKEN``, ``config file``, ``fly auth token``), never the token."""
        return self._token_source

    async def warm(self) -> bool:
        """Import httpx (in a thread) and find the token; True when the fast path is ready."""
        if not self.enabled:
            return False
        if self._warm_lock is None:
            self._warm_lock = asyncio.Lock()
        async with self._warm_lock:
            if "httpx" not in sys.modules:
                import importlib

                await asyncio.to_thread(importlib.import_module, "httpx")
            if self._token is None:
                self._token, self._token_source = await self._find_token()
        return self.ready

    def _rewarm(self) -> None:
        """Warmed before but without a token now (refused with 401, or not logged in at start): look it up again
        in the background once the cooldown is over (this read goes to flyctl; later ones may use the API)."""
        now = time.monotonic()
        if (not self.enabled or self._token is not None or "httpx" not in sys.modules or self._warm_lock is None
                or now < self._down_until or self._warm_lock.locked()):
            return
        self._down_until = now + self.cooldown  # at most one lookup per cooldown

        async def again() -> None:
            await self.warm()
            if self._token is not None:
                self._down_until = 0.0

        task = asyncio.ensure_future(again())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _find_token(self) -> tuple[str | None, str]:
        env = self._environ
        # flyctl: env.First(FLY_ACCESS_TOKEN, FLY_API_TOKEN) -- the first that is *set* wins, even when empty, and
        # an empty one means "use the login in config.yml" (internal/config/config.go applyEnv, internal/env/env.go
        # First @ ad0172f)
        for name in ("FLY_ACCESS_TOKEN", "FLY_API_TOKEN"):
            if name in env:
                if env[name].strip():
                    return env[name].strip(), name
                break
        token = token_from_config_file(env)
        if token:
            return token, "config file"
        if self.runner is None:
            return None, ""
        try:
            run = await self.runner.run("auth", "token", timeout=30.0)
        except Exception:  # noqa: BLE001 - not logged in / flyctl missing: flyctl's own calls will say so
            return None, ""
        lines = (run.stdout or "").strip().splitlines()
        return (lines[-1].strip() if lines else None) or None, "fly auth token"

    def _client(self) -> Any:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                base_url=self.base_url, http2=False,
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
                headers={"User-Agent": "flytui"}, follow_redirects=False,
                # proxies / SSL_CERT_FILE from the environment like flyctl (Go's ProxyFromEnvironment), except for
                # a loopback URL (the sandbox), which Go never proxies either
                trust_env=not _is_loopback(self.base_url))
            self._sem = asyncio.Semaphore(self.concurrency)
        return self._http

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            try:
                await http.aclose()
            except Exception:  # noqa: BLE001 - closing anyway
                pass

    # --- requests ----------------------------------------------------------------------------
    def _emit(self, path: str, started: float, duration: float | None, status: int | None, note: str) -> None:
        from .runner import Invocation

        inv = Invocation(argv=["GET", path], started=started, duration=duration, returncode=status,
                         stderr_tail=note, kind="api")
        for cb in list(self._listeners):
            try:
                cb(inv)
            except Exception:  # noqa: BLE001 - a broken listener must not break reads
                pass

    async def get_json(self, path: str) -> Any:
        """``GET /v1{path}``: the decoded JSON, or :class:`ApiError` (recorded as a fallback)."""
        import httpx

        full = "/v1" + path
        http = self._client()
        assert self._sem is not None
        async with self._sem:
            started, t0 = time.time(), time.monotonic()
            self._emit(full, started, None, None, "")
            status: int | None = None
            try:
                resp = await http.get(full, headers={"Authorization": flaps_authorization(self._token or "")})
                status = resp.status_code
                if status >= 400:
                    raise ApiError(f"HTTP {status}: {_error_text(status, resp.content)}", status)
                try:
                    data = resp.json()
                except ValueError:
                    raise ApiError(f"HTTP {status}: the response is not JSON", status) from None
            except ApiError as exc:
                self._failed(full, started, t0, status, exc)
                raise
            except httpx.HTTPError as exc:  # connection refused, timeouts, protocol errors
                err = ApiError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                self._failed(full, started, t0, None, err)
                raise err from None
            self._emit(full, started, time.monotonic() - t0, status, "")
            self.last_fallback = None
            return data

    def _failed(self, path: str, started: float, t0: float, status: int | None, exc: ApiError) -> None:
        self.last_fallback = str(exc)
        if status == 401:  # the token changed (fly auth login / logout): look it up again next time
            self._token = None
        if status != 404:  # a missing app/machine says nothing about the API itself
            self._down_until = time.monotonic() + self.cooldown
        self._emit(path, started, time.monotonic() - t0, status, f"{exc}; falling back to flyctl")

    # --- typed reads (None: use flyctl) --------------------------------------------------------
    async def _read(self, fn: Callable[[], Awaitable[_T]]) -> _T | None:
        from .errors import FlyctlOutputError

        if not self.ready:
            self._rewarm()
            return None
        try:
            return await fn()
        except ApiError:
            return None
        except FlyctlOutputError as exc:  # the models rejected the JSON: flyctl's output is the reference
            self.last_fallback = f"unexpected JSON from the Machines API: {exc.message}"
            self._down_until = time.monotonic() + self.cooldown
            return None

    async def _machines_raw(self, app: str) -> list[Any]:
        data = await self.get_json(f"/apps/{quote(app, safe='')}/machines")
        return [_without_compat_checks(m) for m in data] if isinstance(data, list) else data

    async def machines(self, app: str) -> "list[Machine] | None":
        """``GET /v1/apps/{app}/machines`` as ``fly machine list --json`` parses; None: use flyctl."""
        from .models import parse_machines

        async def go() -> list[Machine]:
            return parse_machines(await self._machines_raw(app), f"GET /v1/apps/{app}/machines")

        return await self._read(go)

    async def machine(self, app: str, machine_id: str) -> "Machine | None":
        """``GET /v1/apps/{app}/machines/{id}``; None: use flyctl."""
        from .models import Machine

        async def go() -> Machine:
            path = f"/apps/{quote(app, safe='')}/machines/{quote(machine_id, safe='')}"
            return Machine.from_json(_without_compat_checks(await self.get_json(path)), f"GET /v1{path}")

        return await self._read(go)

    async def status(self, app: str) -> "AppStatus | None":
        """``fly status --json`` built from ``GetApp`` + ``List`` (see the module docstring); None: use flyctl."""
        from .models import AppStatus

        async def go() -> AppStatus:
            info, machines = await asyncio.gather(self.get_json(f"/apps/{quote(app, safe='')}"),
                                                  self._machines_raw(app))
            return AppStatus.from_json(status_json(info, machines), f"GET /v1/apps/{app}")

        return await self._read(go)

    async def app_states(self, org_slug: str) -> "dict[str, AppStatus] | None":
        """Every app of ``org_slug`` with its state, from one ``GET /v1/apps?org_slug=ORG`` (flaps ``ListApps``).

        ``AppStatus`` per app whose entry carries ``status`` (no machines, no release number: see the module
        docstring); apps missing from the answer or without ``status`` are left out (the caller reads those one
        by one). None: use the per-app reads (not warm, off, cooling down, any API error)."""
        from .models import AppStatus, output_error

        async def go() -> Any:
            path = "/apps?" + urlencode({"org_slug": org_slug})
            data = await self.get_json(path)
            apps = data.get("apps") if isinstance(data, dict) else None
            if not isinstance(apps, list):
                raise output_error(f"GET /v1{path}", "expected an object with an 'apps' list")
            out: dict[str, AppStatus] = {}
            for entry in apps:
                if isinstance(entry, dict) and isinstance(entry.get("status"), str) and entry["status"]:
                    st = AppStatus.from_json(status_json(entry, None), f"GET /v1{path}")
                    out[st.name] = st
            return out

        return await self._read(go)


def status_json(info: Any, machines: Any) -> Any:
    """flyctl's ``renderMachineJSONStatus`` shape from a flaps ``App`` and its machine list (``machines=None``: a
    ``ListApps`` entry, no machines known)."""
    if machines is None:
        machines = []
    if not isinstance(info, dict) or not isinstance(machines, list):
        return info  # the models raise the shape error
    org: dict[str, Any] = info["organization"] if isinstance(info.get("organization"), dict) else {}
    postgres = info.get("app_role") == "postgres_cluster"

    def meta(m: dict[str, Any]) -> dict[str, Any]:
        cfg: dict[str, Any] = m["config"] if isinstance(m.get("config"), dict) else {}
        md: dict[str, Any] = cfg["metadata"] if isinstance(cfg.get("metadata"), dict) else {}
        return md

    def active(m: Any) -> bool:  # flaps ListActive
        if not isinstance(m, dict):
            return True  # let the models report it
        md = meta(m)
        group = md.get("fly_process_group") or md.get("process_group", "")
        v2 = md.get("fly_platform_version") == "v2"
        if m.get("state") in ("destroyed", "destroying"):
            return False
        if group == "fly_app_release_command" or md.get("process_group") == "release_command":
            return False
        if v2 and group == "fly_app_console":
            return False
        return postgres or v2  # RenderMachineStatus: IsAppsV2 unless a Postgres app

    shown = sorted((m for m in machines if active(m)), key=lambda m: str(m.get("id", "")) if isinstance(m, dict)
                   else "", reverse=True)
    versions = [int(v) for m in shown if isinstance(m, dict) for v in [meta(m).get("fly_release_version", "")]
                if isinstance(v, str) and v.isdigit()]
    status = str(info.get("status", ""))
    return {
        "ID": info.get("id", ""), "Name": info.get("name", ""), "Status": status,
        "Deployed": status in ("deployed", "suspended"),  # flaps App.Deployed
        "Hostname": "", "AppURL": "", "Version": max(versions, default=0), "PlatformVersion": "machines",
        "Organization": {"Name": org.get("name", ""), "Slug": org.get("slug", "")},
        "Machines": shown,
    }
