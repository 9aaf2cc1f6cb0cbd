"""Table filter grammar shared by every table (``/`` key).

Tokens are separated by spaces and all must match (AND):

- ``word``          case-insensitive substring of any cell
- ``/regex/``       regular expression searched in any cell (case-insensitive)
- ``field:value``   substring of the named column (``state:stopped``, ``region:nrt``)
- ``!token``        inverts the token (``!state:started``, ``!web``)

An invalid regex is treated as literal text, so typing never raises.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Term:
    field: str | None
    pattern: re.Pattern[str]
    invert: bool

    def matches(self, row: Mapping[str, str]) -> bool:
        if self.field is not None:
            hit = any(self.pattern.search(v) for k, v in row.items() if k.lower() == self.field)
        else:
            hit = any(self.pattern.search(v) for v in row.values())
        return hit != self.invert


def _compile(text: str) -> re.Pattern[str]:
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        try:
            return re.compile(text[1:-1], re.I)
        except re.error:
            pass
    return re.compile(re.escape(text), re.I)


def parse_filter(query: str, fields: set[str] | None = None) -> list[Term]:
    """Parse a filter query into terms. ``fields`` limits ``x:y`` to known column names."""
    terms: list[Term] = []
    for raw in query.split():
        invert = raw.startswith("!")
        token = raw[1:] if invert else raw
        if not token:
            continue
        field = None
        if ":" in token and not token.startswith("/"):
            name, _, value = token.partition(":")
            if name and (fields is None or name.lower() in fields):
                field, token = name.lower(), value
        terms.append(Term(field, _compile(token), invert))
    return terms


def row_matches(terms: list[Term], row: Mapping[str, str]) -> bool:
    """True when every term matches the row (``{column: text}``)."""
    return all(t.matches(row) for t in terms)
