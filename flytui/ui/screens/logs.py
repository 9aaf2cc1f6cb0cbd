"""Live logs of one app (optionally one machine): follow, pause, filters, search, save.

Data path: :class:`flytui.fly.log_tail.LogTail` (in a named worker) decodes ``fly logs --json`` raw chunks with a
time budget and queues the records in the screen's inbox; a 20 Hz timer moves them into the :class:`LogBuffer`
and the :class:`LogView` (a line-API scroll view that renders only the visible lines), so a flood costs at most
20 view updates per second.
"""
from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from flytui.fly.logs import LEVELS, LogBuffer, LogFilter, LogRecord, search
from flytui.ui import commands
from flytui.ui.widgets.log_view import LogView
from flytui.fly.log_tail import LogTail, TailStatus, now_stamp
from flytui.ui.seams import Hosted

#: registry keys shown in the footer (the others are listed by ``?``)
_SHOWN = {"f", "p", "r", "m", "slash", "ctrl+f", "w", "t", "s", "c"}


def saved_message(n: int, path: Path) -> str:
    """``Saved 1 line to /full/path`` (the full path: the user must find the file)."""
    return f"Saved {n} line{'' if n == 1 else 's'} to {path.resolve()}"


def logs_dir() -> Path:
    """Where saved logs go: ``$XDG_STATE_HOME/flytui/logs`` (``~/.local/state/flytui/logs``) when it can be
    created, else the system temp folder (never the current folder: it may be the project)."""
    import tempfile

    state = os.environ.get("XDG_STATE_HOME", "")
    if not state:
        try:
            state = str(Path.home() / ".local" / "state")
        except RuntimeError:  # no home directory
            state = ""
    if state:
        folder = Path(state) / "flytui" / "logs"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            pass
    return Path(tempfile.gettempdir())


