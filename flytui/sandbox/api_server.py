"""The sandbox's Machines API: a real HTTP server on loopback, serving the same state as the sandbox flyctl.

What flytui's fast path (``flytui/fly/machines_api.py``) reads, from fly-go @ 22d6e518 (flaps/flaps_machines.go
``List``/``Get``, flaps/flaps_apps.go ``GetApp``, flaps/flaps.go ``NewRequest``/``handleAPIError``):

- ``GET /v1/apps/{app}/machines`` -> the list ``fly machine list --json`` prints (the sandbox command's own rows:
  same reconcile of dead machine processes, same live checks, same ``strip_private``)
- ``GET /v1/apps/{app}/machines/{id}`` -> one machine (``fly machine status --json``)
- ``GET /v1/apps/{app}`` -> flaps ``App`` (``id``, ``name``, ``status``, ``organization{name,slug}``, ...)
- ``GET /v1/apps?org_slug={org}`` -> ``{"total_apps": n, "apps": [App, ...]}`` (flaps_apps.go ``ListApps``: the
  same ``App`` per app as ``GetApp``; ``total_apps`` from the published OpenAPI spec's ``ListAppsResponse``).
  Fault ``{"list_shape": "openapi"}`` serves the spec's ``ListApp`` entries instead (``id``, ``name``,
  ``machine_count``, ``network``: no ``status``), to test the client's per-app fallback.
- ``Authorization`` must be what fly-go sends for the logged-in user's token (``FlyV1``/``Bearer``, tokens.go);
  otherwise 401. Errors are ``{"error": "..."}`` bodies (the texts are the sandbox's own).

The state is read per request (``state.json`` under its lock), so a machine stopped with the sandbox flyctl is
stopped here at the next request. Faults: ``Sandbox.inject_fault("api", http_status=500, latency=0.2,
times=N)`` (key ``"api"`` only; ``"*"`` faults are flyctl's). Started by the demo (its URL goes to flytui as
``FLY_FLAPS_BASE_URL``, the variable flyctl itself reads) and by the tests' fixture.
"""
from __future__ import annotations

import copy
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from flytui.sandbox.state import Sandbox, SandboxError

_ROUTE = re.compile(r"^/v1/apps/(?P<app>[^/]+)(?P<machines>/machines(?:/(?P<mid>[^/]+))?)?/?$")
_LIST = re.compile(r"^/v1/apps/?$")


def expected_authorization(token: str) -> set[str]:
    """The header values fly-go would send for ``token`` (tokens.go ``FlapsHeader``; scheme case-insensitive)."""
    macaroon = token.split("_", 1)[0] in ("fm1r", "fm1a", "fm2")
    return {("FlyV1 " if macaroon else "Bearer ") + token}


