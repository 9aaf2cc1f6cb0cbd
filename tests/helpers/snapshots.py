"""Shared by the snapshot tests (tests/test_ui_snapshots*.py): the seeded sandbox state, the app factory, a fixed
folder for what shows a path, and the walk that lists every screen / modal class of ``flytui.ui``.

Everything a snapshot shows must be the same on every run: ids, names, images and timestamps are seeded here,
paths come from :func:`fixed_dir`, clocks are fixed by the tests (monkeypatch), never by the product.
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib
import inspect
import pkgutil
import shutil
from collections.abc import Iterator
from pathlib import Path

from flytui.fly.client import FlyClient
from flytui.fly.runner import FlyctlRunner
from flytui.sandbox.state import put_secret
from flytui.ui.app import FlytuiApp
from flytui.ui.config import Config

T_CREATED = "2026-01-02T03:04:05Z"
T_UPDATED = "2026-01-05T10:20:30Z"
#: the folder every path-showing snapshot uses (a path under pytest's tmp_path changes from run to run)
FIXED_ROOT = Path("/tmp/flytui-snapshots")


def seed(sandbox) -> None:
    """Two apps with releases, three machines of ``api`` in different states and two secrets."""
    sandbox.create_app("api", deployed=True)
    sandbox.create_app("worker")
    for state, region in (("started", "nrt"), ("stopped", "iad"), ("suspended", "ams")):
        sandbox.add_machine("api", state=state, region=region, image="registry.fly.io/api:deployment-01JFIXED")
    with sandbox.transaction() as st:
        for app in st["apps"].values():
            app["created_at"] = T_CREATED
        api = st["apps"]["api"]
        api["releases"] = [{"id": "rel0000001", "version": 3, "status": "complete", "description": "Deploy image",
                            "reason": "deploy", "user_email": "demo@example.com",
                            "image_ref": "registry.fly.io/api:deployment-01JFIXED", "created_at": T_UPDATED,
                            "strategy": "ROLLING"}]
        for i, m in enumerate(api["machines"]):
            m["id"] = f"e28{i}6e3fa{i}0987"
            m["name"] = ("bold-river-1234", "quiet-sun-5678", "misty-leaf-9012")[i]
            m["instance_id"] = m["version"] = f"01JFIXEDINSTANCE{i}"
            m["private_ip"] = f"fdaa:0:1::{i + 2}"
            m["created_at"] = T_CREATED
            m["updated_at"] = T_UPDATED
            m["image_ref"]["digest"] = "sha256:" + "0" * 64
            m["events"] = [{"type": "launch", "status": "created", "source": "user", "timestamp": 1767323045000}]
            for c in m["checks"]:
                c["updated_at"] = T_UPDATED
        api["machines"][0]["checks"].append({"name": "db", "status": "critical", "output": "timeout",
                                             "updated_at": T_UPDATED})
        put_secret(api, "DATABASE_URL", "postgres://api:pw@api-db.flycast:5432/api?sslmode=disable", staged=False)
        put_secret(api, "API_KEY", "sk-test", staged=True)
        for s in api["secrets"].values():
            s["created_at"] = T_CREATED


def make(sandbox, project_dir: Path | None = None, **kw) -> FlytuiApp:
    client = FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env, cwd=str(project_dir) if project_dir else None))
    return FlytuiApp(Config(refresh_interval=0), client, project_dir=project_dir, **kw)


@contextlib.contextmanager
def fixed_dir(name: str) -> Iterator[Path]:
    """An empty folder ``/tmp/flytui-snapshots/<name>``, the same path on every run (a snapshot shows it).

    Held under an exclusive lock: two test sessions (xdist workers, other checkouts on this machine) that want
    the same folder take turns instead of sharing it. Removed afterwards.
    """
    FIXED_ROOT.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        FIXED_ROOT.chmod(0o1777)  # shared by every user of the machine, like /tmp
    path = FIXED_ROOT / name
    with open(FIXED_ROOT / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


def ui_screen_classes() -> dict[str, type]:
    """Every concrete Screen / ModalScreen subclass defined under ``flytui.ui`` (imports each module)."""
    from textual.screen import Screen

    import flytui.ui as root

    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found
