"""Org members pane (issue 19): members and roles of the current organization (``fly orgs show SLUG --json``),
invite by email (``fly orgs invite SLUG EMAIL``) and remove (``fly orgs remove SLUG EMAIL``, typed email to confirm).

flyctl exits 0 without a word when it cannot use the org (internal/command/orgs/invite.go, remove.go @ ad0172f:
``return nil``): :mod:`flytui.fly.ops` turns that into an error, and after a removal the list is read again so the
screen says what happened.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual.widgets import Label

from flytui.fly.command import FlyCommand
from flytui.fly.errors import FlyError
from flytui.ui import commands
from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.modals.invite import InviteScreen
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import fmt_time
from flytui.ui.seams import run_async


class MembersPane(Pane):
    GROUP = commands.MEMBERS
    TITLE = "Org members"
    NEEDS_APP = False
    EMPTY = "No members listed for {token}."
    COLUMNS = [("email", "EMAIL"), ("name", "NAME"), ("role", "ROLE"), ("joined", "JOINED")]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.org: str | None = None  # the org the rows belong to (the current org, or the only one)
        self.viewer_role = ""
        self.choose_org = False

    def title_text(self) -> str:
        org = self.org or self.host.org_filter
        if not org:
            return "Org members"
        role = f" — you are {self.viewer_role}" if self.viewer_role else ""
        return f"Org members — {org}{role}"

    def empty_text(self) -> str:
        if self.choose_org:
            return "You belong to several organizations: choose one with O, then press 7 again."
        return self.EMPTY.format(token=self.org or "")

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        slug = token
        if not slug:
            orgs = await self.host.client.orgs()
            if len(orgs) != 1:
                return {}, (None, "", True)
            slug = orgs[0].slug
        details = await self.host.client.org_details(slug)
        rows = {m.email or m.id: {"email": Text(m.email), "name": Text(m.name or "-"),  # never markup
                                  "role": Text(m.role.lower(), style="bold" if m.role.lower() == "admin" else ""),
                                  "joined": fmt_time(m.joined_at) if m.joined_at else "-"}
                for m in details.members}
        return rows, (details.slug, details.viewer_role.lower(), False)

    def after_load(self, extra: Any) -> None:
        self.org, self.viewer_role, self.choose_org = extra or (None, "", False)
        self.query_one(".pane-title", Label).update(Text(self.title_text()))

    # --- actions ---------------------------------------------------------------------------------
    def _org_or_warn(self) -> str | None:
        if not self.org:
            self.app.notify("Choose an organization first (O)", severity="warning")
        return self.org

    def action_invite(self) -> None:
        org = self._org_or_warn()
        if not org:
            return

        def done(command: FlyCommand | None) -> None:
            if command is not None:
                run_async(self, partial(self._invite, org, command), name="org-invite", group="members-mutate",
                          exit_on_error=False)

        self.app.push_screen(InviteScreen(org), done)

    async def _invite(self, org: str, command: FlyCommand) -> None:
        email = command.target
        op = self.host.begin_op(f"invite {email}")
        try:
            inv = await self.host.client.run_org_invite(command)
        except (FlyError, ValueError) as exc:
            self.host.report_error(exc, f"invite {email}")
            return
        finally:
            self.host.end_op(op)
        self.app.notify(f"Invitation sent to {inv.email} ({inv.org or org}); they are listed here once they accept.",
                        title="orgs invite", markup=False)

    def action_remove(self) -> None:
        org, email = self._org_or_warn(), self.table.selected_key
        if not org or not email:
            return

        async def run() -> None:
            command = self.host.client.org_remove_command(org, email)
            req = ConfirmRequest(f"Remove {email} from the organization {org}? They lose access to its apps.",
                                 [email], commands=[command], typed_name=email, danger=True, confirm_label="Remove")
            if not await self.host.confirm(req):
                return
            op = self.host.begin_op(f"remove {email}")
            try:
                await self.host.client.run_org_remove(command)
            except (FlyError, ValueError) as exc:
                self.host.report_error(exc, f"remove {email}")
                self.reload()
                return
            finally:
                self.host.end_op(op)
            details = await self.host.client.org_details(org)  # what happened, not what flyctl printed
            still = any(m.email == email for m in details.members)
            self.app.notify(f"{email} is still a member of {org}: flyctl reported success but the list says "
                            "otherwise. Refresh (r) and check with fly orgs show." if still else
                            f"Removed {email} from {org}. Offboarding checklist: https://fly.io/dashboard/{org}/"
                            "offboarding", title="orgs remove", severity="error" if still else "information",
                            markup=False, timeout=10)
            self.reload()

        run_async(self, run, name="org-remove", group="members-mutate", exit_on_error=False)
