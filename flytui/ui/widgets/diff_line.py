"""A diff line in two columns (the ``-``/``+`` marker, the value wrapping beside it), e.g. the DATABASE_URL fix."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static


class DiffLine(Horizontal):
    """One diff line in two columns: the ``-``/``+`` marker, and the value that wraps beside it (never under it)."""

    DEFAULT_CSS = """
    DiffLine { height: auto; }
    DiffLine > .diff-marker { width: 2; height: 1; text-style: bold; }
    DiffLine > .diff-marker.removed { color: $error; }
    DiffLine > .diff-marker.added { color: $success; }
    DiffLine > .diff-value { width: 1fr; height: auto; }
    """

    def __init__(self, marker: str, **kwargs: Any) -> None:
        super().__init__(classes="diff-line", **kwargs)
        self.marker, self.value = marker, ""

    def compose(self) -> ComposeResult:
        yield Static(Text(self.marker), classes="diff-marker " + ("removed" if self.marker == "-" else "added"))
        yield Static("", classes="diff-value", markup=False)

    def show(self, value: str) -> None:
        self.value = value
        self.query_one(".diff-value", Static).update(Text(value, overflow="fold"))

    @property
    def text(self) -> str:
        """``- value``: what the line says (masked)."""
        return f"{self.marker} {self.value}"
