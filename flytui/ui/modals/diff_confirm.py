"""Confirm a fly.toml save: names the file and shows the unified diff against the file on disk."""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, Label, Static

from flytui.fly.flytoml import FLY_TOML
from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog


def diff_markup(diff: str) -> str:
    """Colour a unified diff with theme variables (added $success, removed $error, hunks $accent)."""
    out = []
    for line in diff.splitlines():
        text = escape(line)
        if line.startswith(("+++", "---")):
            out.append(f"[b]{text}[/b]")
        elif line.startswith("+"):
            out.append(f"[$success]{text}[/]")
        elif line.startswith("-"):
            out.append(f"[$error]{text}[/]")
        elif line.startswith("@@"):
            out.append(f"[$accent]{text}[/]")
        else:
            out.append(text)
    return "\n".join(out)


class DiffConfirmScreen(Dialog[bool]):
    """Confirm a save: names the file and shows the unified diff against the file on disk."""

    BINDINGS = commands.local_bindings([commands.DIALOG, commands.CONFIRM])

    def __init__(self, path: Path, diff: str, reason: str | None = None) -> None:
        super().__init__()
        self.path, self.diff, self.reason = path, diff, reason

    def compose(self) -> ComposeResult:
        with Vertical(id="flytoml-confirm-box"):
            yield Label(f"Save {FLY_TOML}?", id="flytoml-confirm-title")
            yield Static(f"Target: [b]{escape(str(self.path))}[/b]", id="flytoml-confirm-target")
            if self.reason:
                yield Static(escape(self.reason), id="flytoml-confirm-reason")
            with VerticalScroll(id="flytoml-diff-scroll"):
                yield Static(diff_markup(self.diff), id="flytoml-diff")
            with Horizontal(id="flytoml-confirm-buttons"):
                yield Button("Save", id="flytoml-save", variant="primary")
                yield Button("Cancel", id="flytoml-cancel")
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("y", "save"), ("n/esc", "cancel"), ("tab", "switch")]

    def on_mount(self) -> None:
        self.query_one("#flytoml-save", Button).focus()  # enter = the focused button (the diff is above)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "flytoml-save")

    def action_confirm_key(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
