"""Invite someone to an organization: the email, and the exact ``fly orgs invite`` command the client built for it."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from flytui.fly.command import FlyCommand
from flytui.ui.modals.dialog import FormDialog


class InviteScreen(FormDialog["FlyCommand | None"]):
    """Ask for the email to invite; shows the flyctl command the client built for it, and returns that command
    (or None)."""

    FORM_ID = "invite"
    ENTER_HINT = "invite"

    def __init__(self, org: str) -> None:
        super().__init__()
        self.org = org

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(Text(f"Invite someone to {self.org}"), classes="dialog-title")
            yield Input(placeholder="name@example.com", id="invite-email")
            yield Static("", id="invite-argv", classes="dialog-argv", markup=False)
            yield Label("", id="invite-error")
            yield self.form_buttons("Invite")
            yield self.key_hints()

    def on_mount(self) -> None:
        self.query_one("#invite-email", Input).focus()
        self._show_command()

    def _command(self) -> FlyCommand:
        return self.host.client.org_invite_command(self.org, self.query_one("#invite-email", Input).value.strip())

    def _show_command(self) -> None:
        """The command Invite runs: shown once the field holds an email address."""
        shown = self.query_one("#invite-argv", Static)
        try:
            shown.update(Text("$ " + self._command().display(self.host.flyctl_program())))
        except ValueError:
            shown.update(Text(f"$ {self.host.flyctl_program()} orgs invite {self.org} EMAIL --json"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_command()
        self.query_one("#invite-error", Label).update("")

    def submit(self) -> None:
        try:
            command = self._command()
        except ValueError as exc:
            self.query_one("#invite-error", Label).update(Text(str(exc)))
            return
        self.dismiss(command)
