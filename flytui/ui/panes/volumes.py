"""Volumes pane: name, size, region, attached machine; destroy with confirm."""
from __future__ import annotations

from typing import Any

from flytui.ui import commands
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import fmt_time, state_cell, text
from flytui.fly.models import Volume


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

        def request() -> ConfirmRequest:
            name = self.table.rows_data[vid]["name"]
            return ConfirmRequest(f"Destroy volume {name} ({vid}) of {app}? Its data is lost.", [vid],
                                  commands=[self.host.client.destroy_volume_command(app, vid)], typed_name=vid,
                                  danger=True, confirm_label="Destroy")

        self.run_confirmed(request, f"destroy volume {vid}", f"Destroyed volume {vid}", worker="volume-destroy")
