"""User configuration: ``$XDG_CONFIG_HOME/flytui/config.toml`` (tomlkit), overridden by CLI flags.

Example file::

    refresh_interval = 5.0
    theme = "textual-dark"
    default_org = "personal"
    flyctl = "/usr/local/bin/fly"
    log_buffer_lines = 100000
    read_only = false
    alembic_command = "poetry run alembic"   # the project's alembic (default: autodetected)
    migrations_url_env = "DATABASE_URL"      # env var holding the migrations database URL (read at start)
    machines_api = true                      # hot reads via the Machines API (flyctl is the fallback)
    machines_api_url = "https://api.machines.dev"   # default: $FLY_FLAPS_BASE_URL, else this
    [aliases]
    pg = "machines"
    [keymap]
    refresh = "ctrl+r"

``alembic_command`` and ``migrations_url_env`` are used by the migrations view; the environment variables
``FLYTUI_ALEMBIC`` / ``FLYTUI_MIGRATIONS_URL_ENV`` override them for one run. The URL itself never goes in
this file: only the *name* of the variable that holds it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping


class ConfigError(ValueError):
    """The config file exists but cannot be used; ``str()`` names the file and the field."""


@dataclass(frozen=True)
class Config:
    """Settings the UI reads; every field has a safe default."""

    refresh_interval: float = 5.0
    theme: str = "textual-dark"
    default_org: str | None = None
    flyctl: str | None = None
    log_buffer_lines: int = 100_000
    read_only: bool = False
    aliases: dict[str, str] = field(default_factory=dict)
    keymap: dict[str, str] = field(default_factory=dict)
    alembic_command: str | None = None  # e.g. "poetry run alembic" (shell-like words, no shell); None: autodetect
    migrations_url_env: str | None = None  # name of the env var with the migrations DATABASE_URL
    machines_api: bool = True  # machine list/detail and app status via the Machines API, flyctl as fallback
    machines_api_url: str | None = None  # base URL; None: $FLY_FLAPS_BASE_URL, else https://api.machines.dev

    def with_overrides(self, **changes: Any) -> "Config":
        """A copy with the non-None ``changes`` applied (CLI flags win over the file)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/flytui/config.toml``, falling back to ``~/.config``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "flytui" / "config.toml"


_TYPES: dict[str, tuple[type, ...]] = {
    "refresh_interval": (int, float),
    "theme": (str,),
    "default_org": (str,),
    "flyctl": (str,),
    "log_buffer_lines": (int,),
    "read_only": (bool,),
    "aliases": (dict,),
    "keymap": (dict,),
    "alembic_command": (str,),
    "migrations_url_env": (str,),
    "machines_api": (bool,),
    "machines_api_url": (str,),
}


def parse_config(text: str, source: str = "config.toml") -> Config:
    """Parse TOML text into a :class:`Config`; unknown keys are ignored, wrong types raise ConfigError."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(text).unwrap()
    except TOMLKitError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Config)}
    for key, value in doc.items():
        if key not in known:
            continue
        types = _TYPES[key]
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(f"{source}: '{key}' must be {types[0].__name__}, not bool")
        if not isinstance(value, types):
            raise ConfigError(f"{source}: '{key}' must be {types[0].__name__}, got {type(value).__name__}")
        if key in ("aliases", "keymap"):
            value = {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else value
        if key == "refresh_interval" and isinstance(value, (int, float)):
            value = max(0.5, float(value))
        if key == "migrations_url_env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ConfigError(f"{source}: 'migrations_url_env' must be an environment variable name, got {value!r}")
        if key == "alembic_command" and not value.strip():
            raise ConfigError(f"{source}: 'alembic_command' must not be empty")
        if key == "machines_api_url" and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ConfigError(f"{source}: 'machines_api_url' must be an http(s) URL, got {value!r}")
        if key == "log_buffer_lines" and value < 100:
            raise ConfigError(f"{source}: 'log_buffer_lines' must be at least 100")
        values[key] = value
    return Config(**values)


def load_config(path: Path | None = None) -> Config:
    """Read the config file (default XDG path). A missing file gives the defaults."""
    target = path or default_config_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        if path is not None:
            raise ConfigError(f"{target}: config file not found") from None
        return Config()
    except OSError as exc:
        raise ConfigError(f"{target}: cannot read: {exc.strerror}") from None
    return parse_config(text, str(target))
