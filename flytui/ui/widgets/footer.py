"""The key footer: Textual's ``Footer``, rebuilt at most once per refresh, and first built after the first data.

Textual's footer recomposes every key on each ``bindings_updated`` signal; at start-up (mount, auto focus, the
first pane's focus) several arrive before the first rows, and each rebuild restyles every key (a third of the
CPU to the first machine rows). Signals that arrive while a rebuild is pending join it (the keys shown are the
same), and the first build waits for the app's first data (``FlytuiApp.first_data``, bounded like the header
facts): the rows come first, the keys one frame later.
"""
from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from textual.widgets import Footer as _Footer
from flytui.ui.seams import Hosted, run_async

#: seconds the first build waits at most for the first data (as the header facts do)
FIRST_DATA_BOUND = 1.5


class Footer(_Footer, Hosted):
    _rebuild_pending = False

    def bindings_changed(self, screen: Any) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_pending:
            self._rebuild_pending = True
            first = self.host.first_data
            if not first.is_set():
                run_async(self, partial(self._after_first_data, first), group="footer-first", exclusive=True,
                                exit_on_error=False)
            else:
                self.call_after_refresh(self._rebuild)

    async def _after_first_data(self, first: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(first.wait(), FIRST_DATA_BOUND)
        except asyncio.TimeoutError:
            pass
        self.call_later(self._rebuild)  # in the footer's own message loop (compose binds to it)

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        await self.recompose()
