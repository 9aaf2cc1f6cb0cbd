"""Open a ``fly proxy`` tunnel: app, remote port (5432 for Postgres) and an optional host."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from flytui.fly.names import app_name_error
from flytui.ui.modals.dialog import FormDialog

PG_PORT = 5432


class OpenTunnelScreen(FormDialog[tuple[str, int, str | None] | None]):
    """Ask for app, remote port and optional host; returns ``(app, port, host)`` or None."""

    FORM_ID = "tunnel"
    ENTER_HINT = "open the tunnel"

    def __init__(self, app_name: str = "", remote_port: int = PG_PORT) -> None:
        super().__init__()
        self._app_name = app_name
        self._port = remote_port

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Open a tunnel (fly proxy)", classes="dialog-title")
            # each field names itself in its border: a prefilled value has no placeholder left to say what it is
            for title, field in (("App", Input(self._app_name, placeholder="app (e.g. my-db)", id="tunnel-app")),
                                 ("Remote port", Input(str(self._port), placeholder="remote port (5432 for Postgres)",
                                                       id="tunnel-port")),
                                 ("Remote host", Input("", placeholder="remote host (optional; default APP.internal)",
                                                       id="tunnel-host"))):
                field.border_title = title
                yield field
            yield Label("", id="tunnel-error", markup=False)
            yield self.form_buttons("Open")
            yield self.key_hints()

    def on_mount(self) -> None:
        self.query_one("#tunnel-port" if self._app_name else "#tunnel-app", Input).focus()

    def submit(self) -> None:
        app = self.query_one("#tunnel-app", Input).value.strip()
        port_text = self.query_one("#tunnel-port", Input).value.strip()
        host = self.query_one("#tunnel-host", Input).value.strip() or None
        error = self.query_one("#tunnel-error", Label)
        if (problem := app_name_error(app)) is not None:
            error.update(Text(problem))
            return
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            error.update("Remote port must be a number 1-65535")
            return
        self.dismiss((app, int(port_text), host))
