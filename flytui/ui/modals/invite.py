"""Invite someone to an organization: the email, checked, and the exact ``fly orgs invite`` command it runs."""
from __future__ import annotations

import shlex
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from flytui.fly.ops import validate_email
from flytui.ui import commands


class InviteScreen(ModalScreen[str | None]):
    """Ask for the email to invite; shows the exact flyctl command; returns the email (or None)."""

    BINDINGS = commands.local_bindings([commands.DIALOG])

    def __init__(self, org: str, argv_of: Any) -> None:
        super().__init__()
        self.org = org
        self.argv_of = argv_of

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(Text(f"Invite someone to {self.org}"), classes="dialog-title")
            yield Input(placeholder="name@example.com", id="invite-email")
            yield Static(Text(shlex.join(self.argv_of(""))), id="invite-argv", classes="dialog-argv")
            yield Label("", id="invite-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Invite", id="invite-yes", variant="primary")
                yield Button("Cancel", id="invite-no")

    def on_mount(self) -> None:
        self.query_one("#invite-email", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#invite-argv", Static).update(Text(shlex.join(self.argv_of(event.value.strip()))))
        self.query_one("#invite-error", Label).update("")

    def _submit(self) -> None:
        email = self.query_one("#invite-email", Input).value.strip()
        err = validate_email(email)
        if err:
            self.query_one("#invite-error", Label).update(Text(err))
            return
        self.dismiss(email)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "invite-yes":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
