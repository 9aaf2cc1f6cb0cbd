"""The command palette (ctrl+p): every registry command, plus "Switch app: NAME" for every known app."""
from __future__ import annotations

from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from flytui.ui import commands


class RegistryProvider(Provider):
    """Command palette fed by the registry, plus "switch app: NAME" for every known app."""

    def _entries(self) -> list[tuple[str, str, Any]]:
        app: Any = self.app  # FlytuiApp
        out = [(f"{c.title}  (:{c.id})", c.help + (" — read-only mode" if c.mutating and app.read_only else ""),
                partial(app.run_command_id, c.id)) for c in commands.COMMANDS]
        for name in app.known_apps():  # app names are data: their brackets are text (escaped help, plain prompt)
            out.append((f"Switch app: {name}", f"Make {escape(name)} the current app", partial(app.select_app, name)))
        return out

    async def discover(self) -> Hits:
        for text, help, cb in self._entries():
            yield DiscoveryHit(Content(text), cb, text=text, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help, cb in self._entries():
            score = matcher.match(text)
            if score > 0:
                shown = matcher.highlight(text) if "[" not in text else Content(text)  # highlight() parses markup
                yield Hit(score, shown, cb, text=text, help=help)
