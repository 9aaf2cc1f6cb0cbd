"""Create-app modal: name validated like flyctl, organization choice (loaded in a worker)."""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Select

from flytui.fly.names import app_name_error
from flytui.ui.modals.dialog import FormDialog


class CreateAppScreen(FormDialog[tuple[str, str] | None]):
    FORM_ID = "create-app"

    def __init__(self, default_org: str | None = None) -> None:
        super().__init__()
        self.default_org = default_org

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Create app", classes="dialog-title")
            yield Input(placeholder="app-name", id="create-name")
            yield Select([(Text(self.default_org), self.default_org)] if self.default_org else [], prompt="organization",
                         value=self.default_org or Select.NULL, id="create-org")
            yield Label("", id="create-error", markup=False)
            yield self.form_buttons("Create")
            yield self.key_hints()

    ENTER_HINT = "create"

    def on_mount(self) -> None:
        self.query_one("#create-name", Input).focus()
        self.load_orgs()

    @work(exclusive=True, group="orgs", exit_on_error=False)
    async def load_orgs(self) -> None:
        try:
            orgs = await self.host.client.orgs()
        except Exception as exc:  # noqa: BLE001 - whatever failed is shown (FlyError: flyctl's text and hint)
            self.host.report_error(exc, "list organizations")
            return
        options = [(Text(f"{o.name or o.slug} ({o.slug})"), o.slug) for o in orgs]
        select = self.query_one("#create-org", Select)
        keep = select.value
        select.set_options(options)
        slugs = [s for _, s in options]
        if keep in slugs:
            select.value = keep
        elif len(slugs) == 1:
            select.value = slugs[0]

    def on_input_changed(self, event: Input.Changed) -> None:
        err = app_name_error(event.value) if event.value else None
        self.query_one("#create-error", Label).update(err or "")

    def submit(self) -> None:
        name = self.query_one("#create-name", Input).value.strip()
        err = app_name_error(name)
        if err:
            self.query_one("#create-error", Label).update(err)
            return
        select = self.query_one("#create-org", Select)
        if select.value is Select.NULL:
            self.query_one("#create-error", Label).update("Choose an organization (tab, then enter)")
            select.focus()
            return
        self.dismiss((name, str(select.value)))
