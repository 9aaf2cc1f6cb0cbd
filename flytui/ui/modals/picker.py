"""A small modal list picker (switch app, switch org)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option
from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog


class PickerScreen(Dialog[str | None]):
    """Type to narrow, enter to choose; returns the chosen value (or None)."""

    BINDINGS = commands.local_bindings([commands.DIALOG])

    def __init__(self, title: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Input(placeholder="type to filter", id="picker-filter")
            yield OptionList(*[Option(label, id=value) for label, value in self.options], id="picker-list", markup=False)
            yield self.key_hints()

    ENTER_HINT = "choose"

    def hints(self) -> list[tuple[str, str]]:
        return [("type", "filter"), ("tab", "the list"), ("esc", "cancel")]

    def on_input_changed(self, event: Input.Changed) -> None:
        q = event.value.lower()
        ol = self.query_one(OptionList)
        ol.clear_options()
        ol.add_options([Option(label, id=value) for label, value in self.options if q in label.lower()])
        if ol.option_count:
            ol.highlighted = 0

    def on_input_submitted(self, event: Input.Submitted) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None and ol.option_count:
            self.dismiss(ol.get_option_at_index(ol.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
