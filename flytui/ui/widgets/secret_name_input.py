"""The secret-name field of the set-secrets form (flytui/ui/modals/set_secret.py): ``=`` ends the name, and a paste
of ``NAME=value`` or ``NAME<tab>value`` splits at once, so a value never sits unmasked in the name field."""
from __future__ import annotations

import re
from typing import Any, Callable

from textual import events
from textual.widgets import Input

_SPLIT = re.compile(r"[=\t]")


class SecretNameInput(Input):
    """The name field: a paste of ``NAME=value`` / ``NAME<tab>value`` puts the value in the value field
    (``on_value(value)``, given by the form)."""

    def __init__(self, *args: Any, on_value: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_value = on_value

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # "=" ends the name: leave it to the screen's priority binding (Textual drops bindings of keys the
        # focused input would consume)
        return character != "=" and super().check_consume_key(key, character)

    def _on_paste(self, event: events.Paste) -> None:
        text = (event.text or "").strip("\r\n")
        sep, newline = _SPLIT.search(text), text.find("\n")
        if sep is not None and (newline < 0 or sep.start() < newline):
            name, value = text[:sep.start()], text[sep.end():]
        elif newline >= 0:
            name, value = text[:newline], text[newline + 1:]
        else:
            super()._on_paste(event)
            return
        event.stop()
        self.value = name.strip()
        if self.on_value is not None:  # at once, not by message: keys typed after the paste go to the value
            self.on_value(value.splitlines()[0] if value else "")
