"""Machines as ``fly machine list --json`` prints them (Machines-API structs: snake_case, omitempty): checks,
guest, events, image reference. Re-exported by :mod:`flytui.fly.models`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


from .model_base import (
    _Obj,
    _parse_list,
    _type_name,
    output_error,
    timestamp_from_ms,
)

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
