"""Open a ``fly proxy`` tunnel: app, remote port (5432 for Postgres) and an optional host."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog

PG_PORT = 5432


class OpenTunnelScreen(Dialog[tuple[str, int, str | None] | None]):
    """Ask for app, remote port and optional host; returns ``(app, port, host)`` or None."""

    BINDINGS = commands.local_bindings([commands.DIALOG])

    def __init__(self, app_name: str = "", remote_port: int = PG_PORT) -> None:
        super().__init__()
        self._app_name = app_name
        self._port = remote_port

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Open a tunnel (fly proxy)", classes="dialog-title")
            yield Input(self._app_name, placeholder="app (e.g. my-db)", id="tunnel-app")
            yield Input(str(self._port), placeholder="remote port (5432 for Postgres)", id="tunnel-port")
            yield Input("", placeholder="remote host (optional; default APP.internal)", id="tunnel-host")
            yield Label("", id="tunnel-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Open", id="tunnel-yes", variant="primary")
                yield Button("Cancel", id="tunnel-no")
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
        if event.button.id == "tunnel-yes":
            self._submit()
        else:
            self.dismiss(None)
