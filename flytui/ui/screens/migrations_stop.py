"""Stopping a running migration from the pane: Esc or q asks first, a confirmed stop kills alembic's group.

A mixin of :class:`flytui.ui.screens.migrations.MigrationsScreen`. The question is a pushed screen with a callback
(a key handler never awaits a modal); "no" leaves the run going; after a stop the pane reads the revision the
database is really at (PostgreSQL rolled back what was open).
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from textual import work
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker
from textual.widgets import Log, Static

from flytui.ui.modals.confirm import ConfirmRequest, ConfirmScreen


def _esc(text: str) -> str:
    return text.replace("[", r"\[")


class RunStopMixin(Screen[None]):
    """Needs ``running``, ``running_label``, ``running_argv``, ``run_worker_handle``, ``session``, ``stop_text``
    and ``load()`` from the screen."""

    running: bool
    running_label: str | None
    running_argv: list[str] | None
    run_worker_handle: Worker[None] | None
    session: Any
    stop_text: str | None

    def load(self) -> object:
        raise NotImplementedError  # MigrationsScreen.load (a worker)

    class RunStopped(Message):
        def __init__(self, label: str) -> None:
            super().__init__()
            self.label = label

    async def action_quit_asking(self) -> None:
        """``q``: quit flytui; during a run, ask first (the run keeps going on "no")."""
        if self.running:
            self._ask_stop(then_quit=True)
            return
        await self.app.action_quit()

    def _ask_stop(self, *, then_quit: bool) -> None:
        """Ask whether to stop the running migration. push_screen + callback: the key handler returns at once."""
        label = self.running_label or "the migration"
        request = ConfirmRequest(
            title=f"Stop alembic {label}" + (" and quit flytui?" if then_quit else "?"),
            targets=[str(self.session.project.root) if self.session else label],
            argvs=[self.running_argv] if self.running_argv else [], danger=True, confirm_label="Stop alembic")
        body = (f"alembic {_esc(label)} is still running. Stopping kills its process group: PostgreSQL rolls back "
                "the open transaction (with transactional DDL the whole run; otherwise the revision in progress), "
                "and flytui then shows the revision the database is really at.\n\n"
                "Cancel (Esc) leaves the run going.")

        def answered(stop: bool | None) -> None:
            if stop:
                self.stop_run(then_quit)
            else:
                self.app.notify(f"alembic {label} keeps running", timeout=4)

        self.app.push_screen(ConfirmScreen(replace(request, body=body, body_markup=True)), answered)

    @work(exclusive=True, group="mig-stop", exit_on_error=False)
    async def stop_run(self, then_quit: bool = False) -> None:
        """Cancel the run's worker (its generator kills alembic's group and releases the lock), then refresh."""
        worker = self.run_worker_handle
        self.workers.cancel_group(self, "mig-run")
        if worker is not None:
            with contextlib.suppress(Exception):
                await worker.wait()
        if then_quit:
            await self.app.action_quit()

    def on_run_stop_mixin_run_stopped(self, msg: "RunStopMixin.RunStopped") -> None:
        self.query_one("#mig-log", Log).write_line(f"[flytui] {msg.label} stopped by you: alembic was killed")
        self.query_one("#mig-progress", Static).update(
            f"[b $error]✗ {_esc(msg.label)} stopped by you[/] (alembic killed); reading the database's revision…")
        self.read_after_stop(msg.label)

    @work(exclusive=True, group="mig-after-stop", exit_on_error=False)
    async def read_after_stop(self, label: str) -> None:
        """After a stop: the revision the database is really at (PostgreSQL rolled back what was open)."""
        try:
            heads = await self.session.current_heads()
            at = ", ".join(heads) or "base"
        except Exception as exc:  # noqa: BLE001 - any failure to read it is said in the line itself
            at = f"unknown ({getattr(exc, 'message', None) or exc})"
        text = f"{label} stopped by you (alembic killed); the database is at {at}"
        self.stop_text = text
        self.query_one("#mig-progress", Static).update(f"[b $error]✗[/] {_esc(text)}")
        self.query_one("#mig-log", Log).write_line(f"[flytui] {text}")
        self.load()
