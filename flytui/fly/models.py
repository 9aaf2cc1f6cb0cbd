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

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, TypeVar

from .errors import FlyctlOutputError

T = TypeVar("T")

# Go's zero time.Time, which PascalCase (no omitempty) structs print for "unset".
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}:?\d{2})$", re.ASCII
)


# --------------------------------------------------------------------------------------------
# Low-level field access
# --------------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    """JSON-ish name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def output_error(command: str, detail: str) -> FlyctlOutputError:
    """A :class:`FlyctlOutputError` for ``fly <command>`` with a one-line explanation."""
    return FlyctlOutputError(f"unexpected output from `fly {command}`: {detail}", argv=["fly", *command.split()])


def parse_timestamp(value: str) -> datetime:
    """RFC3339 / RFC3339Nano text -> aware ``datetime`` (nanoseconds truncated to microseconds).

    Raises ``ValueError`` for anything else (callers turn it into ``FlyctlOutputError``).
    """
    m = _RFC3339.match(value.strip())
    if not m:
        raise ValueError(f"not an RFC3339 timestamp: {value!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "")[:6].ljust(6, "0")
    zone = m.group(8)
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset >= timedelta(hours=24):
            raise ValueError(f"bad UTC offset in {value!r}")
        tz = timezone(sign * offset)
    if second == 60:  # leap second: clamp like Go's parser tolerates
        second = 59
    return datetime(year, month, day, hour, minute, second, int(frac), tzinfo=tz)


def timestamp_from_ms(ms: int) -> datetime:
    """Machine event timestamps: int64 milliseconds since the epoch -> aware UTC ``datetime``."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


class _Obj:
    """A JSON object being parsed, with the context needed for clear error messages."""

    def __init__(self, data: Any, command: str, what: str) -> None:
        if not isinstance(data, dict):
            raise output_error(command, f"expected {what} to be an object, got {_type_name(data)}")
        self.data: dict[str, Any] = data
        self.command = command
        self.what = what

    def error(self, detail: str) -> FlyctlOutputError:
        return output_error(self.command, f"{detail} in {self.what}")

    def _get(self, keys: tuple[str, ...], required: bool) -> tuple[str, Any]:
        for key in keys:
            if key in self.data:
                return key, self.data[key]
        if required:
            raise self.error(f"missing field '{keys[0]}'")
        return keys[0], None

    def _typed(self, keys: tuple[str, ...], required: bool, check: Callable[[Any], bool], kind: str) -> Any:
        key, value = self._get(keys, required)
        if value is None:
            if required and key in self.data:
                raise self.error(f"field '{key}' is null, expected {kind}")
            return None
        if not check(value):
            raise self.error(f"field '{key}' should be {kind}, got {_type_name(value)}")
        return value

    def str(self, *keys: str, required: bool = False, default: str = "") -> str:
        value = self._typed(keys, required, lambda v: isinstance(v, str), "a string")
        return default if value is None else value

    def int(self, *keys: str, required: bool = False, default: int = 0) -> int:
        value = self._typed(keys, required, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
        return default if value is None else value

    def opt_int(self, *keys: str) -> int | None:
        return self._typed(keys, False, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")

    def bool(self, *keys: str, required: bool = False, default: bool = False) -> bool:
        value = self._typed(keys, required, lambda v: isinstance(v, bool), "a boolean")
        return default if value is None else value

    def obj(self, *keys: str, required: bool = False) -> "_Obj | None":
        key, value = self._get(keys, required)
        if value is None:
            if required:
                raise self.error(f"field '{key}' is null, expected an object")
            return None
        if not isinstance(value, dict):
            raise self.error(f"field '{key}' should be an object, got {_type_name(value)}")
        return _Obj(value, self.command, f"{self.what}.{key}")

    def list(self, *keys: str, required: bool = False) -> list[Any]:
        value = self._typed(keys, required, lambda v: isinstance(v, list), "an array")
        return [] if value is None else value

    def str_map(self, *keys: str) -> dict[str, str]:
        """A ``map[string]string``; null/absent -> ``{}``."""
        key, value = self._get(keys, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(f"field '{key}' should be an object, got {_type_name(value)}")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(v, str):
                raise self.error(f"field '{key}.{k}' should be a string, got {_type_name(v)}")
            out[k] = v
        return out

    def time(self, *keys: str, required: bool = False) -> datetime | None:
        """RFC3339 string (Go zero time and "" -> None)."""
        text = self.str(*keys, required=required)
        if not text or text == _GO_ZERO_TIME:
            if required:
                raise self.error(f"field '{keys[0]}' is empty, expected a timestamp")
            return None
        try:
            return parse_timestamp(text)
        except ValueError:
            raise self.error(f"field '{keys[0]}' is not an RFC3339 timestamp ({text[:40]!r})") from None

    def raw(self, *keys: str) -> Any:
        return self._get(keys, False)[1]


def _parse_list(
    data: Any, command: str, what: str, parse: Callable[[Any, str, str], T], *, allow_null: bool = True
) -> list[T]:
    """Parse a JSON array of objects (``null`` -> ``[]`` when allowed)."""
    if data is None and allow_null:
        return []
    if not isinstance(data, list):
        raise output_error(command, f"expected an array of {what}s, got {_type_name(data)}")
    return [parse(item, command, f"{what} #{i}") for i, item in enumerate(data)]


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


# --------------------------------------------------------------------------------------------
# Machines (snake_case, omitempty)
# --------------------------------------------------------------------------------------------

COMPAT_CHECK_PREFIX = "bg_deployments_compat"
HIDDEN_PROCESS_GROUPS = ("fly_app_release_command", "fly_app_console")


@dataclass(frozen=True)
class Check:
    """A health check status: ``Machine.checks[]`` and ``fly checks list --json`` values.

    fly-go ``MachineCheckStatus`` (machine_types.go @ 22d6e51, flyctl ad0172f uses fly-go v0.9.6) tags every field
    ``omitempty``: a check flyd has not named or reported yet comes without ``name``/``status``. It is kept with
    ``""`` (counted in the total, not passing, like flyctl's CHECKS column) instead of failing the machine list.
    """

    name: str
    status: str  # passing | warning | critical | "" (not reported yet)
    output: str = ""
    updated_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Any, command: str = "checks list", what: str = "check") -> "Check":
        o = _Obj(data, command, what)
        return cls(
            name=o.str("name"),
            status=o.str("status"),
            output=o.str("output"),
            updated_at=o.time("updated_at"),
        )

    @property
    def passing(self) -> bool:
        return self.status == "passing"


def parse_checks(data: Any, command: str = "checks list") -> dict[str, list[Check]]:
    """``fly checks list --json``: an object keyed by machine id -> list of checks."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise output_error(command, f"expected an object keyed by machine id, got {_type_name(data)}")
    out: dict[str, list[Check]] = {}
    for machine_id, checks in data.items():
        out[machine_id] = _parse_list(
            checks, command, f"check of machine {machine_id}", lambda d, c, w: Check.from_json(d, c, w)
        )
    return out


@dataclass(frozen=True)
class Guest:
    """``config.guest``: CPU kind/count and memory."""

    cpu_kind: str = ""
    cpus: int = 0
    memory_mb: int = 0
    gpu_kind: str = ""
    gpus: int = 0

    @classmethod
    def from_json(cls, data: Any, command: str = "machine list", what: str = "guest") -> "Guest":
        o = _Obj(data, command, what)
        return cls(
            cpu_kind=o.str("cpu_kind"),
            cpus=o.int("cpus"),
            memory_mb=o.int("memory_mb"),
            gpu_kind=o.str("gpu_kind"),
            gpus=o.int("gpus"),
        )

    @property
    def vm_size(self) -> str:
        """fly-go ``MachineGuest.ToSize``: ``shared-cpu-1x``, ``performance-2x``, ``a100-40gb``…"""
        gpu = {"a100-pcie-40gb": "a100-40gb", "a100-sxm4-80gb": "a100-80gb", "l40s": "l40s", "a10": "a10"}
        if self.gpu_kind in gpu:
            return gpu[self.gpu_kind]
        if self.cpu_kind == "shared":
            return f"shared-cpu-{self.cpus}x"
        if self.cpu_kind == "performance":
            return f"performance-{self.cpus}x"
        return "unknown"


@dataclass(frozen=True)
class MachineEvent:
    """One entry of ``Machine.events`` (timestamp is int milliseconds)."""

    type: str
    status: str = ""
    source: str = ""
    timestamp: datetime | None = None
    exit_code: int | None = None

    @classmethod
    def from_json(cls, data: Any, command: str = "machine list", what: str = "event") -> "MachineEvent":
        o = _Obj(data, command, what)
        ts_raw = o.raw("timestamp")
        if ts_raw is None:
            ts = None
        elif isinstance(ts_raw, int) and not isinstance(ts_raw, bool):
            try:
                ts = timestamp_from_ms(ts_raw)
            except OverflowError:
                raise o.error(f"field 'timestamp' is out of range ({ts_raw})") from None
        elif isinstance(ts_raw, str):
            ts = o.time("timestamp")
        else:
            raise o.error(f"field 'timestamp' should be an integer (ms), got {_type_name(ts_raw)}")
        exit_code = None
        request = o.obj("request")
        if request is not None:
            monitor = request.obj("MonitorEvent")
            exit_event = (monitor.obj("exit_event") if monitor else None) or request.obj("exit_event")
            if exit_event is not None:
                exit_code = exit_event.opt_int("exit_code")
        return cls(
            type=o.str("type"), status=o.str("status"), source=o.str("source"), timestamp=ts, exit_code=exit_code
        )


@dataclass(frozen=True)
class ImageRef:
    """``Machine.image_ref``."""

    registry: str = ""
    repository: str = ""
    tag: str = ""
    digest: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Machine:
    """One fly-go ``Machine`` (``fly machine list --json``, ``fly status --json`` Machines)."""

    id: str
    state: str
    name: str = ""
    region: str = ""
    image_ref: ImageRef = field(default_factory=ImageRef)
    instance_id: str = ""
    version: str = ""
    private_ip: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    guest: Guest | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    config_image: str = ""
    events: tuple[MachineEvent, ...] = ()
    checks: tuple[Check, ...] = ()
    host_status: str = ""
    cordoned: bool = False
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any, command: str = "machine list", what: str = "machine") -> "Machine":
        o = _Obj(data, command, what)
        mid = o.str("id", required=True)
        what = f"{what} {mid}"
        o = _Obj(data, command, what)
        config = o.obj("config") or o.obj("incomplete_config")
        guest_obj = config.obj("guest") if config else None
        img = o.obj("image_ref")
        events = o.list("events")
        checks = o.list("checks")
        return cls(
            id=mid,
            state=o.str("state", required=True),
            name=o.str("name"),
            region=o.str("region"),
            image_ref=ImageRef(
                registry=img.str("registry"),
                repository=img.str("repository"),
                tag=img.str("tag"),
                digest=img.str("digest"),
                labels=img.str_map("labels"),
            )
            if img
            else ImageRef(),
            instance_id=o.str("instance_id"),
            version=o.str("version"),
            private_ip=o.str("private_ip"),
            created_at=o.time("created_at"),
            updated_at=o.time("updated_at"),
            guest=Guest.from_json(guest_obj.data, command, f"{what}.config.guest") if guest_obj else None,
            metadata=config.str_map("metadata") if config else {},
            env=config.str_map("env") if config else {},
            config_image=config.str("image") if config else "",
            events=tuple(MachineEvent.from_json(e, command, f"{what} event #{i}") for i, e in enumerate(events)),
            checks=tuple(Check.from_json(c, command, f"{what} check #{i}") for i, c in enumerate(checks)),
            host_status=o.str("host_status"),
            cordoned=o.bool("cordoned"),
            config=config.data if config else {},
        )

    @property
    def process_group(self) -> str:
        """``config.metadata.fly_process_group`` (legacy ``process_group`` as fallback)."""
        return self.metadata.get("fly_process_group") or self.metadata.get("process_group", "")

    @property
    def size(self) -> str:
        """flyctl's SIZE column, e.g. ``shared-cpu-1x:256MB`` ("" without a guest config)."""
        if self.guest is None:
            return ""
        return f"{self.guest.vm_size}:{self.guest.memory_mb}MB"

    @property
    def image(self) -> str:
        """``repository:tag`` like flyctl's IMAGE column (falls back to ``config.image``)."""
        if self.image_ref.repository:
            if self.image_ref.tag:
                return f"{self.image_ref.repository}:{self.image_ref.tag}"
            return self.image_ref.repository
        return self.config_image

    @property
    def image_version_label(self) -> str:
        return self.image_ref.labels.get("fly.version", "")

    @property
    def visible_checks(self) -> tuple[Check, ...]:
        """Checks without fly-go's synthetic ``bg_deployments_compat*`` ones (``RemoveCompatChecks``)."""
        return tuple(c for c in self.checks if not c.name.startswith(COMPAT_CHECK_PREFIX))

    @property
    def checks_total(self) -> int:
        return len(self.visible_checks)

    @property
    def checks_passing(self) -> int:
        return sum(1 for c in self.visible_checks if c.passing)

    @property
    def checks_text(self) -> str:
        """``passing/total`` like flyctl's CHECKS column ("" without checks)."""
        return f"{self.checks_passing}/{self.checks_total}" if self.checks_total else ""

    @property
    def release_version(self) -> int | None:
        """``config.metadata.fly_release_version`` as an int (None when absent or not a number)."""
        text = self.metadata.get("fly_release_version", "")
        return int(text) if text.isdigit() else None

    @property
    def is_active(self) -> bool:
        return self.state not in ("destroyed", "destroying")

    @property
    def is_user_visible(self) -> bool:
        """What flyctl's ``ListActive`` keeps: no release-command / console machines, nothing destroyed."""
        if not self.is_active:
            return False
        group = self.process_group
        if group == "fly_app_release_command" or self.metadata.get("process_group") == "release_command":
            return False
        return not (group == "fly_app_console" and self.metadata.get("fly_platform_version") == "v2")

    @property
    def last_exit_code(self) -> int | None:
        """Exit code of the newest event that carries one (events are newest first)."""
        for event in self.events:
            if event.exit_code is not None:
                return event.exit_code
        return None


def parse_machines(data: Any, command: str = "machine list") -> list[Machine]:
    """``fly machine list --json`` -> machines (``[]`` and ``null`` both mean none)."""
    return _parse_list(data, command, "machine", lambda d, c, w: Machine.from_json(d, c, w))


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


# --------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------


def iter_json_values(text: str, command: str = "logs") -> list[Any]:
    """Decode back-to-back JSON values (``fly logs --json`` prints pretty objects, not NDJSON)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return values
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise output_error(command, f"invalid JSON at offset {pos}: {exc}") from None
        values.append(value)




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
