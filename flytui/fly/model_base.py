"""Field access for the models (:mod:`flytui.fly.models`): typed reads with errors naming the command, the
field and the object, timestamps as flyctl prints them, lists of objects."""
from __future__ import annotations

import builtins
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

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

    def str(self, *keys: builtins.str, required: builtins.bool = False, default: builtins.str = "") -> builtins.str:
        value = self._typed(keys, required, lambda v: isinstance(v, str), "a string")
        return default if value is None else value

    def int(self, *keys: builtins.str, required: builtins.bool = False, default: builtins.int = 0) -> builtins.int:
        value = self._typed(keys, required, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
        return default if value is None else value

    def opt_int(self, *keys: builtins.str) -> builtins.int | None:
        value: builtins.int | None = self._typed(keys, False, lambda v: isinstance(v, int) and not isinstance(v, bool),
                                                 "an integer")
        return value

    def bool(self, *keys: builtins.str, required: builtins.bool = False, default: builtins.bool = False) -> builtins.bool:
        value = self._typed(keys, required, lambda v: isinstance(v, bool), "a boolean")
        return default if value is None else value

    def obj(self, *keys: builtins.str, required: builtins.bool = False) -> "_Obj | None":
        key, value = self._get(keys, required)
        if value is None:
            if required:
                raise self.error(f"field '{key}' is null, expected an object")
            return None
        if not isinstance(value, dict):
            raise self.error(f"field '{key}' should be an object, got {_type_name(value)}")
        return _Obj(value, self.command, f"{self.what}.{key}")

    def list(self, *keys: builtins.str, required: builtins.bool = False) -> builtins.list[Any]:
        value = self._typed(keys, required, lambda v: isinstance(v, list), "an array")
        return [] if value is None else value

    def str_map(self, *keys: builtins.str) -> dict[builtins.str, builtins.str]:
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

    def time(self, *keys: builtins.str, required: builtins.bool = False) -> datetime | None:
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

    def raw(self, *keys: builtins.str) -> Any:
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
