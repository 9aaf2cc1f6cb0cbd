"""The confirm dialog of a migration: the shared :class:`ConfirmScreen` plus the plan (revisions, SQL, lint)."""
from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from flytui.ui.modals.confirm import ConfirmRequest, ConfirmScreen


class MigrationConfirmScreen(ConfirmScreen):
    """The shared confirm dialog plus the plan: revisions, SQL and lint findings (``body`` is our markup, with
    every outside text escaped by flytui/ui/screens/migrations_render.py)."""

    def __init__(self, request: ConfirmRequest, body: str) -> None:
        super().__init__(request)
        self.body = body

    async def on_mount(self) -> None:
        # (Textual also runs ConfirmScreen.on_mount: it focuses the buttons)
        scroll = VerticalScroll(Static(self.body, id="mig-confirm-body", markup=True), id="mig-confirm-scroll")
        await self.query_one("#confirm-box").mount(scroll, before="#confirm-buttons")