class SandboxApiServer:
    """``SandboxApiServer(sandbox_dir).start()``; ``.url`` is the base URL; ``.stop()``; ``.requests`` (no tokens)."""

    def __init__(self, directory: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = Sandbox(directory)
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: one dict per request: method, path, peer (client port: one per connection), auth (scheme sent or None),
        #: auth_ok, status — never the token
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._cache: tuple[Any, dict[str, Any]] | None = None
        #: requests being answered now, and the most at once so far
        self.in_flight = 0
        self.peak_in_flight = 0

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "SandboxApiServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like api.machines.dev
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # no stderr noise (and never the headers)
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, body = owner._handle(self.path, self.headers.get("Authorization"),
                                             peer=self.client_address[1])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # socketserver's 5 drops SYNs when 8 clients connect at once (1 s retry)

        self._server = Server((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="sandbox-machines-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "SandboxApiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- requests ------------------------------------------------------------------------------
    def _take_fault(self) -> dict[str, Any] | None:
        if "api" not in self.sandbox._faults():  # "*" faults are flyctl's, not the API's
            return None
        return self.sandbox.take_fault("api")

    def _handle(self, path: str, authorization: str | None, peer: int = 0) -> tuple[int, Any]:
        entry: dict[str, Any] = {"method": "GET", "path": path.split("?", 1)[0], "peer": peer,
                                 "auth": authorization.split(" ", 1)[0] if authorization else None,
                                 "auth_ok": False, "status": 0}
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            status, body = self._route(path, authorization, entry)
        except Exception as exc:  # noqa: BLE001 - a sandbox bug is a 500, never a dead server
            status, body = 500, {"error": f"sandbox: {type(exc).__name__}: {exc}"}
        finally:
            with self._lock:
                self.in_flight -= 1
        entry["status"] = status
        with self._lock:
            self.requests.append(entry)
        return status, body

    def _route(self, path: str, authorization: str | None, entry: dict[str, Any]) -> tuple[int, Any]:
        fault = self._take_fault()
        if fault:
            if fault.get("latency"):
                time.sleep(float(fault["latency"]))
            if fault.get("http_status"):
                return int(fault["http_status"]), {"error": str(fault.get("error", "internal server error"))}
        bare, _, query = path.partition("?")
        # A read needs no write (and no exclusive lock held while serialising the state) unless reconciling
        # dead machine processes or live checks changed something: then it is redone in a transaction,
        # exactly like the sandbox flyctl's own `machine list` / `status` (which always write).
        if _LIST.match(bare):
            org = (parse_qs(query).get("org_slug") or [""])[0]
            shape = str((fault or {}).get("list_shape", ""))
            answer, changed = self._serve_list(self._snapshot(), org, shape, authorization, entry, copy_app=True)
            if changed:
                with self.sandbox.transaction() as st:
                    answer, _ = self._serve_list(st, org, shape, authorization, entry)
            return answer
        match = _ROUTE.match(bare)
        if not match:
            return 404, {"error": "not found"}
        route = (unquote(match.group("app")), match.group("machines") is not None,
                 unquote(match.group("mid")) if match.group("mid") else None)
        answer, changed = self._serve(self._snapshot(), route, authorization, entry, copy_app=True)
        if changed:
            with self.sandbox.transaction() as st:
                answer, _ = self._serve(st, route, authorization, entry)
        return answer

    def _snapshot(self) -> dict[str, Any]:
        """The state as last written (parsed again only when state.json was replaced; never mutated)."""
        with self.sandbox._locked():
            try:
                st = self.sandbox.state_path.stat()
                key = (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                key = None
            with self._lock:
                if key is not None and self._cache is not None and self._cache[0] == key:
                    return self._cache[1]
            state = self.sandbox._load()
        with self._lock:
            self._cache = (key, state)
        return state

    def _serve(self, st: dict[str, Any], route: tuple[str, bool, str | None], authorization: str | None,
               entry: dict[str, Any], copy_app: bool = False) -> tuple[tuple[int, Any], bool]:
        """((status, body), whether the state changed) for one request against the state ``st``."""
        from flytui.sandbox import procs
        from flytui.sandbox.commands import strip_private
        from flytui.sandbox.commands.basic import active_machines, refresh_checks
        from flytui.sandbox.state import find_machine, get_app, get_org

        app_name, machines, mid = route
        if not _authorized(st, authorization):
            return (401, {"error": "You must be authenticated to view this."}), False
        entry["auth_ok"] = True
        try:
            app = get_app(st, app_name)
        except SandboxError:
            return (404, {"error": "app not found"}), False
        if copy_app:  # the shared snapshot stays as read
            app = copy.deepcopy(app)
        before = json.dumps(app.get("machines", []), sort_keys=True)
        procs.reconcile_app(self.sandbox, app)
        if machines and mid is None:
            refresh_checks(app)
            answer: tuple[int, Any] = (200, [strip_private(m) for m in active_machines(app)])
        elif mid is not None:
            try:
                m = find_machine(app, mid)
            except SandboxError:
                m = None
            answer = (200, strip_private(m)) if m and m["state"] != "destroyed" else \
                (404, {"error": "machine not found"})
        else:
            answer = (200, flaps_app(app, get_org(st, app["org"])))
        return answer, json.dumps(app.get("machines", []), sort_keys=True) != before

    def _serve_list(self, st: dict[str, Any], org_slug: str, shape: str, authorization: str | None,
                    entry: dict[str, Any], copy_app: bool = False) -> tuple[tuple[int, Any], bool]:
        """``ListApps``: every app of ``org_slug`` (each reconciled like ``GetApp``), and whether any changed."""
        from flytui.sandbox import procs
        from flytui.sandbox.commands.basic import active_machines
        from flytui.sandbox.state import get_org

        if not _authorized(st, authorization):
            return (401, {"error": "You must be authenticated to view this."}), False
        entry["auth_ok"] = True
        if not org_slug:
            return (400, {"error": "org_slug is required"}), False
        try:
            org = get_org(st, org_slug)
        except SandboxError as exc:
            return (404, {"error": str(exc)}), False
        out, changed = [], False
        for app in sorted((a for a in st.get("apps", {}).values() if a["org"] == org["slug"]),
                          key=lambda a: a["name"]):
            if copy_app:  # the shared snapshot stays as read
                app = copy.deepcopy(app)
            before = json.dumps(app.get("machines", []), sort_keys=True)
            procs.reconcile_app(self.sandbox, app)
            changed = changed or json.dumps(app.get("machines", []), sort_keys=True) != before
            if shape == "openapi":  # the spec's ListApp: no status
                out.append({"id": app["name"], "name": app["name"], "machine_count": len(active_machines(app)),
                            "network": app.get("network", "default")})
            else:
                out.append(flaps_app(app, org))
        return (200, {"total_apps": len(out), "apps": out}), changed


def _authorized(st: dict[str, Any], authorization: str | None) -> bool:
    user = st.get("user")
    return bool(user and authorization and authorization.strip() in expected_authorization(user["token"]))


def flaps_app(app: dict[str, Any], org: dict[str, Any]) -> dict[str, Any]:
    """fly-go flaps ``App`` (flaps/flaps_apps.go @ 22d6e518) for a sandbox app record."""
    from flytui.sandbox.commands.basic import active_machines

    return {
        "id": app["name"], "name": app["name"], "internal_numeric_id": 0,
        "network": app.get("network", "default"), "status": app["status"],
        "machine_count": len(active_machines(app)), "volume_count": len(app.get("volumes", [])),
        "organization": {"name": org["name"], "slug": org["slug"], "internal_numeric_id": 0},
        "cname_target": "", "app_role": app.get("role", ""),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m flytui.sandbox.api_server SANDBOX_DIR``: serve until stdin closes; prints the URL first."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m flytui.sandbox.api_server SANDBOX_DIR", file=sys.stderr)
        return 2
    server = SandboxApiServer(args[0]).start()
    print(server.url, flush=True)
    try:
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
