"""The one modal base: every dialog is centred, fits an 80×24 terminal (its box scrolls instead of clipping)
and says which keys it takes (a hint line at the bottom of the box).

Subclasses compose their content inside ``Vertical(classes="dialog-box")`` (or ``VerticalScroll``), with a
``dialog-title`` label and ``dialog-buttons`` row, and yield ``self.key_hints()`` last (the styles are in
flytui/ui/flytui.tcss); ``hints()`` returns the ``(key, what)`` pairs to show. The line also names what
enter does right now (the focused button, or the field's submit), so enter is never a silent surprise.
"""
from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.containers import Horizontal
from textual.events import DescendantFocus
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from flytui.ui import commands
from flytui.ui.seams import Hosted

ResultT = TypeVar("ResultT")


def hint_text(pairs: list[tuple[str, str]]) -> Text:
    """``key what · key what`` with the keys in bold (plain Text: labels may come from outside)."""
    out = Text()
    for i, (key, what) in enumerate(pairs):
        if i:
            out.append("  ·  ", style="dim")
        out.append(key, style="bold")
        out.append(f" {what}")
    return out


class Dialog(ModalScreen[ResultT], Hosted):
    """Centred, small-terminal friendly modal with a key hint line (``#dialog-keys``)."""

    #: what enter does when the focus is not on a button (e.g. "submit"); None: no enter hint there
    ENTER_HINT: ClassVar[str | None] = None

    def hints(self) -> list[tuple[str, str]]:
        """The keys this dialog takes; the default is escape only."""
        return [("esc", "close")]

    def action_cancel(self) -> None:
        """esc (registry key ``dialog-close``): close, nothing done. Dialogs whose result is a bool override it."""
        self.dismiss(None)

    def enter_hint(self) -> str | None:
        focused = self.focused
        if isinstance(focused, Button):
            return str(focused.label)
        return self.ENTER_HINT

    def key_hints(self) -> Static:
        return Static(self._hint_line(), id="dialog-keys", markup=False)

    def _hint_line(self) -> Text:
        pairs = list(self.hints())
        enter = self.enter_hint()
        if enter:
            pairs.append(("enter", enter))
        return hint_text(pairs)

    def refresh_hints(self) -> None:
        for widget in self.query("#dialog-keys").results(Static):
            widget.update(self._hint_line())

    def on_descendant_focus(self, _event: DescendantFocus) -> None:
        self.refresh_hints()


class FormDialog(Dialog[ResultT]):
    """A dialog of fields with one action button (``#<FORM_ID>-yes``) and a cancel button (``#<FORM_ID>-no``).

    Enter in a field (:meth:`field_submitted`) and the action button call :meth:`submit` (validate; ``dismiss``
    with the result, or say what is wrong and stay open); the cancel button and escape dismiss with
    ``CANCEL_RESULT``. Subclasses compose their fields, then ``yield self.form_buttons("Label")`` and
    ``yield self.key_hints()``. (Textual runs an ``on_*`` handler of every class in the MRO: subclasses override
    ``submit``/``field_submitted``, never these handlers.)
    """

    BINDINGS = commands.local_bindings([commands.DIALOG])
    #: the prefix of the buttons' ids (``scale`` -> ``#scale-yes``, ``#scale-no``): each dialog its own ids
    FORM_ID: ClassVar[str] = "form"
    #: what escape / Cancel returns
    CANCEL_RESULT: ClassVar[Any] = None

    def hints(self) -> list[tuple[str, str]]:
        return [("tab", "next field"), ("esc", "cancel")]

    def form_buttons(self, label: str, *, disabled: bool = False) -> Horizontal:
        return Horizontal(Button(label, id=f"{self.FORM_ID}-yes", variant="primary", disabled=disabled),
                          Button("Cancel", id=f"{self.FORM_ID}-no"), classes="dialog-buttons")

    def submit(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def field_submitted(self, _field: Input) -> None:
        """Enter in a field; the default submits the form."""
        self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.field_submitted(event.input)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"{self.FORM_ID}-yes":
            self.submit()
        else:
            self.dismiss(self.CANCEL_RESULT)

    def action_cancel(self) -> None:
        self.dismiss(self.CANCEL_RESULT)
