"""Releases of one app (``fly releases -a APP --json``): version, status, description, user, date, image."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from flytui.ui import commands

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("version", "Version", 8), ("status", "Status", 10), ("description", "Description", 30),
    ("user", "User", 24), ("date", "Date", 20), ("image", "Image", 60),
)


def release_cells(r: Any) -> tuple[str, ...]:
    """One release model → table cells (tolerant of missing fields)."""
    created = getattr(r, "created_at", None)
    date = created.strftime("%Y-%m-%d %H:%M:%S") if created is not None else ""
    user = getattr(r, "user_email", "") or getattr(r, "user_name", "")
    status = str(getattr(r, "status", "") or "")
    if getattr(r, "in_progress", False) and status != "in_progress":
        status = f"{status} (in progress)".strip()
    return (f"v{r.version}", status, str(getattr(r, "description", "") or getattr(r, "reason", "")),
            str(user), date, str(getattr(r, "image_ref", "") or ""))


class ReleasesScreen(Screen[None]):
    """``ReleasesScreen(app_name)``: keyed rows (release version), updated in place on refresh (``r``)."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        *(replace(b, show=True) for b in commands.bindings([commands.RELEASE_HISTORY])),
    ]
    CSS_PATH = str(Path(__file__).parent.parent / "releases.tcss")

    class Loaded(Message):
        def __init__(self, releases: list[Any]) -> None:
            super().__init__()
            self.releases = releases

    def __init__(self, app_name: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Static(f"Releases · {self.app_name}", id="releases-title", markup=False)
        yield DataTable(id="releases-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        table.focus()
        self.load()

    @work(exclusive=True, group="releases", exit_on_error=False)
    async def load(self) -> None:
        try:
            releases = await self.app.client.releases(self.app_name)
        except Exception as exc:  # noqa: BLE001 - the one error handler shows message + hint
            self.app.report_error(exc, "list releases")
            return
        self.post_message(self.Loaded(releases))

    def on_releases_screen_loaded(self, msg: "ReleasesScreen.Loaded") -> None:
        self.loads += 1
        table = self.query_one(DataTable)
        keys = set()
        for r in msg.releases:
            key = str(r.version)
            keys.add(key)
            cells = release_cells(r)
            if key in table.rows:
                for (col, _, _), val in zip(COLUMNS, cells):
                    if table.get_cell(key, col) != val:
                        table.update_cell(key, col, val)
            else:
                table.add_row(*cells, key=key)
        for gone in [k.value for k in table.rows if k.value not in keys]:
            table.remove_row(gone)

    def action_refresh(self) -> None:
        self.load()

    def action_close(self) -> None:
        self.app.pop_screen()
