"""``PromptBar``: a one-line question docked at the bottom of a screen, in one mode at a time.

``ask(mode, placeholder)`` shows and focuses it; enter posts :class:`PromptBar.Answered` with the mode (and the
``context`` given to ``ask``) and hides it; ``close()`` (esc) hides it without an answer. The screen decides what
each mode means, so one bar serves every question of a screen.
"""
from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input


class PromptBar(Input):
    """Hidden until asked; ``mode`` is None when no question is open."""

    mode: reactive[str | None] = reactive(None, init=False)

    class Closed(Message):
        """The bar was hidden (answered or dismissed): the screen gives the focus back."""

    class Answered(Message):
        """A non-empty answer to the question of ``mode``."""

        def __init__(self, mode: str, value: str, context: Any = None) -> None:
            super().__init__()
            self.mode = mode
            self.value = value
            self.context = context

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context: Any = None

    def on_mount(self) -> None:
        self.display = False

    def ask(self, mode: str, placeholder: str, *, password: bool = False, value: str = "",
            context: Any = None) -> None:
        self.placeholder = placeholder
        self.password = password
        self.value = value
        self.context = context
        self.mode = mode

    def close(self) -> None:
        self.mode = None

    def watch_mode(self, mode: str | None) -> None:
        self.display = mode is not None
        if mode is None:
            self.value = ""
            self.context = None
            self.post_message(self.Closed())
        else:
            self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, context, value = self.mode, self.context, event.value.strip()
        self.close()
        if mode is not None and value:
            self.post_message(self.Answered(mode, value, context))
