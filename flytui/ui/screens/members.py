"""Org members pane (issue 19): members and roles of the current organization (``fly orgs show SLUG --json``),
invite by email (``fly orgs invite SLUG EMAIL``) and remove (``fly orgs remove SLUG EMAIL``, typed email to confirm).

flyctl exits 0 without a word when it cannot use the org (internal/command/orgs/invite.go, remove.go @ ad0172f:
``return nil``): :mod:`flytui.fly.ops` turns that into an error, and after a removal the list is read again so the
screen says what happened.
"""
from __future__ import annotations

import shlex
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from flytui.fly.errors import FlyError
from flytui.fly.ops import validate_email
from flytui.ui import commands
from flytui.ui.screens.confirm import ConfirmRequest
from flytui.ui.screens.dialog import Dialog
from flytui.ui.screens.pane import Pane
from flytui.ui.widgets.fields import fmt_time


class InviteScreen(Dialog[str | None]):
    """Ask for the email to invite; shows the exact flyctl command; returns the email (or None)."""

    CSS_PATH = "confirm.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    ENTER_HINT = "send the invitation"

    def __init__(self, org: str, argv_of: Any) -> None:
        super().__init__()
        self.org = org
        self.argv_of = argv_of

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(Text(f"Invite someone to {self.org}"), id="confirm-title")
            yield Input(placeholder="name@example.com", id="invite-email")
            yield Static(Text(shlex.join(self.argv_of(""))), id="confirm-argv")
            yield Label("", id="invite-error")
            with Horizontal(id="confirm-buttons"):
                yield Button("Invite", id="confirm-yes", variant="primary")
                yield Button("Cancel", id="confirm-no")
            yield self.key_hints()

    def hints(self) -> list[tuple[str, str]]:
        return [("tab", "next field"), ("esc", "cancel")]

    def on_mount(self) -> None:
        self.query_one("#invite-email", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-argv", Static).update(Text(shlex.join(self.argv_of(event.value.strip()))))
        self.query_one("#invite-error", Label).update("")

    def _submit(self) -> None:
        email = self.query_one("#invite-email", Input).value.strip()
        err = validate_email(email)
        if err:
            self.query_one("#invite-error", Label).update(Text(err))
            return
        self.dismiss(email)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class MembersPane(Pane):
    GROUP = commands.MEMBERS
    BINDINGS = commands.bindings([commands.MEMBERS])
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
        org = self.org or getattr(self.app, "org_filter", None)
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
            orgs = await self.app.client.orgs()
            if len(orgs) != 1:
                return {}, (None, "", True)
            slug = orgs[0].slug
        details = await self.app.client.org_details(slug)
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

        def done(email: str | None) -> None:
            if email:
                self.run_worker(partial(self._invite, org, email), name="org-invite", group="members-mutate",
                                exit_on_error=False)

        self.app.push_screen(InviteScreen(org, lambda e: self.app.flyctl_argv("orgs", "invite", org, e or "EMAIL")),
                             done)

    async def _invite(self, org: str, email: str) -> None:
        op = self.app.begin_op(f"invite {email}")
        try:
            inv = await self.app.client.org_invite(org, email)
        except (FlyError, ValueError) as exc:
            self.app.report_error(exc, f"invite {email}")
            return
        finally:
            self.app.end_op(op)
        self.app.notify(f"Invitation sent to {inv.email} ({inv.org or org}); they are listed here once they accept.",
                        title="orgs invite", markup=False)

    def action_remove(self) -> None:
        org, email = self._org_or_warn(), self.table.selected_key
        if not org or not email:
            return

        async def run() -> None:
            req = ConfirmRequest(f"Remove {email} from the organization {org}? They lose access to its apps.",
                                 [email], [self.app.flyctl_argv("orgs", "remove", org, email)], typed_name=email,
                                 danger=True, confirm_label="Remove")
            if not await self.app.confirm(req):
                return
            op = self.app.begin_op(f"remove {email}")
            try:
                await self.app.client.org_remove(org, email)
            except (FlyError, ValueError) as exc:
                self.app.report_error(exc, f"remove {email}")
                self.reload()
                return
            finally:
                self.app.end_op(op)
            details = await self.app.client.org_details(org)  # what happened, not what flyctl printed
            still = any(m.email == email for m in details.members)
            self.app.notify(f"{email} is still a member of {org}: flyctl reported success but the list says "
                            "otherwise. Refresh (r) and check with fly orgs show." if still else
                            f"Removed {email} from {org}. Offboarding checklist: https://fly.io/dashboard/{org}/"
                            "offboarding", title="orgs remove", severity="error" if still else "information",
                            markup=False, timeout=10)
            self.reload()

        self.run_worker(run, name="org-remove", group="members-mutate", exit_on_error=False)
