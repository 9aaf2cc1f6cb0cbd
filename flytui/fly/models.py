"""Typed models for flyctl output, parsed at the edge.

Every model is a frozen dataclass with ``from_json(data, command=...)``. Casing follows what real flyctl
prints (see ``tests/fixtures/flyctl/`` and docs/ARCHITECTURE.md):

- GraphQL-backed fly-go structs without json tags -> **PascalCase**, every field present:
  ``fly apps list``, ``fly status`` (top level), ``fly releases``, ``fly pg list``, ``fly ips list``,
  old ``fly secrets list`` (``Name, Digest, CreatedAt``).
- Machines-API structs -> **snake_case with omitempty**: machines, checks, volumes, new secrets.
- ``fly logs --json``: lowercase top level, PascalCase ``meta``.
- ``fly version --json``: compact, ``Version`` without a leading ``v``.

Unknown keys are ignored. A missing required key or a value of the wrong type raises
:class:`~flytui.fly.errors.FlyctlOutputError` naming the command, the field and the object; no
``KeyError``/``TypeError``/``ValueError`` ever escapes a parser.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .machine_models import (
    COMPAT_CHECK_PREFIX as COMPAT_CHECK_PREFIX,
    HIDDEN_PROCESS_GROUPS as HIDDEN_PROCESS_GROUPS,
    Check as Check,
    Guest as Guest,
    ImageRef as ImageRef,
    Machine as Machine,
    MachineEvent as MachineEvent,
    parse_checks as parse_checks,
    parse_machines as parse_machines,
)
from .model_base import (
    T as T,
    _Obj as _Obj,
    _parse_list as _parse_list,
    _type_name as _type_name,
    output_error as output_error,
    parse_timestamp as parse_timestamp,
    timestamp_from_ms as timestamp_from_ms,
)
from .models_logs import iter_json_values as iter_json_values

# --------------------------------------------------------------------------------------------
# Version, user, organizations
# --------------------------------------------------------------------------------------------

_VERSION_TEXT = re.compile(
    r"^(?:\S*/)?(?P<name>fly|flyctl)(?:\.exe)?\s+v?(?P<version>\d[^\s]*)\s+(?P<os>[\w.-]+)/(?P<arch>[\w.-]+)"
    r"(?:\s+Commit:\s*(?P<commit>\S+))?(?:\s+BuildDate:\s*(?P<date>\S+))?(?:\s+BranchName:\s*(?P<branch>\S+))?",
    re.ASCII,
)


@dataclass(frozen=True)
class VersionInfo:
    """``fly version [--json]``."""

    name: str
    version: str  # without leading "v", e.g. "0.3.164"
    commit: str = ""
    build_date: datetime | None = None
    os: str = ""
    arch: str = ""
    branch: str = ""
    environment: str = ""

    @classmethod
    def from_json(cls, data: Any, command: str = "version") -> "VersionInfo":
        o = _Obj(data, command, "version output")
        return cls(
            name=o.str("Name"),
            version=o.str("Version", required=True).lstrip("v"),
            commit=o.str("Commit"),
            build_date=o.time("BuildDate"),
            os=o.str("OS"),
            arch=o.str("Architecture"),
            branch=o.str("BranchName"),
            environment=o.str("Environment"),
        )

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """Numeric part of the version, e.g. ``(0, 2, 50)`` (non-numeric suffixes dropped)."""
        parts: list[int] = []
        for piece in self.version.split("-")[0].split("."):
            if not piece.isdigit():
                break
            parts.append(int(piece))
        return tuple(parts)


def parse_version_text(text: str) -> VersionInfo:
    """Parse ``fly version`` text, e.g. ``flyctl v0.2.50 darwin/arm64 Commit: b699e9 BuildDate: 2024-05-08T14:04:18Z``.

    The first line that matches wins (leading ``$ flyctl version`` echo or warnings are skipped).
    The executable name may be ``fly`` or ``flyctl``.
    """
    for line in text.splitlines():
        m = _VERSION_TEXT.match(line.strip())
        if not m:
            continue
        date = None
        if m.group("date"):
            try:
                date = parse_timestamp(m.group("date"))
            except ValueError:
                date = None
        return VersionInfo(
            name=m.group("name"),
            version=m.group("version"),
            commit=m.group("commit") or "",
            build_date=date,
            os=m.group("os"),
            arch=m.group("arch"),
            branch=m.group("branch") or "",
        )
    raise output_error("version", f"no version line found in {text.strip()[:80]!r}")


@dataclass(frozen=True)
class WhoAmI:
    """``fly auth whoami --json`` -> ``{"email": ...}``."""

    email: str

    @classmethod
    def from_json(cls, data: Any, command: str = "auth whoami") -> "WhoAmI":
        return cls(email=_Obj(data, command, "whoami output").str("email", required=True))


@dataclass(frozen=True)
class Organization:
    """One organization: ``fly orgs list --json`` prints ``{slug: name}``."""

    slug: str
    name: str

    @classmethod
    def from_json(cls, data: Any, command: str = "orgs list") -> "Organization":
        """Parse one PascalCase ``fly.Organization`` object (as embedded in apps/status output)."""
        o = _Obj(data, command, "organization")
        return cls(slug=o.str("Slug", required=True), name=o.str("Name"))

    @classmethod
    def list_from_json(cls, data: Any, command: str = "orgs list") -> list["Organization"]:
        """Parse the ``{slug: name}`` map of ``fly orgs list --json``."""
        if not isinstance(data, dict):
            raise output_error(command, f"expected an object of slug: name, got {_type_name(data)}")
        orgs = []
        for slug, name in data.items():
            if not isinstance(name, str):
                raise output_error(command, f"organization '{slug}' should map to a name string, got {_type_name(name)}")
            orgs.append(cls(slug=slug, name=name))
        return orgs


# --------------------------------------------------------------------------------------------
# Releases and apps (PascalCase)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """One fly-go ``Release`` (``fly releases --json``, ``App.CurrentRelease``); PascalCase."""

    version: int
    status: str = ""
    id: str = ""
    stable: bool = False
    in_progress: bool = False
    reason: str = ""
    description: str = ""
    strategy: str = ""
    user_name: str = ""
    user_email_raw: str = ""
    created_at: datetime | None = None
    image_ref: str = ""

    @classmethod
    def from_json(cls, data: Any, command: str = "releases", what: str = "release") -> "Release":
        o = _Obj(data, command, what)
        user = o.obj("User")
        return cls(
            version=o.int("Version", required=True),
            status=o.str("Status"),
            id=o.str("ID"),
            stable=o.bool("Stable"),
            in_progress=o.bool("InProgress"),
            reason=o.str("Reason"),
            description=o.str("Description"),
            strategy=o.str("DeploymentStrategy"),
            user_name=user.str("Name") if user else "",
            user_email_raw=user.str("Email") if user else "",
            created_at=o.time("CreatedAt"),
            image_ref=o.str("ImageRef"),
        )

    @property
    def user_email(self) -> str:
        """Who made the release (email, else name, else empty)."""
        return self.user_email_raw or self.user_name


def parse_releases(data: Any, command: str = "releases") -> list[Release]:
    """``fly releases -a APP --json`` -> releases (newest first, as flyctl prints them)."""
    return _parse_list(data, command, "release", lambda d, c, w: Release.from_json(d, c, w))


@dataclass(frozen=True)
class App:
    """One fly-go ``App`` from ``fly apps list --json`` / ``fly apps create --json`` (PascalCase)."""

    name: str
    id: str = ""
    status: str = ""
    deployed: bool = False
    hostname: str = ""
    network: str = ""
    platform_version: str = ""
    organization: Organization | None = None
    current_release_status: str = ""
    current_release_created_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Any, command: str = "apps list", what: str = "app") -> "App":
        o = _Obj(data, command, what)
        org = o.obj("Organization")
        rel = o.obj("CurrentRelease")
        return cls(
            name=o.str("Name", required=True),
            id=o.str("ID"),
            status=o.str("Status"),
            deployed=o.bool("Deployed"),
            hostname=o.str("Hostname"),
            network=o.str("Network") if not isinstance(o.raw("Network"), dict) else "",
            platform_version=o.str("PlatformVersion"),
            organization=Organization(slug=org.str("Slug"), name=org.str("Name")) if org else None,
            current_release_status=rel.str("Status") if rel else "",
            current_release_created_at=rel.time("CreatedAt") if rel else None,
        )

    @property
    def org_slug(self) -> str:
        return self.organization.slug if self.organization else ""

    @property
    def latest_deploy(self) -> datetime | None:
        """When the current release was created (flyctl's LATEST DEPLOY column)."""
        return self.current_release_created_at

    @property
    def is_interactive_shells_app(self) -> bool:
        """flyctl shows ``flyctl-interactive-shells-*`` apps as "(interactive shells app)"."""
        return self.name.startswith("flyctl-interactive-shells-")


def parse_apps(data: Any, command: str = "apps list") -> list[App]:
    """``fly apps list --json`` -> apps (``[]`` or ``null`` -> empty)."""
    return _parse_list(data, command, "app", lambda d, c, w: App.from_json(d, c, w))


@dataclass(frozen=True)
class PostgresCluster:
    """One row of ``fly postgres list --json`` (a fly-go App array, PascalCase)."""

    name: str
    status: str = ""
    deployed: bool = False
    hostname: str = ""
    organization: Organization | None = None
    latest_deploy: datetime | None = None

    @classmethod
    def from_json(cls, data: Any, command: str = "postgres list", what: str = "postgres app") -> "PostgresCluster":
        app = App.from_json(data, command, what)
        return cls(app.name, app.status, app.deployed, app.hostname, app.organization, app.latest_deploy)

    @property
    def org_slug(self) -> str:
        return self.organization.slug if self.organization else ""


def parse_postgres_list(data: Any, command: str = "postgres list") -> list[PostgresCluster]:
    return _parse_list(data, command, "postgres app", lambda d, c, w: PostgresCluster.from_json(d, c, w))


@dataclass(frozen=True)
class AppStatus:
    """``fly status -a APP --json``: PascalCase top level, snake_case machines."""

    name: str
    id: str = ""
    status: str = ""
    deployed: bool = False
    hostname: str = ""
    app_url: str = ""
    version: int = 0
    platform_version: str = ""
    organization: Organization | None = None
    machines: tuple[Machine, ...] = ()

    @classmethod
    def from_json(cls, data: Any, command: str = "status") -> "AppStatus":
        o = _Obj(data, command, "status output")
        org = o.obj("Organization")
        machines_raw = o.raw("Machines")
        machines = parse_machines(machines_raw, command) if machines_raw is not None else []
        return cls(
            name=o.str("Name", required=True),
            id=o.str("ID"),
            status=o.str("Status"),
            deployed=o.bool("Deployed"),
            hostname=o.str("Hostname"),
            app_url=o.str("AppURL"),
            version=o.int("Version"),
            platform_version=o.str("PlatformVersion"),
            organization=Organization(slug=org.str("Slug"), name=org.str("Name")) if org else None,
            machines=tuple(machines),
        )

    @property
    def org_slug(self) -> str:
        return self.organization.slug if self.organization else ""

    @property
    def visible_machines(self) -> tuple[Machine, ...]:
        return tuple(m for m in self.machines if m.is_user_visible)


# --------------------------------------------------------------------------------------------
# Secrets, volumes, IPs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """``fly secrets list --json``: new ``{name,digest[,status]}`` or old ``{Name,Digest,CreatedAt}``."""

    name: str
    digest: str = ""
    status: str = ""  # Deployed | Staged | Partial | Unknown | "" (unavailable / old flyctl)
    created_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Any, command: str = "secrets list", what: str = "secret") -> "Secret":
        """Shapes (flyctl internal/command/secrets/list.go):

        * <= v0.3.177 (GraphQL): ``{"Name","Digest","CreatedAt"}`` (RFC3339);
        * v0.3.178-v0.4.5 (ad0dc5f75, Machines API): ``render.JSON([]fly.AppSecret)`` with fly-go v0.1.51-v0.2.0
          ``AppSecret{name, value(omitempty), digest(omitempty)}`` -> ``{"name","digest"}``
          (tests/fixtures/flyctl/flyctl-v0.4.5-secrets-list.json);
        * >= v0.4.6 (4fd60abf9): ``{"name","digest","status"}``, or ``{"name","digest"}`` without status.

        fly-go >= v0.2.1 ``AppSecret`` also carries the Machines API's ``created_at``/``updated_at`` strings,
        which flyctl itself parses with zone-less layouts too (list.go @ ad0172f ``parseTimestamp``:
        ``2006-01-02T15:04:05[.999999]``, read as UTC): accepted here the same way.
        """
        o = _Obj(data, command, what)
        if "Name" in o.data and "name" not in o.data:  # GraphQL era, PascalCase
            return cls(name=o.str("Name", required=True), digest=o.str("Digest"), created_at=o.time("CreatedAt"))
        return cls(
            name=o.str("name", required=True),
            digest=o.str("digest"),
            status=o.str("status"),
            created_at=_api_time(o, "created_at"),
        )

    @property
    def is_staged(self) -> bool:
        return self.status in ("Staged", "Partial")


