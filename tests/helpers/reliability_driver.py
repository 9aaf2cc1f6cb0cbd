"""Run the real ``flytui --demo`` (``flytui.cli.main``) with a few children opened, for the orphan test.

Usage: ``python -m tests.helpers.reliability_driver RUN_DIR MODE`` (in a pty; ``TMPDIR=RUN_DIR`` so the
demo workspace and its embedded Postgres live under RUN_DIR: their command lines carry the marker).

Once the app is up it opens, through the product's own services, a ``fly logs`` stream of the demo app,
a ``fly proxy`` tunnel to the demo database (the app's TunnelManager), runs ``fly machine start`` of the
Postgres machine (a machine process of the sandbox), then writes ``RUN_DIR/ready`` (with the pids seen).
The test then ends the run by the quit key, a signal or closing the terminal. ``MODE=worker-exception``
instead raises inside a worker started with ``exit_on_error=True`` right after ``ready``. ``MODE=deployed``
first fixes the demo's DATABASE_URL and deploys the demo app, so its machines run (uvicorn under a pump) when
``ready`` is written (tests/test_reliability_kill9.py).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    run_dir, mode = Path(sys.argv[1]), sys.argv[2]
    import flytui.ui.app as ui_app
    from flytui import cli

    base = ui_app.FlytuiApp

    class DriverApp(base):  # type: ignore[misc, valid-type]
        """The product app plus a start-up worker that opens children like a user would."""

        def on_mount(self) -> None:
            super().on_mount()
            self.run_worker(self._open_children(), group="driver", exit_on_error=False)

        async def _open_children(self) -> None:
            client, app = self.client, self._initial_app
            db_app = f"{app}-db"
            logs = client.logs(app)
            await logs.start()
            self._driver_logs = logs  # kept open until the end
            tunnel = await self.tunnels.acquire(db_app, 5432)
            machines = await client.machines(db_app)
            await client.machine_action(db_app, machines[0].id, "start")
            if mode == "deployed":
                await self._deploy(app)
            await self._settled()
            info = {"logs": logs.pid, "tunnel": tunnel.pid, "port": tunnel.local_port}
            (run_dir / "ready").write_text(json.dumps(info))
            if mode == "worker-exception":
                self.run_worker(self._explode(), group="driver-boom", exit_on_error=True)

        async def _settled(self, timeout: float = 30.0) -> None:
            """Until the last flyctl call settled into the UI: the first pane loaded and no other worker runs."""
            import asyncio
            import time

            end = time.monotonic() + timeout
            while time.monotonic() < end:
                pane = getattr(getattr(self, "main", None), "pane", None)
                busy = [w for w in self.workers if not w.is_finished and w.group != "driver"]
                if pane is not None and pane.loads >= 1 and not busy:
                    return
                await asyncio.sleep(0.05)

        async def _deploy(self, app: str) -> None:
            """``fly deploy`` of the demo project (after the DATABASE_URL fix its release command needs)."""
            import os

            from flytui.db.urls import fix_url
            from flytui.fly.deploy import options_from_fly_toml

            self.client.runner.env["FLYTUI_SANDBOX_SPEED"] = "20"
            await self.client.set_secrets(app, {"DATABASE_URL": fix_url(os.environ["FLYTUI_DATABASE_URL"])},
                                          stage=True)
            async with self.client.deploy(app, options_from_fly_toml(self.project_dir)) as proc:
                async for _batch in proc.batches():
                    pass
                code = await proc.wait()
            if code != 0:
                raise RuntimeError(f"reliability driver: deploy failed ({code}): {proc.tail()}")

        async def _explode(self) -> None:
            raise RuntimeError("reliability driver: unhandled exception in a worker")

    ui_app.FlytuiApp = DriverApp  # cli.main imports the class from the module at call time
    return cli.main(["--demo"])


if __name__ == "__main__":
    sys.exit(main())
