"""Command registry, argv parsing and output helpers shared by the sandbox's flyctl commands.

Conventions copied from flyctl (see shared/flyctl/README.md §0): JSON via ``json.dumps(obj, indent=4)``
(Go's encoder escapes ``<>&``), tables with upper-cased headers, space-padded cells separated by
``\\t`` and a trailing blank line, errors raised as :class:`SandboxError` and printed as ``Error: ...``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence, overload

from flytui.sandbox.state import Sandbox, SandboxError

NOT_LOGGED_IN = "no access token available. Please login with 'flyctl auth login'"

Handler = Callable[["Ctx"], int]
COMMANDS: dict[str, Handler] = {}
NO_AUTH: set[str] = set()

# first-level aliases -> canonical group; second-level aliases -> canonical subcommand
GROUP_ALIASES = {"machines": "machine", "m": "machine", "app": "apps", "pg": "postgres", "secret": "secrets",
                 "vol": "volumes", "volume": "volumes", "ip": "ips", "org": "orgs", "check": "checks",
                 "release": "releases", "log": "logs"}
SUB_ALIASES = {"ls": "list", "rm": "destroy", "remove": "destroy", "delete": "destroy"}
#: (group, word) pairs that are commands of their own, not aliases (orgs remove = remove a member; orgs delete)
KEEP_SUB = {("orgs", "remove"), ("orgs", "delete"), ("machine", "lease")}
GROUPS = {"auth", "orgs", "apps", "machine", "secrets", "checks", "volumes", "ips", "scale", "postgres", "ssh",
          "mpg"}

VALUE_FLAGS = {
    "-a": "app", "--app": "app", "-o": "org", "--org": "org", "-C": "command", "--command": "command",
    "--machine": "machine", "-i": "instance", "--instance": "instance", "-r": "region", "--region": "region",
    "--process-group": "process_group", "-g": "process_group", "--strategy": "strategy",
    "--build-arg": "build_arg", "-b": "bind_addr", "--bind-addr": "bind_addr", "--name": "name", "-n": "name",
    "-c": "config", "--config": "config", "--wait-timeout": "wait_timeout", "--vm-size": "vm_size",
    "--initial-cluster-size": "initial_cluster_size", "--volume-size": "volume_size",
    "--variable-name": "variable_name", "--database-name": "database_name", "--database-user": "database_user",
    "-u": "user", "--user": "user", "--username": "user", "--hours": "hours", "--email": "email",
    "--signal": "signal", "-s": "signal", "--timeout": "timeout", "--vm-memory": "vm_memory",
    "--env": "env", "-e": "env", "--deploy-retries": "deploy_retries",
    # fly mpg (internal/command/mpg/*.go)
    "-p": "local_port", "--local-port": "local_port", "--plan": "plan", "--pg-major-version": "pg_major_version",
    "-d": "database", "--database": "database",
}
BOOL_FLAGS = {
    "-j": "json", "--json": "json", "-y": "yes", "--yes": "yes", "-f": "force", "--force": "force",
    "--stage": "stage", "--detach": "detach", "--no-tail": "no_tail", "--local-only": "local_only",
    "--remote-only": "remote_only", "--watch-stdin": "watch_stdin", "-q": "quiet", "--quiet": "quiet",
    "--image": "image", "--agent": "agent", "--overwrite": "overwrite", "--now": "now", "-h": "help",
    "--help": "help", "--ha": "ha", "--verbose": "verbose", "--debug": "debug", "--pty": "pty",
    "--build-only": "build_only", "-t": "access_token_flag", "--select": "select", "--no-deploy": "no_deploy",
    "--deleted": "deleted", "--enable-postgis-support": "enable_postgis_support", "--v2": "v2",
    "--force-stop": "force_stop", "--skip-health-checks": "skip_health_checks",  # apps/restart.go
}
REPEATABLE = {"build_arg", "env"}


@dataclass
class Ctx:
    """One invocation: parsed flags, positionals, the state directory and the output streams."""

    sb: Sandbox
    key: str
    exe: str
    args: list[str]
    flags: dict[str, Any] = field(default_factory=dict)
    fault: dict[str, Any] | None = None
    stdin: bytes | None = None

    def flag(self, name: str, default: Any = None) -> Any:
        return self.flags.get(name, default)

    @property
    def json(self) -> bool:
        return bool(self.flags.get("json")) or os.environ.get("FLY_JSON", "") not in ("", "0", "false")

    @overload
    def app_name(self, required: Literal[True] = True) -> str: ...

    @overload
    def app_name(self, required: bool) -> str | None: ...

    def app_name(self, required: bool = True) -> str | None:
        """``-a``/``--app``, else ``$FLY_APP``, else ``app`` in ./fly.toml (like flyctl)."""
        name = self.flags.get("app") or os.environ.get("FLY_APP")
        if not name:
            name = fly_toml_app(self.flags.get("config"))
        if not name and required:
            raise SandboxError("the config for your app is missing an app name, add an app field to the "
                               "fly.toml file or specify with the -a flag")
        return name

    def out(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def err(self, text: str = "") -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def pace(self, seconds: float) -> None:
        """Sleep ``seconds / $FLYTUI_SANDBOX_SPEED`` (realistic pacing of long commands)."""
        try:
            speed = float(os.environ.get("FLYTUI_SANDBOX_SPEED", "1") or 1)
        except ValueError:
            speed = 1.0
        if speed > 0:
            time.sleep(seconds / speed)


def fly_toml_app(config: str | None) -> str | None:
    """The ``app`` key of ./fly.toml (or ``--config`` path), if any."""
    import tomllib

    path = config or "fly.toml"
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh).get("app") or None
    except (OSError, ValueError):
        return None


def command(key: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
    """Register a handler for a canonical command key such as ``"machine list"``."""
    def deco(fn: Handler) -> Handler:
        COMMANDS[key] = fn
        if not auth:
            NO_AUTH.add(key)
        return fn
    return deco


def split_command(argv: Sequence[str]) -> tuple[str | None, list[str], str]:
    """Split argv (without the program) into (canonical key, rest, raw words); key None if unknown."""
    words = [a for a in argv]
    if not words:
        return None, [], ""
    first = GROUP_ALIASES.get(words[0], words[0])
    if first in GROUPS:
        if len(words) < 2 or words[1].startswith("-"):
            return None, words[1:], first
        sub = words[1] if (first, words[1]) in KEEP_SUB else SUB_ALIASES.get(words[1], words[1])
        sub = "leases" if (first, sub) == ("machine", "lease") else sub
        return f"{first} {sub}", words[2:], f"{first} {sub}"
    if first == "releases":
        return "releases", words[1:], first
    return first, words[1:], first


def parse_flags(key: str, rest: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Parse cobra-style flags; unknown flags raise ``unknown flag: --x`` like flyctl."""
    flags: dict[str, Any] = {}
    pos: list[str] = []
    value_flags = dict(VALUE_FLAGS)
    bool_flags = dict(BOOL_FLAGS)
    if key == "deploy":
        value_flags["--image"] = "image"
        bool_flags.pop("--image")
    if key == "ssh console":
        bool_flags["-s"] = "select"
        value_flags.pop("-s")
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok == "--":
            pos.extend(rest[i + 1:])
            break
        if not tok.startswith("-") or tok == "-":
            pos.append(tok)
            i += 1
            continue
        name, eq, inline = tok.partition("=")
        if name in value_flags:
            dest = value_flags[name]
            if eq:
                val = inline
            else:
                if i + 1 >= len(rest):
                    raise SandboxError(f"flag needs an argument: {tok}")
                val = rest[i + 1]
                i += 1
            if dest in REPEATABLE:
                flags.setdefault(dest, []).append(val)
            else:
                flags[dest] = val
        elif name in bool_flags:
            flags[bool_flags[name]] = (inline.lower() not in ("false", "0", "f")) if eq else True
        else:
            if name.startswith("--"):
                raise SandboxError(f"unknown flag: {name}")
            raise SandboxError(f"unknown shorthand flag: '{name[1:2]}' in {tok}")
        i += 1
    return flags, pos


