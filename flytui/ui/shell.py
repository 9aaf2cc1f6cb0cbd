"""Shell: ``fly ssh console -a APP [--machine ID]`` in the real terminal.

The app is suspended (``App.suspend``), flyctl runs with the terminal's stdin/stdout/stderr, and when it
exits the app resumes and refreshes the current view. It runs through the flyctl runner
(``FlyctlRunner.run_interactive``), so the call is in the command log like every other.
"""
from __future__ import annotations


from flytui.ui.seams import AppSeams


def ssh_console_args(app: str, machine: str | None = None) -> list[str]:
    """flyctl arguments for an interactive console on ``machine`` (or any started machine)."""
    args = ["ssh", "console", "-a", app]
    if machine:
        args += ["--machine", machine]
    return args


def open_shell(app: AppSeams, machine: str | None) -> int | None:
    """Suspend ``app`` (a FlytuiApp), run ``fly ssh console`` on the terminal through the runner, resume and
    refresh. Returns the exit code (None when the terminal cannot be handed over: the command is shown)."""
    if app.read_only:  # the registry marks the shell mutating; this is the last line of defence
        app.notify("Shell: disabled in read-only mode (a shell on a machine can change anything)",
                   title="read-only", severity="warning")
        return None
    name = app.current_app
    if not name:
        app.notify("Select an app first (A or :machines APP)", severity="warning")
        return None
    args = ssh_console_args(name, machine)
    code = app.run_in_terminal(*args, title="ssh console")
    if code is not None:
        app.notify(f"{' '.join(app.flyctl_argv(*args))} exited with code {code}", title="ssh console",
                   severity="information" if code == 0 else "warning")
        app.action_refresh_view()
    return code
