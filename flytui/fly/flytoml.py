"""fly.toml: read, validate, edit (comments and layout preserved) and write atomically.

All editing goes through tomlkit so that a round trip keeps every comment and blank line byte for byte;
only the value the user edited changes.
"""
from __future__ import annotations

import difflib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .names import app_name_error

FLY_TOML = "fly.toml"



@dataclass
class FlyTomlIssue:
    path: str  # dotted key, or "" for the whole file
    message: str
    severity: str = "error"  # error | warning


@dataclass
class FlyToml:
    """A parsed fly.toml that remembers its original text."""

    path: Path | None
    text: str
    doc: Any = field(repr=False)

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, path: Path | None = None) -> "FlyToml":
        return cls(path=path, text=text, doc=tomlkit.parse(text))

    @classmethod
    def load(cls, path: str | Path) -> "FlyToml":
        p = Path(path)
        if p.is_dir():
            p = p / FLY_TOML
        return cls.parse(p.read_text(encoding="utf-8"), p)

    # -- typed accessors -------------------------------------------------------------------
    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.doc
        for part in dotted.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return default
        return node.unwrap() if hasattr(node, "unwrap") else node

    @property
    def app(self) -> str | None:
        v = self.get("app")
        return str(v) if v else None

    @property
    def primary_region(self) -> str | None:
        v = self.get("primary_region")
        return str(v) if v else None

    @property
    def internal_port(self) -> int | None:
        v = self.get("http_service.internal_port")
        if v is None:
            services = self.get("services") or []
            if services and isinstance(services, list) and isinstance(services[0], dict):
                v = services[0].get("internal_port")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    @property
    def release_command(self) -> str | None:
        v = self.get("deploy.release_command")
        return str(v) if v else None

    @property
    def dockerfile(self) -> str:
        return str(self.get("build.dockerfile") or "Dockerfile")

    @property
    def deploy_strategy(self) -> str | None:
        v = self.get("deploy.strategy")
        return str(v) if v else None

    @property
    def health_check_paths(self) -> list[str]:
        checks = self.get("http_service.checks") or []
        return [c.get("path", "/") for c in checks if isinstance(c, dict)]

    # -- validation ------------------------------------------------------------------------
    def validate(self) -> list[FlyTomlIssue]:
        return validate_doc(self.doc)

    # -- editing ---------------------------------------------------------------------------
    def with_value(self, dotted: str, value: Any) -> "FlyToml":
        """A copy with one value set (tables created as needed); comments and layout untouched."""
        doc = tomlkit.parse(self.dumps())
        parts = dotted.split(".")
        node = doc
        for part in parts[:-1]:
            if part not in node:
                node[part] = tomlkit.table()
            node = node[part]
        node[parts[-1]] = value
        new = FlyToml(path=self.path, text=self.text, doc=doc)
        return new

    def dumps(self) -> str:
        return tomlkit.dumps(self.doc)

    def diff(self, other: "FlyToml | str") -> str:
        new_text = other if isinstance(other, str) else other.dumps()
        return unified_diff(self.text, new_text, name=str(self.path or FLY_TOML))

    def save(self, path: str | Path | None = None) -> Path:
        """Validate, then write atomically (temp file + rename, original mode kept)."""
        target = Path(path or self.path or FLY_TOML)
        text = self.dumps()
        problems = [i for i in validate_text(text) if i.severity == "error"]
        if problems:
            raise ValueError("fly.toml is not valid: " + "; ".join(f"{i.path or 'file'}: {i.message}" for i in problems))
        write_atomic(target, text)
        self.text = text
        self.path = target
        return target


def validate_text(text: str) -> list[FlyTomlIssue]:
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        return [FlyTomlIssue("", f"TOML syntax error: {exc}")]
    return validate_doc(doc)