_ZONELESS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?")


def _api_time(o: _Obj, key: str) -> datetime | None:
    """RFC3339, or Go's zone-less ``2006-01-02T15:04:05[.frac]`` (time.Parse gives UTC) as flyctl accepts it."""
    text = o.data.get(key)
    if isinstance(text, str) and _ZONELESS.fullmatch(text.strip()):
        return parse_timestamp(text.strip() + "Z")
    return o.time(key)


def parse_secrets(data: Any, command: str = "secrets list") -> list[Secret]:
    return _parse_list(data, command, "secret", lambda d, c, w: Secret.from_json(d, c, w))


@dataclass(frozen=True)
class Volume:
    """fly-go ``Volume`` (``fly volumes list --json``; snake_case)."""

    id: str
    name: str = ""
    state: str = ""
    size_gb: int = 0
    region: str = ""
    zone: str = ""
    encrypted: bool = False
    attached_machine_id: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Any, command: str = "volumes list", what: str = "volume") -> "Volume":
        o = _Obj(data, command, what)
        attached = o.str("attached_machine_id")
        return cls(
            id=o.str("id", required=True),
            name=o.str("name"),
            state=o.str("state"),
            size_gb=o.int("size_gb"),
            region=o.str("region"),
            zone=o.str("zone"),
            encrypted=o.bool("encrypted"),
            attached_machine_id=attached or None,
            created_at=o.time("created_at"),
        )


