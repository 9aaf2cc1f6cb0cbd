"""Volumes pane: name, size, region, attached machine; destroy with confirm."""
from __future__ import annotations

from typing import Any

from flytui.ui import commands
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import fmt_time, pick, state_cell, text


def volume_row(v: Any) -> dict[str, Any]:
    size = pick(v, "size_gb", "SizeGb", "size")
    return {
        "id": text(pick(v, "id")),
        "name": text(pick(v, "name")),
        "state": state_cell(pick(v, "state")),
        "size": f"{size}GB" if size is not None else "-",
        "region": text(pick(v, "region")),
        "attached": text(pick(v, "attached_machine_id", "attached_machine", "attached_alloc_id")),
        "created": fmt_time(pick(v, "created_at")),
    }


class VolumesPane(Pane):
    GROUP = commands.VOLUMES
    TITLE = "Volumes"
    EMPTY = "No volumes for {token}. Create one with `fly volumes create NAME -a {token}` and mount it in fly.toml."
    COLUMNS = [("id", "ID"), ("name", "NAME"), ("state", "STATE"), ("size", "SIZE"), ("region", "REGION"),
               ("attached", "ATTACHED VM"), ("created", "CREATED")]

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        vols = await self.app.client.volumes(token)
        return {pick(v, "id"): volume_row(v) for v in vols}, None

    def action_destroy_volume(self) -> None:
        app, vid = self.token(), self.table.selected_key
        if not app or not vid:
            return

        def request() -> ConfirmRequest:
            name = self.table.rows_data[vid]["name"]
            return ConfirmRequest(f"Destroy volume {name} ({vid}) of {app}? Its data is lost.", [vid],
                                  commands=[self.app.client.destroy_volume_command(app, vid)], typed_name=vid,
                                  danger=True, confirm_label="Destroy")

        self.run_confirmed(request, f"destroy volume {vid}", f"Destroyed volume {vid}", worker="volume-destroy")
