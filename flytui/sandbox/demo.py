"""The demo user project: a template copied into a working directory for the demo and tests."""

from __future__ import annotations

import shutil
from pathlib import Path

TEMPLATE_DIR = Path(__file__).with_name("demo_project")
APP_NAME_PLACEHOLDER = "__APP_NAME__"
_SUBSTITUTED = ("fly.toml", "README.md")


def copy_demo_project(dest: Path, app_name: str) -> Path:
    """Copy the demo project template to ``dest`` and put ``app_name`` into fly.toml/README.md.

    ``dest`` must not exist or be empty. Returns ``dest``.
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    shutil.copytree(
        TEMPLATE_DIR,
        dest,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    for name in _SUBSTITUTED:
        path = dest / name
        path.write_text(path.read_text(encoding="utf-8").replace(APP_NAME_PLACEHOLDER, app_name), encoding="utf-8")
    return dest
