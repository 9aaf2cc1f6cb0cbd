"""Live logs: decode ``fly logs --json``, keep a ring buffer, filter, search and supervise the tail.

``fly logs --json`` prints each entry as a **4-space-indented JSON object, back to back** (not NDJSON, not
an array); it never exits unless ``--no-tail``. Everything here is plain stdlib (no UI imports) and built
for the hot path: a flood of 10 000+ entries per second must not starve the UI's event loop.

Pieces:
- :class:`JsonStreamDecoder` — incremental decoder fed with lines or raw chunks; garbage skipped and counted.
- :class:`LogRecord` — the compact row the UI shows, built fast from a raw dict.
- :class:`LogBuffer` — ring buffer with monotonically increasing sequence numbers and per-level/region/instance counts.
- :class:`LogFilter` — levels, region, machine, text (regex or plain, optionally inverted).
- :func:`search` — next / previous match in the visible rows, wrapping around.
- :class:`~flytui.fly.log_tail.LogTail` (log_tail.py) — runs ``client.logs(...)``, decodes batches, reconnects.
"""
from __future__ import annotations

import json
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Sequence


#: Messages longer than this are cut (with "…") so one giant line cannot blow up the view.
MAX_MESSAGE = 2000
#: An object that has not closed after this many characters is dropped as garbage.
MAX_PENDING_CHARS = 1_000_000


#: Canonical levels, in the order of the ``1``..``5`` keys of the logs screen.
LEVELS: tuple[str, ...] = ("error", "warn", "info", "debug", "trace")

_LEVEL_ALIASES: dict[str, str] = {
    "error": "error", "err": "error", "fatal": "error", "critical": "error", "crit": "error",
    "panic": "error", "emerg": "error", "emergency": "error", "alert": "error",
    "warn": "warn", "warning": "warn",
    "info": "info", "notice": "info", "information": "info", "": "info",
    "debug": "debug", "dbg": "debug",
    "trace": "trace",
}


def canonical_level(level: str) -> str:
    """Map any level spelling flyctl or an app emits onto one of :data:`LEVELS` (unknown → ``info``)."""
    got = _LEVEL_ALIASES.get(level)
    if got is not None:
        return got
    low = level.strip().lower()
    got = _LEVEL_ALIASES.get(low, "info")
    if len(_LEVEL_ALIASES) < 256:  # remember odd spellings, bounded
        _LEVEL_ALIASES[level] = got
    return got


