"""Tunnels pane (k9s port-forwards): every live ``fly proxy`` flytui owns, through ``app.tunnels``
(:class:`flytui.db.tunnel.TunnelManager`). ``n`` opens one (app + remote port, e.g. 5432 for ``psql``),
``ctrl+d`` closes the selected one, ``y`` copies its connect command (``psql -h 127.0.0.1 -p PORT …``).
"""
from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from flytui.ui.screens.dialog import Dialog
from flytui.ui import commands
from flytui.ui.screens.confirm import ConfirmRequest
from flytui.ui.screens.pane import Pane

GROUP = "tunnels"
PG_PORT = 5432
TUNNEL_STYLES = {"up": "green", "connecting": "cyan", "dropped": "yellow", "failed": "bold red", "closed": "grey62"}


def tunnel_key(app: str, remote_port: int, host: str | None) -> str:
    return f"{app}:{remote_port}:{host or ''}"


def fmt_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def connect_command(local_port: int | None, remote_port: int, bind: str = "127.0.0.1", kind: str = "proxy") -> str:
    """What to run against the local end: ``psql`` for PostgreSQL, else the local address.

    A Managed Postgres tunnel (``fly mpg proxy``) logs in as the cluster's default ``fly-user`` to ``fly-db``."""
    if local_port is None:
        return "-"
    if kind == "mpg":
        return f"psql -h {bind} -p {local_port} -U fly-user fly-db"
    if remote_port == PG_PORT:
        return f"psql -h {bind} -p {local_port} -U postgres"
    return f"{bind}:{local_port}"


def tunnel_row(info: Any) -> dict[str, Any]:
    """One row for a :class:`flytui.db.tunnel.TunnelInfo`."""
    state = Text(info.state, style=TUNNEL_STYLES.get(info.state, ""))
    return {
        "local": f"127.0.0.1:{info.local_port}" if info.local_port else "-",
        "app": info.app,
        "target": info.target,
        "state": state,
        "uptime": fmt_uptime(info.uptime),
        "users": str(info.refs),
        "pid": str(info.pid) if info.pid else "-",
        "connect": connect_command(info.local_port, info.remote_port, kind=getattr(info, "kind", "proxy")),
        "error": (info.error or "").splitlines()[0][:80] if info.error else "",
    }


