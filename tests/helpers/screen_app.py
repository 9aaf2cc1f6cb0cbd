"""One small host app for screen tests (deploy, logs) and the sandbox's web project.

``ScreenApp`` is just enough of FlytuiApp for one screen: client, config, confirm (answers recorded),
report_error, read-only guard and the registry's key dispatch. ``sandbox_project`` copies the sandbox's FastAPI
project (tests/fixtures/sandbox/project) and creates its app ``web-app`` in the sandbox.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

from textual.screen import Screen

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.ui.config import Config
from tests.helpers.host import HostApp

PROJECT = Path(__file__).resolve().parent.parent / "fixtures" / "sandbox" / "project"
SANDBOX_APP = "web-app"


class ScreenApp(HostApp):
    """Hosts one screen (or the screen ``screen()`` builds on mount); records errors, confirms and commands
    (tests/helpers/host.py: everything screens may ask of the app)."""

    def __init__(self, client: FlyClient, screen: Screen[Any] | Callable[[], Screen[Any]],
                 confirm_answer: bool = True) -> None:
        super().__init__(client, screen, config=Config(log_buffer_lines=100_000), confirm_answer=confirm_answer)


def client_for(sandbox: Any, **env: str) -> FlyClient:
    """A FlyClient on the sandbox flyctl (``env`` added to the sandbox's)."""
    return FlyClient(FlyctlRunner(sandbox.flyctl, env={**sandbox.env, **env}, grace=1.0))


def sandbox_project(tmp_path: Path, sandbox: Any) -> Path:
    """A copy of the sandbox web project under ``tmp_path``; its app exists in the sandbox."""
    dst = tmp_path / "project"
    shutil.copytree(PROJECT, dst)
    sandbox.create_app(SANDBOX_APP)
    return dst
