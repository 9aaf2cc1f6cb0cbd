"""Tables never keep a row painted at stale column widths (flytui.ui.widgets.plain.PlainDataTable).

Textual measures new rows on idle but caches rendered rows under keys without column widths: a row painted
before that idle (the compositor may paint first on a busy machine) kept its header-only widths for good.
"""
from __future__ import annotations

import html
import re

from textual.app import App, ComposeResult

from flytui.ui.widgets.plain import PlainDataTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield PlainDataTable()


def screen_text(app: App[None]) -> str:
    svg = app.export_screenshot()
    return "".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)).replace("\xa0", " ")


async def test_a_row_painted_before_it_was_measured_is_repainted_at_full_width() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(PlainDataTable)
        table.add_columns("NAME", "DIGEST")
        await pilot.pause()
        table.add_row("a-rather-long-secret-name", "0123456789abcdef", key="k")
        table.add_row("b", "x", key="k2")
        for y in range(3):  # painted before the table's idle handler measured the new rows
            table.render_line(y)
        await pilot.pause()
        text = screen_text(app)
        assert re.search(r"a-rather-long-secret-name +0123456789abcdef", text), text
