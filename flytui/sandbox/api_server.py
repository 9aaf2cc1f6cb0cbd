"""The sandbox's Machines API: a real HTTP server on loopback, serving the same state as the sandbox flyctl.

What flytui's fast path (``flytui/fly/machines_api.py``) reads, from fly-go @ 22d6e518 (flaps/flaps_machines.go
``List``/``Get``, flaps/flaps_apps.go ``GetApp``, flaps/flaps.go ``NewRequest``/``handleAPIError``):

- ``GET /v1/apps/{app}/machines`` -> the list ``fly machine list --json`` prints (the sandbox command's own rows:
  same reconcile of dead machine processes, same live checks, same ``strip_private``)
- ``GET /v1/apps/{app}/machines/{id}`` -> one machine (``fly machine status --json``)
- ``GET /v1/apps/{app}`` -> flaps ``App`` (``id``, ``name``, ``status``, ``organization{name,slug}``, ...)
- ``Authorization`` must be what fly-go sends for the logged-in user's token (``FlyV1``/``Bearer``, tokens.go);
  otherwise 401. Errors are ``{"error": "..."}`` bodies (the texts are the sandbox's own).

The state is read per request (``state.json`` under its lock), so a machine stopped with the sandbox flyctl is
stopped here at the next request. Faults: ``Sandbox.inject_fault("api", http_status=500, latency=0.2,
times=N)`` (key ``"api"`` only; ``"*"`` faults are flyctl's). Started by the demo (its URL goes to flytui as
``FLY_FLAPS_BASE_URL``, the variable flyctl itself reads) and by the tests' fixture.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flytui.sandbox.state import Sandbox, SandboxError

_ROUTE = re.compile(r"^/v1/apps/(?P<app>[^/]+)(?P<machines>/machines(?:/(?P<mid>[^/]+))?)?/?$")


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
        #: one dict per request: method, path, auth (scheme sent or None), auth_ok, status — never the token
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SandboxApiServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like api.machines.dev

            def log_message(self, *args: Any) -> None:  # no stderr noise (and never the headers)
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, body = owner._handle(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
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

    def _handle(self, path: str, authorization: str | None) -> tuple[int, Any]:
        entry: dict[str, Any] = {"method": "GET", "path": path.split("?", 1)[0],
                                 "auth": authorization.split(" ", 1)[0] if authorization else None,
                                 "auth_ok": False, "status": 0}
        try:
            status, body = self._route(path, authorization, entry)
        except Exception as exc:  # noqa: BLE001 - a sandbox bug is a 500, never a dead server
            status, body = 500, {"error": f"sandbox: {type(exc).__name__}: {exc}"}
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
        match = _ROUTE.match(path.split("?", 1)[0])
        if not match:
            return 404, {"error": "not found"}
        from flytui.sandbox import procs
        from flytui.sandbox.commands import strip_private
        from flytui.sandbox.commands.basic import active_machines, refresh_checks
        from flytui.sandbox.state import find_machine, get_app, get_org

        app_name, mid = unquote(match.group("app")), match.group("mid")
        want_list = match.group("machines") is not None and mid is None
        with self.sandbox.transaction() as st:
            user = st.get("user")
            if not user or not authorization or authorization.strip() not in expected_authorization(user["token"]):
                return 401, {"error": "You must be authenticated to view this."}
            entry["auth_ok"] = True
            try:
                app = get_app(st, app_name)
            except SandboxError:
                return 404, {"error": "app not found"}
            procs.reconcile_app(self.sandbox, app)
            if want_list:
                refresh_checks(app)
                return 200, [strip_private(m) for m in active_machines(app)]
            if mid is not None:
                try:
                    m = find_machine(app, unquote(mid))
                except SandboxError:
                    return 404, {"error": "machine not found"}
                if m["state"] == "destroyed":
                    return 404, {"error": "machine not found"}
                return 200, strip_private(m)
            org = get_org(st, app["org"])
            return 200, {
                "id": app["name"], "name": app["name"], "internal_numeric_id": 0,
                "network": app.get("network", "default"), "status": app["status"],
                "machine_count": len(active_machines(app)), "volume_count": len(app.get("volumes", [])),
                "organization": {"name": org["name"], "slug": org["slug"], "internal_numeric_id": 0},
                "cname_target": "", "app_role": app.get("role", ""),
            }
