"""``:`` on a screen other than the main one: a one-line command prompt at the bottom (Tab completes).

Dismisses with the typed line (the app runs it through ``execute_line``) or None.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from flytui.ui import commands
from flytui.ui.widgets.command_input import CommandInput, CommandSuggester
from flytui.ui.seams import Hosted


class CommandLineScreen(ModalScreen[str | None], Hosted):
    BINDINGS = commands.local_bindings([commands.DIALOG])

    def compose(self) -> ComposeResult:
        known = self.host.known_apps
        with Vertical(id="command-line-box"):
            yield Static("tab complete  ·  enter run  ·  esc cancel", id="command-line-keys", markup=False)
            yield CommandInput(placeholder=":command  (apps, machines APP, logs, deploy, migrations, -)",
                               id="command-line", suggester=CommandSuggester(known))

    def on_mount(self) -> None:
        self.query_one("#command-line", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value if event.value.strip() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
