"""The questions of the migrations screen, one :class:`PromptBar` mode each: a small state machine.

``url`` (c): a database URL or ``$ENV_VAR`` → connect; when the host names no Fly app
(:class:`~flytui.db.migrations.DatabaseAppUnknown`) the project settings' ``database_app`` is used, else
→ ``db_app``: which Postgres app to ``fly proxy`` to (the URL rides along as the bar's context) → connect.
``remote`` (R with no current app): which app's machine runs alembic. ``project``: which of several Alembic
projects (asked again until the answer is a number in range).

A mixin of :class:`flytui.ui.screens.migrations.MigrationsScreen` (uses ``session``, ``setup``, ``app_name``,
``_start``, ``_update_header``, ``connect``).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from flytui.ui.seams import Hosted
from flytui.ui.widgets.prompt_bar import PromptBar

URL, DB_APP, REMOTE, PROJECT = "url", "db_app", "remote", "project"


class MigrationPromptsMixin(Screen[None], Hosted):
    session: Any
    setup: Any
    app_name: str | None

    if TYPE_CHECKING:  # MigrationsScreen's own members (flytui/ui/screens/migrations.py)
        def _start(self, project: Any) -> None: ...

        def _update_header(self) -> None: ...

        def connect(self) -> Any: ...

        def show_detail_text(self, text: Any) -> None: ...

    @property
    def prompt(self) -> PromptBar:
        return self.query_one("#mig-input", PromptBar)

    @property
    def prompt_mode(self) -> str | None:
        """The open question (None: none, or the bar is not mounted yet)."""
        for bar in self.query("#mig-input").results(PromptBar):
            return bar.mode
        return None

    def known_url(self) -> str | None:
        """The DATABASE_URL flytui already knows, fixed for SQLAlchemy + psycopg 3: ``app.database_url`` (set by
        the DATABASE_URL fix), else ``$FLYTUI_DATABASE_URL`` (copied from ``fly postgres attach``). Memory only."""
        from flytui.db.urls import fix_url

        url = self.host.database_url or os.environ.get("FLYTUI_DATABASE_URL")
        if not url:
            return None
        try:
            return fix_url(url)
        except ValueError:  # UrlError: not a URL, let the user type one
            return None

    def action_prompt_url(self) -> None:
        known = self.known_url() if self.session is not None and not self.session.has_url else None
        if known:  # offer the known URL: enter connects, or type another one
            self.prompt.ask(URL, "enter: connect with the known DATABASE_URL (masked), or type another URL / $ENV_VAR",
                            password=True, value=known)
        else:
            self.prompt.ask(URL, "database URL, or $ENV_VAR holding it (kept in memory only)", password=True)

    def ask_project(self) -> None:
        self.prompt.ask(PROJECT, f"project number (1-{len(self.setup.projects)})")

    def on_prompt_bar_answered(self, msg: PromptBar.Answered) -> None:
        if msg.mode == URL:
            self.use_url(msg.value)
        elif msg.mode == DB_APP and msg.context:
            self.use_url(msg.context, db_app=msg.value)
        elif msg.mode == REMOTE:
            self._set_remote(msg.value)
        elif msg.mode == PROJECT:
            self._choose_project(msg.value)

    def on_prompt_bar_closed(self, _msg: PromptBar.Closed) -> None:
        if self.prompt.mode is None:
            self.query_one("#mig-table").focus()

    def _choose_project(self, value: str) -> None:
        projects = self.setup.projects
        if not value.isdigit() or not 1 <= int(value) <= len(projects):
            self.app.notify(f"Type a number from 1 to {len(projects)}", severity="warning")
            self.ask_project()
            return
        self.show_detail_text("Select a revision")
        self._start(projects[int(value) - 1])

    def use_url(self, value: str, db_app: str | None = None) -> None:
        """A URL or ``$NAME``: remember it, then connect (asks for the database app when the host names none)."""
        from flytui.db.migration_types import DatabaseAppUnknown, MigrationSessionError

        if self.session is None:
            return
        try:
            if value.startswith("$") and db_app is None:
                self.session.url_from_env(value)
            else:
                if value.startswith("$"):
                    value = os.environ.get(value[1:], "")
                self.session.set_url(value, source="prompt", db_app=db_app)
        except DatabaseAppUnknown as exc:
            settings = getattr(self.setup, "settings", None)
            if db_app is None and settings is not None and settings.database_app:
                self.use_url(value, db_app=settings.database_app)  # [tool.flytui] database_app
                return
            url = value if not value.startswith("$") else os.environ.get(value[1:], "")
            self.prompt.ask(DB_APP, f"{exc.message}: {exc.hint}", context=url)
            return
        except MigrationSessionError as exc:
            self.app.notify(exc.message + (f"\n{exc.hint}" if exc.hint else ""),
                            title="database URL", severity="error")
            return
        self._update_header()
        self.connect()

    def action_toggle_remote(self) -> None:
        if self.session is None:
            return
        if self.session.remote:
            self.session.set_remote(None)
            self.app.notify("Local mode: the project's alembic runs here, through the tunnel")
            self._update_header()
            return
        if not self.app_name:
            self.prompt.ask(REMOTE, "Fly app whose machine runs alembic")
            return
        self._set_remote(self.app_name)

    def _set_remote(self, app: str) -> None:
        from flytui.db.migrations import RemoteUnavailable

        try:
            self.session.set_remote(app)
        except RemoteUnavailable as exc:
            self.app.notify(exc.message, severity="warning")
            return
        self.app.notify(f"Remote mode: alembic runs inside a machine of {app} over SSH")
        self._update_header()
