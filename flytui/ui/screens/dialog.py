"""The one modal base: every dialog is centred, fits an 80×24 terminal (its box scrolls instead of clipping)
and says which keys it takes (a hint line at the bottom of the box).

Subclasses compose their content inside ``Vertical(id="confirm-box")`` and yield ``self.key_hints()`` last; a
long body goes in ``VerticalScroll(id="detail-scroll")`` between them, so the title and the key line stay in view
while the body scrolls; ``hints()`` returns the ``(key, what)`` pairs to show. The line also names what
enter does right now (the focused button, or the field's submit), so enter is never a silent surprise.
"""
from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.text import Text
from textual.events import DescendantFocus
from textual.screen import ModalScreen
from textual.widgets import Button, Static

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


class Dialog(ModalScreen[ResultT]):
    """Centred, small-terminal friendly modal with a key hint line (``#dialog-keys``)."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > #confirm-box { max-width: 100%; max-height: 100%; overflow-y: auto; }
    Dialog #confirm-box > Label { width: 100%; }
    Dialog #dialog-keys { height: auto; color: $foreground-muted; margin-top: 1; }
    Dialog #detail-scroll { height: auto; max-height: 70vh; }
    """
    #: what enter does when the focus is not on a button (e.g. "submit"); None: no enter hint there
    ENTER_HINT: ClassVar[str | None] = None

    def hints(self) -> list[tuple[str, str]]:
        """The keys this dialog takes; the default is escape only."""
        return [("esc", "close")]

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
