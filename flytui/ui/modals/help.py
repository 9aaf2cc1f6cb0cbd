"""``?`` help: every command and key of the registry with its key, aliases and help text."""
from __future__ import annotations

from textual.app import ComposeResult

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
        table = self.query_one(PlainDataTable)
        # by priority (flytui.ui.widgets.columns): the key and command stay whole; the rows wrap (auto height), so
        # the aliases (down to 18 cells: the longest alias stays whole) and the description (down to 30) give way
        # first; then the aliases and the view drop
        for label, priority, min_width, elastic in (("VIEW", 20, None, False), ("KEY", 100, None, False),
                                                    ("COMMAND", 90, None, False), ("ALIASES", 10, 18, True),
                                                    ("WHAT IT DOES", 80, 30, True)):
            table.add_column(label, key=label, priority=priority, min_width=min_width, elastic=elastic)
        keymap = self.host.config.keymap
        for cmd in commands.COMMANDS:
            flag = " (changes things)" if cmd.mutating else ""
            table.add_row(cmd.group, commands.key_label(commands.key_for(cmd, keymap)), ":" + cmd.id,
                          " ".join(":" + a for a in cmd.aliases), cmd.help + flag, key=cmd.id, height=None)
        for cmd in commands.LOCAL_KEYS:  # keys of one dialog or screen: run there, not by name
            table.add_row(cmd.group, commands.key_label(commands.key_for(cmd, keymap)), cmd.title, "", cmd.help,
                          key=cmd.id, height=None)
        table.focus()

