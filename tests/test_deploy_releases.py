"""Releases screen over the real runner + client and the fake flyctl (tests/fixtures/transcripts/fake_flyctl.py)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from textual.app import App

from tests.registry_app import RegistryDispatch
from textual.widgets import DataTable

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.screens.releases import ReleasesScreen

FAKE = Path(__file__).parent / "fixtures" / "transcripts" / "fake_flyctl.py"


class RelApp(RegistryDispatch, App[None]):
    def __init__(self, client: FlyClient) -> None:
        super().__init__()
        self.client = client
        self.errors: list[Any] = []

    def report_error(self, exc: BaseException, action: str) -> None:
        self.errors.append((exc, action))

    def on_mount(self) -> None:
        self.push_screen(ReleasesScreen("shop-api"))


async def test_releases_table_and_refresh_in_place(tmp_path: Path) -> None:
    wrapper = tmp_path / "flyctl"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} \"$@\"\n")
    wrapper.chmod(0o755)
    runner = FlyctlRunner(str(wrapper), env={"FAKE_DIR": str(tmp_path)})
    app = RelApp(FlyClient(runner))
    async with app.run_test(size=(160, 20)) as pilot:
        scr = app.screen
        assert isinstance(scr, ReleasesScreen)
        end = time.monotonic() + 10
        while scr.loads < 1 and time.monotonic() < end:
            await pilot.pause(0.05)
        t = scr.query_one(DataTable)
        assert t.row_count == 2
        assert [t.get_cell("2", c) for c in ("version", "status", "user", "date", "image")] == [
            "v2", "complete", "dev@example.com", "2024-05-22 11:04:44", "registry.fly.io/shop-api:deployment-2"]
        assert t.get_cell("1", "status") == "failed"
        t.move_cursor(row=1)
        new = json.dumps([{"ID": "r2", "Version": 2, "Status": "complete", "Description": "Release",
                           "User": {"Email": "dev@example.com"}, "CreatedAt": "2024-05-22T11:04:44Z",
                           "ImageRef": "registry.fly.io/shop-api:deployment-2"},
                          {"ID": "r1", "Version": 1, "Status": "reverted", "Description": "Release",
                           "User": {"Email": "dev@example.com"}, "CreatedAt": "2024-05-21T09:00:00Z",
                           "ImageRef": "registry.fly.io/shop-api:deployment-1"}])
        runner.env["FAKE_RELEASES"] = new
        await pilot.press("r")
        end = time.monotonic() + 10
        while scr.loads < 2 and time.monotonic() < end:
            await pilot.pause(0.05)
        assert t.get_cell("1", "status") == "reverted" and t.row_count == 2
        assert t.cursor_row == 1  # cursor kept on refresh
        assert app.errors == []
