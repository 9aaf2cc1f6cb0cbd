"""Back-to-back JSON values (``fly logs --json`` prints pretty objects). Re-exported by :mod:`flytui.fly.models`."""
from __future__ import annotations

import json
from typing import Any

from .model_base import output_error


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
