"""Modal to set secrets: masked value input with a reveal toggle, stage-only vs deploy now."""
from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SetSecretScreen(ModalScreen[tuple[dict[str, str], bool] | None]):
    """Returns ``({NAME: value}, stage)`` or None. The value never leaves this process except on stdin."""

    CSS_PATH = "confirm.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+r", "reveal", "Reveal/mask")]

    def __init__(self, app_name: str, name: str = "", value: str = "") -> None:
        super().__init__()
        self.app_name = app_name
        self._name, self._value = name, value

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(f"Set secret on {self.app_name}", id="confirm-title", markup=False)
            yield Input(self._name, placeholder="NAME", id="secret-name")
            yield Input(self._value, placeholder="value (masked; ctrl+r reveals)", password=True, id="secret-value")
            yield Checkbox("Stage only (apply on next deploy)", False, id="secret-stage")
            yield Label("", id="secret-error")
            with Horizontal(id="confirm-buttons"):
                yield Button("Set", id="confirm-yes", variant="primary")
                yield Button("Cancel", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#secret-value" if self._name else "#secret-name", Input).focus()

    def action_reveal(self) -> None:
        box = self.query_one("#secret-value", Input)
        box.password = not box.password

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        name = self.query_one("#secret-name", Input).value.strip()
        value = self.query_one("#secret-value", Input).value
        if not SECRET_NAME.match(name):
            self.query_one("#secret-error", Label).update("Name: letters, digits and _, not starting with a digit")
            return
        if value == "":
            self.query_one("#secret-error", Label).update("Value is empty")
            return
        self.dismiss(({name: value}, self.query_one("#secret-stage", Checkbox).value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "secret-name":
            self.query_one("#secret-value", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self._submit()
        else:
            self.dismiss(None)
