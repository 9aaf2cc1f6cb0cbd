"""``fly deploy`` (the transcript lives in :mod:`flytui.sandbox.transcripts`)."""
from __future__ import annotations

from flytui.sandbox.commands import Ctx, command


@command("deploy")
def deploy(ctx: Ctx) -> int:
    from flytui.sandbox.transcripts import deploy as run_deploy

    return run_deploy(ctx)
