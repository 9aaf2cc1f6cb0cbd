"""The one confirmation dialog: names its target(s), shows the exact flyctl argv, typed-name mode for destroy.

``ConfirmRequest.commands`` are the :class:`~flytui.fly.command.FlyCommand` objects the caller runs once
confirmed (through ``client.execute``): the dialog shows their ``display`` form (secrets masked, stdin named),
never an argv rebuilt for the screen. ``argvs`` is for what is not a flyctl call to run (a running process
to stop, alembic). ``body`` is a slot for longer content (a diff, a migration plan), scrolled in the box.

One rule for keys: ``y`` confirms, ``n``/``esc`` cancels, enter presses the focused button (the hint line says
which). The default focus is the action for ordinary confirms and the safe button for ``danger`` ones;
destructive ones with ``typed_name`` need the typed name (enter in the field confirms once it matches).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from flytui.fly.command import FlyCommand
from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog


@dataclass(frozen=True)
class ConfirmRequest:
    """What to confirm. ``commands``: the flyctl calls that run on confirm (shown by their ``display``);
    ``argvs``: other command lines to show as they are (secrets never appear in either).

    ``typed_name``: when set, the user must type exactly this text (destroy).
    """

    title: str
    targets: list[str]
    argvs: list[list[str]] = field(default_factory=list)
    commands: Sequence[FlyCommand] = ()
    #: longer content under the command lines (a diff, a plan); Textual markup only when ``body_markup``
    body: str | None = None
    body_markup: bool = False
    #: one line under the target saying why (e.g. the doctor's reason for a fly.toml change)
    note: str | None = None
    #: the flyctl executable's name in the shown command lines (``FlytuiApp.confirm`` fills it in)
    program: str = "fly"
    typed_name: str | None = None
    danger: bool = False
    confirm_label: str = "Confirm"
    #: the safe button's label: what happens instead (e.g. "Keep deploying")
    cancel_label: str = "Cancel"


class ConfirmScreen(Dialog[bool]):
    """Returns True only on an explicit confirm (and a matching typed name)."""

    BINDINGS = commands.local_bindings([commands.DIALOG, commands.CONFIRM])

    def __init__(self, request: ConfirmRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="confirm-box", classes="dialog-box danger" if r.danger else "dialog-box"):
            yield Label(r.title, id="confirm-title", classes="dialog-title", markup=False)
            names = ", ".join(r.targets[:12]) + (f" (+{len(r.targets) - 12} more)" if len(r.targets) > 12 else "")
            yield Static(Content.from_markup("Target: [b]$names[/b]", names=names), id="confirm-target")
            if r.note:
                yield Static(r.note, id="confirm-note", markup=False)
            lines = self.command_lines()
            cmds = "\n".join("$ " + line for line in lines[:8])
            if len(lines) > 8:
                cmds += f"\n… {len(lines) - 8} more"
            if lines:
                yield Static(cmds, id="confirm-argv", classes="dialog-argv", markup=False)
            if r.body is not None:
                with VerticalScroll(id="confirm-body-scroll"):
                    yield Static(r.body, id="confirm-body", markup=r.body_markup)
            if r.typed_name:
                yield Label(f"Type {r.typed_name!r} to confirm:", markup=False)
                yield Input(placeholder=r.typed_name, id="confirm-input")
            with Horizontal(id="confirm-buttons", classes="dialog-buttons"):
                yield Button(r.confirm_label, id="confirm-yes", variant="error" if r.danger else "primary",
                             disabled=bool(r.typed_name))
                yield Button(r.cancel_label, id="confirm-no")
            yield self.key_hints()

    def command_lines(self) -> list[str]:
        """What the dialog shows as command lines: the commands' display form, then ``argvs``."""
        r = self.request
        return [c.display(r.program) for c in r.commands] + [shlex.join(a) for a in r.argvs]

    def hints(self) -> list[tuple[str, str]]:
        r = self.request
        if r.typed_name:
            return [("type", repr(r.typed_name)), ("esc", r.cancel_label)]
        return [("y", r.confirm_label), ("n/esc", r.cancel_label), ("tab", "switch")]

    def enter_hint(self) -> str | None:
        if isinstance(self.focused, Input):
            return f"{self.request.confirm_label} (once the name matches)"
        return super().enter_hint()

    def on_mount(self) -> None:
        r = self.request
        if r.typed_name:
            self.query_one("#confirm-input", Input).focus()
        else:  # enter = the focused button: the action, unless the action is dangerous
            self.query_one("#confirm-no" if r.danger else "#confirm-yes", Button).focus()
        if r.body is not None:
            self.call_after_refresh(self._fit_body)

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self._fit_body)

    def _fit_body(self) -> None:
        """The body (a diff, a migration plan) scrolls in what the terminal leaves, so the title, the command, the
        buttons and the key line stay in view at 80x24: its height is the screen's less every other row of the box."""
        found = self.query("#confirm-body-scroll").results(VerticalScroll)
        scroll = next(found, None)
        if scroll is None:
            return
        box = self.query_one("#confirm-box")
        # every row of the box but the body's: its content (margins included) and its border and padding
        chrome = box.virtual_size.height - scroll.outer_size.height + box.styles.gutter.height
        fitted = max(3, min(24, self.size.height - chrome))
        if scroll.styles.max_height is None or scroll.styles.max_height.value != fitted:
            scroll.styles.max_height = fitted

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
