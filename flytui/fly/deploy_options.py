"""``fly deploy`` options: the form's choices and fly.toml's ``[deploy]``/``[build]`` as :class:`DeployOptions`."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .command import positional as _arg

# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeployOptions:
    """Flags for ``fly deploy``; see :meth:`FlyClient.deploy`."""

    local_only: bool = False
    remote_only: bool = False
    ha: bool | None = None
    strategy: str | None = None  # canary | rolling | bluegreen | immediate
    image: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    wait_timeout: str | None = None  # Go duration, e.g. "5m"
    detach: bool = False
    config: str | None = None
    cwd: str | None = None

    def argv(self, app: str) -> list[str]:
        """``deploy -a APP --yes [flags…]``."""
        if self.local_only and self.remote_only:
            raise ValueError("Choose either a local build (--local-only) or a remote build (--remote-only), not both.")
        args = ["deploy", "-a", _arg(app, "app name"), "--yes"]
        if self.local_only:
            args.append("--local-only")
        if self.remote_only:
            args.append("--remote-only")
        if self.ha is not None:
            args.append(f"--ha={'true' if self.ha else 'false'}")
        if self.strategy:
            args += ["--strategy", _arg(self.strategy, "deploy strategy")]
        if self.image:
            args += ["--image", _arg(self.image, "image")]
        for key, value in self.build_args.items():
            args += ["--build-arg", f"{_arg(key, 'build arg name')}={value}"]
        if self.wait_timeout:
            args += ["--wait-timeout", _arg(self.wait_timeout, "wait timeout")]
        if self.detach:
            args.append("--detach")
        if self.config:
            args += ["--config", _arg(self.config, "config path")]
        return args


STRATEGIES: tuple[str, ...] = ("rolling", "immediate", "bluegreen", "canary")
BUILDERS: tuple[str, ...] = ("auto", "local-only", "remote-only")


def make_options(
    builder: str = "auto",
    *,
    ha: bool | None = None,
    strategy: str | None = None,
    image: str | None = None,
    build_args: dict[str, str] | None = None,
    wait_timeout: str | None = None,
    cwd: str | None = None,
) -> DeployOptions:
    """The deploy form's choices → the client's :class:`DeployOptions` (validated; ValueError when wrong)."""
    if builder not in BUILDERS:
        raise ValueError(f"unknown builder {builder!r}; expected one of {', '.join(BUILDERS)}")
    if strategy and strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return DeployOptions(
        local_only=builder == "local-only",
        remote_only=builder == "remote-only",
        ha=ha,
        strategy=strategy or None,
        image=image or None,
        build_args=dict(build_args or {}),
        wait_timeout=wait_timeout or None,
        cwd=cwd,
    )


def parse_build_args(text: str) -> dict[str, str]:
    """``"A=1 B=two"`` (spaces or commas) → ``{"A": "1", "B": "two"}``; ValueError on a bad pair."""
    pairs: dict[str, str] = {}
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"build argument {item!r} is not NAME=VALUE")
        pairs[name] = value
    return pairs


def options_from_fly_toml(project_dir: Path | str | None) -> DeployOptions:
    """Defaults from ``fly.toml`` (``[deploy] strategy``, ``[build] image``, ``[build.args]``); tomlkit is lazy.

    ``cwd`` is the project folder, so flyctl finds fly.toml and the Dockerfile there.
    """
    if project_dir is None:
        return DeployOptions()
    path = Path(project_dir)
    if path.is_dir():
        path = path / "fly.toml"
    if not path.is_file():
        return DeployOptions(cwd=str(path.parent) if path.parent.is_dir() else None)
    import tomlkit  # lazy: not needed for first paint
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    except (TOMLKitError, OSError, UnicodeDecodeError):  # a broken fly.toml: flyctl's "Verifying app config" says
        return DeployOptions(cwd=str(path.parent))
    deploy: dict[str, Any] = doc["deploy"] if isinstance(doc.get("deploy"), dict) else {}
    build: dict[str, Any] = doc["build"] if isinstance(doc.get("build"), dict) else {}
    strategy = deploy.get("strategy")
    args: dict[str, Any] = build["args"] if isinstance(build.get("args"), dict) else {}
    wait = deploy.get("wait_timeout")
    return DeployOptions(
        strategy=strategy if strategy in STRATEGIES else None,
        image=build.get("image") or None,
        build_args={str(k): str(v) for k, v in args.items()},
        wait_timeout=str(wait) if wait else None,
        cwd=str(path.parent),
    )
