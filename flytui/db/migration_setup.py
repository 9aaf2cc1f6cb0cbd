"""Setting up a migrations session: project settings, which Alembic project, which alembic, the header lines.

Pure functions over ``flytui.db`` (no widgets): the migrations screen (flytui/ui/screens/migrations.py) shows what
they return.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


__all__ = ["Setup", "prepare", "make_session", "setup_header", "choice_text"]


@dataclass
class Setup:
    """What the pane starts from: settings (or the error in them) and the candidate projects."""

    start: Path
    settings: Any = None                     # flytui.db.project_settings.MigrationSettings
    error: str | None = None                 # the settings file is wrong (message + hint)
    projects: list[Any] = field(default_factory=list)

    def short(self, project: Any) -> str:
        """A project's config file relative to the repository root (for the choice)."""
        from flytui.db.interpreter import repo_root

        root = repo_root(self.start)
        try:
            return str(project.config_file.relative_to(root))
        except ValueError:
            return str(project.config_file)


def prepare(start: Path | None) -> Setup:
    """Read the settings, then find the project(s): the settings' ``config``, else discovery."""
    from flytui.db.discovery import discover_projects, project_at
    from flytui.db.project_settings import SettingsError, load_settings

    start = Path(start or Path.cwd()).resolve()
    setup = Setup(start)
    try:
        setup.settings = load_settings(start)
    except SettingsError as exc:
        setup.error = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return setup
    configured = setup.settings.config
    if configured is not None:
        project = project_at(configured)
        if project is None:
            setup.error = (f"{setup.settings.source}: migrations.config: {configured} has no Alembic configuration "
                           "(script_location in [alembic], [tool.alembic], or a Flask-Migrate migrations/alembic.ini)")
            return setup
        setup.projects = [project]
        return setup
    setup.projects = discover_projects(start)
    return setup


def make_session(runner: Any, client: Any, tunnels: Any, setup: Setup, project: Any, env_command: str | None,
                 config_command: str | None = None) -> Any:
    """The MigrationSession for ``project`` with the settings applied (``runner``/``client``: flyctl's; ``tunnels``:
    the app-wide TunnelManager or None). The alembic command: ``env_command``
    ($FLYTUI_ALEMBIC, for one run), else the project settings' ``command``, else ``config_command`` (the flytui
    config's ``alembic_command``), else detected."""
    from flytui.db.migrations import MigrationSession

    s = setup.settings
    if env_command:
        command, source = shlex.split(env_command), "$FLYTUI_ALEMBIC"
    elif s is not None and s.command:
        command, source = list(s.command), str(s.source)
    elif config_command:
        command, source = shlex.split(config_command), "alembic_command in the flytui config"
    else:
        command, source = None, ""
    kwargs: dict[str, Any] = {}
    if s is not None:
        kwargs = dict(env_extra=s.env, x_args=s.x_args, url_via=s.database_url, cwd=s.cwd,
                      pass_config=s.pass_config, verify_target=s.verify_target)
    return MigrationSession(project, runner=runner, client=client, tunnels=tunnels,
                            alembic_command=command, command_source=source, **kwargs)


def setup_header(session: Any, setup: Setup) -> str:
    """Second header line (plain text; the caller escapes it): the alembic used and why, the settings."""
    alembic = session.alembic
    parts = [f"alembic: {shlex.join(alembic.command)} ({session.command_reason})"]
    if alembic.driver:
        parts.append(f"driver {alembic.driver} ({alembic.driver_reason})")
    if str(alembic.cwd) != str(session.project.root):
        parts.append(f"cwd {alembic.cwd}")
    if setup.settings is not None:
        parts.append(setup.settings.describe())
    if session.project.flask_migrate:
        parts.append("Flask-Migrate layout")
    return " · ".join(parts)


def choice_text(setup: Setup) -> str:
    """The list shown when several projects were found."""
    lines = [f"Several Alembic projects under {setup.start}: type the number of the one to use (or set "
             "migrations.config in [tool.flytui] / .flytui.toml)", ""]
    lines += [f"  {i}. {setup.short(p)}" + ("  (Flask-Migrate)" if p.flask_migrate else "")
              for i, p in enumerate(setup.projects, 1)]
    return "\n".join(lines)
