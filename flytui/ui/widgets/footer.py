"""The key footer: Textual's ``Footer``, rebuilt at most once per refresh.

Textual's footer recomposes every key on each ``bindings_updated`` signal; at start-up (mount, auto focus, the
first pane's focus) several arrive before the first frame, and each rebuild restyles every key (a third of the
first frame's CPU). Signals that arrive while a rebuild is pending join it: the footer shows the same keys.
"""
from __future__ import annotations

from typing import Any

from textual.widgets import Footer as _Footer


class Footer(_Footer):
    _rebuild_pending = False

    def bindings_changed(self, screen: Any) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        await self.recompose()
