"""The ``:`` command line input: prefix completion shown as a suggestion, Tab accepts it.

Completes the command word from the registry and, for commands that take an app (``:machines APP``), the app
name from the apps flytui has loaded.
"""
from __future__ import annotations

from typing import Callable

from textual.suggester import Suggester
from textual.widgets import Input

from flytui.ui import commands


class CommandSuggester(Suggester):
    """Prefix completion of command names (and of the app argument) for ``:`` mode."""

    def __init__(self, known_apps: Callable[[], list[str]] | None = None) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self.known_apps = known_apps

    async def get_suggestion(self, value: str) -> str | None:
        return complete_line(value, self.known_apps() if self.known_apps else [])


def complete_line(value: str, apps: list[str]) -> str | None:
    """The completed line for ``value`` (None when nothing completes it); it always starts with ``value``."""
    stripped = value.lstrip()
    lead = value[: len(value) - len(stripped)] + (":" if stripped.startswith(":") else "")
    body = stripped.removeprefix(":")
    if " " not in body:
        word = commands.complete(body)
        return None if word is None else lead + body + word[len(body):]
    head, _, arg = body.partition(" ")
    if not arg or " " in arg:
        return None
    try:
        cmd = commands.resolve(head)
    except commands.CommandParseError:
        return None
    if not cmd.takes_arg:
        return None
    for name in apps:
        if name.startswith(arg) and name != arg:
            return f"{lead}{head} {arg}{name[len(arg):]}"
    return None


class CommandInput(Input):
    """``Input`` whose Tab completes (accepts the suggestion) instead of moving the focus."""

    BINDINGS = commands.local_bindings([commands.COMMAND_LINE])

    def action_complete(self) -> None:
        if self._suggestion and self._suggestion != self.value:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