def validate_doc(doc: Any) -> list[FlyTomlIssue]:
    issues: list[FlyTomlIssue] = []
    app = doc.get("app")
    if not app:
        issues.append(FlyTomlIssue("app", "missing `app = \"name\"` (flyctl needs it or -a on every command)"))
    elif not isinstance(app, str) or app_name_error(app) is not None:  # the one rule: flytui/fly/names.py
        issues.append(FlyTomlIssue("app", f"{app!r} is not a valid app name (lowercase letters, digits and dashes)"))
    region = doc.get("primary_region")
    if region is None:
        issues.append(FlyTomlIssue("primary_region", "no primary_region: machines land in a default region", "warning"))
    elif not isinstance(region, str) or not re.fullmatch(r"[a-z]{3}", str(region)):
        issues.append(FlyTomlIssue("primary_region", f"{region!r} is not a region code like 'nrt' or 'iad'"))
    hs = doc.get("http_service")
    if hs is not None:
        port = hs.get("internal_port")
        if port is None:
            issues.append(FlyTomlIssue("http_service.internal_port", "missing internal_port"))
        elif not isinstance(port, int) or isinstance(port, bool) or not 1 <= int(port) <= 65535:
            issues.append(FlyTomlIssue("http_service.internal_port", f"{port!r} is not a port number"))
        for key in ("force_https", "auto_start_machines"):
            if key in hs and not isinstance(hs[key], bool):
                issues.append(FlyTomlIssue(f"http_service.{key}", "must be true or false"))
        asm = hs.get("auto_stop_machines")
        if asm is not None and not isinstance(asm, bool) and str(asm) not in {"off", "stop", "suspend"}:
            issues.append(FlyTomlIssue("http_service.auto_stop_machines", "must be 'off', 'stop' or 'suspend'"))
        mmr = hs.get("min_machines_running")
        if mmr is not None and (not isinstance(mmr, int) or int(mmr) < 0):
            issues.append(FlyTomlIssue("http_service.min_machines_running", "must be a whole number >= 0"))
    deploy = doc.get("deploy")
    if deploy is not None:
        strategy = deploy.get("strategy")
        if strategy is not None and str(strategy) not in {"rolling", "immediate", "canary", "bluegreen"}:
            issues.append(FlyTomlIssue("deploy.strategy", "must be rolling, immediate, canary or bluegreen"))
    return issues


def unified_diff(old: str, new: str, name: str = FLY_TOML) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{name}", tofile=f"b/{name}"
        )
    )


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    mode = None
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# --- Dockerfile ---------------------------------------------------------------------------

_PORT_FLAG = re.compile(r"(?:--port[= ]|-p[= ]|--bind[= ][^:\s\"']*:|-b[= ][^:\s\"']*:|:)(\d{2,5})\b")


@dataclass
class DockerfileInfo:
    path: Path
    exposed: list[int]
    cmd: str | None
    served_port: int | None  # the port the CMD listens on, when it says so


def read_dockerfile(path: str | Path) -> DockerfileInfo:
    p = Path(path)
    text = p.read_text(encoding="utf-8", errors="replace")
    # join continuation lines
    text = re.sub(r"\\\r?\n", " ", text)
    exposed: list[int] = []
    cmd: str | None = None
    env_port: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "EXPOSE":
            for tok in rest.split():
                m = re.match(r"(\d+)", tok)
                if m:
                    exposed.append(int(m.group(1)))
        elif word in {"CMD", "ENTRYPOINT"}:
            cmd = rest.strip()
        elif word == "ENV":
            m = re.search(r"\bPORT[= ](\d+)", rest)
            if m:
                env_port = int(m.group(1))
    served: int | None = None
    if cmd:
        flat = cmd.replace('", "', " ").replace('","', " ").strip("[]").replace('"', "")
        m = _PORT_FLAG.search(flat)
        if m:
            served = int(m.group(1))
        elif "$PORT" in flat or "${PORT}" in flat:
            served = env_port
    return DockerfileInfo(path=p, exposed=exposed, cmd=cmd, served_port=served)