class OpenTunnelScreen(Dialog[tuple[str, int, str | None] | None]):
    """Ask for app, remote port and optional host; returns ``(app, port, host)`` or None."""

    CSS_PATH = "confirm.tcss"
    DEFAULT_CSS = """
    OpenTunnelScreen Input { border-title-color: $foreground-muted; }
    OpenTunnelScreen Input:focus { border-title-color: $border; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, app_name: str = "", remote_port: int = PG_PORT) -> None:
        super().__init__()
        self._app_name = app_name
        self._port = remote_port

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label("Open a tunnel (fly proxy)", id="confirm-title")
            # each field names itself in its border: a prefilled value has no placeholder left to say what it is
            for title, field in (("App", Input(self._app_name, placeholder="app (e.g. my-db)", id="tunnel-app")),
                                 ("Remote port", Input(str(self._port), placeholder="remote port (5432 for Postgres)",
                                                       id="tunnel-port")),
                                 ("Remote host", Input("", placeholder="remote host (optional; default APP.internal)",
                                                       id="tunnel-host"))):
                field.border_title = title
                yield field
            yield Label("", id="tunnel-error", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Open", id="confirm-yes", variant="primary")
                yield Button("Cancel", id="confirm-no")
            yield self.key_hints()

    ENTER_HINT = "open the tunnel"

    def hints(self) -> list[tuple[str, str]]:
        return [("tab", "next field"), ("esc", "cancel")]

    def on_mount(self) -> None:
        self.query_one("#tunnel-port" if self._app_name else "#tunnel-app", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        app = self.query_one("#tunnel-app", Input).value.strip()
        port_text = self.query_one("#tunnel-port", Input).value.strip()
        host = self.query_one("#tunnel-host", Input).value.strip() or None
        error = self.query_one("#tunnel-error", Label)
        if not app:
            error.update("App is required")
            return
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            error.update("Remote port must be a number 1-65535")
            return
        self.dismiss((app, int(port_text), host))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self._submit()
        else:
            self.dismiss(None)


class TunnelsPane(Pane):
    """Live ``fly proxy`` tunnels with local port, target, state and uptime."""

    GROUP: ClassVar[str] = GROUP
    BINDINGS = commands.bindings([GROUP])
    TITLE: ClassVar[str] = "Tunnels"
    NEEDS_APP: ClassVar[bool] = False
    EMPTY: ClassVar[str] = "No tunnels. Press n to open one (e.g. remote port 5432 for psql)."
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("local", "LOCAL"), ("app", "APP"), ("target", "TARGET"), ("state", "STATE"), ("uptime", "UPTIME"),
        ("users", "USERS"), ("pid", "PID"), ("connect", "CONNECT"), ("error", "ERROR")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.held: dict[str, Any] = {}  # tunnels this pane opened (one reference each)
        self._listening = False
        self._redraw_timer = None

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("n open · ctrl+d close · y copy connect command", id="tunnels-hint")

    @property
    def manager(self) -> Any:
        return getattr(self.app, "tunnels", None)

    def _listen(self) -> None:
        manager = self.manager
        if manager is not None and not self._listening:
            manager.add_listener(self._state_changed)
            self._listening = True

    def _state_changed(self, _tunnel: Any, _state: str) -> None:
        if self.is_mounted and self.active and self._redraw_timer is None:
            self._redraw_timer = self.set_timer(0.05, self._redraw_now)

    def _redraw_now(self) -> None:
        self._redraw_timer = None
        self.reload()

    def reload(self) -> None:
        """Rows from the manager (local state, no flyctl call); uptime ticks every second while visible."""
        self._cancel_poll()
        self.loaded_token = self.token()
        manager = self.manager
        if manager is None:
            self.query_one(".pane-title", Label).update(f"{self.TITLE} — not available")
            return
        self._listen()
        infos = [i for i in manager.list() if i.state != "closed"]
        self.table.set_rows({tunnel_key(i.app, i.remote_port, i.host): tunnel_row(i) for i in infos})
        self.loads += 1
        self.query_one(".pane-title", Label).update(f"{self.TITLE} — {len(infos)} live")
        getattr(self, "update_empty", lambda: None)()
        if self.active:
            self._poll_timer = self.set_timer(1.0, self.reload)

    def _selected_info(self) -> Any:
        key = self.table.selected_key
        manager = self.manager
        if key is None or manager is None:
            return None
        return next((i for i in manager.list() if tunnel_key(i.app, i.remote_port, i.host) == key), None)

    # --- actions ----------------------------------------------------------------------------------
    def action_open_tunnel(self) -> None:
        self.app.push_screen(OpenTunnelScreen(self.app.current_app or ""),
                             lambda v: self.open_tunnel(*v) if v else None)

    @work(exclusive=False, group="tunnel-open", exit_on_error=False)
    async def open_tunnel(self, app: str, remote_port: int, host: str | None = None) -> Any:
        """Acquire a tunnel through the app's manager (up when this returns) and keep one reference."""
        manager = self.manager
        if manager is None:
            self.app.notify("Tunnels are not available", severity="warning")
            return None
        key = tunnel_key(app, remote_port, host)
        op = self.app.begin_op(f"fly proxy {app}:{remote_port}")
        try:
            tunnel = await manager.acquire(app, remote_port, host)
        except Exception as exc:  # noqa: BLE001 - one place reports it
            self.app.report_error(exc, f"open tunnel to {app}")
            self.reload()
            return None
        finally:
            self.app.end_op(op)
        if key in self.held:
            manager.release(tunnel)  # already holding one reference
        else:
            self.held[key] = tunnel
        self.reload()
        cmd = connect_command(tunnel.local_port, remote_port)
        self.app.notify(f"127.0.0.1:{tunnel.local_port} → {tunnel.target}\n{cmd}", title="Tunnel up", timeout=10)
        return tunnel

    def action_close_tunnel(self) -> None:
        info = self._selected_info()
        if info is None:
            self.app.notify("No tunnel selected", severity="warning")
            return
        self.close_tunnel(info)

    @work(exclusive=False, group="tunnel-close", exit_on_error=False)
    async def close_tunnel(self, info: Any) -> None:
        key = tunnel_key(info.app, info.remote_port, info.host)
        mine = key in self.held
        others = info.refs - (1 if mine else 0)
        if others > 0:
            req = ConfirmRequest(f"Close the tunnel to {info.target}? {others} other user(s) still use it",
                                 [f"127.0.0.1:{info.local_port} → {info.target}"], [], danger=True,
                                 confirm_label="Close")
            if not await self.app.confirm(req):
                return
        manager = self.manager
        tunnel = self.held.pop(key, None)
        if tunnel is None:  # opened by another view: take a reference to get the object, then close it
            tunnel = await manager.acquire(info.app, info.remote_port, info.host)
        await tunnel.close()
        manager.release(tunnel)
        self.reload()
        self.app.notify(f"Closed 127.0.0.1:{info.local_port} → {info.target}", title="Tunnel closed")

    def action_copy_connect(self) -> None:
        info = self._selected_info()
        if info is None:
            self.app.notify("No tunnel selected", severity="warning")
            return
        cmd = connect_command(info.local_port, info.remote_port, kind=getattr(info, "kind", "proxy"))
        self.app.copy_to_clipboard(cmd)
        self.app.notify(cmd, title="Copied to the clipboard")