# --------------------------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------------------------
class JsonStreamDecoder:
    """Incremental decoder for back-to-back pretty-printed JSON objects, NDJSON, or a mix.

    Feed it whole lines (:meth:`feed_lines`, the fast path used with the runner's ``StreamLine``s) or
    arbitrary text chunks (:meth:`feed`). It returns each complete object once. Text outside an object
    (warnings, banners) and objects that fail to parse are skipped and counted in :attr:`garbage`
    (one per skipped line); it never raises on bad input. Objects must start at the beginning of a line.

    The hot path is one ``raw_decode`` per object over the joined batch text, so decoding costs about
    what a bare ``json.loads`` loop costs.
    """

    __slots__ = ("_tail", "_partial", "garbage", "objects", "_raw")

    def __init__(self) -> None:
        self._tail = ""        # complete lines of an object that has not closed yet
        self._partial = ""     # unterminated last line of a :meth:`feed` chunk
        self.garbage = 0       # skipped lines / broken objects
        self.objects = 0       # complete objects returned
        self._raw = json.JSONDecoder().raw_decode

    @property
    def in_object(self) -> bool:
        """True while an object has started but not closed yet."""
        return bool(self._tail)

    def take_partial(self) -> str:
        """Hand back the unterminated last line of :meth:`feed` (when no object is open), e.g. to another decoder."""
        if self._tail:
            return ""
        text, self._partial = self._partial, ""
        return text

    def feed(self, chunk: str) -> list[Any]:
        """Feed raw text (any split, ``\\n`` separated). Returns the objects completed by it."""
        if not chunk:
            return []
        text = self._partial + chunk
        cut = text.rfind("\n")
        if cut < 0:
            self._partial = text
            return []
        self._partial = text[cut + 1 :]
        return self._decode(text[: cut + 1])

    def feed_lines(self, lines: Iterable[str]) -> list[Any]:
        """Feed complete lines (without newlines). Returns the objects they complete."""
        text = "\n".join(lines)
        if not text:
            return []
        return self._decode(text + "\n")

    def flush(self) -> list[Any]:
        """End of stream: decode a trailing unterminated line; a half object counts as garbage."""
        out: list[Any] = []
        if self._partial:
            out = self._decode(self._partial + "\n")
            self._partial = ""
        if self._tail:
            self._tail = ""
            self.garbage += 1
        return out

    def _skip(self, text: str, a: int, b: int) -> None:
        """Count the non-blank lines of text[a:b] as garbage."""
        seg = text[a:b]
        if seg.strip():
            self.garbage += sum(1 for ln in seg.split("\n") if ln.strip())

    def _decode(self, text: str) -> list[Any]:
        if self._tail:
            text = self._tail + text
            self._tail = ""
        out: list[Any] = []
        raw = self._raw
        n = len(text)
        pos = 0
        while pos < n:
            start = text.find("{", pos)
            if start < 0:
                self._skip(text, pos, n)
                break
            ls = text.rfind("\n", pos, start) + 1 or pos
            if ls > pos:
                self._skip(text, pos, ls)
            if start > ls and text[ls:start].strip():
                # "{" in the middle of a line: that line is not ours
                eol = text.find("\n", start)
                eol = n if eol < 0 else eol + 1
                self._skip(text, ls, eol)
                pos = eol
                continue
            try:
                obj, end = raw(text, start)
            except ValueError as exc:
                pos_err = getattr(exc, "pos", 0)
                if pos_err >= len(text.rstrip()):
                    # incomplete object: wait for more lines (bounded)
                    if n - start <= MAX_PENDING_CHARS:
                        self._tail = text[start:]
                    else:
                        self.garbage += 1
                    break
                # broken object: drop up to the next line that starts with "{"
                nxt = text.find("\n{", start)
                self.garbage += 1
                pos = n if nxt < 0 else nxt + 1
                continue
            out.append(obj)
            pos = end  # anything after the object on its line is counted as garbage by the next pass
        self.objects += len(out)
        return out


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------
def _cap(message: str) -> str:
    if "\n" in message or "\r" in message:
        message = message.replace("\r\n", " ⏎ ").replace("\n", " ⏎ ").replace("\r", " ")
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return message


def parse_ts(text: str) -> float:
    """RFC3339 (nanoseconds allowed) → epoch seconds; 0.0 when it cannot be parsed."""
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")[:26] + "+00:00").timestamp()
        except ValueError:
            return 0.0


