"""Command log pane (lazygit style): every flyctl invocation flytui made, newest first, live-updating.

Rows come from ``app.command_log`` (:class:`flytui.fly.commandlog.CommandLog`, fed by the runner's listener;
argv is already redacted there). The pane redraws at most every ``REDRAW`` seconds however many calls land, and
only while it is visible. ``y`` copies the selected command line to the clipboard; the detail line under the
table shows the stderr tail of a failed call.
"""
from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Static
from textual.timer import Timer

from flytui.ui.panes.base import Pane

GROUP = "command-log"


def _age(started: float, now: float) -> str:
    secs = max(0, int(now - started))
    if secs < 60:
        return f"{secs}s ago"
    if secs < 3600:
        return f"{secs // 60}m ago"
    return time.strftime("%H:%M:%S", time.localtime(started))


def entry_row(entry: Any, now: float | None = None) -> dict[str, Any]:
    """One table row for a :class:`~flytui.fly.commandlog.LoggedCommand`."""
    now = time.time() if now is None else now
    status = entry.status
    style = ("cyan" if entry.running else "dim" if status == "stopped" else "bold red" if entry.failed
             else "green")
    duration = "…" if entry.duration is None else f"{entry.duration:.2f}s"
    tail = (entry.stderr_tail.splitlines() or [""])[-1] if entry.failed else ""
    return {
        "when": _age(entry.started, now),
        "status": Text(status, style=style),
        "duration": duration,
        "kind": entry.kind,
        "command": entry.command_line,
        "error": tail,
    }


class CommandLogPane(Pane):
    """Every flyctl call: command line (secrets redacted), exit status, duration, stderr tail on failure."""

    GROUP: ClassVar[str] = GROUP
    TITLE: ClassVar[str] = "Command log"
    NEEDS_APP: ClassVar[bool] = False
    REDRAW: ClassVar[float] = 0.2
    EMPTY: ClassVar[str] = "No flyctl calls yet."
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("when", "WHEN"), ("status", "STATUS"), ("duration", "TIME"), ("kind", "KIND"), ("command", "COMMAND"),
        ("error", "ERROR")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._unsubscribe = None
        self._redraw_timer: Timer | None = None
        self._shown_version = -1

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="command-log-detail", markup=False)

    @property
    def log_source(self) -> Any:
        return self.host.command_log

    def on_mount(self) -> None:
        source = self.log_source
        if source is not None:
            self._unsubscribe = source.subscribe(self._changed)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def title_text(self) -> str:
        source = self.log_source
        n = len(source) if source is not None else 0
        return f"{self.TITLE} — {n} flyctl call(s), newest first  (y copies the command line)"

    # --- data -------------------------------------------------------------------------------------
    def _changed(self, _entry: Any) -> None:
        """Runner listener path: coalesce bursts into one redraw."""
        if self.active and self._redraw_timer is None:
            self._redraw_timer = self.set_timer(self.REDRAW, self._redraw_now)

    def _redraw_now(self) -> None:
        self._redraw_timer = None
        self.reload()

    def reload(self) -> None:
        """Rebuild rows from the log (in place: keyed by entry id, cursor kept). Local data: no worker."""
        self._cancel_poll()
        source = self.log_source
        self.loaded_token = self.token()
        if source is None:
            self.query_one(".pane-title", Label).update(f"{self.TITLE} — not available (no flyctl runner)")
            return
        now = time.time()
        self.table.set_rows({str(e.id): entry_row(e, now) for e in source.entries()})
        self._shown_version = source.version
        self.loads += 1
        self.query_one(".pane-title", Label).update(self.title_text())
        self._show_detail()
        getattr(self, "update_empty", lambda: None)()
        if self.active:  # keep "N s ago" fresh
            self._poll_timer = self.set_timer(max(1.0, self.host.config.refresh_interval), self.reload)

    def selected_entry(self) -> Any:
        key = self.table.selected_key
        source = self.log_source
        if key is None or source is None:
            return None
        return source.get(int(key))

    def _show_detail(self) -> None:
        entry = self.selected_entry()
        detail = self.query_one("#command-log-detail", Static)
        if entry is None:
            detail.update("")
            return
        text = f"$ {entry.command_line}"
        if entry.failed and entry.stderr_tail:
            text += "\n" + entry.stderr_tail
        detail.update(text)

    def on_data_table_row_highlighted(self, event: Any) -> None:
        self._show_detail()

    # --- actions ----------------------------------------------------------------------------------
    def action_copy_command(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            self.app.notify("No command selected", severity="warning")
            return
        self.app.copy_to_clipboard(entry.command_line)
        self.app.notify(entry.command_line, title="Copied to the clipboard")

    def action_clear_log(self) -> None:
        source = self.log_source
        if source is not None:
            source.clear()
            self.reload()
