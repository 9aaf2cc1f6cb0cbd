"""Modal to set secrets: masked value input with a reveal toggle, stage-only vs deploy now.

Typing fast (or auto-typing ``NAME<Tab>value``) must never leave part of the value in the name field, where it
would show unmasked. Textual hands each key to the widget that has the focus *when the app reads the key*, and
a plain Tab only moves the focus after the name field has handled the keys queued before it. So the keys that
leave the name field (tab, enter, ``=``) are priority bindings of this screen: the app runs them itself, moves
the focus at once, and every later key goes to the value field. A paste of ``NAME=value`` or ``NAME<Tab>value``
into the name field is split the same way.

Under the fields the dialog shows the flyctl command(s) its Set button runs, as the client builds them for the
current name, value and stage choice (``fly secrets import -a APP  < stdin: NAME (values hidden)``): the result
carries those same :class:`~flytui.fly.command.FlyCommand` objects, which the secrets pane runs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from textual.actions import SkipAction
from textual.app import ComposeResult
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Label, Static

from flytui.fly.command import FlyCommand
from flytui.fly.errors import FlyError
from flytui.ui import commands
from flytui.ui.modals.dialog import FormDialog
from flytui.ui.widgets.secret_name_input import SecretNameInput

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SecretsToSet:
    """What the set-secret dialog returns: the values, the stage choice and the commands it showed."""

    values: dict[str, str] = field(repr=False)
    stage: bool
    commands: tuple[FlyCommand, ...] = ()


class SetSecretScreen(FormDialog[SecretsToSet | None]):
    """Returns :class:`SecretsToSet` or None. The value never leaves this process except on stdin."""

    # the form keys have priority: run by the app as it reads the key, before the keys typed after it (see the
    # module doc)
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.SECRET_FORM])
    FORM_ID = "secret"

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
            yield Static("", id="secret-argv", classes="dialog-argv", markup=False)
            yield Label("", id="secret-error")
            yield self.form_buttons("Set")
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
        self._show_commands()

    def _wanted(self) -> tuple[str, str, bool]:
        return (self.query_one("#secret-name", Input).value.strip(), self.query_one("#secret-value", Input).value,
                self.query_one("#secret-stage", Checkbox).value)

    def _commands(self) -> list[FlyCommand]:
        """The client's commands for what the fields hold now (FlyError/ValueError when none can carry it)."""
        name, value, stage = self._wanted()
        return self.host.client.set_secrets_commands(self.app_name, {name: value}, stage=stage)

    def _show_commands(self) -> None:
        """The command line(s) Set runs now; nothing until there is a valid name and a value."""
        name, value, _ = self._wanted()
        shown = self.query_one("#secret-argv", Static)
        if not SECRET_NAME.match(name) or value == "":
            shown.display = False
            return
        try:
            lines = ["$ " + c.display(self.host.flyctl_program()) for c in self._commands()]
        except (FlyError, ValueError) as exc:
            lines = [getattr(exc, "message", None) or str(exc)]
        shown.update(Text("\n".join(lines)))
        shown.display = True

    def on_input_changed(self, _event: Input.Changed) -> None:
        self._show_commands()

    def on_checkbox_changed(self, _event: Checkbox.Changed) -> None:
        self._show_commands()

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

    def submit(self) -> None:
        name = self.query_one("#secret-name", Input).value.strip()
        value = self.query_one("#secret-value", Input).value
        if not SECRET_NAME.match(name):
            self.query_one("#secret-error", Label).update("Name: letters, digits and _, not starting with a digit")
            return
        if value == "":
            self.query_one("#secret-error", Label).update("Value is empty")
            return
        try:
            to_run = self._commands()
        except (FlyError, ValueError) as exc:  # the value stays in the field: fix it or cancel
            self.query_one("#secret-error", Label).update(Text(getattr(exc, "message", None) or str(exc)))
            return
        self.dismiss(SecretsToSet({name: value}, self.query_one("#secret-stage", Checkbox).value, tuple(to_run)))

    def field_submitted(self, field: Input) -> None:
        if field.id == "secret-name":
            self.query_one("#secret-value", Input).focus()
        else:
            self.submit()