@dataclass(slots=True)
class LogRecord:
    """One log line as the logs screen shows it. ``seq`` is set by :class:`LogBuffer`."""

    ts_text: str           # the RFC3339 text flyctl printed (``ts`` parses it on demand)
    level: str             # canonical, one of LEVELS
    region: str
    instance: str          # machine id
    message: str           # single line, capped at MAX_MESSAGE
    provider: str = "app"  # app | proxy | runner …
    seq: int = -1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LogRecord":
        """Build from one decoded ``fly logs --json`` object (the hot path: no validation beyond types)."""
        get = d.get
        meta = get("meta")
        provider = "app"
        message = get("message") or ""
        if meta.__class__ is dict:
            ev = meta.get("Event")
            if ev.__class__ is dict:
                provider = ev.get("Provider") or "app"
            err = meta.get("Error")
            if err.__class__ is dict:
                emsg = err.get("Message")
                if emsg:  # flyctl's renderer puts error.message in front of the line
                    message = f'error.message="{emsg}" {message}' if message else emsg
        if message.__class__ is not str:
            message = str(message)
        ts_text = get("timestamp") or ""
        if ts_text.__class__ is not str:
            ts_text = str(ts_text)
        level = get("level") or ""
        return cls(
            ts_text,
            canonical_level(level if level.__class__ is str else str(level)),
            get("region") or "",
            get("instance") or "",
            _cap(message),
            provider,
        )

    @property
    def ts(self) -> float:
        """Epoch seconds (0.0 if the timestamp is missing or odd); parsed lazily, off the hot path."""
        return parse_ts(self.ts_text)

    @property
    def time_text(self) -> str:
        """``HH:MM:SS.mmm`` from the RFC3339 text (cheap slicing, no datetime)."""
        t = self.ts_text
        if len(t) >= 19 and t[10] == "T":
            frac = t[19:23] if len(t) > 20 and t[19] == "." else ""
            return t[11:19] + frac
        return t

    def format(self, timestamps: bool = True) -> str:
        """The plain-text line (used for save and search)."""
        head = f"{self.ts_text} " if timestamps else ""
        return f"{head}{self.provider}[{self.instance}] {self.region} [{self.level}] {self.message}"


def records_from_objects(objs: Iterable[Any]) -> list[LogRecord]:
    """Decoded objects → records; non-dicts are skipped. Same result as :meth:`LogRecord.from_dict`, inlined
    for the hot path (a flood of 10 000+ entries/s): the common case (plain strings, no error message, a
    known level spelling, a short single-line message) costs a handful of dict lookups."""
    out: list[LogRecord] = []
    append = out.append
    make = LogRecord
    levels = _LEVEL_ALIASES
    slow = LogRecord.from_dict
    for d in objs:
        if d.__class__ is not dict:
            continue
        get = d.get
        meta = get("meta")
        message = get("message")
        level = levels.get(get("level"))  # type: ignore[arg-type]
        ts_text = get("timestamp")
        if (
            meta.__class__ is not dict or message.__class__ is not str or level is None
            or ts_text.__class__ is not str or len(message) > MAX_MESSAGE or "\n" in message or "\r" in message
        ):
            append(slow(d))
            continue
        err = meta.get("Error")
        if err.__class__ is dict and err.get("Message"):
            append(slow(d))
            continue
        ev = meta.get("Event")
        provider = (ev.get("Provider") or "app") if ev.__class__ is dict else "app"
        append(make(ts_text, level, get("region") or "", get("instance") or "", message, provider))
    return out


# --------------------------------------------------------------------------------------------
# Ring buffer
# --------------------------------------------------------------------------------------------
class LogBuffer:
    """Ring buffer of :class:`LogRecord` (oldest dropped) with sequence numbers and live counts."""

    def __init__(self, maxlen: int = 100_000) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be >= 1")
        self.maxlen = maxlen
        self._items: deque[LogRecord] = deque(maxlen=maxlen)
        self._next_seq = 0
        self.levels: Counter[str] = Counter()
        self.regions: Counter[str] = Counter()
        self.instances: Counter[str] = Counter()
        self.dropped = 0  # evicted by the ring

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[LogRecord]:
        return iter(self._items)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest record ever added (-1 if none)."""
        return self._next_seq - 1

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest record still held (== last_seq + 1 when empty)."""
        return self._items[0].seq if self._items else self._next_seq

    def extend(self, records: Iterable[LogRecord]) -> int:
        """Append records (assigning seq numbers). Returns how many were added."""
        items = self._items
        maxlen = self.maxlen
        levels, regions, instances = self.levels, self.regions, self.instances
        seq = self._next_seq
        n = 0
        for rec in records:
            if len(items) == maxlen:
                old = items[0]
                levels[old.level] -= 1
                regions[old.region] -= 1
                instances[old.instance] -= 1
                self.dropped += 1
            rec.seq = seq
            seq += 1
            n += 1
            items.append(rec)
            levels[rec.level] += 1
            regions[rec.region] += 1
            instances[rec.instance] += 1
        self._next_seq = seq
        return n

    def append(self, record: LogRecord) -> None:
        self.extend((record,))

    def since(self, seq: int) -> list[LogRecord]:
        """Records with a sequence number greater than ``seq`` (still held), oldest first."""
        items = self._items
        if not items or seq >= items[-1].seq:
            return []
        start = seq - items[0].seq + 1
        if start <= 0:
            return list(items)
        # deque slicing: rotate-free copy of the tail
        n = len(items) - start
        return [items[i] for i in range(len(items) - n, len(items))]

    def clear(self) -> None:
        """Forget every record and count; sequence numbers keep increasing."""
        self._items.clear()
        self.levels.clear()
        self.regions.clear()
        self.instances.clear()

    def known(self, counter: Counter[str]) -> list[str]:
        """Sorted keys of a counter that still have records."""
        return sorted(k for k, v in counter.items() if v > 0)


