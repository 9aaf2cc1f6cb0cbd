"""Small helpers turning values of the typed models (``flytui.fly.models``) into table cells.

The UI reads models by attribute (a renamed field fails type checking); where flyctl generations differ,
the model's parser normalises the field (``flytui/fly/models.py``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rich.text import Text

STATE_STYLES = {
    "started": "green", "running": "green", "deployed": "green", "passing": "green",
    "stopped": "grey62", "suspended": "yellow", "pending": "yellow", "staged": "yellow",
    "starting": "cyan", "stopping": "cyan", "restarting": "cyan", "suspending": "cyan", "created": "cyan",
    "replacing": "cyan", "updating": "cyan", "destroying": "magenta",
    "destroyed": "red", "failed": "bold red", "critical": "bold red", "warning": "yellow", "error": "bold red",
}
SETTLED = {"started", "stopped", "suspended", "destroyed", "failed"}


def state_cell(state: str | None) -> Text:
    s = (state or "-").strip()
    return Text(s, style=STATE_STYLES.get(s.lower(), ""))


def fmt_time(value: Any) -> str:
    """Aware datetime / RFC3339 / epoch ms -> ``YYYY-MM-DD HH:MM`` UTC (stable, no relative time)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)
