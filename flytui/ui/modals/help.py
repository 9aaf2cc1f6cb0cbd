"""``?`` help: every command of the registry with its key, aliases and help text."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog
from flytui.ui.widgets.plain import PlainDataTable


class HelpScreen(Dialog[None]):
    CSS_PATH = "confirm.tcss"
    BINDINGS = [Binding("escape", "dismiss_help", "Close"), Binding("q", "dismiss_help", "Close", show=False),
                Binding("question_mark", "dismiss_help", "Close", show=False)]
    DEFAULT_CSS = """
    HelpScreen DataTable { width: 95%; height: 1fr; max-height: 90%; border: thick $primary; }
    HelpScreen #dialog-keys { width: 95%; margin: 0; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield PlainDataTable(id="help-table", cursor_type="row")
        yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("↑/↓", "scroll"), ("esc/q/?", "close")]

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("VIEW", "KEY", "COMMAND", "ALIASES", "WHAT IT DOES")
        keymap = self.app.config.keymap
        for cmd in commands.COMMANDS:
            flag = " (changes things)" if cmd.mutating else ""
            table.add_row(cmd.group, commands.key_label(commands.key_for(cmd, keymap)), ":" + cmd.id,
                          " ".join(":" + a for a in cmd.aliases), cmd.help + flag, key=cmd.id)
        table.focus()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