# --------------------------------------------------------------------------------------------
# Filter and search
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogFilter:
    """What the logs screen shows. Empty/None fields match everything.

    ``text`` is a regex when ``regex`` is true (invalid → :class:`ValueError` from :meth:`compile`),
    otherwise a plain case-insensitive substring. ``invert`` negates the text match only (like ``grep -v``).
    """

    levels: frozenset[str] | None = None
    region: str | None = None
    machine: str | None = None
    text: str = ""
    regex: bool = True
    invert: bool = False
    _rx: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def compile(self) -> "LogFilter":
        """Return a copy with the text pattern compiled (raises ValueError with a readable message)."""
        if not self.text:
            return self
        try:
            rx = re.compile(self.text if self.regex else re.escape(self.text), re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {self.text!r}: {exc}") from None
        object.__setattr__(self, "_rx", rx)
        return self

    @property
    def active(self) -> bool:
        return bool(self.levels is not None or self.region or self.machine or self.text)

    def describe(self) -> str:
        """Short human summary, e.g. ``level=error,warn region=iad /timeout/``."""
        parts = []
        if self.levels is not None:
            parts.append("level=" + ",".join(lv for lv in LEVELS if lv in self.levels))
        if self.region:
            parts.append(f"region={self.region}")
        if self.machine:
            parts.append(f"machine={self.machine}")
        if self.text:
            parts.append(("!" if self.invert else "") + f"/{self.text}/")
        return " ".join(parts) or "all"

    def matcher(self) -> Callable[[LogRecord], bool]:
        """A fast predicate for this filter."""
        if self.text and self._rx is None:
            self.compile()
        levels, region, machine = self.levels, self.region, self.machine
        search = self._rx.search if self._rx is not None else None
        invert = self.invert

        def match(rec: LogRecord) -> bool:
            if levels is not None and rec.level not in levels:
                return False
            if region and rec.region != region:
                return False
            if machine and rec.instance != machine:
                return False
            if search is not None:
                return (search(rec.message) is None) if invert else (search(rec.message) is not None)
            return True

        return match

    def apply(self, records: Iterable[LogRecord]) -> list[LogRecord]:
        """The records that pass, in order."""
        if not self.active:
            return list(records)
        m = self.matcher()
        return [r for r in records if m(r)]


def search(
    rows: Sequence[LogRecord], pattern: str | re.Pattern[str], start: int, *, backward: bool = False
) -> int | None:
    """Index of the next (or previous) row whose message matches, starting after/before ``start``, wrapping."""
    n = len(rows)
    if n == 0:
        return None
    rx = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.IGNORECASE)
    step = -1 if backward else 1
    i = start
    for _ in range(n):
        i = (i + step) % n
        if rx.search(rows[i].message):
            return i
    return None


__all__ = [
    "LEVELS",
    "MAX_MESSAGE",
    "JsonStreamDecoder",
    "LogRecord",
    "LogBuffer",
    "LogFilter",
    "canonical_level",
    "parse_ts",
    "records_from_objects",
    "search",
]
