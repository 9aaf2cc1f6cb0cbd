"""Releases pane and rollback: ``fly releases -a APP --json`` (version, status, description, user, date, image);
``R`` redeploys the image of the selected earlier release: one confirmation showing the exact
``fly deploy -a APP --yes --image IMAGE`` argv, then the deploy screen (``DeployScreen(..., image=IMAGE)``)
streams the progress.
"""
from __future__ import annotations

import importlib
from typing import Any, ClassVar

from rich.text import Text

from flytui.ui import commands
from flytui.ui.screens.confirm import ConfirmRequest
from flytui.ui.screens.pane import Pane
from flytui.ui.widgets.fields import fmt_time, pick, state_cell, text

GROUP = "releases"


def release_row(rel: Any, current: int | None) -> dict[str, Any]:
    """One table row for a :class:`flytui.fly.models.Release`."""
    version = pick(rel, "version")
    label = f"v{version}" + (" ★" if version == current else "")
    return {
        "version": Text(label, style="bold" if version == current else ""),
        "status": state_cell(str(pick(rel, "status", default="-"))),
        "description": text(pick(rel, "description", "reason")),
        "user": text(pick(rel, "user_email", "user_name")),
        "date": fmt_time(pick(rel, "created_at")),
        "image": text(pick(rel, "image_ref")),
    }


def redeploy_argv(app: str, image: str) -> list[str]:
    """flyctl arguments of a redeploy of ``image`` (same builder as the deploy screen: ``DeployOptions``)."""
    from flytui.fly.client import DeployOptions

    return DeployOptions(image=image).argv(app)


class ReleasesPane(Pane):
    """Releases of the current app, newest first; ``R`` redeploys the selected release's image."""

    GROUP: ClassVar[str] = GROUP
    BINDINGS = commands.bindings([GROUP])
    TITLE: ClassVar[str] = "Releases"
    EMPTY: ClassVar[str] = "No releases for {token} yet."
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("version", "VERSION"), ("status", "STATUS"), ("description", "DESCRIPTION"), ("user", "USER"),
        ("date", "DATE"), ("image", "IMAGE")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.releases: dict[str, Any] = {}

    async def load(self, token: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        releases = await self.app.client.releases(token)
        ordered = sorted(releases, key=lambda r: pick(r, "version", default=0), reverse=True)
        current = next((pick(r, "version") for r in ordered
                        if str(pick(r, "status", default="")).lower() in ("complete", "succeeded")), None)
        by_key = {f"v{pick(r, 'version')}": r for r in ordered}
        return {k: release_row(r, current) for k, r in by_key.items()}, by_key

    def after_load(self, extra: Any) -> None:
        self.releases = extra or {}

    def action_redeploy(self) -> None:
        key, app = self.table.selected_key, self.token()
        rel = self.releases.get(key or "")
        if rel is None or not app:
            self.app.notify("No release selected", severity="warning")
            return
        image = pick(rel, "image_ref")
        if not image:
            self.app.notify(f"Release {key} has no image reference to redeploy", severity="warning")
            return
        self.run_worker(self.redeploy(app, str(key), str(image)), name="release-redeploy",
                        group="release-redeploy", exclusive=True, exit_on_error=False)

    async def redeploy(self, app: str, version: str, image: str) -> bool:
        """Confirm, then hand over to the deploy screen with ``image=``. Returns True when it started."""
        if not self.app.guard_mutation("Redeploy release"):
            return False
        argv = self.app.flyctl_argv(*redeploy_argv(app, image))
        req = ConfirmRequest(f"Redeploy the image of {version} to {app}?", [f"{app} {version}: {image}"], [argv],
                             confirm_label="Redeploy")
        if not await self.app.confirm(req):
            return False
        try:
            screen_cls = getattr(importlib.import_module("flytui.ui.screens.deploy"), "DeployScreen")
        except (ImportError, AttributeError):
            self.app.notify("The deploy view is not available yet", severity="warning")
            return False
        try:
            screen = screen_cls(app, self.app.project_dir, image=image)
        except TypeError:  # a DeployScreen without ``image=``: prefill its image field instead
            screen = screen_cls(app, self.app.project_dir)
            self.app.push_screen(screen)
            self.app.call_after_refresh(self._prefill_image, screen, image)
            return True
        self.app.push_screen(screen)
        return True

    def _prefill_image(self, screen: Any, image: str) -> None:
        try:
            screen.query_one("#deploy-image").value = image
        except Exception:  # noqa: BLE001 - the deploy screen has no image field
            self.app.notify(f"Deploy the image {image} from the deploy form", severity="warning")
            return
        self.app.notify(f"Image {image} is filled in: start the deploy to roll back", title="Rollback")
