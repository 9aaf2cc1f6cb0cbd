"""Secrets pane: names, digests and status; set (values on stdin), unset, DATABASE_URL doctor."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from flytui.ui import commands
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import fmt_time, state_cell, text
from flytui.fly.models import Secret
from flytui.ui.seams import run_async

if TYPE_CHECKING:  # pragma: no cover
    from flytui.fly.command import FlyCommand
    from flytui.ui.modals.set_secret import SecretsToSet


def secret_row(s: Secret) -> dict[str, Any]:
    return {
        "name": text(s.name),
        "digest": text(s.digest),
        "status": state_cell(s.status) if s.status else "-",  # "" from flyctl versions without it
        "created": fmt_time(s.created_at),
    }


class SecretsPane(Pane):
    GROUP = commands.SECRETS
    TITLE = "Secrets"
    COLUMNS = [("name", "NAME"), ("digest", "DIGEST"), ("status", "STATUS"), ("created", "CREATED")]
    EMPTY = "No secrets set on {token}. Press n to set one (values go to flyctl on stdin), b for the DATABASE_URL doctor."

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        secrets = await self.host.client.secrets(token)
        return {s.name: secret_row(s) for s in secrets}, None

    def action_set_secret(self, name: str = "", value: str = "") -> None:
        app = self.token()
        if not app:
            return
        from flytui.ui.modals.set_secret import SetSecretScreen

        def done(result: SecretsToSet | None) -> None:
            if result:
                self.set_secrets(app, result.values, result.stage, result.commands)

        self.app.push_screen(SetSecretScreen(app, name=name, value=value), done)

    def set_secrets(self, app: str, values: dict[str, str], stage: bool,
                    commands: Sequence[FlyCommand] | None = None) -> None:
        """Send ``values`` to flyctl on stdin, in a worker: the ``commands`` the set dialog showed, else the
        client's commands for them."""

        async def run() -> None:
            op = self.host.begin_op(f"secrets set {app}")
            try:
                client = self.host.client
                await client.run_secrets(commands if commands is not None
                                         else client.set_secrets_commands(app, values, stage=stage))
            finally:
                self.host.end_op(op)
            names = ", ".join(sorted(values))
            self.app.notify(f"{names} {'staged' if stage else 'set and deploying'} on {app}")
            self.reload()

        run_async(self, run, name="secrets-set", group="secrets-mutate", exit_on_error=False)

    def action_unset_secret(self) -> None:
        app, names = self.token(), self.table.targets()
        if not app or not names:
            return

        self.run_confirmed(lambda: ConfirmRequest(f"Unset {len(names)} secret(s) on {app}?", names,
                                                  commands=[self.host.client.unset_secrets_command(app, names)],
                                                  danger=True, confirm_label="Unset"),
                           f"secrets unset {app}", f"Unset {', '.join(names)} on {app}", worker="secrets-unset")

    def action_dburl(self) -> None:
        app = self.token()
        if not app:
            return
        from flytui.ui.modals.dburl import DatabaseUrlScreen

        self.app.push_screen(DatabaseUrlScreen(app))
