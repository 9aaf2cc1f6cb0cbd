"""Modal to set secrets: masked value input with a reveal toggle, stage-only vs deploy now.

Typing fast (or auto-typing ``NAME<Tab>value``) must never leave part of the value in the name field, where it
would show unmasked. Textual hands each key to the widget that has the focus *when the app reads the key*, and
a plain Tab only moves the focus after the name field has handled the keys queued before it. So the keys that
leave the name field (tab, enter, ``=``) are priority bindings of this screen: the app runs them itself, moves
the focus at once, and every later key goes to the value field. A paste of ``NAME=value`` or ``NAME<Tab>value``
into the name field is split the same way.
"""
from __future__ import annotations

import re

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog
from flytui.ui.widgets.secret_name_input import SecretNameInput

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SetSecretScreen(Dialog[tuple[dict[str, str], bool] | None]):
    """Returns ``({NAME: value}, stage)`` or None. The value never leaves this process except on stdin."""

    # the form keys have priority: run by the app as it reads the key, before the keys typed after it (see the
    # module doc)
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.SECRET_FORM])

    def __init__(self, app_name: str, name: str = "", value: str = "") -> None:
        super().__init__()
        self.app_name = app_name
        self._name, self._value = name, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(f"Set secret on {self.app_name}", classes="dialog-title", markup=False)
            yield SecretNameInput(self._name, placeholder="NAME", id="secret-name",
                                  restrict=r"[A-Za-z0-9_]*", on_value=self.take_value)
            yield Input(self._value, placeholder="value (masked; ctrl+r reveals)", password=True, id="secret-value")
            yield Checkbox("Stage only (apply on next deploy)", False, id="secret-stage")
            yield Label("", id="secret-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Set", id="secret-yes", variant="primary")
                yield Button("Cancel", id="secret-no")
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("tab", "next field"), ("ctrl+r", "reveal/mask"), ("esc", "cancel")]

    def enter_hint(self) -> str | None:
        focused = self.focused
        if isinstance(focused, Input):
            return "next field" if focused.id == "secret-name" else "set the secret"
        return super().enter_hint()

    def on_mount(self) -> None:
        self.query_one("#secret-value" if self._name else "#secret-name", Input).focus()

    def take_value(self, value: str) -> None:
        """Put ``value`` in the (masked) value field and focus it (a split paste)."""
        box = self.query_one("#secret-value", Input)
        box.value = value
        box.cursor_position = len(value)
        self.set_focus(box)

    def action_next_field(self) -> None:
        self.focus_next()  # synchronous: the next key already goes to the new field

    def action_previous_field(self) -> None:
        self.focus_previous()

    def action_name_done(self) -> None:
        name = self.query_one("#secret-name", Input)
        if self.focused is not name:
            raise SkipAction()  # enter / "=" elsewhere: the focused widget's own meaning
        self.set_focus(self.query_one("#secret-value", Input))

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
        if event.button.id == "secret-yes":
            self._submit()
        else:
            self.dismiss(None)
