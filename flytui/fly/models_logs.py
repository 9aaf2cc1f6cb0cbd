"""``fly logs`` entries (``--json`` objects and the plain text format). Re-exported by :mod:`flytui.fly.models`."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any


from .model_base import _Obj, output_error, parse_timestamp

# --------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    """One log line from ``fly logs --json`` (or the plain text format)."""

    timestamp: datetime
    timestamp_text: str
    message: str
    level: str = ""
    instance: str = ""
    region: str = ""
    provider: str = ""
    error_message: str = ""

    @classmethod
    def from_json(cls, data: Any, command: str = "logs", what: str = "log entry") -> "LogEntry":
        o = _Obj(data, command, what)
        meta = o.obj("meta")
        event = meta.obj("Event") if meta else None
        provider = event.str("Provider") if event else ""
        text = o.str("timestamp", required=True)
        ts = o.time("timestamp", required=True)
        assert ts is not None
        message = o.str("message", required=True)
        err = meta.obj("Error") if meta else None
        return cls(
            timestamp=ts,
            timestamp_text=text,
            message=message,
            level=o.str("level"),
            instance=o.str("instance") or (meta.str("Instance") if meta else ""),
            region=o.str("region") or (meta.str("Region") if meta else ""),
            provider=provider,
            error_message=err.str("Message") if err else "",
        )

    @property
    def display_message(self) -> str:
        """What plain ``fly logs`` shows: ``error.message`` replaces the message when present."""
        return self.error_message or self.message


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


def parse_log_stream(text: str, command: str = "logs") -> list[LogEntry]:
    """``fly logs --json --no-tail`` stdout -> entries."""
    return [LogEntry.from_json(v, command, f"log entry #{i}") for i, v in enumerate(iter_json_values(text, command))]


_TEXT_LOG = re.compile(
    r'^(?:error\.message="(?P<errmsg>(?:[^"\\]|\\.)*)"\s+)?'
    r"(?P<ts>\d{4}-\d{2}-\d{2}T\S+)\s+"
    r"(?:(?P<provider>[^\s\[]+)\[(?P<instance>[^\]]*)\]|(?P<alloc>[0-9a-f]{8}))\s+"
    r"(?:(?P<region>[a-z0-9]{2,5})\s+)?\[(?P<level>[^\]]*)\](?P<message>.*)$",
    re.ASCII,
)


def parse_text_log_line(line: str) -> LogEntry | None:
    """Parse one plain ``fly logs`` line: ``<ts> <provider>[<instance>] <region> [<level>]<message>``.

    There is no space between ``]`` and the message (it is kept verbatim). Returns ``None`` for lines
    that are not log lines (blank, comments, flyctl notices).
    """
    m = _TEXT_LOG.match(line.rstrip("\r\n"))
    if not m:
        return None
    try:
        ts = parse_timestamp(m.group("ts"))
    except ValueError:
        return None
    return LogEntry(
        timestamp=ts,
        timestamp_text=m.group("ts"),
        message=m.group("message"),
        level=m.group("level"),
        instance=m.group("instance") or m.group("alloc") or "",
        region=m.group("region") or "",
        provider=m.group("provider") or "",
        error_message=m.group("errmsg") or "",
    )
