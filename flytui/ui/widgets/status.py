"""Status area: running operations with a spinner and elapsed time."""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from textual.timer import Timer
from textual.widgets import Static

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass
class Operation:
    id: int
    label: str
    started: float


class OperationsStatus(Static):
    """One line: ``⠋ stop e286… 1.2s · refresh apps 0.3s``; empty when idle."""

    DEFAULT_CSS = "OperationsStatus { height: 1; color: $foreground-muted; padding: 0 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)  # labels name apps and machines: never markup
        self.ops: dict[int, Operation] = {}
        self._ids = itertools.count(1)
        self._frame = 0
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self._timer = self.set_interval(0.1, self._tick, pause=True)

    def begin(self, label: str) -> int:
        op = Operation(next(self._ids), label, time.monotonic())
        self.ops[op.id] = op
        if self._timer is not None:
            self._timer.resume()
        self._render_line()
        return op.id

    def end(self, op_id: int) -> None:
        self.ops.pop(op_id, None)
        if not self.ops and self._timer is not None:
            self._timer.pause()
        self._render_line()

    def labels(self) -> list[str]:
        return [op.label for op in self.ops.values()]

    def _tick(self) -> None:
        self._frame += 1
        self._render_line()

    def _render_line(self) -> None:
        if not self.ops:
            self.update("")
            return
        now = time.monotonic()
        spin = SPINNER[self._frame % len(SPINNER)]
        parts = [f"{op.label} {now - op.started:.1f}s" for op in self.ops.values()]
        self.update(f"{spin} " + " · ".join(parts))
