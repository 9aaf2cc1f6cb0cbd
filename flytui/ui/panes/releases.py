"""The one releases view: ``fly releases -a APP --json`` (version, status, description, user, date, image).

A pane of the main screen (``:releases [APP]``, ``V``, ``v`` on the deploy screen after a deploy): keyed rows
updated in place on refresh (``r``) and by the poll, so the cursor stays on its release; filterable like every
table. ``R`` redeploys the image of the selected earlier release (rollback): one confirmation showing the exact
``fly deploy -a APP --yes --image IMAGE`` argv, then ``DeployScreen(..., image=IMAGE, auto_start=True)`` runs
that deploy at once and shows its progress (a new release whose image is the old one).
"""
from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from rich.text import Text

from flytui.ui.modals.confirm import ConfirmRequest
from flytui.ui.panes.base import Pane
from flytui.ui.widgets.fields import fmt_time, state_cell, text
from flytui.fly.models import Release
from flytui.ui.seams import run_async

GROUP = "releases"


def release_row(rel: Release, current: int | None) -> dict[str, Any]:
    """One table row for a :class:`flytui.fly.models.Release`."""
    version = rel.version
    status = rel.status or "-"
    if rel.in_progress and status.lower() not in ("in_progress", "running"):
        status = f"{status} (in progress)"
    label = f"v{version}" + (" ★" if version == current else "")
    return {
        "version": Text(label, style="bold" if version == current else ""),
        "status": state_cell(status),
        "description": text(rel.description or rel.reason),
        "user": text(rel.user_email),  # email, else name
        "date": fmt_time(rel.created_at),
        "image": text(rel.image_ref),
    }


class ReleasesPane(Pane):
    """Releases of the current app, newest first; ``R`` redeploys the selected release's image."""

    GROUP: ClassVar[str] = GROUP
    TITLE: ClassVar[str] = "Releases"
    EMPTY: ClassVar[str] = "No releases for {token} yet."
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("version", "VERSION"), ("status", "STATUS"), ("description", "DESCRIPTION"), ("user", "USER"),
        ("date", "DATE"), ("image", "IMAGE")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.releases: dict[str, Release] = {}

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        releases = await self.host.client.releases(token)
        ordered = sorted(releases, key=lambda r: r.version, reverse=True)
        current = next((r.version for r in ordered if r.status.lower() in ("complete", "succeeded")), None)
        by_key = {f"v{r.version}": r for r in ordered}
        return {k: release_row(r, current) for k, r in by_key.items()}, by_key

    def after_load(self, extra: Any) -> None:
        self.releases = extra or {}

    def action_redeploy(self) -> None:
        key, app = self.table.selected_key, self.token()
        rel = self.releases.get(key or "")
        if rel is None or not app:
            self.app.notify("No release selected", severity="warning")
            return
        image = rel.image_ref
        if not image:
            self.app.notify(f"Release {key} has no image reference to redeploy", severity="warning")
            return
        run_async(self, partial(self.redeploy, app, str(key), str(image)), name="release-redeploy",
                        group="release-redeploy", exclusive=True, exit_on_error=False)

    async def redeploy(self, app: str, version: str, image: str) -> bool:
        """Confirm, then open the deploy screen that runs the redeploy of ``image`` at once. True when started."""
        if not self.host.guard_mutation("Redeploy release"):
            return False
        from flytui.ui.screens.deploy import DeployScreen, redeploy_options

        options = redeploy_options(image, self.host.project_dir)  # shown here, then run by the deploy screen as is
        req = ConfirmRequest(f"Redeploy the image of {version} to {app}?", [f"{app} {version}: {image}"],
                             [self.host.flyctl_argv(*options.argv(app))], confirm_label="Redeploy")
        if not await self.host.confirm(req):
            return False
        self.app.push_screen(DeployScreen(app, self.host.project_dir, image=image, auto_start=True, options=options),
                             lambda _result: self.reload() if self.active else None)  # the new release on top
        return True