def parse_volumes(data: Any, command: str = "volumes list") -> list[Volume]:
    return _parse_list(data, command, "volume", lambda d, c, w: Volume.from_json(d, c, w))


@dataclass(frozen=True)
class IPAddress:
    """fly-go ``IPAddress`` (``fly ips list --json``; PascalCase)."""

    address: str
    type: str = ""  # v4 | v6 | shared_v4 | private_v6
    id: str = ""
    region: str = ""
    created_at: datetime | None = None
    network: str = ""

    @classmethod
    def from_json(cls, data: Any, command: str = "ips list", what: str = "ip address") -> "IPAddress":
        o = _Obj(data, command, what)
        net = o.obj("Network")
        return cls(
            address=o.str("Address", required=True),
            type=o.str("Type"),
            id=o.str("ID"),
            region=o.str("Region"),
            created_at=o.time("CreatedAt"),
            network=net.str("Name") if net else "",
        )


def parse_ips(data: Any, command: str = "ips list") -> list[IPAddress]:
    return _parse_list(data, command, "ip address", lambda d, c, w: IPAddress.from_json(d, c, w))


__all__ = [
    "App",
    "AppStatus",
    "Check",
    "Guest",
    "IPAddress",
    "ImageRef",
    "Machine",
    "MachineEvent",
    "Organization",
    "PostgresCluster",
    "Release",
    "Secret",
    "VersionInfo",
    "Volume",
    "WhoAmI",
    "iter_json_values",
    "output_error",
    "parse_apps",
    "parse_checks",
    "parse_ips",
    "parse_machines",
    "parse_postgres_list",
    "parse_releases",
    "parse_secrets",
    "parse_timestamp",
    "parse_version_text",
    "parse_volumes",
    "timestamp_from_ms",
]
