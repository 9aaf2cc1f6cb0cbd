"""Base class of the table panes (apps, machines, secrets, volumes).

A pane owns one :class:`ResourceTable`, loads its data in a named worker and re-arms its poll only
when the previous load has finished (never a fixed-rate timer), and only while it is the visible pane.
Results that arrive for a selection the user already left (other app) are discarded.
"""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from flytui.ui import commands
from flytui.ui.widgets.table import ResourceTable
from flytui.fly.retry import RateGate
from flytui.ui.seams import AppSeams, Hosted, run_async

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.command import FlyCommand
    from flytui.ui.modals.confirm import ConfirmRequest


def rate_gate(app: AppSeams) -> RateGate | None:
    """The client's shared :class:`flytui.fly.retry.RateGate`, or None (a test double's client has none)."""
    gate = app.client.rate_gate
    return gate if isinstance(gate, RateGate) else None


class BackoffStatus:
    """While a load runs, show the client's rate-limit back-off (``flytui.fly.retry.RateGate``) in the status area."""

    def __init__(self, app: AppSeams) -> None:
        self.app = app
        self.op: int | None = None
        gate = rate_gate(app)
        self._unsubscribe = gate.subscribe(self.show) if gate is not None else None
        if gate is not None and gate.notice is not None:
            self.show(gate.notice)

    def show(self, notice: Any) -> None:
        """Replace the status entry with the gate's current notice (``None``: the gate opened)."""
        if self.op is not None:
            self.app.end_op(self.op)
            self.op = None
        if notice is not None:
            self.op = self.app.begin_op(notice.text())

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.show(None)