# ---- output --------------------------------------------------------------------------------

def dump_json(obj: Any) -> str:
    """Go ``json.Encoder`` with 4-space indent (HTML-escaped like Go)."""
    text = json.dumps(obj, indent=4, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def print_json(obj: Any) -> None:
    sys.stdout.write(dump_json(obj) + "\n")
    sys.stdout.flush()


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    """flyctl ≤ v0.4.32 table: upper-cased headers, space-padded cells joined by tabs, blank line after."""
    heads = [h.upper() for h in headers]
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(heads[i])] + [len(r[i]) for r in cells]) for i in range(len(heads))]

    def line(vals: Sequence[str]) -> str:
        padded = [v.ljust(widths[i]) if i < len(vals) - 1 else v for i, v in enumerate(vals)]
        return "\t".join(padded)

    out = []
    if title:
        out.append(title)
    out.append(line(heads))
    out.extend(line(r) for r in cells)
    return "\n".join(out) + "\n"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    sys.stdout.write(render_table(headers, rows, title) + "\n")
    sys.stdout.flush()


def relative_time(rfc3339: str) -> str:
    """flyctl's ``format.RelativeTime``: ``2h ago``, ``5m ago``, ``1m10s ago``."""
    import datetime as _dt

    try:
        then = _dt.datetime.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return rfc3339
    secs = int((_dt.datetime.now(_dt.timezone.utc) - then).total_seconds())
    if secs < 60:
        return f"{max(secs, 0)}s ago" if secs > 0 else "just now"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60}s ago" if secs < 600 else f"{secs // 60}m ago"
    if secs < 86400:
        return f"{secs // 3600}h{(secs % 3600) // 60}m ago"
    return f"{secs // 86400}d{(secs % 86400) // 3600}h ago"


def strip_private(machine: dict[str, Any]) -> dict[str, Any]:
    """A machine as the Machines API returns it: sandbox bookkeeping removed, omitempty applied."""
    out = {k: v for k, v in machine.items() if k != "sandbox"}
    return {k: v for k, v in out.items() if v not in (None, "", [], {}) or k == "cordoned"}
