"""Volumes pane: name, size, region, attached machine; destroy with confirm."""
from __future__ import annotations

from typing import Any

from flytui.ui import commands
from flytui.ui.screens.confirm import ConfirmRequest
from flytui.ui.screens.pane import Pane
from flytui.fly.models import Volume
from flytui.ui.widgets.fields import fmt_time, state_cell, text
from flytui.ui.seams import run_async


def volume_row(v: Volume) -> dict[str, Any]:
    return {
        "id": text(v.id),
        "name": text(v.name),
        "state": state_cell(v.state),
        "size": f"{v.size_gb}GB",
        "region": text(v.region),
        "attached": text(v.attached_machine_id),
        "created": fmt_time(v.created_at),
    }


class VolumesPane(Pane):
    GROUP = commands.VOLUMES
    BINDINGS = commands.bindings([commands.VOLUMES])
    TITLE = "Volumes"
    EMPTY = "No volumes for {token}. Create one with `fly volumes create NAME -a {token}` and mount it in fly.toml."
    COLUMNS = [("id", "ID"), ("name", "NAME"), ("state", "STATE"), ("size", "SIZE"), ("region", "REGION"),
               ("attached", "ATTACHED VM"), ("created", "CREATED")]

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        vols = await self.host.client.volumes(token)
        return {v.id: volume_row(v) for v in vols}, None

    def action_destroy_volume(self) -> None:
        app, vid = self.token(), self.table.selected_key
        if not app or not vid:
            return

        async def run() -> None:
            name = self.table.rows_data[vid]["name"]
            req = ConfirmRequest(f"Destroy volume {name} ({vid}) of {app}? Its data is lost.", [vid],
                                 [self.host.flyctl_argv("volumes", "destroy", vid, "-a", app, "--yes")], typed_name=vid,
                                 danger=True, confirm_label="Destroy")
            if not await self.host.confirm(req):
                return
            op = self.host.begin_op(f"destroy volume {vid}")
            try:
                await self.host.client.destroy_volume(app, vid)
            finally:
                self.host.end_op(op)
            self.app.notify(f"Destroyed volume {vid}")
            self.reload()

        run_async(self, run, name="volume-destroy", group="volumes-mutate", exit_on_error=False)