class Pane(Vertical, Hosted):
    """One view of the console; subclasses define ``GROUP``, ``COLUMNS`` and :meth:`load`."""

    GROUP: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    COLUMNS: ClassVar[Sequence[tuple[str, str] | tuple[str, str, float]]] = []
    MARKABLE: ClassVar[bool] = False
    NEEDS_APP: ClassVar[bool] = True
    EMPTY: ClassVar[str] = "Nothing here yet."  # shown when a load returns no rows; ``{token}`` is filled in

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # a pane's keys are its group's in the one registry (flytui/ui/commands.py): never listed by hand
        if cls.__dict__.get("GROUP") and "BINDINGS" not in cls.__dict__:
            cls.BINDINGS = commands.bindings([cls.GROUP])
        super().__init_subclass__(**kwargs)

    class Loaded(Message):
        """Rows for the pane, tagged with the selection they were loaded for."""

        def __init__(self, pane: "Pane", token: Any, rows: dict[str, dict[str, Any]], extra: Any = None) -> None:
            super().__init__()
            self.pane = pane
            self.token = token
            self.rows = rows
            self.extra = extra

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="pane", **kwargs)
        self._poll_timer: Timer | None = None
        self.active = False
        self.loaded_token: Any = None
        self.loads = 0
        self.activate_on_mount = False  # set by MainScreen.show_pane for a pane built on first use
        self._failure_line = ""  # what the .pane-failure line shows

    def on_mount(self) -> None:
        if self.activate_on_mount:
            self.call_after_refresh(self._activate_if_visible)

    def _activate_if_visible(self) -> None:
        self.activate_on_mount = False
        parent = self.parent
        if getattr(parent, "current", self.id) == self.id:  # the user may have moved on meanwhile
            self.activate()

    def compose(self) -> ComposeResult:
        yield Label(self.TITLE, classes="pane-title", id=f"{self.GROUP}-title", markup=False)
        # a failing poll: one toast, then this line counts the repeats (app.failures); a success hides it
        yield Static("", classes="pane-failure", id=f"{self.GROUP}-failure", markup=False)
        yield ResourceTable(self.COLUMNS, markable=self.MARKABLE, id=f"{self.GROUP}-table")
        yield Static("", classes="empty-state", id=f"{self.GROUP}-empty", markup=False)

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    # --- selection token ------------------------------------------------------------------------
    def token(self) -> Any:
        """What the data depends on (the current app); a result for another token is dropped."""
        return self.host.current_app if self.NEEDS_APP else self.host.org_filter

    def empty_text(self) -> str:
        """What to tell the user when the loaded data set is empty (with what to do next)."""
        return self.EMPTY.format(token=self.token() or "")

    def update_empty(self) -> None:
        """Show the empty-state line when a load returned nothing or the filter hides every row."""
        table = self.table
        msg = ""
        if self.loads and self.loaded_token == self.token():
            if not table.rows_data:
                msg = self.empty_text()
            elif not table.visible_keys():
                what = f"the filter {table.filter_text!r}" if table.filter_text else "the current view"
                msg = f"No rows match {what} ({len(table.rows_data)} hidden). Press esc to clear the filter."
                if getattr(self, "faults_only", False):
                    msg += " Faults only is on: press f to show every row."
        empty = self.query_one(".empty-state", Static)
        empty.update(msg)
        empty.display = bool(msg)
        self.set_class(bool(msg), "is-empty")  # the message sits right under the column headers

    def title_text(self) -> str:
        tok = self.token()
        return f"{self.TITLE} — {tok}" if self.NEEDS_APP and tok else self.TITLE

    # --- lifecycle --------------------------------------------------------------------------------
    def activate(self) -> None:
        self.active = True
        self.query_one(".pane-title", Label).update(self.title_text())
        if self.loaded_token != self.token():
            self.table.set_rows({})
            self.show_failure(cleared=True)  # another app/org: the old failure is not about this one
        self.update_empty()
        self.reload()
        self.table.focus()

    def deactivate(self) -> None:
        self.active = False
        self._cancel_poll()

    def _cancel_poll(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None

    def reload(self) -> None:
        """Start a load now (cancels a pending poll; an in-flight load of the same group is replaced)."""
        self._cancel_poll()
        if self.NEEDS_APP and not self.token():
            self.query_one(".pane-title", Label).update(f"{self.TITLE} — no app selected (press A or 1)")
            return
        token = self.token()
        ready = self.prefilled(token)
        if ready is not None:  # the launch-time read already answered: its rows go into this very frame
            self.on_pane_loaded(self.Loaded(self, token, *ready))
            return
        self._load_worker(token)

    def run_confirmed(self, request: "Callable[[], ConfirmRequest]", label: str, done: str, *, worker: str,
                      title: str | None = None, before: "Callable[[], Awaitable[None]] | None" = None,
                      after: "Callable[[], None] | None" = None) -> None:
        """In a worker of group ``GROUP-mutate``: build the request (a builder: a refused value becomes a reported
        error, never a crash of the key handler), confirm, await ``before``, run its commands as ``label``,
        call ``after``, say ``done`` and reload."""

        async def run() -> None:
            req = request()
            if not await self.host.confirm(req):
                return
            if before is not None:
                await before()
            await self.execute_commands(req.commands, label)
            if after is not None:
                after()
            self.app.notify(done, title=title or "", markup=False)
            self.reload()

        run_async(self, run, name=worker, group=f"{self.GROUP}-mutate", exit_on_error=False)

    async def confirm_and_execute(self, request: "ConfirmRequest", label: str) -> bool:
        """Ask ``request``; once confirmed, run its commands (the very objects the dialog showed) in order as one
        operation ``label`` of the status line. False when declined; a failure raises (the worker reports it)."""
        if not await self.host.confirm(request):
            return False
        await self.execute_commands(request.commands, label)
        return True

    async def execute_commands(self, commands: "Sequence[FlyCommand]", label: str) -> None:
        op = self.host.begin_op(label)
        try:
            for command in commands:
                await self.host.client.execute(command)
        finally:
            self.host.end_op(op)

    def prefilled(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any] | None:
        """(rows, extra) from a read that already finished (the app's launch-time read), else None."""
        return None

    def _load_worker(self, token: Any) -> Worker:
        # A callable, not ``self._load(token)``: an exclusive worker replaced (or cancelled at exit) before it
        # started would leave that coroutine object un-awaited ("RuntimeWarning: Pane._load was never awaited").
        return self.run_worker(partial(self._load, token), name=f"{self.GROUP}-load", group=f"{self.GROUP}-load",
                               exclusive=True, exit_on_error=False)

    async def _load(self, token: Any) -> None:
        op = self.host.begin_op(f"refresh {self.GROUP}")
        backoff = BackoffStatus(self.host)
        try:
            rows, extra = await self.load(token)
        finally:
            backoff.close()
            self.host.end_op(op)
        self.post_message(self.Loaded(self, token, rows, extra))

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_pane_loaded(self, message: "Pane.Loaded") -> None:
        if message.pane is not self:
            return
        message.stop()
        if message.token != self.token():
            return  # the user moved on; drop stale results
        self.loaded_token = message.token
        self.loads += 1
        self.show_failure(cleared=True)
        self.table.set_rows(message.rows)
        self.after_load(message.extra)
        self.update_empty()
        self._arm_poll()
        self._data_shown()

    def _data_shown(self) -> None:
        self.host.data_shown()  # the header facts wait for the first data

    def after_load(self, extra: Any) -> None:
        """Hook for subclasses (e.g. start per-row follow-ups)."""

    def _arm_poll(self) -> None:
        """Next poll one interval after the last load ended (later while a rate-limit back-off lasts)."""
        self._cancel_poll()
        if self.active and self.host.config.refresh_interval > 0:
            gate = rate_gate(self.host)
            backoff = gate.remaining() if gate is not None else 0.0
            wait = max(self.host.config.refresh_interval, backoff)
            self._poll_timer = self.set_timer(wait, self.reload)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            event.stop()
            if event.worker.group == f"{self.GROUP}-load":
                # the same error on every poll: one toast, then a counted status line
                self.host.report_error(event.worker.error, f"refresh {self.GROUP}", repeat_key=self.GROUP)
                self.show_failure()
                self._arm_poll()  # keep polling after a transient failure
                self._data_shown()
            else:
                self.host.report_error(event.worker.error, event.worker.name.replace("-", " "))

    def show_failure(self, cleared: bool = False) -> None:
        """Show (or hide) the line that counts repeated failures of this pane's poll."""
        failures = self.host.failures
        if cleared:
            failures.clear(self.GROUP)
        line = failures.line(self.GROUP)
        widgets = self.query(".pane-failure").results(Static)
        if line == self._failure_line or not self.query(".pane-failure"):
            return  # nothing changed (no refresh: a layout pass while rows load is not free), or not composed
        self._failure_line = line
        for widget in widgets:
            widget.update(line)
            widget.display = bool(line)

    # --- filter ---------------------------------------------------------------------------------
    def apply_filter(self, text: str) -> None:
        if not self.query(ResourceTable):  # built on first use and not composed yet: starts unfiltered
            return
        self.table.set_filter(text)
        self.update_empty()
