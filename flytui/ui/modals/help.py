"""``?`` help: every command and key of the registry with its key, aliases and help text."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable

from flytui.ui import commands
from flytui.ui.modals.dialog import Dialog
from flytui.ui.widgets.plain import PlainDataTable


class HelpScreen(Dialog[None]):
    BINDINGS = commands.local_bindings([commands.DIALOG, commands.DETAIL, commands.HELP])

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
        for cmd in commands.LOCAL_KEYS:  # keys of one dialog or screen: run there, not by name
            table.add_row(cmd.group, commands.key_label(commands.key_for(cmd, keymap)), cmd.title, "", cmd.help,
                          key=cmd.id)
        table.focus()

