"""Test helper: a minimal stand-in for ``FlytuiApp``'s registry dispatch, so screens tested in a small ``App``
run their keys exactly the way the real app does (binding -> ``app.command(id)`` -> registry action), styled by
the app's one stylesheet (flytui/ui/flytui.tcss) as in the real app."""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import CSSPathType

import flytui.ui
from flytui.ui import commands

#: the one app stylesheet: screens carry no CSS of their own
STYLESHEET = str(Path(flytui.ui.__file__).with_name("flytui.tcss"))


class RegistryDispatch:
    """Mixin for test apps: ``action_command`` like ``FlytuiApp.action_command`` (read-only guard included)."""

    CSS_PATH: ClassVar[CSSPathType | None] = STYLESHEET
    read_only = False
    commands_run: list[str]

    async def action_command(self, command_id: str, args: list[str] | None = None) -> bool:
        cmd = commands.get(command_id)
        if not hasattr(self, "commands_run"):
            self.commands_run = []
        self.commands_run.append(command_id)
        if cmd.mutating and self.read_only:
            self.notify(f"{cmd.title}: disabled in read-only mode", severity="warning")  # type: ignore[attr-defined]
            return False
        await self.run_action(cmd.action)  # type: ignore[attr-defined]
        return True