class LogsScreen(Screen[None], Hosted):
    """``LogsScreen(app_name, machine_id=None)``: the live log tail of one app."""

    #: view/status updates per second at most (records are queued in between)
    FLUSH_HZ = 20
    BINDINGS = [
        *commands.local_bindings([commands.SCREEN]),
        *(replace(b, show=b.key in _SHOWN) for b in commands.bindings([commands.LOGS])),
    ]

    class Status(Message):
        def __init__(self, status: TailStatus) -> None:
            super().__init__()
            self.status = status

    def __init__(self, app_name: str, machine_id: str | None = None) -> None:
        super().__init__()
        self.app_name = app_name
        self.machine_id = machine_id
        self.buffer: LogBuffer | None = None
        self.filter = LogFilter()
        self.search_rx: re.Pattern[str] | None = None
        self.paused = False
        self.pending_new = 0
        self.shown_seq = -1
        self.tail_status = TailStatus("connecting")
        self.status_history: deque[str] = deque(maxlen=50)  # recent connection states (newest last)
        self.tail: LogTail | None = None
        self._prompt_mode: str | None = None
        self._inbox: list[LogRecord] = []
        self._status_dirty = False
        self.flushes = 0  # view updates so far (at most FLUSH_HZ per second)

    # -- compose ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        title = f"Logs · {self.app_name}" + (f" · machine {self.machine_id}" if self.machine_id else "")
        yield Static(title, id="logs-title", markup=False)
        yield Static("", id="logs-status", markup=False)  # flyctl's error texts, filter and search patterns
        yield LogView(maxlen=self._maxlen(), id="logs-view")
        yield Input(id="logs-input", classes="bar")
        yield Footer()

    def _maxlen(self) -> int:
        return int(self.host.config.log_buffer_lines or 100_000)

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.buffer = LogBuffer(self._maxlen())
        self.view.focus()
        self._update_status()
        self.set_interval(1 / self.FLUSH_HZ, self.flush_inbox)
        self.start_tail()

    @work(exclusive=True, group="logs-tail", exit_on_error=False)
    async def start_tail(self) -> None:
        """Run the tail supervisor (reconnects itself) until the screen closes."""
        self.tail = LogTail(
            self.host.client, self.app_name, machine=self.machine_id,
            on_records=self._receive,
            on_status=lambda st: self.post_message(self.Status(st)),
        )
        await self.tail.run()

    async def on_unmount(self) -> None:
        """Leaving the screen (or the app): stop flyctl's whole process group now, not at loop teardown."""
        await self.stop_tail()

    async def stop_tail(self) -> None:
        """Cancel the tail worker and terminate the running ``fly logs`` (idempotent)."""
        self.workers.cancel_group(self, "logs-tail")
        proc = self.tail.process if self.tail is not None else None
        if proc is not None:
            try:
                await proc.terminate(grace=1.0)
            except Exception as exc:  # noqa: BLE001 - best effort on the way out
                self.log.warning(f"stopping fly logs: {exc!r}")

    # -- ingest ----------------------------------------------------------------------------
    def _receive(self, records: list[LogRecord]) -> None:
        """Called by the tail for each decoded slice (same event loop): only queues, no UI work."""
        self._inbox.extend(records)

    def flush_inbox(self) -> None:
        """Timer (``FLUSH_HZ``): move queued records into the buffer and the view; one refresh per tick."""
        if self._inbox and self.buffer is not None:
            records, self._inbox = self._inbox, []
            self.buffer.extend(records)
            if self.paused:
                self.pending_new += len(records)
            else:
                self.view.append_rows(self.filter.apply(records))
                self.shown_seq = self.buffer.last_seq
            self.flushes += 1
            self._status_dirty = True
        if self._status_dirty:
            self._update_status()

    def on_logs_screen_status(self, msg: "LogsScreen.Status") -> None:
        self.tail_status = msg.status
        self.status_history.append(msg.status.text())
        self._status_dirty = True

    def _update_status(self) -> None:
        self._status_dirty = False
        buf = self.buffer
        parts = [self.tail_status.text()]
        if buf is not None:
            shown = len(self.view.rows)
            parts.append(f"{shown}/{len(buf)} lines")
            errs = buf.levels.get("error", 0)
            if errs:
                parts.append(f"{errs} errors")
        parts.append("following" if self.view.follow else "not following")
        if self.paused:
            parts.append(f"⏸ paused · {self.pending_new} new")
        if self.filter.active:
            parts.append(f"filter: {self.filter.describe()}")
        if self.search_rx is not None:
            parts.append(f"search: /{self.search_rx.pattern}/")
        self.query_one("#logs-status", Static).update(" │ ".join(parts))

    def refilter(self) -> None:
        """Apply the filter to everything already received (instant)."""
        assert self.buffer is not None
        if self.paused:
            limit = self.shown_seq
            rows = self.filter.apply(r for r in self.buffer if r.seq <= limit)
        else:
            rows = self.filter.apply(self.buffer)
            self.shown_seq = self.buffer.last_seq
        self.view.set_rows(rows)
        self._update_status()

    # -- actions ---------------------------------------------------------------------------
    def action_close(self) -> None:
        if self._prompt_mode:
            self._end_prompt()
            return
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        self.view.follow = not self.view.follow
        if self.view.follow:
            self.view.cursor = None
            self.view.scroll_end(animate=False)
        self._update_status()

    def action_toggle_pause(self) -> None:
        assert self.buffer is not None
        self.paused = not self.paused
        if not self.paused:
            self.view.append_rows(self.filter.apply(self.buffer.since(self.shown_seq)))
            self.shown_seq = self.buffer.last_seq
            self.pending_new = 0
        self._update_status()

    def action_toggle_level(self, index: int) -> None:
        level = LEVELS[index]
        current = set(LEVELS) if self.filter.levels is None else set(self.filter.levels)
        current ^= {level}
        levels = None if current == set(LEVELS) else frozenset(current)
        self._set_filter(levels=levels)

    def _cycle(self, current: str | None, values: list[str]) -> str | None:
        options: list[str | None] = [None, *values]
        i = options.index(current) if current in options else 0
        return options[(i + 1) % len(options)]

    def action_cycle_region(self) -> None:
        assert self.buffer is not None
        self._set_filter(region=self._cycle(self.filter.region, self.buffer.known(self.buffer.regions)))

    def action_cycle_machine(self) -> None:
        assert self.buffer is not None
        self._set_filter(machine=self._cycle(self.filter.machine, self.buffer.known(self.buffer.instances)))

    def _set_filter(self, **changes: Any) -> bool:
        f = self.filter
        new = LogFilter(
            levels=changes.get("levels", f.levels), region=changes.get("region", f.region),
            machine=changes.get("machine", f.machine), text=changes.get("text", f.text),
            regex=changes.get("regex", f.regex), invert=changes.get("invert", f.invert),
        )
        try:
            new.compile()
        except ValueError as exc:
            self.notify(str(exc), title="filter", severity="error")
            return False
        self.filter = new
        self.refilter()
        return True

    def action_search_next(self) -> None:
        self._search(backward=False)

    def action_search_prev(self) -> None:
        self._search(backward=True)

    def _search(self, backward: bool) -> None:
        rx = self.search_rx or (self.filter._rx if self.filter.text and not self.filter.invert else None)
        if rx is None:
            self.notify("No search pattern: press ctrl+f", severity="warning")
            return
        view = self.view
        if view.cursor is not None:
            start = view.cursor
        else:
            start = len(view.rows) if backward else -1
        hit = search(view.rows, rx, start, backward=backward)
        if hit is None:
            self.notify(f"Pattern not found: {rx.pattern}", severity="warning")
            return
        view.goto(hit)
        self._update_status()

    def action_toggle_wrap(self) -> None:
        self.view.set_options(wrap=not self.view.wrap)

    def action_toggle_timestamps(self) -> None:
        self.view.set_options(timestamps=not self.view.timestamps)

    def action_clear(self) -> None:
        assert self.buffer is not None
        self.buffer.clear()
        self.pending_new = 0
        self.shown_seq = self.buffer.last_seq
        self.view.set_rows([])
        self._update_status()

    # -- prompt (filter / search / save) ---------------------------------------------------
    def default_save_path(self) -> Path:
        """``$XDG_STATE_HOME/flytui/logs/`` (default ``~/.local/state``), else the system temp folder."""
        return logs_dir() / f"flytui-logs-{self.app_name}-{now_stamp()}.log"

    def action_prompt(self, mode: str) -> None:
        inp = self.query_one("#logs-input", Input)
        self._prompt_mode = mode
        if mode == "filter":
            inp.placeholder = "filter regex (prefix ! to invert, empty = none)"
            inp.value = ("!" if self.filter.invert else "") + self.filter.text
        elif mode == "search":
            inp.placeholder = "search regex (n / N: next / previous)"
            inp.value = self.search_rx.pattern if self.search_rx else ""
        else:
            inp.placeholder = "save visible lines to"
            inp.value = str(self.default_save_path())
        inp.display = True
        inp.focus()

    def _end_prompt(self) -> None:
        self._prompt_mode = None
        inp = self.query_one("#logs-input", Input)
        inp.display = False
        self.view.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, value = self._prompt_mode, event.value
        self._end_prompt()
        if mode == "filter":
            invert = value.startswith("!")
            self._set_filter(text=value[1:] if invert else value, invert=invert and len(value) > 1)
        elif mode == "search":
            if not value:
                self.search_rx = None
                self.view.highlight = None
            else:
                try:
                    self.search_rx = re.compile(value, re.IGNORECASE)
                except re.error as exc:
                    self.notify(f"invalid regular expression {value!r}: {exc}", severity="error")
                    return
                self.view.highlight = self.search_rx
                self._search(backward=False)
            self.view.refresh()
            self._update_status()
        elif mode == "save" and value.strip():
            lines = [r.format(timestamps=True) for r in self.view.rows]
            self.save_lines(Path(value.strip()).expanduser(), lines)

    @work(exclusive=True, group="logs-save", exit_on_error=False, thread=True)
    def save_lines(self, path: Path, lines: list[str]) -> None:
        """Write the visible (filtered) lines to ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        except OSError as exc:
            self.app.call_from_thread(self.host.report_error, exc, "save logs")
            return
        self.app.call_from_thread(self.notify, saved_message(len(lines), path), title="logs", markup=False)
