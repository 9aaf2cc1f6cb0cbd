"""The demo user project: a template copied into a working directory for the demo and tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - imported lazily (the demo extra)
    from flytui.sandbox.api_server import SandboxApiServer
    from flytui.sandbox.postgres import EmbeddedPostgres
    from flytui.sandbox.state import Sandbox

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


# --- `flytui --demo`: the whole journey locally ------------------------------------------------

DEMO_APP = "flytui-demo"
DEMO_DB_APP = "flytui-demo-db"
DEMO_REGION = "nrt"


def sandbox_flyctl_path(workspace: Path) -> str:
    """The emulator executable: the console script next to this Python, else a wrapper script."""
    import os
    import stat
    import sys

    candidate = Path(sys.executable).parent / "flytui-sandbox-flyctl"
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("flytui-sandbox-flyctl")
    if found:
        return found
    wrapper = workspace / "bin" / "flyctl"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m flytui.sandbox.flyctl "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC | stat.S_IXGRP | stat.S_IXOTH)
    return str(wrapper)


class DemoError(RuntimeError):
    pass


class Demo:
    """A temporary workspace: embedded Postgres, sandbox flyctl state and the demo project.

    State after :meth:`start` is what a user has after ``fly launch --no-deploy`` plus
    ``fly postgres create`` and ``fly postgres attach``: an app that was never deployed, a Postgres app
    with one started machine, and ``DATABASE_URL=postgres://…?sslmode=disable`` staged for the first
    deploy — the value SQLAlchemy rejects. ``database_url`` is what attach printed, the value a user
    copies from their terminal.
    """

    def __init__(self, workspace: Path | None = None, *, app: str = DEMO_APP, db_app: str = DEMO_DB_APP,
                 speed: float = 1.0, mpg: bool = False) -> None:
        import tempfile

        self.workspace = Path(workspace) if workspace else Path(tempfile.mkdtemp(prefix="flytui-demo-"))
        self.app = app
        self.db_app = db_app
        self.speed = speed
        self.pg: EmbeddedPostgres | None = None
        self.sandbox: Sandbox | None = None
        self.project_dir = self.workspace / "fly-demo"
        self.flyctl = ""
        self.env: dict[str, str] = {}
        self.database_url: str | None = None
        #: ``mpg=True``: the app is attached to a Fly Managed Postgres cluster (what ``fly launch`` creates now where
        #: the region has MPG): ``fly mpg create`` + ``fly mpg attach`` instead of ``fly postgres create/attach``
        self.mpg = mpg
        self.cluster_id: str | None = None
        #: the sandbox's Machines API (flytui/sandbox/api_server.py), what FLY_FLAPS_BASE_URL points at
        self.api_server: SandboxApiServer | None = None
        self._closed = False
        self._watchdog: Any = None

    def _fly(self, *args: str, cwd: Path | None = None) -> str:
        import subprocess

        proc = subprocess.run([self.flyctl, *args], env=self.env, cwd=cwd, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        if proc.returncode != 0:
            raise DemoError(f"fly {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def start(self) -> "Demo":
        import os

        from flytui.fly.lifeline import owner_token
        from flytui.sandbox.postgres import EmbeddedPostgres
        from flytui.sandbox.procs import OWNER_ENV
        from flytui.sandbox.state import Sandbox

        sandbox_dir = self.workspace / "sandbox"
        try:
            self._start_watchdog(sandbox_dir)
            self.pg = EmbeddedPostgres().start()
            self.sandbox = Sandbox.init(sandbox_dir, user_email="you@example.com", org="personal")
            self.sandbox.set_postgres_server(self.pg.host, self.pg.port, self.pg.user)
            copy_demo_project(self.project_dir, self.app)
            self.flyctl = sandbox_flyctl_path(self.workspace)
            from flytui.sandbox.api_server import SandboxApiServer

            self.api_server = SandboxApiServer(sandbox_dir).start()
            self.env = {
                **os.environ,
                "FLYTUI_SANDBOX_DIR": str(sandbox_dir),
                "FLYTUI_SANDBOX_SPEED": str(self.speed),
                # flyctl's own variables: the Machines API base URL, and a config dir without the user's real
                # ~/.fly/config.yml (flytui then asks the sandbox `fly auth token` for the demo user's token)
                "FLY_FLAPS_BASE_URL": self.api_server.url,
                "FLY_CONFIG_DIR": str(sandbox_dir),
                OWNER_ENV: owner_token(),  # machine processes end themselves once this process is gone
            }
            # never send the developer's real token to the sandbox: flyctl (and flytui) take the first of
            # FLY_ACCESS_TOKEN / FLY_API_TOKEN that is set, even empty (= the login), and the product's
            # environment is os.environ plus this, so setting it empty is what keeps an exported one out
            self.env.pop("FLY_API_TOKEN", None)
            self.env["FLY_ACCESS_TOKEN"] = ""
            self._fly("apps", "create", self.app, "--org", "personal")
            if self.mpg:
                out = self._attach_mpg()
            else:
                self._fly("postgres", "create", "--name", self.db_app, "--org", "personal", "--region", DEMO_REGION)
                out = self._fly("postgres", "attach", self.db_app, "-a", self.app)
            for line in out.splitlines():
                line = line.strip().lstrip("+").strip()
                if line.startswith("DATABASE_URL="):
                    self.database_url = line.split("=", 1)[1]
            if not self.database_url:
                raise DemoError("fly postgres attach printed no DATABASE_URL")
        except BaseException:
            self.close()
            raise
        return self

    def _attach_mpg(self) -> str:
        """``fly mpg create`` (ready at once in the demo) then ``fly mpg attach``; returns attach's output."""
        import re

        saved = dict(self.env)
        self.env["FLYTUI_SANDBOX_MPG_READY"] = "0"
        try:
            out = self._fly("mpg", "create", "--name", self.db_app, "--org", "personal", "--region", DEMO_REGION)
        finally:
            self.env = saved
        m = re.search(r"^  ID: (\S+)$", out, re.M)
        if not m:
            raise DemoError("fly mpg create printed no cluster ID")
        self.cluster_id = m.group(1)
        return self._fly("mpg", "attach", self.cluster_id, "-a", self.app)

    def _start_watchdog(self, sandbox_dir: Path) -> None:
        """A detached child that cleans up if this process dies without :meth:`close` (flytui/sandbox/watchdog.py)."""
        import os
        import subprocess
        import sys

        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "flytui.sandbox.watchdog", str(os.getpid()), str(sandbox_dir), str(self.workspace)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)

    def _stop_watchdog(self) -> None:
        dog, self._watchdog = self._watchdog, None
        if dog is not None and dog.poll() is None:
            dog.terminate()
            try:
                dog.wait(5)
            except Exception:  # noqa: BLE001 - it cleans up the same things: kill it and go on
                dog.kill()
                dog.wait()

    def close(self) -> None:
        """Stop every machine process, proxy and Postgres; remove the workspace. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.api_server is not None:
            try:
                self.api_server.stop()
            except Exception:  # noqa: BLE001 - best effort, keep cleaning
                pass
        self._stop_watchdog()
        if self.sandbox is not None:
            try:
                self.sandbox.teardown()
            except Exception:  # noqa: BLE001 - best effort, keep cleaning
                pass
        if self.pg is not None:
            try:
                self.pg.stop()
            except Exception:  # noqa: BLE001 - best effort, the rest of the cleanup still runs
                pass
        shutil.rmtree(self.workspace, ignore_errors=True)

    def __enter__(self) -> "Demo":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_demo(workspace: Path | None = None, speed: float = 1.0, mpg: bool = False):
    """Set up the demo; returns ``(flyctl_path, env, project_dir, cleanup)`` for ``flytui --demo``.

    ``FLYTUI_DATABASE_URL`` is set to what ``fly postgres attach`` (``mpg``: ``fly mpg attach``) printed, as if the user had copied
    it from their terminal: flytui's doctor and migrations pane read it from there (in memory only).
    """
    import atexit
    import os
    import sys

    print("flytui demo: starting PostgreSQL and the flyctl sandbox…", file=sys.stderr, flush=True)
    demo = Demo(workspace, speed=speed, mpg=mpg).start()
    atexit.register(demo.close)
    env = {k: v for k, v in demo.env.items()
           if k.startswith("FLYTUI_SANDBOX") or k in ("FLY_FLAPS_BASE_URL", "FLY_CONFIG_DIR", "FLY_ACCESS_TOKEN")}
    os.environ["FLYTUI_DATABASE_URL"] = demo.database_url or ""
    return demo.flyctl, env, demo.project_dir, demo.close
