"""Global keys on every screen (the registry's "Everywhere" and "Views" groups).

The app binds both groups (hidden; the main screen shows them in its footer), so they reach the app from
any full screen (deploy, logs, migrations, doctor, fly.toml) unless that screen binds the key itself.
Rules:

* In a dialog (modal) they do nothing: the dialog's own keys apply (its hint line lists them).
* A view of the main screen (``1``, ``2``, ``V``, ``-`` …) closes the screens above the main screen first;
  a screen that must not be closed (a deploy or migration running, unsaved fly.toml) stops it, and the
  notification says why.
* A view that is a screen (``l``, ``d``, ``M``, ``H``, ``T``, ``S``) closes what can be closed, then opens on
  top; "already open" is said, never silently ignored.
* ``r``, ``/`` and ``:`` do this screen's equivalent, or say that there is none.
"""
from __future__ import annotations

from typing import Any

from textual.screen import ModalScreen

from flytui.ui import commands

#: registry action -> the screen class it opens (by name: screens are imported lazily)
SCREEN_ACTIONS = {
    "open_logs": "LogsScreen", "open_deploy": "DeployScreen", "open_migrations": "MigrationsScreen",
    "open_doctor": "DoctorScreen", "open_flytoml": "FlyTomlScreen", "open_scale": "ScaleScreen",
}
#: screen class -> what it is called in messages
SCREEN_NAMES = {
    "LogsScreen": "logs", "DeployScreen": "deploy", "MigrationsScreen": "migrations", "DoctorScreen": "doctor",
    "FlyTomlScreen": "fly.toml", "ScaleScreen": "scale", "MainScreen": "main",
}
#: screen refresh actions tried in order for ``r`` / ``:refresh`` on a screen that does not bind ``r``
REFRESH_ACTIONS = ("reload", "rerun", "refresh_screen")


def screen_name(screen: Any) -> str:
    return SCREEN_NAMES.get(type(screen).__name__, type(screen).__name__.removesuffix("Screen").lower())


def busy_reason(screen: Any) -> str | None:
    """Why ``screen`` must not be closed now (None: it may be)."""
    reason = getattr(screen, "busy_reason", None)
    if callable(reason):
        return reason()
    if getattr(screen, "running", False):
        return f"something is still running on the {screen_name(screen)} screen"
    return None


def busy_screens(app: Any) -> list[str]:
    """The reasons of every screen of the stack that must not be closed."""
    return [r for r in (busy_reason(s) for s in app.screen_stack) if r]


def _close_to_main(app: Any) -> str | None:
    """Close the full screens above the main screen, stopping at a busy one (its reason is returned)."""
    while app.screen is not app.main:
        reason = busy_reason(app.screen)
        if reason:
            return reason
        app.pop_screen()
    return None


def prepare(app: Any, cmd: commands.Command) -> bool:
    """Before ``cmd`` (of the global/view groups) runs: False when it must not run here (said why, if needed)."""
    screen = app.screen
    if isinstance(screen, ModalScreen):
        return False  # a dialog is open: its own keys only
    if screen is app.main or cmd.group != commands.VIEW:
        return True
    action = cmd.action.split("(")[0]
    target = SCREEN_ACTIONS.get(action)
    if target is not None and type(screen).__name__ == target:
        app.notify(f"The {SCREEN_NAMES[target]} screen is already open", severity="information")
        return False
    reason = _close_to_main(app)
    if target is None:
        if reason:
            app.notify(f"{cmd.title}: {reason}. Wait for it or finish it first (esc goes back to the main "
                       f"screen).", title=cmd.title, severity="warning")
            return False
        return True
    if type(app.screen).__name__ == target:
        app.notify(f"The {SCREEN_NAMES[target]} screen is already open"
                   + (f" ({reason})" if reason else ""), severity="information")
        return False
    return True


def on_screen(app: Any, cmd: commands.Command) -> bool:
    """``cmd`` (global group) on a full screen other than the main one. True when handled here."""
    screen = app.screen
    if screen is app.main or isinstance(screen, ModalScreen):
        return False
    name = screen_name(screen)
    if cmd.id == "refresh":
        for action in REFRESH_ACTIONS:
            if hasattr(screen, f"action_{action}"):
                app.call_later(screen.run_action, action)
                return True
        app.notify(f"Nothing to refresh on the {name} screen: it is live", severity="information")
        return True
    if cmd.id == "filter":
        app.notify(f"The {name} screen has no table filter (the main screen's views do: esc, then /)",
                   severity="information")
        return True
    if cmd.id == "command-mode":
        from flytui.ui.modals.command_line import CommandLineScreen

        app.push_screen(CommandLineScreen(), lambda line: app.execute_line(line) if line else None)
        return True
    if cmd.id == "back":
        close = getattr(screen, "action_close", None)
        if close is not None:
            close()
        return True
    return False
