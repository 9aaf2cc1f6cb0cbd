"""The main screen: header line, operations status, the panes, filter / command inputs and the footer."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Input, Static

import importlib

from flytui.ui import commands
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.command_input import CommandInput, CommandSuggester
from flytui.ui.widgets.footer import Footer
from flytui.ui.widgets.status import OperationsStatus
from flytui.ui.seams import Hosted


#: Every pane by id -> "module:Class". Only the first visible pane is imported and built at start; the others
#: are imported and mounted on first use (``show_pane``), so the first frame does not pay for them.
PANES: dict[str, str] = {
    "apps": "flytui.ui.panes.apps:AppsPane", "machines": "flytui.ui.panes.machines:MachinesPane",
    "secrets": "flytui.ui.panes.secrets:SecretsPane", "volumes": "flytui.ui.panes.volumes:VolumesPane",
    "releases": "flytui.ui.panes.releases:ReleasesPane", "command-log": "flytui.ui.panes.command_log:CommandLogPane",
    "tunnels": "flytui.ui.panes.tunnels:TunnelsPane", "clusters": "flytui.ui.panes.clusters:ClustersPane",
    "services": "flytui.ui.panes.services:ServicesPane", "members": "flytui.ui.panes.members:MembersPane",
    "fleet": "flytui.ui.panes.fleet:FleetPane",
}


def pane_class(name: str) -> type[Pane]:
    """The pane class registered as ``name`` (imported on first use)."""
    module, _, cls = PANES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


class MainScreen(Screen, Hosted):
    BINDINGS = commands.bindings([commands.GLOBAL, commands.VIEW])

    def compose(self) -> ComposeResult:
        yield Static("flytui", id="header")
        yield OperationsStatus(id="ops")
        initial = "machines" if self.host.current_app else "apps"
        with ContentSwitcher(initial=initial, id="panes"):
            yield pane_class(initial)(id=initial)
        yield Input(placeholder="filter: text  /regex/  !invert  field:value", id="filter", classes="bar")
        yield CommandInput(placeholder=":command  (apps, machines APP, secrets, logs, deploy, -; tab completes)",
                           id="command", classes="bar", suggester=CommandSuggester(self._known_apps))
        yield Footer()

    def _known_apps(self) -> list[str]:
        return self.host.known_apps()

    @property
    def pane(self) -> Pane:
        switcher = self.query_one("#panes", ContentSwitcher)
        return self.query_one(f"#{switcher.current}", Pane)

    def show_pane(self, name: str) -> Pane:
        switcher = self.query_one("#panes", ContentSwitcher)
        old = self.pane
        if old.id != name:
            old.deactivate()
        if not switcher.query_children(f"#{name}"):  # first use: build it now, it activates once composed
            pane = pane_class(name)(id=name)
            pane.activate_on_mount = True
            switcher.mount(pane)
            switcher.current = name
            filt = self.query_one("#filter", Input)
            filt.value, filt.display = "", False
            return pane
        switcher.current = name
        pane = self.pane
        filt = self.query_one("#filter", Input)
        filt.value = pane.table.filter_text
        filt.display = bool(pane.table.filter_text)
        pane.activate()
        return pane

    # --- filter and command inputs --------------------------------------------------------------
    def open_filter(self) -> None:
        filt = self.query_one("#filter", Input)
        filt.display = True
        filt.focus()

    def open_command(self) -> None:
        cmd = self.query_one("#command", Input)
        cmd.value = ""
        cmd.display = True
        cmd.focus()

    def close_inputs(self) -> bool:
        """Hide the command input / an empty filter; returns True when something was closed."""
        closed = False
        cmd = self.query_one("#command", Input)
        if cmd.display:
            cmd.display, closed = False, True
        filt = self.query_one("#filter", Input)
        if filt.has_focus or (filt.display and not filt.value):
            if not filt.value:
                filt.display = False
            closed = True
        if closed:
            self.pane.table.focus()
        return closed

    def clear_filter(self) -> bool:
        filt = self.query_one("#filter", Input)
        if filt.value:
            filt.value = ""
            filt.display = False
            self.pane.apply_filter("")
            return True
        return False

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.pane.apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value:
                event.input.display = False
            self.pane.table.focus()
        elif event.input.id == "command":
            event.input.display = False
            self.pane.table.focus()
            self.host.execute_line(event.value)

    def on_data_table_row_selected(self, event) -> None:
        pane = self.pane
        enter = {commands.APPS: "app-open", commands.MACHINES: "machine-detail",
                 commands.CLUSTERS: "cluster-detail"}.get(pane.GROUP)
        if enter and event.data_table is pane.table:
            self.host.run_command_id(enter)
