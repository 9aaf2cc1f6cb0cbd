"""The one confirmation dialog: names its target(s), shows the exact flyctl argv, typed-name mode for destroy."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


@dataclass(frozen=True)
class ConfirmRequest:
    """What to confirm. ``argvs``: the flyctl command line(s) that will run (secrets never appear here).

    ``typed_name``: when set, the user must type exactly this text (destroy).
    """

    title: str
    targets: list[str]
    argvs: list[list[str]] = field(default_factory=list)
    typed_name: str | None = None
    danger: bool = False
    confirm_label: str = "Confirm"


class ConfirmScreen(ModalScreen[bool]):
    """Returns True only on an explicit confirm (and a matching typed name)."""

    CSS_PATH = "confirm.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("y", "confirm_key", "Yes", show=False)]

    def __init__(self, request: ConfirmRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="confirm-box", classes="danger" if r.danger else ""):
            yield Label(r.title, id="confirm-title", markup=False)
            names = ", ".join(r.targets[:12]) + (f" (+{len(r.targets) - 12} more)" if len(r.targets) > 12 else "")
            yield Static(Content.from_markup("Target: [b]$names[/b]", names=names), id="confirm-target")
            cmds = "\n".join("$ " + shlex.join(a) for a in r.argvs[:8])
            if len(r.argvs) > 8:
                cmds += f"\n… {len(r.argvs) - 8} more"
            yield Static(cmds, id="confirm-argv", markup=False)
            if r.typed_name:
                yield Label(f"Type {r.typed_name!r} to confirm:", markup=False)
                yield Input(placeholder=r.typed_name, id="confirm-input")
            with Horizontal(id="confirm-buttons"):
                yield Button(r.confirm_label, id="confirm-yes", variant="error" if r.danger else "primary",
                             disabled=bool(r.typed_name))
                yield Button("Cancel", id="confirm-no")

    def on_mount(self) -> None:
        if self.request.typed_name:
            self.query_one("#confirm-input", Input).focus()
        else:
            self.query_one("#confirm-no", Button).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-yes", Button).disabled = event.value != self.request.typed_name

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value == self.request.typed_name:
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_confirm_key(self) -> None:
        if not self.request.typed_name:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
